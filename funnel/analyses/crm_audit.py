"""The CRM audit the hygiene tools sell, in one call: duplicate people and companies with merge
suggestions, standardisation findings and their fix files, with counts now and a month before.

`hygiene_trend` is the existing hygiene report now and at the previous month end.
`crm_audit_rows` returns rows in `funnel.analyses.hygiene.REPORT_SCHEMA` (check, description,
leads, share, what_to_do) so the hygiene report can list them after its own checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses import duplicates as dup
from funnel.analyses.fix_files import standardisation_findings
from funnel.analyses.hygiene import hygiene_report
from funnel.config import Settings


@dataclass(frozen=True)
class CrmAudit:
    """Every frame of the audit (each documented where it is made)."""

    summary: pl.DataFrame
    person_pairs: pl.DataFrame
    company_pairs: pl.DataFrame
    person_merges: pl.DataFrame
    company_merges: pl.DataFrame
    lead_findings: pl.DataFrame
    account_findings: pl.DataFrame


def _month_before(as_of: date) -> date:
    first = as_of.replace(day=1)
    return first - timedelta(days=1)


def _pairs_by(pairs: pl.DataFrame, records: pl.DataFrame, until: datetime) -> int:
    """Pairs whose two leads both existed before `until` (undated leads count as always there)."""
    born = records.select(pl.col(sc.LEAD_ID).alias("id"), pl.col(sc.CREATED_AT))
    dated = (pairs.join(born.rename({"id": "id_l", sc.CREATED_AT: "c_l"}), on="id_l", how="left")
             .join(born.rename({"id": "id_r", sc.CREATED_AT: "c_r"}), on="id_r", how="left"))
    return dated.filter((pl.col("c_l").is_null() | (pl.col("c_l") < until))
                        & (pl.col("c_r").is_null() | (pl.col("c_r") < until))).height


def crm_audit(con: duckdb.DuckDBPyConnection, *, as_of: date, threshold: float = 0.9,
              person_survivor: str = "oldest", company_survivor: str = "most_complete") -> CrmAudit:
    """The audit as of D: pairs (PAIR_SCHEMA), merges (`merge_suggestions`), findings (FINDING_SCHEMA)
    and a summary with one row per finding kind: finding, now, month_before (null when the
    finding cannot be replayed: companies and standardisation are read as exported), change."""
    until = datetime.combine(as_of + timedelta(days=1), time())
    people = dup.person_records(con)
    if not people.is_empty():
        people = people.filter(pl.col(sc.CREATED_AT).is_null() | (pl.col(sc.CREATED_AT) < until))
    companies = dup.company_records(con)
    person_pairs = dup.person_duplicate_pairs(people, threshold=threshold)
    company_pairs = dup.company_duplicate_pairs(companies, threshold=threshold)
    person_merges = dup.merge_suggestions(people, person_pairs, id_column=sc.LEAD_ID, survivor=person_survivor)
    company_merges = dup.merge_suggestions(companies, company_pairs, id_column=sc.ACCOUNT_ID,
                                           survivor=company_survivor)
    leads_found = standardisation_findings(con, table=sc.LEADS.name)
    accounts_found = standardisation_findings(con, table=sc.ACCOUNTS.name)
    before = datetime.combine(_month_before(as_of) + timedelta(days=1), time())
    rows = [
        ("duplicate person pairs", person_pairs.height, _pairs_by(person_pairs, people, before)
         if not people.is_empty() else None),
        ("leads to merge away", person_merges.select("merged").unique().get_column("merged").str.split("; ")
         .list.len().sum() if person_merges.height else 0, None),
        ("duplicate company pairs", company_pairs.height, None),
        ("lead fields not in standard form", leads_found.height, None),
        ("account fields not in standard form", accounts_found.height, None),
    ]
    summary = pl.DataFrame(rows, schema={"finding": pl.String(), "now": pl.Int64(), "month_before": pl.Int64()},
                           orient="row").with_columns((pl.col("now") - pl.col("month_before")).alias("change"))
    return CrmAudit(summary, person_pairs, company_pairs, person_merges, company_merges, leads_found, accounts_found)


def crm_audit_rows(audit: CrmAudit, *, population: int) -> pl.DataFrame:
    """The audit's lead-level findings as hygiene-report rows (check, description, leads, share,
    what_to_do): fuzzy person duplicates and non-standard lead fields."""
    dup_leads = pl.concat([audit.person_pairs["id_l"], audit.person_pairs["id_r"]]).n_unique()
    std_leads = audit.lead_findings["id"].n_unique()
    rows = [
        {"check": "probable_duplicate", "description": "Probably the same person as another lead (Splink: e-mail "
         "ignoring case, spaces, +tags and Gmail dots; similar name at the same company; same phone)",
         "leads": dup_leads, "what_to_do": "Merge them in the CRM with the suggested survivor (funnel hygiene)."},
        {"check": "non_standard_fields", "description": "Country, industry or phone not in its standard form",
         "leads": std_leads, "what_to_do": "Import the fix file into the CRM (funnel hygiene --out)."},
    ]
    return pl.DataFrame(rows).with_columns(
        (pl.col("leads") / population if population else pl.lit(None, dtype=pl.Float64)).alias("share")
    ).select("check", "description", "leads", "share", "what_to_do")


def hygiene_trend(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """One row per hygiene-report check: check, leads flagged at D, month_before (flagged at the end
    of the previous month, replayed; fields read as exported are read the same both times), change."""
    now = hygiene_report(con, settings=settings, as_of=as_of).select("check", "leads")
    before = hygiene_report(con, settings=settings, as_of=_month_before(as_of)).select(
        "check", pl.col("leads").alias("month_before"))
    return now.join(before, on="check", how="left", maintain_order="left").with_columns(
        (pl.col("leads") - pl.col("month_before")).alias("change"))
