"""Guard: every query in funnel/store/sql/ parses and runs on a tiny store (its {relations},
/*@fragments*/ and $params filled as the callers fill them), is written dbt-style (named CTEs ending
in `select * from final`) and says in its header comment its grain and every parameter it binds."""

from __future__ import annotations

import re
from datetime import date, datetime

import polars as pl
import pytest

from funnel.config import default_settings
from funnel.model.identity import STAGE_ENTRY_ONCE, identity_work_tables, rebuild_identity
from funnel.model.materialised import write_engagement_days, write_intent_inputs
from funnel.schema import TABLES
from funnel.store.db import quote_ident, raw_tables
from funnel.store.queries import SQL_DIR, sql_file, sql_text
from tests.stores import store

FILES = sorted(p.stem for p in SQL_DIR.glob("*.sql"))

# A value for every $parameter name the queries bind, shaped as the callers pass it.
LIFECYCLE = ["subscriber", "lead", "mql", "sql", "opportunity", "customer"]
PARAM_VALUES: dict[str, object] = {
    "author": "ana@example.com",
    "until": datetime(2026, 2, 1), "as_of": date(2026, 1, 31), "since": date(2025, 11, 1),
    "stages": LIFECYCLE + ["disqualified"], "names": LIFECYCLE + ["disqualified"], "lifecycle": LIFECYCLE,
    "ladder": "lifecycle", "bands": [10, 100], "band_labels": ["1-10", "11-100", "101+"],
    "types": ["email_open", "demo_request"], "weights": [1.0, 5.0], "half_life": 14.0,
    "ignored": ["email_open"], "lead": "L1", "lead_ids": ["L1", "L2"], "q": "l1", "limit": 50,
    "first_rank": 0, "opportunity_rank": 3, "customer_rank": 4, "opportunity_lifecycle": ["opportunity"],
    "customer_lifecycle": ["customer"], "first_opportunity_position": 5, "k0": "tier",
    "sha": "abc", "t": "leads", "m": "", "id": 1, "import_id": 2, "file": "leads.csv", "table": "leads",
    "format": "csv", "rows": 2, "added": 2, "updated": 0, "unchanged": 0, "derived": "", "mapping": None,
    "warnings": "", "at": datetime(2026, 2, 1, 9, 30), "window": 30, "touch": "sales_touch", "from": datetime(2026, 1, 1), "sample": "s1",
    "stage": "sql", "forms": ["demo_request", "form_fill"], "views": ["page_view"],
    "mql_rank": 2, "main": len(LIFECYCLE), "implicit": True,
    "active": ["lead", "mql", "sql", "opportunity"], "not_meaningful": ["email_open"], "days": 30,
    "unmapped": ["prospect"], "vague": ["", "other", "unknown"], "attribute": "tier",
    "enrichment_wins": False, "sources": ["Clearbit"], "intent_types": ["demo_request"], "surge_score": 60,
    "junk": ["n/a"], "later_days": [30, 90], "newest_first": False, "free_mail": ["gmail.com"], "rule": "the lead created first gets it",
    "by": "ana@example.com", "cap_types": ["demo_request", ""], "caps": [3.0, float("inf")],
    "as_of_days": [date(2025, 12, 31), date(2026, 1, 31)], "beyond": ["intent", "opportunity", "customer"],
}

# {relation} tokens: the canonical or bookkeeping table, or a small frame registered under that name.
RELATIONS = {"imports": "imports", "target": "leads", "history": "leads__history", "source": "stage_events",
             "lead_rows": "leads", "intent_days": "model_intent_days", "engagement_days": "model_engagement_days"}
FRAMES = {
    "milestones": pl.DataFrame({"lead_id": ["L1"], "t": [datetime(2026, 1, 5)], "stage_rank": [0],
                                "evidence_type": ["created"], "evidence_id": [None]},
                               schema_overrides={"evidence_id": pl.String}).with_row_index("ref"),
    "recycles": pl.DataFrame({"lead_id": ["L1"], "t": [datetime(2026, 1, 20)], "reason": ["deal lost"],
                              "evidence_type": ["deal"], "evidence_id": ["D2"]}).with_row_index("ref"),
    "evidence_ids": pl.DataFrame({"activity_id": ["A1"]}),
    "lead_ids": pl.DataFrame({"lead_id": ["L1"]}),
    "first_touches": pl.DataFrame({"lead_id": ["L1", "L2"], "campaign_at": [datetime(2026, 1, 8), None],
                                   "campaign": ["spring", None], "url_at": [datetime(2026, 1, 8), datetime(2026, 2, 9)],
                                   "url": ["https://acme.test/pricing", "https://acme.test/"]}),
    "lifecycle_stages": pl.DataFrame({"as_of": [date(2026, 1, 31)], "lead_id": ["L1"], "stage": ["lead"]}),
    "given": pl.DataFrame({"as_of": [date(2026, 1, 31)], "lead_id": ["L1"], "funnel_stage": ["intent"]}),
    "entries": pl.DataFrame({"lead_id": ["L1", "L1"], "stage": ["interest", "intent"], "stage_rank": [1, 2],
                             "entered_at": [datetime(2026, 1, 5), datetime(2026, 1, 20)], "is_side": [False, False],
                             "entry_order": [0, 1], "reason": [None, None], "evidence_type": ["created", "activity"],
                             "evidence_id": [None, "A1"], "evidence_at": [datetime(2026, 1, 5), datetime(2026, 1, 20)]},
                            schema_overrides={"reason": pl.String, "evidence_id": pl.String}),
    "content_views": pl.DataFrame({"lead_id": ["L1"], "stage": ["interest"], "stage_rank": [1],
                                   "entered_at": [datetime(2026, 1, 5)], "next_at": [datetime(2026, 1, 20)],
                                   "next_rank": [2], "next_side": [False], "activity_type": ["content_view"],
                                   "viewed_at": [datetime(2026, 1, 7)]}),
}

# /*@fragments*/ as the callers build them (identifiers quoted, values as $params); unlisted ones empty.
LEAD_FILTER = ' and list_contains($lead_ids, "lead_id")'
# hygiene._query fills every hygiene check with these query texts (the population reading the leads' rows
# from {lead_rows}, here the leads table); handoff.py the ladder's.
HYGIENE = {"days": sql_file("hygiene_days"),
           "population": sql_text("hygiene_population", fragments={"days": sql_file("hygiene_days")}, lead_rows="leads"),
           "lifecycle_entries": sql_file("lifecycle_entries"),
           "funnel_stages": sql_text("model_funnel_stages_on", fragments={"days": sql_file("hygiene_days")}),
           "activity_times": sql_text("hygiene_activity_times", activities="activities")}
HYGIENE["engaged"] = sql_text("hygiene_engaged", fragments=HYGIENE)
FRAGMENTS: dict[str, dict[str, str]] = {
    "activity_types": {"lead_filter": LEAD_FILTER},
    "stages_milestones": {"lead_filter": LEAD_FILTER},
    "stages_recycles": {"lead_filter": LEAD_FILTER},
    "stages_timeline": {"lead_filter": LEAD_FILTER},
    "intent_days": {"type_filter": " AND list_contains($types, activity_type)", "lead_filter": LEAD_FILTER},
    "model_intent_days": {"lead_filter": LEAD_FILTER},
    "intent_activity_points": {"day_rows": sql_file("intent_days")},
    "model_surge_days": {"lead_filter": LEAD_FILTER},
    "surge_days": {"lead_filter": " AND list_contains($lead_ids, l.lead_id)"},
    "intent_surges": {"lead_filter": " AND list_contains($lead_ids, l.lead_id)"},
    "lead_fields": {"columns": 'l."lead_id", l."title", coalesce(a."industry", l."industry") AS "industry", '
                               'coalesce(map_extract_value(l."attributes", $k0), '
                               'map_extract_value(a."attributes", $k0)) AS "attr:tier"',
                    "conditions": 'l."lead_id" IS NOT NULL AND (l."created_at" IS NULL OR l."created_at" < $until)'},
    "import_changed": {"key_match": 't."lead_id" = i."lead_id"',
                       "differs": 't."email" IS DISTINCT FROM i."email" OR t."title" IS DISTINCT FROM i."title"'},
    "import_new_rows": {"key_match": 't."lead_id" = i."lead_id"'},
    "import_removed_keys": {"keys": '"lead_id"'},
    "import_restore": {"keys": '"lead_id"', "columns": 'COLUMNS'},
    "import_reattach": {"keys": '"lead_id"', "key_pairs": 'h."lead_id" = x."lead_id"'},
    "handoffs": {"lifecycle_entries": sql_file("lifecycle_entries")},
    "identity_person_rows": {"dedupe": STAGE_ENTRY_ONCE},
    **{name: HYGIENE for name in FILES if name.startswith("hygiene_")},
    "model_funnel_stages_on": HYGIENE,
    "content_first_views": {"spans": sql_text("funnel_spans", entries="entries")},
    "hygiene_engaged": HYGIENE,
    "model_engaged": HYGIENE,
    "engagement_days": HYGIENE,
    "content_next_stage": {"first_views": sql_text("content_first_views",
                                                   fragments={"spans": sql_text("funnel_spans", entries="entries")})},
    "capture_fields": {"capture_leads": sql_text("capture_leads", leads="leads", accounts="accounts"),
                       "first_touch": sql_text("first_touches", activities="activities")},
    "lead_needs": {"capture_leads": sql_text("capture_leads", leads="leads", accounts="accounts")},
    "form_funnels": {"form_touches": sql_text("form_touches", activities="activities")},
}


def tiny_store():
    """Two leads, one account, a few stage events, activities, deals and a surge; plus the temp tables
    the import statements read (_incoming, _changed, _keys) and one audit row."""
    con = store(
        leads=[{"lead_id": "L1", "email": "ada@example.com", "name": "Ada", "title": "VP Sales", "account_id": "A",
                "created_at": datetime(2026, 1, 5), "source": "web", "lifecycle_stage": "customer",
                "employees": 40},
               {"lead_id": "L2", "email": "bo@example.com", "created_at": datetime(2026, 1, 6),
                "lifecycle_stage": "lead"}],
        accounts=[{"account_id": "A", "name": "Acme", "domain": "acme.test", "industry": "software", "employees": 50}],
        stage_events=[{"lead_id": "L1", "ladder": "lifecycle", "stage": "opportunity",
                       "entered_at": datetime(2026, 1, 10)},
                      {"lead_id": "L1", "ladder": "lifecycle", "stage": "lead", "entered_at": datetime(2026, 1, 20)}],
        activities=[{"activity_id": "A1", "lead_id": "L1", "activity_type": "demo_request",
                     "occurred_at": datetime(2026, 1, 8), "url": "https://acme.test/pricing"},
                    {"activity_id": "A2", "lead_id": "L2", "activity_type": "email_open",
                     "occurred_at": datetime(2026, 1, 9)}],
        deals=[{"deal_id": "D1", "lead_id": "L1", "name": "first", "amount": 100.0, "created_at": datetime(2026, 1, 11),
                "closed_at": datetime(2026, 1, 25), "won": True},
               {"deal_id": "D2", "lead_id": "L1", "name": "second", "created_at": datetime(2026, 1, 12),
                "closed_at": datetime(2026, 1, 20), "won": False, "lost_reason": "budget"}],
        intent_signals=[{"account_id": "A", "topic": "crm", "surge": True, "observed_at": datetime(2026, 1, 15)}],
    )
    con.execute("UPDATE leads SET _import_id = 1, attributes = MAP {'tier': 'gold'}")
    for table in TABLES:  # the imported rows the import statements edit and the identity model reads
        con.execute(f"INSERT INTO raw.{table} SELECT * FROM main.{table}")
    con.execute("INSERT INTO raw.leads__history SELECT *, 1 FROM main.leads")
    con.execute("CREATE TEMP TABLE _incoming AS SELECT * FROM leads")
    con.execute("CREATE TEMP TABLE _changed AS SELECT rowid AS target_rowid FROM leads")
    con.execute("CREATE TEMP TABLE _keys AS SELECT lead_id FROM leads")
    con.execute("INSERT INTO imports (import_id, file_name, sha256, table_name) VALUES (7, 'leads.csv', 'abc', 'leads')")
    return con


def header(name: str) -> str:
    """The comment lines at the top of the file."""
    lines = sql_file(name).splitlines()
    return "\n".join(line for line in lines[:next(i for i, line in enumerate(lines) if not line.startswith("--"))])


def body(name: str) -> str:
    """The SQL without its comments."""
    return re.sub(r"--[^\n]*", "", sql_file(name))


def params_of(sql: str) -> set[str]:
    return set(re.findall(r"\$([a-z_][a-z0-9_]*)", re.sub(r"--[^\n]*", "", sql)))


@pytest.mark.parametrize("name", FILES)
def test_sql_file_runs_on_a_tiny_store(name):
    tokens = set(re.findall(r"\{([a-z_]+)\}", body(name)))
    con = tiny_store()
    if name.startswith("identity_"):  # the identity build's own tables and temp tables, as it makes them
        rebuild_identity(con)
        identity_work_tables(con, settings=default_settings())
    if name in ("model_intent_days", "model_surge_days", "model_activity_days"):  # the lead model's tables, as built
        write_intent_inputs(con)
    if name == "model_engaged":
        write_engagement_days(con, settings=default_settings())
    for token, table in FRAMES.items():  # a fragment may read one too (content_next_stage's spans)
        con.register(token, table.to_arrow())
    relations = {t: RELATIONS.get(t, t) for t in tokens}
    markers = set(re.findall(r"/\*@([a-z_]+)\*/", body(name)))
    fragments = {m: FRAGMENTS.get(name, {}).get(m, "") for m in markers}
    if fragments.get("columns") == "COLUMNS":  # the target's columns, as remove_import lists them
        fragments["columns"] = ", ".join(quote_ident(d[0]) for d in con.execute("SELECT * FROM leads LIMIT 0").description)
    sql = sql_text(name, fragments=fragments, **relations)
    missing = params_of(sql) - PARAM_VALUES.keys()
    assert not missing, f"{name}.sql binds {missing}: add a value to PARAM_VALUES"
    params = {p: PARAM_VALUES[p] for p in params_of(sql)}
    if name.startswith("import_"):  # the importer writes the raw (imported) tables, as write_import does
        with raw_tables(con):
            con.execute(sql, params).fetchall()
    else:
        con.execute(sql, params).fetchall()


@pytest.mark.parametrize("name", FILES)
def test_sql_file_is_a_chain_of_named_ctes_ending_in_final(name):
    text = " ".join(body(name).lower().split())
    assert re.search(r"\bwith \w+ as \(", text), f"{name}.sql: no named CTEs"
    assert re.search(r"\bfinal as \(", text), f"{name}.sql: no final CTE"
    assert re.search(r"select \*( exclude \([^)]*\))? from final\b", text), f"{name}.sql: not ending in select * from final"


@pytest.mark.parametrize("name", FILES)
def test_sql_file_header_gives_grain_and_parameters(name):
    top = header(name)
    assert "Grain:" in top, f"{name}.sql: the header comment names no grain"
    assert "Params:" in top, f"{name}.sql: the header comment has no Params: line (say 'Params: none.')"
    unnamed = {p for p in params_of(sql_file(name)) if f"${p}" not in top}
    assert not unnamed, f"{name}.sql binds {unnamed} without naming them in its header"
    for token in set(re.findall(r"\{([a-z_]+)\}", body(name))):
        assert f"{{{token}}}" in top, f"{name}.sql uses the relation {{{token}}} without naming it in its header"
    for marker in set(re.findall(r"/\*@([a-z_]+)\*/", body(name))):
        assert f"@{marker}" in top, f"{name}.sql has the fragment @{marker} without naming it in its header"
