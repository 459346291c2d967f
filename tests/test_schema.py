"""Tests for funnel.schema: the canonical model says what DOMAIN.md says.

The table of "The data it reads" in shared/DOMAIN.md is parsed, and every key column it names must
exist in funnel.schema; the ladders and activity types must be DOMAIN's defaults.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel import schema
from funnel.config import default_settings
from funnel.schema import normalise_name
from funnel.store.db import TABLES_WITH_ATTRIBUTES

# Key-column entries of DOMAIN's table that are not one column name.
COMPOSITES = {
    "account_id/company": ("account_id", "company"),  # an account id, or the company name when there is none
    "lead_id or account_id": ("lead_id", "account_id"),
}
CUSTOM_ATTRIBUTES = "custom attributes"  # unmapped columns, kept in the store's `attributes` column


@pytest.fixture(scope="module")
def domain(shared_dir: Path) -> str:
    path = shared_dir / "DOMAIN.md"
    if not path.is_file():
        pytest.skip(f"DOMAIN.md not found at {path}")
    return path.read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """The body of the `## title` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"DOMAIN.md has no section {title!r}"
    return match.group(1)


def key_columns(domain: str) -> dict[str, list[tuple[str, bool]]]:
    """table -> [(key column entry, optional)] from the table in "The data it reads"."""
    tables: dict[str, list[tuple[str, bool]]] = {}
    for line in section(domain, "The data it reads").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("table", "") or set(cells[0]) <= {"-", " "}:
            continue
        entries: list[tuple[str, bool]] = []
        optional = False
        for part in cells[2].split(","):
            part = part.strip()
            opens, closes = part.startswith("("), part.endswith(")")
            optional = optional or opens
            entries.append((part.strip("()").strip(), optional))
            if closes:
                optional = False
        tables[cells[0]] = entries
    return tables


def test_domain_table_is_parsed(domain):
    tables = key_columns(domain)
    assert set(tables) == {"leads", "accounts", "stage_events", "activities", "deals"}
    assert ("reason", True) in tables["stage_events"]
    assert [e for e, optional in tables["activities"] if optional] == ["url", "campaign", "channel"]
    assert ("account_id/company", False) in tables["leads"] and (CUSTOM_ATTRIBUTES, False) in tables["leads"]


def test_every_domain_table_and_key_column_is_in_the_schema(domain):
    for table, entries in key_columns(domain).items():
        assert table in schema.TABLES, f"DOMAIN table {table!r} is missing from funnel.schema.TABLES"
        spec = schema.TABLES[table]
        for entry, _optional in entries:
            if entry == CUSTOM_ATTRIBUTES:
                assert schema.ATTRIBUTES == "attributes" and table in TABLES_WITH_ATTRIBUTES
                continue
            for column in COMPOSITES.get(entry, (entry,)):
                assert re.fullmatch(r"[a-z_]+", column), f"unparsed DOMAIN entry {entry!r} in {table}"
                assert column in spec.column_names, f"{table}.{column} (DOMAIN) is not in funnel.schema"


def test_key_columns_are_spelled_once_as_constants(domain):
    constants = {v for k, v in vars(schema).items() if k.isupper() and isinstance(v, str)}
    for entries in key_columns(domain).values():
        for entry, _ in entries:
            for column in COMPOSITES.get(entry, (entry,)) if entry != CUSTOM_ATTRIBUTES else (schema.ATTRIBUTES,):
                assert column in constants, f"{column} has no constant in funnel.schema"


def test_required_columns_are_domain_keys(domain):
    keys = key_columns(domain)
    for table, entries in keys.items():
        named = {c for e, _ in entries for c in COMPOSITES.get(e, (e,))}
        assert set(schema.TABLES[table].required) <= named, table
        assert set(schema.TABLES[table].key) <= set(schema.TABLES[table].column_names)


def stage_list(text: str) -> list[str]:
    return [normalise_name(s) for s in text.split("→")]


def test_ladders_are_domains_defaults(domain):
    rows = {}
    for line in section(domain, "Two ladders").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and "→" in cells[1]:
            main, _, side = cells[1].partition(";")
            rows[cells[0].split(" (")[0]] = (stage_list(main), normalise_name(re.sub(r"plus|\*\*|,.*", "", side)))
    funnel_main, funnel_side = rows["funnel stage"]
    lifecycle_main, lifecycle_side = rows["lifecycle stage"]
    assert tuple(funnel_main) == schema.FUNNEL_STAGES and (funnel_side,) == schema.FUNNEL_SIDE_STAGES
    assert tuple(lifecycle_main) == schema.LIFECYCLE_STAGES and (lifecycle_side,) == schema.LIFECYCLE_SIDE_STAGES
    ladders = default_settings().ladders
    assert (ladders.funnel, ladders.funnel_side) == (schema.FUNNEL_STAGES, schema.FUNNEL_SIDE_STAGES)
    assert (ladders.lifecycle, ladders.lifecycle_side) == (schema.LIFECYCLE_STAGES, schema.LIFECYCLE_SIDE_STAGES)
    assert schema.stages_of(schema.FUNNEL) == schema.FUNNEL_STAGES
    assert list(schema.FunnelStage.categories) == [*schema.FUNNEL_STAGES, *schema.FUNNEL_SIDE_STAGES]
    assert list(schema.LifecycleStage.categories) == [*schema.LIFECYCLE_STAGES, *schema.LIFECYCLE_SIDE_STAGES]
    with pytest.raises(ValueError):
        schema.stages_of("nosuch")


def test_activity_types_are_domains_canonical_list(domain):
    text = section(domain, "Two ladders")
    paragraph = text[text.index("Canonical activity types"):text.index("Default evidence")]
    assert tuple(re.findall(r"`([a-z_]+)`", paragraph)) == schema.CANONICAL_ACTIVITY_TYPES


def test_every_table_is_well_formed():
    for name, spec in schema.TABLES.items():
        assert spec.name == name
        assert len(set(spec.column_names)) == len(spec.column_names), name
        assert all(normalise_name(c) == c for c in spec.column_names), name
        assert set(spec.required) <= set(spec.column_names)
        aliases = [normalise_name(a) for c in spec.columns for a in c.aliases]
        assert len(set(aliases)) == len(aliases), f"{name}: an alias names two columns"
        assert not set(aliases) & set(spec.column_names), f"{name}: an alias is another column's name"
        for col in spec.columns:
            assert col.dtype == schema.POLARS_TYPE[col.kind] and col.kind in schema.DUCKDB_TYPE
        assert set(spec.polars_schema()) == set(spec.column_names)
        with pytest.raises(KeyError):
            spec.column("nosuch")


# ---------------------------------------------------------------------------------- normalise_name


@pytest.mark.parametrize("raw, name", [
    ("Contact ID", "contact_id"),
    ("contact id", "contact_id"),
    ("CONTACT_ID", "contact_id"),
    ("  E-Mail  ", "e_mail"),
    ("Became a Marketing Qualified Lead Date", "became_a_marketing_qualified_lead_date"),
    ("Deal - Won time", "deal_won_time"),
    ("__lead__id__", "lead_id"),
    ("Lead (2)", "lead_2"),
    ("Umsatz (€)", "umsatz"),
    ("Größe", "größe"),
    ("name\"; DROP TABLE leads; --", "name_drop_table_leads"),
    ("read_csv('/etc/passwd')", "read_csv_etc_passwd"),
    ("\ufeffEmail", "email"),
    ("a\nb\tc", "a_b_c"),
    ("", ""),
    ("---", ""),
])
def test_normalise_name(raw, name):
    assert normalise_name(raw) == name


@given(st.text())
def test_normalised_names_are_stable_identifiers(raw):
    name = normalise_name(raw)
    assert normalise_name(name) == name
    assert not name.startswith("_") and not name.endswith("_") and "__" not in name
    assert all(ch.isalnum() or ch == "_" for ch in name)
    assert name == name.lower()
