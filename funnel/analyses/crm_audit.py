"""The CRM audit the hygiene tools sell, in one call: duplicate people and companies with merge
suggestions, standardisation findings and their fix files, with counts now and a month before.

`hygiene_trend` is the existing hygiene report now and at the previous month end.
The audit's findings also read as lead-level checks (`crm_audit_flags`, AUDIT_CHECKS): a lead in a
probable duplicate pair, a lead at a company in a probable duplicate company pair, a lead with a
value not in standard form. `crm_audit_rows` counts them in `funnel.analyses.hygiene.REPORT_SCHEMA`
and `audited_hygiene` lists them after the exact checks with the trend since the previous month end.
`hygiene_report` itself keeps DOMAIN.md's exact checks (its documented contract): the fuzzy rows
depend on a threshold and a survivor rule, and cost a Splink run, so they are a separate table.

A month before, an audit finding is counted when it already existed then, as far as a store read as
exported can say: both leads of a duplicate pair (or the flagged lead) created by the end of the
previous month (undated leads count as always there); values are read as exported both times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses import duplicates as dup
from funnel.analyses.hygiene import REPORT_SCHEMA, flagged_lead_rows, hygiene_reports, lead_population
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import until
from funnel.model.records import AuditInputs, audit_inputs
from funnel.store.db import frame

DEFAULT_THRESHOLD = 0.9  # match probability from which a pair is a duplicate (page and CLI default)
DEFAULT_PERSON_SURVIVOR = "oldest"


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


def previous_month_end(as_of: date) -> date:
    """The last day of the month before D's: the day every "a month before" figure is taken at."""
    first = as_of.replace(day=1)
    return first - timedelta(days=1)


def _pairs_by(pairs: pl.DataFrame, records: pl.DataFrame, until: datetime) -> int:
    """Pairs whose two leads both existed before `until` (undated leads count as always there)."""
    born = records.select(pl.col(sc.LEAD_ID).alias("id"), pl.col(sc.CREATED_AT))
    dated = (pairs.join(born.rename({"id": "id_l", sc.CREATED_AT: "c_l"}), on="id_l", how="left")
             .join(born.rename({"id": "id_r", sc.CREATED_AT: "c_r"}), on="id_r", how="left"))
    return dated.filter((pl.col("c_l").is_null() | (pl.col("c_l") < until))
                        & (pl.col("c_r").is_null() | (pl.col("c_r") < until))).height


def crm_audit(con: duckdb.DuckDBPyConnection, *, as_of: date, threshold: float = DEFAULT_THRESHOLD,
              person_survivor: str = DEFAULT_PERSON_SURVIVOR, company_survivor: str = "most_complete",
              inputs: AuditInputs | None = None) -> CrmAudit:
    """The audit as of D: pairs (PAIR_SCHEMA), merges (`merge_suggestions`), findings (FINDING_SCHEMA)
    and a summary with one row per finding kind: finding, now, month_before (null when the
    finding cannot be replayed: companies and standardisation are read as exported), change.
    `inputs` is `audit_inputs(con)` when the caller keeps it across dates."""
    if inputs is None:
        inputs = audit_inputs(con)
    until = datetime.combine(as_of + timedelta(days=1), time())
    people = inputs.people
    if not people.is_empty():
        people = people.filter(pl.col(sc.CREATED_AT).is_null() | (pl.col(sc.CREATED_AT) < until))
    companies = inputs.companies
    person_pairs = dup.person_duplicate_pairs(people, threshold=threshold, candidates=inputs.person_candidates)
    company_pairs = dup.company_duplicate_pairs(companies, threshold=threshold, candidates=inputs.company_candidates)
    if person_survivor == "most_recent_activity" and not people.is_empty():
        paired = pl.concat([person_pairs.get_column("id_l"), person_pairs.get_column("id_r")])
        people = dup.with_last_activity(con, people, paired)
    person_merges = dup.merge_suggestions(people, person_pairs, id_column=sc.LEAD_ID, survivor=person_survivor)
    company_merges = dup.merge_suggestions(companies, company_pairs, id_column=sc.ACCOUNT_ID,
                                           survivor=company_survivor)
    leads_found, accounts_found = inputs.lead_findings, inputs.account_findings
    before = datetime.combine(previous_month_end(as_of) + timedelta(days=1), time())
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


AUDIT_CHECKS: dict[str, tuple[str, str]] = {  # check: (description, what to do)
    "probable_duplicate": (("Probably the same person as another lead (Splink: e-mail ignoring case, spaces, "
                           "+tags and Gmail dots; similar name at the same company; same phone)"),
                           "Merge them in the CRM with the suggested survivor (Data quality page, funnel hygiene)."),
    "duplicate_company": (("At a company that is probably the same as another company record (same domain "
                          "without www. or subdomains; similar name)"),
                          "Merge the companies in the CRM so their leads and deals sit on one account."),
    "non_standard_fields": ("Country, industry or phone not in its standard form",
                            "Import the fix file into the CRM (funnel hygiene --out, or the Data quality page)."),
}
FLAG_COLUMNS: dict[str, pl.DataType] = {"check": pl.String(), sc.LEAD_ID: pl.String(), "group": pl.String(),
                                        "detail": pl.String(), "since": pl.Datetime("us")}


def audit_leads(con: duckdb.DuckDBPyConnection, *, as_of: date) -> pl.DataFrame:
    """One row per lead at D: lead_id, account_id, created_at (the leads the audit's checks can flag)."""
    return frame(con, "SELECT DISTINCT lead_id, account_id, created_at FROM leads "
                      "WHERE lead_id IS NOT NULL AND (created_at IS NULL OR created_at < $until)",
                 {"until": until(as_of)})


def crm_audit_flags(audit: CrmAudit, leads: pl.DataFrame) -> pl.DataFrame:
    """One row per CRM-audit check (AUDIT_CHECKS) and lead of `leads` it flags: check, lead_id, group
    (what ties the duplicates together), detail (the evidence or the value to fix), since (when the
    finding began: the later creation of a pair's two leads, else the lead's; null when undated)."""
    born = leads.select(sc.LEAD_ID, sc.CREATED_AT).unique(sc.LEAD_ID)
    pairs = (audit.person_pairs.join(born.rename({sc.LEAD_ID: "id_l", sc.CREATED_AT: "c_l"}), on="id_l")
             .join(born.rename({sc.LEAD_ID: "id_r", sc.CREATED_AT: "c_r"}), on="id_r")
             .with_columns(pl.concat_str("id_l", pl.lit(" ≈ "), "id_r").alias("group"),
                           pl.format("{} (p = {})", "evidence", pl.col("match_probability").round(3)).alias("detail"),
                           pl.when(pl.col("c_l").is_null()).then("c_r").when(pl.col("c_r").is_null()).then("c_l")
                           .otherwise(pl.max_horizontal("c_l", "c_r")).alias("since")))
    people = pl.concat([pairs.select(pl.col(side).alias(sc.LEAD_ID), "group", "detail", "since")
                        for side in ("id_l", "id_r")])
    accounts = pl.concat([audit.company_pairs.select(pl.col(side).alias(sc.ACCOUNT_ID),
                                                     pl.concat_str("id_l", pl.lit(" ≈ "), "id_r").alias("group"),
                                                     pl.col("evidence").alias("detail"))
                          for side in ("id_l", "id_r")])
    companies = leads.join(accounts, on=sc.ACCOUNT_ID).select(sc.LEAD_ID, "group", "detail",
                                                              pl.col(sc.CREATED_AT).alias("since"))
    values = (audit.lead_findings.join(born, left_on="id", right_on=sc.LEAD_ID)
              .select(pl.col("id").alias(sc.LEAD_ID), pl.lit(None, dtype=pl.String).alias("group"),
                      pl.format("{}: {} → {}", "field", "current", "suggested").alias("detail"),
                      pl.col(sc.CREATED_AT).alias("since")))
    parts = [part.with_columns(pl.lit(check).alias("check")).select(*FLAG_COLUMNS).cast(FLAG_COLUMNS)
             for check, part in zip(AUDIT_CHECKS, (people, companies, values), strict=True)]
    return pl.concat(parts).sort("check", sc.LEAD_ID, "group", nulls_last=True)


def crm_audit_rows(flags: pl.DataFrame, *, population: int) -> pl.DataFrame:
    """One row per CRM-audit check (AUDIT_CHECKS order) as hygiene-report rows (REPORT_SCHEMA): check,
    description, leads flagged (distinct), share of the `population` (null when it is 0), what_to_do."""
    counts = dict(flags.group_by("check").agg(pl.col(sc.LEAD_ID).n_unique()).iter_rows())
    rows = [{"check": check, "description": description, "leads": counts.get(check, 0),
             "share": counts.get(check, 0) / population if population else None, "what_to_do": what_to_do}
            for check, (description, what_to_do) in AUDIT_CHECKS.items()]
    return pl.DataFrame(rows, schema=REPORT_SCHEMA)


def _flagged_by(flags: pl.DataFrame, moment: datetime) -> dict[str, int]:
    """Leads flagged per check by findings that already existed before `moment`."""
    earlier = flags.filter(pl.col("since").is_null() | (pl.col("since") < moment))
    return dict(earlier.group_by("check").agg(pl.col(sc.LEAD_ID).n_unique()).iter_rows())


def _reports(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, now: pl.DataFrame | None,
             before: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`hygiene_report` at D and at the previous month end, each computed unless passed in (both days in one
    pass when neither is)."""
    month_end = previous_month_end(as_of)
    missing = [day for day, report in ((as_of, now), (month_end, before)) if report is None]
    reports = hygiene_reports(con, settings=settings, days=missing) if missing else {}
    return (now if now is not None else reports[as_of]), (before if before is not None else reports[month_end])


def audited_hygiene(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                    audit: CrmAudit, now: pl.DataFrame | None = None,
                    before: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per exact hygiene check (`hygiene_report`, in its order) then per CRM-audit check
    (`crm_audit_rows`): kind ("exact" or "fuzzy"), check, description, leads, share (of the leads at
    D; null when there are none), month_before (leads flagged at the previous month end), change,
    what_to_do. `now` and `before` are `hygiene_report` at D and at `previous_month_end(D)` when the
    caller has them (the month before is the same for every D of a month)."""
    exact = _with_month_before(*_reports(con, settings, as_of, now, before))
    flags = crm_audit_flags(audit, audit_leads(con, as_of=as_of))
    before = _flagged_by(flags, until(previous_month_end(as_of)))
    fuzzy = crm_audit_rows(flags, population=lead_population(con, as_of=as_of)).with_columns(
        pl.col("check").replace_strict(before, default=0, return_dtype=pl.Int64).alias("month_before"))
    both = pl.concat([exact.with_columns(pl.lit("exact").alias("kind")),
                      fuzzy.with_columns(pl.lit("fuzzy").alias("kind"))], how="diagonal_relaxed")
    return both.with_columns((pl.col("leads") - pl.col("month_before")).alias("change")).select(
        "kind", "check", "description", "leads", "share", "month_before", "change", "what_to_do")


def audited_hygiene_leads(con: duckdb.DuckDBPyConnection, *, as_of: date, audit: CrmAudit,
                          check: str) -> pl.DataFrame:
    """One row per lead a CRM-audit check flags, with the columns of `hygiene_leads`."""
    if check not in AUDIT_CHECKS:
        raise FunnelError(f"there is no CRM-audit check called {check!r}",
                          hint=f"Use one of: {', '.join(AUDIT_CHECKS)}")
    flags = crm_audit_flags(audit, audit_leads(con, as_of=as_of)).filter(pl.col("check") == check)
    return flagged_lead_rows(con, flags)


def _with_month_before(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """Hygiene-report rows with month_before: the same check's leads in the earlier report."""
    return now.join(before.select("check", pl.col("leads").alias("month_before")), on="check", how="left",
                    maintain_order="left")


def hygiene_trend(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                  now: pl.DataFrame | None = None, before: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per hygiene-report check: check, leads flagged at D, month_before (flagged at the end
    of the previous month, replayed; fields read as exported are read the same both times), change.
    `now` and `before` as in `audited_hygiene`."""
    return _with_month_before(*_reports(con, settings, as_of, now, before)).select("check", "leads", "month_before").with_columns(
        (pl.col("leads") - pl.col("month_before")).alias("change"))
