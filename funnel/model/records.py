"""What the CRM audit reads that changes with neither the as-of date nor the settings, kept in the lead model.

Every lead's match record (`person_records`: the fields a merge reads and the match keys), every account's
(`company_records`) and the standardisation findings of both tables (`standardisation_findings`: a stored
value not in its standard form, with the suggested one). They are a part of the lead model
(funnel.model.materialised), built once per data version: `audit_inputs` reads them stored when the part is
current, else computes them from the tables, with the same result. The pairs of records Splink's blocking brings
together, with each comparison's weight, are found from them once per data version too (`candidate_pairs`). The
audit itself (the pairs at D, the merges, the trend) is funnel.analyses.crm_audit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import polars as pl
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from funnel import schema as sc
from funnel.errors import FunnelError
from funnel.model import materialised
from funnel.model.standardise import (
    FREE_MAIL_DOMAINS,
    country_code,
    hygiene_company_key,
    hygiene_domain_key,
    hygiene_email_key,
    hygiene_name_key,
    hygiene_phone_key,
    industry_of,
    phone_national,
    state_code,
)
from funnel.store.db import frame, quote_ident
from funnel.store.queries import sql_text

__all__ = ["COMPANY_BLOCKING", "COMPANY_LEVELS", "FINDING_SCHEMA", "PERSON_BLOCKING", "PERSON_LEVELS", "RECORD_ID",
           "STATE_HEADERS", "AuditInputs", "Level", "attribute_keys", "attribute_value", "audit_inputs",
           "candidate_pairs", "candidate_schema", "company_candidates", "company_records", "computed_audit_records",
           "latest_records", "person_candidates", "person_records", "standardisation_findings"]

# --------------------------------------------------------------------------------- match records

# Leads keyed at a time: the key expressions hold several copies of what they read, so at 10M leads keying all at
# once peaked at 12.3 GB for a 2.4 GB result.
PEOPLE_PER_SLICE = 1_000_000


def person_records(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per lead: the stored fields merges read, plus the match keys (email_key, name_key,
    first_key, last_key, org_domain (the e-mail's domain unless free mail, else the account's),
    company_key, phone_key), keyed PEOPLE_PER_SLICE leads at a time."""
    raw = frame(con, sql_text("hygiene_people", leads=sc.LEADS.name, accounts=sc.ACCOUNTS.name))
    if raw.is_empty():
        return raw
    return pl.concat([_keyed_people(raw.slice(start, PEOPLE_PER_SLICE))
                      for start in range(0, raw.height, PEOPLE_PER_SLICE)])


def _keyed_people(raw: pl.DataFrame) -> pl.DataFrame:
    """`raw` (rows of hygiene_people.sql) with the match keys of `person_records`."""
    full_name = pl.coalesce(pl.col(sc.NAME), pl.concat_str(sc.FIRST_NAME, sc.LAST_NAME, separator=" ",
                                                           ignore_nulls=True))
    # lazy, so the parts each key expression reads several times are computed once (eager runs skip that)
    keyed = raw.lazy().with_columns(
        hygiene_email_key(pl.col(sc.EMAIL)).alias("email_key"), full_name.alias("_full_name"),
    ).with_columns(pl.col("email_key").str.split("@").list.last().alias("_mail_host")).collect()
    keyed = keyed.with_columns(
        *_keyed_once(hygiene_name_key, name_key=keyed.get_column("_full_name")),
        # one key per domain, whether an e-mail's or an account's (most leads' are the same domains)
        *_keyed_once(hygiene_domain_key, _mail_domain=keyed.get_column("_mail_host"),
                     _account_domain=keyed.get_column("account_domain")),
        *_keyed_once(hygiene_company_key, company_key=keyed.get_column(sc.COMPANY)),
    )
    keyed = keyed.with_columns(
        pl.col("name_key").str.split(" ").list.first().alias("first_key"),
        pl.col("name_key").str.split(" ").list.last().alias("last_key"),
        pl.when(pl.col("_mail_domain").is_in(FREE_MAIL_DOMAINS).not_()).then(pl.col("_mail_domain"))
        .otherwise(pl.col("_account_domain")).alias("org_domain"),
    ).drop("_full_name", "_mail_host", "_mail_domain", "_account_domain")
    regions = country_code(keyed.get_column(sc.COUNTRY))
    return keyed.with_columns(hygiene_phone_key(keyed.get_column(sc.PHONE), regions).alias("phone_key"))


def _keyed_once(key: Callable[[pl.Expr], pl.Expr], **columns: pl.Series) -> list[pl.Series]:
    """`key` of each value of each column, named by its keyword, computed once per distinct value of them all
    (domains, company and person names repeat across leads, and across columns). The values are computed
    columns, never a lazy plan: a plan read twice (for its distinct values and for the join) is computed twice,
    and four nested keys computed the records 16 times."""
    values = [column.rename("value") for column in columns.values()]
    distinct = pl.concat(values).unique().to_frame().lazy().with_columns(key(pl.col("value")).alias("key")).collect()
    return [value.to_frame().join(distinct, on="value", how="left", nulls_equal=True, maintain_order="left")
            .get_column("key").alias(alias) for alias, value in zip(columns, values, strict=True)]


def company_records(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per account: its stored fields, its number of leads, and the match keys (domain_key,
    company_key, compact_key = the name key without spaces)."""
    raw = frame(con, sql_text("hygiene_companies", accounts=sc.ACCOUNTS.name, leads=sc.LEADS.name))
    return raw.lazy().with_columns(
        hygiene_domain_key(pl.col(sc.DOMAIN)).alias("domain_key"),
        hygiene_company_key(pl.col(sc.NAME)).alias("company_key"),
    ).with_columns(pl.col("company_key").str.replace_all(" ", "").alias("compact_key")).collect()


# --------------------------------------------------------------------------------- standardisation findings

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(), "id": pl.String(), "field": pl.String(), "current": pl.String(),
    "suggested": pl.String(), "rule": pl.String(),
}
# The id column of each table with standardisation checks.
RECORD_ID = {sc.LEADS.name: sc.LEAD_ID, sc.ACCOUNTS.name: sc.ACCOUNT_ID}
# Attribute columns (kept from the export under their own header) that hold a US state or Canadian
# province, by normalised header; their standard form is the two-letter code.
STATE_HEADERS: tuple[str, ...] = ("state", "state_region", "state_province", "province", "billing_state",
                                  "state_code", "mailing_state")


def latest_records(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The stored rows of a table, the last import's row per id: its canonical columns (or `columns` of them) and
    attributes (a list of {key, value})."""
    key = quote_ident(RECORD_ID[table])
    cols = ", ".join([*(quote_ident(c) for c in columns or sc.TABLES[table].column_names),
                      f"map_entries({quote_ident(sc.ATTRIBUTES)}) AS {quote_ident(sc.ATTRIBUTES)}"])
    return frame(con, f"SELECT {cols} FROM {quote_ident(table)} WHERE {key} IS NOT NULL "
                      f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {quote_ident(sc.IMPORT_ID)} DESC) = 1")


def _suggestions(records: pl.DataFrame, table: str) -> pl.DataFrame:
    """The records with a `<field>__suggested` column per standardised field (null = leave as is)."""
    codes = country_code(records.get_column(sc.COUNTRY))
    out = records.with_columns(
        codes.alias(f"{sc.COUNTRY}__suggested"),
        industry_of(records.get_column(sc.INDUSTRY)).alias(f"{sc.INDUSTRY}__suggested"),
    )
    if table == sc.LEADS.name:
        out = out.with_columns(phone_national(records.get_column(sc.PHONE), codes).alias(f"{sc.PHONE}__suggested"))
    else:
        # lazy: the parts the key reads several times are computed once (an eager run skips that)
        out = out.lazy().with_columns(hygiene_domain_key(pl.col(sc.DOMAIN)).alias(f"{sc.DOMAIN}__suggested")).collect()
    for header in attribute_keys(records):
        if sc.normalise_name(header) in STATE_HEADERS:
            value = attribute_value(header)
            out = out.with_columns(value.alias(f"attr:{header}")).with_columns(
                state_code(out.select(value).to_series(), codes).alias(f"attr:{header}__suggested"))
    return out


def attribute_keys(records: pl.DataFrame) -> list[str]:
    """The attribute headers the records carry, in first-seen order."""
    if records.is_empty() or not isinstance(records.schema.get(sc.ATTRIBUTES), pl.List):
        return []
    keys = records.select(pl.col(sc.ATTRIBUTES).list.eval(pl.element().struct.field("key")).explode().drop_nulls())
    return list(dict.fromkeys(keys.to_series().to_list()))


def attribute_value(header: str) -> pl.Expr:
    """The value of one attribute of each record (null when absent)."""
    return (pl.col(sc.ATTRIBUTES).list.eval(pl.element().filter(pl.element().struct.field("key") == header)
                                            .struct.field("value")).list.first())


# The columns each table's findings read (besides the attributes): its id and the fields with a standard form.
STANDARDISED = {sc.LEADS.name: (sc.LEAD_ID, sc.COUNTRY, sc.INDUSTRY, sc.PHONE),
                sc.ACCOUNTS.name: (sc.ACCOUNT_ID, sc.COUNTRY, sc.INDUSTRY, sc.DOMAIN)}
_RULES = {sc.COUNTRY: "country as its ISO 3166-1 alpha-2 code", sc.INDUSTRY: "industry on the one list",
          sc.PHONE: "phone number in its country's national format", sc.DOMAIN: "website as its bare registrable domain"}


def standardisation_findings(con: duckdb.DuckDBPyConnection, *, table: str) -> pl.DataFrame:
    """One row per record and field not in its standard form: table, id, field, current,
    suggested, rule. Values no library or list recognises are left alone (not findings)."""
    if table not in RECORD_ID:
        raise FunnelError(f"there are no standardisation checks for {table!r}", hint="Use leads or accounts")
    records = _suggestions(latest_records(con, table, STANDARDISED[table]), table)
    parts = []
    rules = _RULES | {c.removesuffix("__suggested"): "US state or Canadian province as its two-letter code"
                      for c in records.columns if c.startswith("attr:") and c.endswith("__suggested")}
    for field, rule in rules.items():
        column = f"{field}__suggested"
        if column not in records.columns:
            continue
        parts.append(records.filter(pl.col(column).is_not_null() & (pl.col(field) != pl.col(column))).select(
            pl.lit(table).alias("table"), pl.col(RECORD_ID[table]).alias("id"), pl.lit(field).alias("field"),
            pl.col(field).cast(pl.String).alias("current"), pl.col(column).alias("suggested"),
            pl.lit(rule).alias("rule")))
    return pl.concat(parts).cast(FINDING_SCHEMA) if parts else pl.DataFrame(schema=FINDING_SCHEMA)


# --------------------------------------------------------------------------------- candidate pairs
# Splink's model of a duplicate (Fellegi–Sunter record linkage with fixed m and u probabilities; see
# funnel.analyses.duplicates): the pairs its blocking rules bring together, and each comparison's level and match
# weight, depend on the two records alone. So they are found once per data version (per process: not kept in the
# model, see `audit_inputs`); the prior (from the number of records at D) and the threshold are applied at D by
# funnel.analyses.duplicates.scored_pairs, as Splink's prediction applies them.

@dataclass(frozen=True)
class Level:
    """One comparison level: its words in the evidence, and P(level | same) and P(level | different)."""

    words: str
    m: float
    u: float


# Priors: of true duplicates, ~75% keep the same address once case, spaces, +tags and Gmail dots
# are ignored and ~15% retype it as an initial form (j.smith@ for john.smith@); of different
# people, almost none share an address. Names of one person agree exactly ~80% of the time.
_EMAIL_LEVELS = (Level("same e-mail", 0.75, 1e-6),
                 Level("e-mail in initial form (j.smith@ / john.smith@)", 0.15, 1e-5),
                 Level("different e-mails", 0.10, 1.0 - 1.1e-5))
_NAME_LEVELS = (Level("same name", 0.80, 0.0005), Level("name nearly the same (Jaro-Winkler ≥ 0.95)", 0.10, 0.001),
                Level("similar name (Jaro-Winkler ≥ 0.88)", 0.05, 0.01),
                Level("different names", 0.05, 1.0 - 0.0115))
_ORG_LEVELS = (Level("same organisation domain", 0.90, 0.002), Level("same company name", 0.06, 0.001),
               Level("different organisations", 0.04, 1.0 - 0.003))
_PHONE_LEVELS = (Level("same phone", 0.60, 1e-5), Level("different phones", 0.40, 1.0 - 1e-5))

_INITIAL_FORM = ("split_part(email_key_l, '@', 2) = split_part(email_key_r, '@', 2) "
                 "and left(email_key_l, 1) = left(email_key_r, 1) "
                 "and (regexp_matches(split_part(email_key_l, '@', 1), '^[a-z]\\.[^.]+$') "
                 "or regexp_matches(split_part(email_key_r, '@', 1), '^[a-z]\\.[^.]+$')) "
                 "and regexp_extract(split_part(email_key_l, '@', 1), '[^.]+$') "
                 "= regexp_extract(split_part(email_key_r, '@', 1), '[^.]+$')")


def _levels(column: str, null: bool, levels: tuple[Level, ...], conditions: list) -> list:
    out = [cll.NullLevel(column)] if null else []
    for level, condition in zip(levels, conditions, strict=True):
        out.append(condition.configure(m_probability=level.m, u_probability=level.u,
                                       label_for_charts=level.words))
    return out


def person_comparisons() -> list:
    email = cl.CustomComparison(output_column_name="email_key", comparison_levels=_levels(
        "email_key", True, _EMAIL_LEVELS,
        [cll.ExactMatchLevel("email_key"), cll.CustomLevel(_INITIAL_FORM), cll.ElseLevel()]))
    name = cl.CustomComparison(output_column_name="name_key", comparison_levels=_levels(
        "name_key", True, _NAME_LEVELS,
        [cll.ExactMatchLevel("name_key"), cll.JaroWinklerLevel("name_key", 0.95),
         cll.JaroWinklerLevel("name_key", 0.88), cll.ElseLevel()]))
    org = cl.CustomComparison(output_column_name="org_domain", comparison_levels=[
        cll.CustomLevel("(org_domain_l is null or org_domain_r is null) "
                        "and (company_key_l is null or company_key_r is null)").configure(is_null_level=True),
        *_levels("org_domain", False, _ORG_LEVELS,
                 [cll.ExactMatchLevel("org_domain"), cll.ExactMatchLevel("company_key"), cll.ElseLevel()])])
    phone = cl.CustomComparison(output_column_name="phone_key", comparison_levels=_levels(
        "phone_key", True, _PHONE_LEVELS, [cll.ExactMatchLevel("phone_key"), cll.ElseLevel()]))
    return [email, name, org, phone]


PERSON_BLOCKING: tuple[tuple[str, ...], ...] = (("email_key",), ("phone_key",), ("org_domain", "last_key"),
                                                 ("org_domain", "first_key"), ("company_key", "last_key"))


PERSON_KEYS = ("email_key", "name_key", "first_key", "last_key", "org_domain", "company_key", "phone_key")
# Each comparison's levels by its column, in the order Splink sums their match weights.
PERSON_LEVELS: dict[str, tuple[Level, ...]] = {"email_key": _EMAIL_LEVELS, "name_key": _NAME_LEVELS,
                                               "org_domain": _ORG_LEVELS, "phone_key": _PHONE_LEVELS}

_DOMAIN_LEVELS = (Level("same domain", 0.85, 1e-4), Level("different domains", 0.15, 1.0 - 1e-4))
_COMPANY_NAME_LEVELS = (Level("same name (legal form ignored)", 0.70, 0.0005),
                        Level("name nearly the same (Jaro-Winkler ≥ 0.95)", 0.15, 0.001),
                        Level("similar name (Jaro-Winkler ≥ 0.9)", 0.10, 0.005),
                        Level("different names", 0.05, 1.0 - 0.0065))
COMPANY_BLOCKING: tuple[tuple[str, ...], ...] = (("domain_key",), ("company_key",), ("compact_key",))
COMPANY_KEYS = ("domain_key", "company_key", "compact_key")
COMPANY_LEVELS: dict[str, tuple[Level, ...]] = {"domain_key": _DOMAIN_LEVELS, "company_key": _COMPANY_NAME_LEVELS}


def company_comparisons() -> list:
    domain = cl.CustomComparison(output_column_name="domain_key", comparison_levels=_levels(
        "domain_key", True, _DOMAIN_LEVELS, [cll.ExactMatchLevel("domain_key"), cll.ElseLevel()]))
    name = cl.CustomComparison(output_column_name="company_key", comparison_levels=_levels(
        "company_key", True, _COMPANY_NAME_LEVELS,
        [cll.ExactMatchLevel("company_key"), cll.JaroWinklerLevel("company_key", 0.95),
         cll.JaroWinklerLevel("company_key", 0.9), cll.ElseLevel()]))
    return [domain, name]


def candidate_schema(levels: dict[str, tuple[Level, ...]]) -> dict[str, pl.DataType]:
    """The columns of candidate pairs: id_l < id_r, then per comparison its level (gamma_<column>: the best
    level counts highest, -1 is null) and its match weight (mw_<column>), in the order Splink sums them."""
    per_comparison = {name: dtype for column in levels
                      for name, dtype in ((f"gamma_{column}", pl.Int32()), (f"mw_{column}", pl.Float64()))}
    return {"id_l": pl.String(), "id_r": pl.String(), **per_comparison}


def candidate_pairs(records: pl.DataFrame, *, id_column: str, keys: tuple[str, ...], comparisons: list,
                    blocking: tuple[tuple[str, ...], ...], levels: dict[str, tuple[Level, ...]]) -> pl.DataFrame:
    """Every pair of records Splink's blocking rules bring together, with each comparison's level and match
    weight (`candidate_schema`): what a prediction at any prior and threshold reads."""
    schema = candidate_schema(levels)
    if records.height < 2:
        return pl.DataFrame(schema=schema)
    data = records.select(pl.col(id_column).alias("unique_id"), *keys)
    connection = duckdb.connect()  # Splink's own scratch database, never the store
    db = DuckDBAPI(connection)
    try:
        table = db.register(data.to_arrow(), table_name="records")
        settings = SettingsCreator(  # the prior does not enter a comparison's weight: scored_pairs applies it
            link_type="dedupe_only", unique_id_column_name="unique_id", probability_two_random_records_match=0.5,
            comparisons=comparisons, blocking_rules_to_generate_predictions=[block_on(*b) for b in blocking],
            retain_intermediate_calculation_columns=True)
        linker = Linker(table, settings, log_level="WARNING")
        pairs = linker.inference.predict(warning_mode="never").as_duckdbpyrelation().pl()
    finally:
        connection.close()
    if pairs.is_empty():
        return pl.DataFrame(schema=schema)
    return pairs.select(pl.min_horizontal("unique_id_l", "unique_id_r").alias("id_l"),
                        pl.max_horizontal("unique_id_l", "unique_id_r").alias("id_r"),
                        *(c for c in schema if c not in ("id_l", "id_r"))).cast(schema)


def person_candidates(people: pl.DataFrame) -> pl.DataFrame:
    """The candidate pairs of leads (`person_records`)."""
    return candidate_pairs(people, id_column=sc.LEAD_ID, keys=PERSON_KEYS, comparisons=person_comparisons(),
                           blocking=PERSON_BLOCKING, levels=PERSON_LEVELS)


def company_candidates(companies: pl.DataFrame) -> pl.DataFrame:
    """The candidate pairs of accounts (`company_records`)."""
    return candidate_pairs(companies, id_column=sc.ACCOUNT_ID, keys=COMPANY_KEYS, comparisons=company_comparisons(),
                           blocking=COMPANY_BLOCKING, levels=COMPANY_LEVELS)


# --------------------------------------------------------------------------------- the audit's inputs


@dataclass(frozen=True)
class AuditInputs:
    """What the audit reads that does not change with D, the threshold or the settings: every lead's match
    record (`person_records`), every account's (`company_records`), the standardisation findings of both
    tables (kept in the lead model under these names: funnel.model.materialised.AUDIT_RECORDS_TABLES), and the
    candidate pairs of leads and of accounts."""

    people: pl.DataFrame
    companies: pl.DataFrame
    lead_findings: pl.DataFrame
    account_findings: pl.DataFrame
    person_candidates: pl.DataFrame
    company_candidates: pl.DataFrame


def computed_audit_records(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """The audit's records computed from the tables, by their names in AuditInputs: what the lead model keeps."""
    return {"people": person_records(con), "companies": company_records(con),
            "lead_findings": standardisation_findings(con, table=sc.LEADS.name),
            "account_findings": standardisation_findings(con, table=sc.ACCOUNTS.name)}


def audit_inputs(con: duckdb.DuckDBPyConnection) -> AuditInputs:
    """The audit's inputs that every as-of date and threshold share: the records stored in the lead model when
    current for the data (else computed from the tables) and their candidate pairs. The pairs are found here, not
    kept in the model: at 10M leads Splink's blocking of the people outgrew the 24 GB the model build has."""
    found = materialised.stored_audit_records(con)
    if found is None:
        found = computed_audit_records(con)
    return AuditInputs(**found, person_candidates=person_candidates(found["people"]),
                       company_candidates=company_candidates(found["companies"]))
