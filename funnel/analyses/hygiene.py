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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl
import pyarrow as pa

from funnel import schema as sc
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.model import stages
from funnel.model.history import lead_rows_of, lifecycle_entries_sql, lifecycle_params
from funnel.model.identity import identity_findings, identity_is_built
from funnel.model.materialised import (
    activity_times_query,
    engagement_days_are_current,
    funnel_is_current,
    stored_engaged_query,
)
from funnel.store.db import arrow_table, frame, registered
from funnel.store.queries import bound_params, sql_file, sql_text

__all__ = [
    "ACTIVE_LIFECYCLE",
    "CHECKS",
    "FLAG_SCHEMA",
    "IDENTITY_HYGIENE_SCHEMA",
    "REPORT_SCHEMA",
    "VAGUE_LEAD_STATUSES",
    "flagged_lead_rows",
    "hygiene_flags",
    "hygiene_leads",
    "hygiene_report",
    "hygiene_reports",
    "identity_hygiene",
    "lead_population",
    "lead_populations",
    "report_of",
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

# Each check is one query, sql/hygiene_<check>.sql, over every day asked for at once ($as_of_days): one row
# per day and flagged lead with as_of (the day), lead_id, group (what ties a duplicate group together, else
# null) and detail (the value or fact that failed). What does not depend on the day is read once and each day
# filters it: the leads' rows and the lifecycle stages (read once for every check, registered as relations),
# the activities (no_engagement) and the stored funnel stages (no_owner).

LIFECYCLE_CHECKS = ("no_engagement", "no_next_action")  # the checks that read the lifecycle stage at each day


def _shared_inputs(con: duckdb.DuckDBPyConnection, checks: tuple[str, ...], params: dict, *,
                   settings: Settings) -> dict[str, pa.Table]:
    """What several checks read, computed once for every day: the leads' rows (hygiene_lead_rows.sql) and,
    when a check needs them, each lead's lifecycle stage on each day (hygiene_lifecycle_stages.sql)."""
    shared = {"lead_rows": arrow_table(con, sql_text("hygiene_lead_rows"))}
    if any(check in LIFECYCLE_CHECKS for check in checks):
        days = sql_file("hygiene_days")
        sql = sql_text("hygiene_lifecycle_stages",
                       fragments={"days": days, "lifecycle_entries": lifecycle_entries_sql(con, settings)})
        shared["lifecycle_stages"] = arrow_table(con, sql, bound_params(sql, params))
    return shared


def _query(con: duckdb.DuckDBPyConnection, name: str, params: dict, relations: dict[str, str],
           **fragments: str) -> pl.DataFrame:
    """A check's query on every day, its /*@days*/ and /*@population*/ filled and `relations` (the registered
    shared inputs) in place."""
    days = sql_file("hygiene_days")
    population = sql_text("hygiene_population", fragments={"days": days}, lead_rows=relations["lead_rows"])
    sql = sql_text(name, fragments={"days": days, "population": population, **fragments}, **relations)
    return frame(con, sql, bound_params(sql, params))


def _beyond(settings: Settings) -> list[str]:
    """The funnel stages at which a lead must have an owner: intent and every later one."""
    ladder = settings.ladders.funnel
    start = INTENT if INTENT in ladder else ladder[-2]
    return list(ladder[ladder.index(start):])


def _no_owner(con: duckdb.DuckDBPyConnection, *, settings: Settings, days: tuple[date, ...],
              params: dict, relations: dict[str, str]) -> pl.DataFrame:
    """Leads at intent or beyond on the funnel ladder whose owner is empty, on each day: the funnel stages read
    from the stored lead model once for every day, else computed from the tables day by day."""
    params = {**params, "beyond": _beyond(settings)}
    if funnel_is_current(con, settings):
        stored = sql_text("model_funnel_stages_on", fragments={"days": sql_file("hygiene_days")})
        return _query(con, "hygiene_no_owner", params, relations, funnel_stages=stored)
    given = pl.concat([stages.funnel_stages_at(con, settings=settings, as_of=day).select(
        pl.lit(day, dtype=pl.Date).alias("as_of"), pl.col(sc.LEAD_ID).cast(pl.String),
        pl.col(stages.FUNNEL_STAGE).cast(pl.String).alias("funnel_stage")) for day in days])
    with registered(con, {"funnel_stages": given.to_arrow()}) as names:
        stages_sql = sql_text("hygiene_funnel_stages_given", given=names["funnel_stages"])
        return _query(con, "hygiene_no_owner", params, relations, funnel_stages=stages_sql)


def _engaged(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Each lead's last meaningful activity at each day, as the no-engagement check reads it: from the lead model's
    engagement days when it holds them for these settings (one row per lead and day picked), else from the
    activities (the model's activity days when it holds them) grouped by lead."""
    days = sql_file("hygiene_days")
    if engagement_days_are_current(con, settings):
        return stored_engaged_query(days)
    return sql_text("hygiene_engaged", fragments={"days": days, "activity_times": activity_times_query(con)})


def _params(con: duckdb.DuckDBPyConnection, *, settings: Settings, days: tuple[date, ...]) -> dict:
    params = lifecycle_params(settings, as_of=max(days))  # the ladder read once, as of the latest day
    known = set(settings.ladders.lifecycle + settings.ladders.lifecycle_side)
    raw = frame(con, "SELECT DISTINCT lifecycle_stage AS v FROM leads WHERE lifecycle_stage IS NOT NULL").get_column("v")
    unmapped = sorted(v for v in raw.to_list() if v and settings.lifecycle_stage(v) is None and v not in known)
    params.update({
        "as_of_days": list(days),
        "unmapped": unmapped or [""],
        "vague": list(VAGUE_LEAD_STATUSES),
        "not_meaningful": list(settings.funnel_rules.not_meaningful) or [""],
        "active": [s for s in ACTIVE_LIFECYCLE if s in settings.ladders.lifecycle] or [""],
        "days": settings.funnel_rules.reactivation_after_days,
    })
    return params


def _check_flags(con: duckdb.DuckDBPyConnection, check: str, *, settings: Settings, days: tuple[date, ...],
                 params: dict, relations: dict[str, str]) -> pl.DataFrame:
    """One check's flags on every day: as_of, then FLAG_SCHEMA's columns."""
    if check == "no_owner":
        flagged = _no_owner(con, settings=settings, days=days, params=params, relations=relations)
    elif check == "no_engagement":
        flagged = _query(con, "hygiene_no_engagement", params, relations, engaged=_engaged(con, settings))
    else:
        flagged = _query(con, f"hygiene_{check}", params, relations)
    return flagged.select(pl.col("as_of").cast(pl.Date), *FLAG_SCHEMA).cast(FLAG_SCHEMA)


def _check_name(check: str) -> None:
    if check not in CHECKS:
        raise FunnelError(f"there is no hygiene check called {check!r}", hint=f"Use one of: {', '.join(CHECKS)}")


def lead_populations(con: duckdb.DuckDBPyConnection, *, days: Iterable[date]) -> dict[date, int]:
    """Per day D: the leads at D (created by the end of D, or undated), every hygiene share's denominator."""
    days = tuple(sorted(set(days)))
    if not days:
        return {}
    counts = frame(con, sql_text("hygiene_lead_counts", fragments={"days": sql_file("hygiene_days")}),
                   {"as_of_days": list(days)})
    found = dict(zip(counts.get_column("as_of").to_list(), counts.get_column("leads").to_list(), strict=True))
    return {day: int(found.get(day) or 0) for day in days}


def lead_population(con: duckdb.DuckDBPyConnection, *, as_of: date) -> int:
    """The leads at D (created by the end of D, or undated): every hygiene share's denominator."""
    return lead_populations(con, days=(as_of,))[as_of]


def hygiene_flags(con: duckdb.DuckDBPyConnection, *, settings: Settings, days: Iterable[date],
                  checks: Iterable[str] = CHECKS) -> dict[date, pl.DataFrame]:
    """Per day D of `days`: one row per check of `checks` and lead it flags at D: check, lead_id, group (what
    ties a duplicate group together, else null) and detail (a lead can fail several checks). Every day is
    computed in one pass: each check reads what does not depend on the day once."""
    checks = tuple(checks)
    for check in checks:
        _check_name(check)
    days = tuple(sorted(set(days)))
    if not days:
        return {}
    params = _params(con, settings=settings, days=days)
    with registered(con, _shared_inputs(con, checks, params, settings=settings)) as relations:
        flagged = pl.concat([_check_flags(con, check, settings=settings, days=days, params=params, relations=relations)
                             .select("as_of", pl.lit(check).alias("check"), *FLAG_SCHEMA) for check in checks])
    return {day: flagged.filter(pl.col("as_of") == day).drop("as_of") for day in days}


def report_of(flags: pl.DataFrame, *, settings: Settings, population: int) -> pl.DataFrame:
    """The hygiene report of one day (as `hygiene_report`) from its flags (`hygiene_flags`, every check) and
    the leads at that day (`lead_populations`)."""
    counts = dict(flags.group_by("check").agg(pl.col(sc.LEAD_ID).n_unique()).iter_rows())
    rows = []
    for check in _checks(settings):
        leads = counts.get(check.check, 0)
        rows.append({"check": check.check, "description": check.description, "leads": leads,
                     "share": leads / population if population else None, "what_to_do": check.what_to_do})
    return pl.DataFrame(rows, schema=REPORT_SCHEMA)


def hygiene_reports(con: duckdb.DuckDBPyConnection, *, settings: Settings, days: Iterable[date],
                    flags: dict[date, pl.DataFrame] | None = None) -> dict[date, pl.DataFrame]:
    """Per day D of `days`: `hygiene_report` at D, every day computed in one pass. `flags` is
    `hygiene_flags` on these days when the caller has it."""
    days = tuple(days)
    if flags is None:
        flags = hygiene_flags(con, settings=settings, days=days)
    populations = lead_populations(con, days=days)
    return {day: report_of(flags[day], settings=settings, population=population)
            for day, population in populations.items()}


def hygiene_report(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """One row per hygiene check, in a fixed order: check (its id), description, leads flagged,
    share of the leads at D (null when there are none) and what_to_do."""
    return hygiene_reports(con, settings=settings, days=(as_of,))[as_of]


def hygiene_leads(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, check: str,
                  flags: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per lead a check flags (duplicates side by side, by group): lead_id, group, detail,
    name, email, company, source, owner, lifecycle_stage, lead_status, created_at, next_action_at.
    `flags` is `hygiene_flags` at D (any checks including this one) when the caller has it."""
    _check_name(check)
    if flags is None:
        flags = hygiene_flags(con, settings=settings, days=(as_of,), checks=(check,))[as_of]
    return flagged_lead_rows(con, flags.filter(pl.col("check") == check))


def flagged_lead_rows(con: duckdb.DuckDBPyConnection, flagged: pl.DataFrame) -> pl.DataFrame:
    """`flagged` (lead_id, group, detail; first row per lead kept) with each lead's fields, as
    `hygiene_leads` lists them."""
    flagged = flagged.select(sc.LEAD_ID, "group", "detail").unique(sc.LEAD_ID, keep="first", maintain_order=True)
    columns = (sc.NAME, sc.EMAIL, sc.COMPANY, sc.SOURCE, sc.OWNER, sc.LIFECYCLE_STAGE, sc.LEAD_STATUS,
               sc.CREATED_AT, sc.NEXT_ACTION_AT)
    details = lead_rows_of(con, flagged.get_column(sc.LEAD_ID), columns)
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
