"""The fix files that carry the standardisation findings (funnel.model.records) back to the CRM.

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
from funnel.errors import FunnelError
from funnel.export import csv_bytes
from funnel.model.records import (
    RECORD_ID,
    attribute_keys,
    attribute_value,
    latest_records,
    standardisation_findings,
)

__all__ = ["CRM_COLUMNS", "fix_file", "fix_file_bytes"]

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
_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def fix_file(con: duckdb.DuckDBPyConnection, *, table: str, crm: str = "hubspot",
             findings: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per record with a standardisation finding, in the CRM's import columns (CRM_COLUMNS),
    every column of the record present, suggested values in place; dates as text. `findings` is
    `standardisation_findings` of the table when the caller already has it."""
    if crm not in CRM_COLUMNS:
        raise FunnelError(f"there is no fix-file format for {crm!r}", hint=f"Use one of: {', '.join(CRM_COLUMNS)}")
    if findings is None:
        findings = standardisation_findings(con, table=table)
    records = latest_records(con, table).join(findings.select(pl.col("id").alias(RECORD_ID[table])).unique(), on=RECORD_ID[table],
                                        how="semi")
    columns = CRM_COLUMNS[crm][table]
    named = set(columns.values())
    extra = [h for h in attribute_keys(records) if h not in named]  # kept so a re-import keeps them
    records = records.with_columns([attribute_value(h).alias(f"attr:{h}") for h in extra])
    for field in findings.get_column("field").unique().sort().to_list():
        fixes = findings.filter(pl.col("field") == field).select(pl.col("id").alias(RECORD_ID[table]),
                                                                 pl.col("suggested").alias("_fix"))
        records = (records.join(fixes, on=RECORD_ID[table], how="left")
                   .with_columns(pl.coalesce("_fix", pl.col(field).cast(pl.String)).alias(field)).drop("_fix"))
    return records.sort(RECORD_ID[table]).select(
        [(pl.col(c).dt.strftime(_DATETIME_FORMAT) if records.schema[c] == pl.Datetime("us") else pl.col(c))
         .alias(header) for c, header in columns.items()]
        + [pl.col(f"attr:{h}").alias(h) for h in extra])


def fix_file_bytes(con: duckdb.DuckDBPyConnection, *, table: str, crm: str = "hubspot") -> bytes:
    """`fix_file` as a formula-safe CSV (funnel.export.csv_bytes)."""
    return csv_bytes(fix_file(con, table=table, crm=crm))
