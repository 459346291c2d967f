"""What the CRM audit reads that changes with neither the as-of date nor the settings, kept in the lead model.

Every lead's match record (`person_records`: the fields a merge reads and the match keys), every account's
(`company_records`) and the standardisation findings of both tables (`standardisation_findings`: a stored
value not in its standard form, with the suggested one). They are a part of the lead model
(funnel.model.materialised), built once per data version: `audit_inputs` reads them stored when the part is
current, else computes them from the tables, with the same result. The audit itself (Splink's pairs at D, the
merges, the trend) is funnel.analyses.crm_audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import polars as pl

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

__all__ = ["FINDING_SCHEMA", "RECORD_ID", "STATE_HEADERS", "AuditInputs", "attribute_keys", "attribute_value",
           "audit_inputs", "company_records", "computed_audit_inputs", "latest_records", "person_records",
           "standardisation_findings"]

# --------------------------------------------------------------------------------- match records


def person_records(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per lead: the stored fields merges read, plus the match keys (email_key, name_key,
    first_key, last_key, org_domain (the e-mail's domain unless free mail, else the account's),
    company_key, phone_key)."""
    raw = frame(con, sql_text("hygiene_people", leads=sc.LEADS.name, accounts=sc.ACCOUNTS.name))
    if raw.is_empty():
        return raw
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


def latest_records(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    """The stored rows of a table, the last import's row per id: canonical columns and attributes
    (a list of {key, value})."""
    spec = sc.TABLES[table]
    key = quote_ident(RECORD_ID[table])
    cols = ", ".join([*(quote_ident(c) for c in spec.column_names),
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


_RULES = {sc.COUNTRY: "country as its ISO 3166-1 alpha-2 code", sc.INDUSTRY: "industry on the one list",
          sc.PHONE: "phone number in its country's national format", sc.DOMAIN: "website as its bare registrable domain"}


def standardisation_findings(con: duckdb.DuckDBPyConnection, *, table: str) -> pl.DataFrame:
    """One row per record and field not in its standard form: table, id, field, current,
    suggested, rule. Values no library or list recognises are left alone (not findings)."""
    if table not in RECORD_ID:
        raise FunnelError(f"there are no standardisation checks for {table!r}", hint="Use leads or accounts")
    records = _suggestions(latest_records(con, table), table)
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


# --------------------------------------------------------------------------------- the audit's inputs


@dataclass(frozen=True)
class AuditInputs:
    """What the audit reads that does not change with D, the threshold or the settings: every lead's match
    record (`person_records`), every account's (`company_records`) and the standardisation findings of both
    tables. The field names are the part's names in funnel.model.materialised.AUDIT_RECORDS_TABLES."""

    people: pl.DataFrame
    companies: pl.DataFrame
    lead_findings: pl.DataFrame
    account_findings: pl.DataFrame


def computed_audit_inputs(con: duckdb.DuckDBPyConnection) -> AuditInputs:
    """The audit's inputs computed from the tables (what the model stores)."""
    return AuditInputs(person_records(con), company_records(con),
                       standardisation_findings(con, table=sc.LEADS.name),
                       standardisation_findings(con, table=sc.ACCOUNTS.name))


def audit_inputs(con: duckdb.DuckDBPyConnection) -> AuditInputs:
    """The audit's inputs that every as-of date and threshold share: stored in the lead model when current for
    the data (a scan of each table), else computed from the tables."""
    stored = materialised.stored_audit_records(con)
    return computed_audit_inputs(con) if stored is None else AuditInputs(**stored)
