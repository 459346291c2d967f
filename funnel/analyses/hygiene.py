"""Data hygiene: the records that make the funnel's numbers less true, one check at a time.

Every check is as of a day D over the leads created at or before the end of D (or undated), and
names the leads it flags; a lead can fail several checks. Fields that only exist as the export's
current state (owner, lead_status, next_action_at, e-mail) are read as exported: they cannot be
replayed to an earlier day. Stages are read as of D.

The list of vague lead statuses is the module constant `VAGUE_LEAD_STATUSES` (not a setting: it
is a fixed list of values that mean nothing, compared trimmed and case-insensitively). The
importer stores an empty cell as null, and a null status is not flagged (subscribers usually
have none); "" is in the list for stores written by other means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import until
from funnel.model import stages
from funnel.model.history import lifecycle_params
from funnel.model.identity import identity_findings, identity_is_built
from funnel.store.db import frame, scalar
from funnel.store.queries import sql_file, sql_text

__all__ = [
    "ACTIVE_LIFECYCLE",
    "CHECKS",
    "FLAG_SCHEMA",
    "IDENTITY_HYGIENE_SCHEMA",
    "REPORT_SCHEMA",
    "VAGUE_LEAD_STATUSES",
    "flagged_lead_rows",
    "hygiene_leads",
    "hygiene_report",
    "identity_hygiene",
    "lead_population",
]

# Lead statuses that say nothing about where the lead is (trimmed, lower-case).
VAGUE_LEAD_STATUSES: tuple[str, ...] = ("", "other", "working", "tbd", "see notes", "misc", "unknown", "n/a",
                                        "none", "-", "?")
# Lifecycle stages in which a lead is still being worked (the ones filtered to the ladder in use).
ACTIVE_LIFECYCLE: tuple[str, ...] = ("lead", "mql", "sql", "opportunity")
INTENT = "intent"  # the funnel stage from which a lead must have an owner


@dataclass(frozen=True)
class Check:
    check: str
    description: str
    what_to_do: str


def _checks(settings: Settings) -> tuple[Check, ...]:
    days = settings.funnel_rules.reactivation_after_days
    owner_scope = "At funnel stage intent or beyond"
    return (
        Check("duplicate_email", "Same e-mail address as another lead (trimmed, any case; plus-addresses "
              "are kept apart)", "Merge the records in the CRM (keep the oldest), then re-import the leads."),
        Check("same_name_domain", "Same name at the same e-mail or company domain as another lead, with a "
              "different e-mail", "Check whether they are one person; merge them if so."),
        Check("no_owner", f"{owner_scope}, with no owner",
              "Route each to an owner (SDR or AE) today: buying signals without an owner go cold."),
        Check("unmapped_lifecycle", "Lifecycle value that is on no lifecycle stage",
              "Map the value in the settings' lifecycle_values (Rules page), or fix it in the CRM."),
        Check("vague_status", "Lead status that says nothing (e.g. Other, Working, TBD)",
              "Replace it with a specific status the team agrees on."),
        Check("no_engagement", f"In an active lifecycle stage (lead to opportunity) with no meaningful "
              f"engagement for more than {days} days",
              "Re-engage with fresh content, or move the lead back to nurture or close it."),
        Check("no_next_action", "Owned, in an active lifecycle stage, with no next action date",
              "Ask the owner to set the next step and its due date."),
        Check("impossible_sequence", "Dates in an impossible order (a deal closed before the lead was created "
              "or before the deal was; a stage entered before the lead was created)",
              "Correct the dates in the CRM; until then these leads distort time-to-convert and aging."),
    )


# The checks' ids, in report order (`_checks` describes each).
CHECKS: tuple[str, ...] = ("duplicate_email", "same_name_domain", "no_owner", "unmapped_lifecycle", "vague_status",
                           "no_engagement", "no_next_action", "impossible_sequence")

REPORT_SCHEMA: dict[str, pl.DataType] = {
    "check": pl.String(),
    "description": pl.String(),
    "leads": pl.Int64(),
    "share": pl.Float64(),  # of the leads at D; null when there are none
    "what_to_do": pl.String(),
}

FLAG_SCHEMA: dict[str, pl.DataType] = {sc.LEAD_ID: pl.String(), "group": pl.String(), "detail": pl.String()}

# Each check but no_owner is one query, sql/hygiene_<check>.sql: one row per flagged lead with lead_id,
# group (what ties a duplicate group together, else null) and detail (the value or fact that failed).


def _query(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> pl.DataFrame:
    fragments = {"population": sql_file("hygiene_population"), "lifecycle_entries": sql_file("lifecycle_entries")}
    sql = sql_text(name, fragments=fragments)
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return frame(con, sql, used)


def _no_owner(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, params: dict) -> pl.DataFrame:
    """Leads at intent or beyond on the funnel ladder whose owner is empty."""
    current = stages.funnel_stages_at(con, settings=settings, as_of=as_of)
    column = stages.FUNNEL_STAGE
    ladder = settings.ladders.funnel
    start = INTENT if INTENT in ladder else ladder[-2]
    beyond = list(ladder[ladder.index(start):])
    at_stage = current.filter(pl.col(column).cast(pl.String).is_in(beyond)).select(
        sc.LEAD_ID, pl.col(column).cast(pl.String).alias("stage"))
    unowned = _query(con, "hygiene_unowned", params)
    return (at_stage.join(unowned, on=sc.LEAD_ID, how="semi")
            .select(sc.LEAD_ID, pl.lit(None, dtype=pl.String).alias("group"),
                    pl.concat_str(pl.lit("no owner, at "), pl.col("stage")).alias("detail"))
            .cast(FLAG_SCHEMA))


def _params(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> dict:
    params = lifecycle_params(settings, as_of=as_of)
    known = set(settings.ladders.lifecycle + settings.ladders.lifecycle_side)
    raw = frame(con, "SELECT DISTINCT lifecycle_stage AS v FROM leads WHERE lifecycle_stage IS NOT NULL").get_column("v")
    unmapped = sorted(v for v in raw.to_list() if v and settings.lifecycle_stage(v) is None and v not in known)
    params.update({
        "as_of": as_of,
        "unmapped": unmapped or [""],
        "vague": list(VAGUE_LEAD_STATUSES),
        "not_meaningful": list(settings.funnel_rules.not_meaningful) or [""],
        "active": [s for s in ACTIVE_LIFECYCLE if s in settings.ladders.lifecycle] or [""],
        "days": settings.funnel_rules.reactivation_after_days,
    })
    return params


def _flags(con: duckdb.DuckDBPyConnection, check: str, *, settings: Settings, as_of: date,
           params: dict) -> pl.DataFrame:
    if check == "no_owner":
        return _no_owner(con, settings=settings, as_of=as_of, params=params)
    return _query(con, f"hygiene_{check}", params).cast(FLAG_SCHEMA)


def _check_name(check: str) -> None:
    if check not in CHECKS:
        raise FunnelError(f"there is no hygiene check called {check!r}", hint=f"Use one of: {', '.join(CHECKS)}")


def lead_population(con: duckdb.DuckDBPyConnection, *, as_of: date) -> int:
    """The leads at D (created by the end of D, or undated): every hygiene share's denominator."""
    return int(scalar(con, "SELECT count(DISTINCT lead_id) FROM leads WHERE created_at IS NULL OR created_at < $until",
                      {"until": until(as_of)}) or 0)


def hygiene_report(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """One row per hygiene check, in a fixed order: check (its id), description, leads flagged,
    share of the leads at D (null when there are none) and what_to_do."""
    params = _params(con, settings=settings, as_of=as_of)
    population = lead_population(con, as_of=as_of)
    rows = []
    for check in _checks(settings):
        flagged = _flags(con, check.check, settings=settings, as_of=as_of, params=params)
        leads = flagged.get_column(sc.LEAD_ID).n_unique()
        rows.append({"check": check.check, "description": check.description, "leads": leads,
                     "share": leads / population if population else None, "what_to_do": check.what_to_do})
    return pl.DataFrame(rows, schema=REPORT_SCHEMA)


def hygiene_leads(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, check: str) -> pl.DataFrame:
    """One row per lead a check flags (duplicates side by side, by group): lead_id, group, detail,
    name, email, company, source, owner, lifecycle_stage, lead_status, created_at, next_action_at."""
    _check_name(check)
    params = _params(con, settings=settings, as_of=as_of)
    return flagged_lead_rows(con, _flags(con, check, settings=settings, as_of=as_of, params=params))


def flagged_lead_rows(con: duckdb.DuckDBPyConnection, flagged: pl.DataFrame) -> pl.DataFrame:
    """`flagged` (lead_id, group, detail; first row per lead kept) with each lead's fields, as
    `hygiene_leads` lists them."""
    flagged = flagged.select(sc.LEAD_ID, "group", "detail").unique(sc.LEAD_ID, keep="first", maintain_order=True)
    columns = (sc.NAME, sc.EMAIL, sc.COMPANY, sc.SOURCE, sc.OWNER, sc.LIFECYCLE_STAGE, sc.LEAD_STATUS,
               sc.CREATED_AT, sc.NEXT_ACTION_AT)
    details = frame(con, sql_text("lead_rows")).select(sc.LEAD_ID, *columns)
    return (flagged.join(details, on=sc.LEAD_ID, how="left")
            .sort(["group", sc.CREATED_AT, sc.LEAD_ID], nulls_last=True)
            .select(sc.LEAD_ID, "group", "detail", *columns))


# ------------------------------------------------------------------------------ people across tools

IDENTITY_WHAT_TO_DO = {
    "known to another tool, missing from the CRM": "A sync gap: add these people to the CRM (or fix the sync), "
                                                   "then re-import the leads; until then their behaviour counts for no lead.",
    "one e-mail on several leads": "Merge the leads in the CRM; until then the rule in [identity] conflict_rule "
                                   "gives the e-mail's rows to one of them.",
    "one name on several leads": "Give the deals a contact id, or merge the leads; the rule in [identity] "
                                 "conflict_rule chose one.",
    "one device used by several leads": "Usually a shared computer: its anonymous visits went to the lead the "
                                        "rule chose; check the product-analytics identify calls.",
    "one id linked to several leads": "Check the tool's alias records; the rule in [identity] conflict_rule chose one.",
}

IDENTITY_HYGIENE_SCHEMA: dict[str, pl.DataType] = {
    "finding": pl.String(), "keys": pl.Int64(), "rows": pl.Int64(), "with_intent": pl.Int64(),
    "what_to_do": pl.String(),
}


def identity_hygiene(con: duckdb.DuckDBPyConnection, *, settings: Settings) -> pl.DataFrame:
    """One row per kind of identity finding (people known to other tools but missing from the CRM, and each
    kind of conflict): keys (people or contested keys), rows behind them, keys with intent evidence, and
    what to do. Empty when the store has no identity model. The rows behind: `identity_findings`."""
    if not identity_is_built(con):
        return pl.DataFrame(schema=IDENTITY_HYGIENE_SCHEMA)
    findings = identity_findings(con, settings=settings)
    summary = (findings.group_by("finding", maintain_order=True)
               .agg(pl.len().alias("keys"), pl.col("rows").sum().alias("rows"),
                    (pl.col("intent_rows") > 0).sum().alias("with_intent")))
    return (summary.with_columns(pl.col("finding").replace_strict(IDENTITY_WHAT_TO_DO, default="").alias("what_to_do"))
            .sort("finding").cast(IDENTITY_HYGIENE_SCHEMA).select(list(IDENTITY_HYGIENE_SCHEMA)))
