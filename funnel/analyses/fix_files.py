"""Standardisation findings and the fix files that carry them back to the CRM.

A finding is one record's field whose stored value is not in its standard form: a country that is
not its ISO 3166-1 alpha-2 code, an industry not on the one list, a website that is not a bare
domain, a phone number not in its country's national format (E.164 starts with "+", which a
formula-safe CSV must neutralise; the country is in its own column). A fix file is one CSV per table in the CRM's own import
columns (HubSpot or Salesforce), one row per record with a finding, every column of the record
present (this product's import replaces a record by its id, so a partial row would blank the
rest; the record's extra columns, kept here as attributes, are written back under their own
headers), the suggested values in place, written formula-safe by `funnel.export.csv_bytes`. US
states and Canadian provinces live in such extra columns ("State/Region", "Billing State").

Importing a HubSpot fix file into this product (its HubSpot preset) updates those records and the
findings are gone. Salesforce's lead export has no account id or next-action column, so a
Salesforce fix file re-imported here would leave those empty: use it for the CRM, not for this
product.
"""

from __future__ import annotations

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.standardise import (
    country_code,
    hygiene_domain_key,
    industry_of,
    phone_national,
    state_code,
)
from funnel.errors import FunnelError
from funnel.export import csv_bytes
from funnel.store.db import frame, quote_ident

__all__ = ["CRM_COLUMNS", "FINDING_SCHEMA", "fix_file", "fix_file_bytes", "standardisation_findings"]

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(), "id": pl.String(), "field": pl.String(), "current": pl.String(),
    "suggested": pl.String(), "rule": pl.String(),
}

# The CRM's import column for each canonical column, per table (headers of HubSpot's "Record ID"
# exports and of Salesforce's Lead and Account exports; the presets map each back).
CRM_COLUMNS: dict[str, dict[str, dict[str, str]]] = {
    "hubspot": {
        sc.LEADS.name: {
            sc.LEAD_ID: "Record ID", sc.FIRST_NAME: "First Name", sc.LAST_NAME: "Last Name", sc.EMAIL: "Email",
            sc.TITLE: "Job Title", sc.PHONE: "Phone Number", sc.ACCOUNT_ID: "Associated Company ID",
            sc.COMPANY: "Company Name", sc.CREATED_AT: "Create Date", sc.SOURCE: "Original Source",
            sc.OWNER: "Contact owner", sc.LIFECYCLE_STAGE: "Lifecycle Stage", sc.LEAD_STATUS: "Lead Status",
            sc.LAST_ENGAGEMENT_AT: "Last Engagement Date", sc.NEXT_ACTION_AT: "Next Activity Date",
            sc.INDUSTRY: "Industry", sc.EMPLOYEES: "Number of Employees", sc.COUNTRY: "Country/Region",
        },
        sc.ACCOUNTS.name: {
            sc.ACCOUNT_ID: "Record ID", sc.NAME: "Company name", sc.DOMAIN: "Company Domain Name",
            sc.INDUSTRY: "Industry", sc.EMPLOYEES: "Number of Employees", sc.ANNUAL_REVENUE: "Annual Revenue",
            sc.COUNTRY: "Country/Region", sc.OWNER: "Company owner",
        },
    },
    "salesforce": {
        sc.LEADS.name: {
            sc.LEAD_ID: "Lead ID", sc.FIRST_NAME: "First Name", sc.LAST_NAME: "Last Name", sc.EMAIL: "Email",
            sc.TITLE: "Title", sc.PHONE: "Phone", sc.COMPANY: "Company", sc.CREATED_AT: "Created Date",
            sc.SOURCE: "Lead Source", sc.OWNER: "Lead Owner", sc.LEAD_STATUS: "Lead Status",
            sc.LAST_ENGAGEMENT_AT: "Last Activity", sc.INDUSTRY: "Industry", sc.EMPLOYEES: "No. of Employees",
            sc.COUNTRY: "Country",
        },
        sc.ACCOUNTS.name: {
            sc.ACCOUNT_ID: "Account ID", sc.NAME: "Account Name", sc.DOMAIN: "Website", sc.INDUSTRY: "Industry",
            sc.EMPLOYEES: "Employees", sc.ANNUAL_REVENUE: "Annual Revenue", sc.COUNTRY: "Billing Country",
            sc.OWNER: "Account Owner",
        },
    },
}
_ID = {sc.LEADS.name: sc.LEAD_ID, sc.ACCOUNTS.name: sc.ACCOUNT_ID}
# Attribute columns (kept from the export under their own header) that hold a US state or Canadian
# province, by normalised header; their standard form is the two-letter code.
STATE_HEADERS: tuple[str, ...] = ("state", "state_region", "state_province", "province", "billing_state",
                                  "state_code", "mailing_state")
_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _records(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    """The stored rows of a table, the last import's row per id: canonical columns and attributes
    (a list of {key, value})."""
    spec = sc.TABLES[table]
    key = quote_ident(_ID[table])
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
    for header in _attribute_keys(records):
        if sc.normalise_name(header) in STATE_HEADERS:
            value = _attribute(header)
            out = out.with_columns(value.alias(f"attr:{header}")).with_columns(
                state_code(out.select(value).to_series(), codes).alias(f"attr:{header}__suggested"))
    return out


def _attribute_keys(records: pl.DataFrame) -> list[str]:
    """The attribute headers the records carry, in first-seen order."""
    if records.is_empty() or not isinstance(records.schema.get(sc.ATTRIBUTES), pl.List):
        return []
    keys = records.select(pl.col(sc.ATTRIBUTES).list.eval(pl.element().struct.field("key")).explode().drop_nulls())
    return list(dict.fromkeys(keys.to_series().to_list()))


def _attribute(header: str) -> pl.Expr:
    """The value of one attribute of each record (null when absent)."""
    return (pl.col(sc.ATTRIBUTES).list.eval(pl.element().filter(pl.element().struct.field("key") == header)
                                            .struct.field("value")).list.first())


_RULES = {sc.COUNTRY: "country as its ISO 3166-1 alpha-2 code", sc.INDUSTRY: "industry on the one list",
          sc.PHONE: "phone number in its country's national format", sc.DOMAIN: "website as its bare registrable domain"}


def standardisation_findings(con: duckdb.DuckDBPyConnection, *, table: str) -> pl.DataFrame:
    """One row per record and field not in its standard form: table, id, field, current,
    suggested, rule. Values no library or list recognises are left alone (not findings)."""
    if table not in _ID:
        raise FunnelError(f"there are no standardisation checks for {table!r}", hint="Use leads or accounts")
    records = _suggestions(_records(con, table), table)
    parts = []
    rules = _RULES | {c.removesuffix("__suggested"): "US state or Canadian province as its two-letter code"
                      for c in records.columns if c.startswith("attr:") and c.endswith("__suggested")}
    for field, rule in rules.items():
        column = f"{field}__suggested"
        if column not in records.columns:
            continue
        parts.append(records.filter(pl.col(column).is_not_null() & (pl.col(field) != pl.col(column))).select(
            pl.lit(table).alias("table"), pl.col(_ID[table]).alias("id"), pl.lit(field).alias("field"),
            pl.col(field).cast(pl.String).alias("current"), pl.col(column).alias("suggested"),
            pl.lit(rule).alias("rule")))
    return pl.concat(parts).cast(FINDING_SCHEMA) if parts else pl.DataFrame(schema=FINDING_SCHEMA)


def fix_file(con: duckdb.DuckDBPyConnection, *, table: str, crm: str = "hubspot",
             findings: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per record with a standardisation finding, in the CRM's import columns (CRM_COLUMNS),
    every column of the record present, suggested values in place; dates as text. `findings` is
    `standardisation_findings` of the table when the caller already has it."""
    if crm not in CRM_COLUMNS:
        raise FunnelError(f"there is no fix-file format for {crm!r}", hint=f"Use one of: {', '.join(CRM_COLUMNS)}")
    if findings is None:
        findings = standardisation_findings(con, table=table)
    records = _records(con, table).join(findings.select(pl.col("id").alias(_ID[table])).unique(), on=_ID[table],
                                        how="semi")
    columns = CRM_COLUMNS[crm][table]
    named = set(columns.values())
    extra = [h for h in _attribute_keys(records) if h not in named]  # kept so a re-import keeps them
    records = records.with_columns([_attribute(h).alias(f"attr:{h}") for h in extra])
    for field in findings.get_column("field").unique().sort().to_list():
        fixes = findings.filter(pl.col("field") == field).select(pl.col("id").alias(_ID[table]),
                                                                 pl.col("suggested").alias("_fix"))
        records = (records.join(fixes, on=_ID[table], how="left")
                   .with_columns(pl.coalesce("_fix", pl.col(field).cast(pl.String)).alias(field)).drop("_fix"))
    return records.sort(_ID[table]).select(
        [(pl.col(c).dt.strftime(_DATETIME_FORMAT) if records.schema[c] == pl.Datetime("us") else pl.col(c))
         .alias(header) for c, header in columns.items()]
        + [pl.col(f"attr:{h}").alias(h) for h in extra])


def fix_file_bytes(con: duckdb.DuckDBPyConnection, *, table: str, crm: str = "hubspot") -> bytes:
    """`fix_file` as a formula-safe CSV (funnel.export.csv_bytes)."""
    return csv_bytes(fix_file(con, table=table, crm=crm))
