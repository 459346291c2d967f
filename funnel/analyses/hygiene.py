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
from funnel.analyses.handoff import lifecycle_entries_sql, lifecycle_params
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.model import stages
from funnel.store.db import frame, quote_ident, scalar

__all__ = [
    "ACTIVE_LIFECYCLE",
    "CHECKS",
    "REPORT_SCHEMA",
    "VAGUE_LEAD_STATUSES",
    "hygiene_leads",
    "hygiene_report",
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

# -------------------------------------------------------------------------------------- SQL
# Each check's query returns one row per flagged lead: lead_id, group (what ties a duplicate group
# together, else null), detail (the value or fact that failed). Params: $until, plus the check's own.

_POPULATION = """
population as (
    select *
    from leads
    where lead_id is not null
      and (created_at is null or created_at < $until)
    qualify row_number() over (partition by lead_id) = 1
)
"""

_SQL: dict[str, str] = {
    "duplicate_email": """
keyed as (
    select lead_id, lower(regexp_replace(email, '^\\s+|\\s+$', '', 'g')) as k
    from population
    where email is not null
),

final as (
    select lead_id, k as "group",
           'same e-mail as ' || (count(*) over (partition by k) - 1) || ' other lead(s)' as detail
    from keyed
    where k <> ''
    qualify count(*) over (partition by k) > 1
)
""",
    "same_name_domain": """
account_domains as (
    select account_id,
           nullif(split_part(regexp_replace(lower(trim(any_value(domain))), '^(https?://)?(www\\.)?', ''), '/', 1), '')
               as domain
    from accounts
    where account_id is not null
    group by account_id
),

keyed as (
    select p.lead_id,
           nullif(lower(regexp_replace(trim(p.name), '\\s+', ' ', 'g')), '') as person,
           lower(regexp_replace(p.email, '^\\s+|\\s+$', '', 'g')) as k,
           coalesce(nullif(regexp_extract(lower(regexp_replace(p.email, '^\\s+|\\s+$', '', 'g')), '@([^@]+)$', 1), ''),
                    a.domain) as domain
    from population as p
    left join account_domains as a on a.account_id = p.account_id
),

final as (
    select lead_id, person || ' @ ' || domain as "group",
           (count(*) over g - 1) || ' other lead(s) with this name at this domain' as detail
    from keyed
    where person is not null and domain is not null
    window g as (partition by person, domain)
    qualify count(*) over g > 1 and count(distinct coalesce(nullif(k, ''), lead_id)) over g > 1
)
""",
    "unmapped_lifecycle": """
final as (
    select lead_id, cast(null as varchar) as "group", 'lifecycle stage: ' || lifecycle_stage as detail
    from population
    where list_contains($unmapped, lifecycle_stage)
)
""",
    "vague_status": """
final as (
    select lead_id, cast(null as varchar) as "group", 'lead status: ' || lead_status as detail
    from population
    where list_contains($vague, lower(trim(lead_status)))
)
""",
    "no_engagement": """
{entries},

current_stage as (
    select lead_id, arg_max(stage, seq) as stage
    from entries
    group by lead_id
),

engaged as (
    select lead_id, max(occurred_at) as last_activity
    from activities
    where lead_id is not null
      and occurred_at < $until
      and not list_contains($not_meaningful, activity_type)
    group by lead_id
),

anchored as (
    select p.lead_id, c.stage, e.last_activity,
           greatest(e.last_activity, case when p.last_engagement_at < $until then p.last_engagement_at end)
               as last_engaged,
           p.created_at
    from population as p
    join current_stage as c on c.lead_id = p.lead_id
    left join engaged as e on e.lead_id = p.lead_id
    where list_contains($active, c.stage)
),

final as (
    select lead_id, cast(null as varchar) as "group",
           case when last_engaged is null
                then 'no meaningful engagement since it was created, '
                     || date_diff('day', cast(created_at as date), $as_of) || ' days ago'
                else date_diff('day', cast(last_engaged as date), $as_of) || ' days since the last meaningful engagement'
           end || ' (' || stage || ')' as detail
    from anchored
    where date_diff('day', cast(coalesce(last_engaged, created_at) as date), $as_of) > $days
)
""",
    "no_next_action": """
{entries},

current_stage as (
    select lead_id, arg_max(stage, seq) as stage
    from entries
    group by lead_id
),

final as (
    select p.lead_id, cast(null as varchar) as "group", 'owned, at ' || c.stage || ', no next action date' as detail
    from population as p
    join current_stage as c on c.lead_id = p.lead_id
    where nullif(trim(p.owner), '') is not null
      and p.next_action_at is null
      and list_contains($active, c.stage)
)
""",
    "impossible_sequence": """
dated as (
    select lead_id, created_at from population where created_at is not null
),

closed_deals as (
    select d.lead_id, d.created_at, d.closed_at
    from deals as d
    join population as p on p.lead_id = d.lead_id
    where d.closed_at is not null
      and d.closed_at < $until
),

problems as (
    select d.lead_id, 'a deal closed before the lead was created' as problem
    from closed_deals as d
    join dated as l on l.lead_id = d.lead_id
    where cast(d.closed_at as date) < cast(l.created_at as date)
    union all
    select lead_id, 'a deal closed before it was created'
    from closed_deals
    where created_at is not null
      and cast(closed_at as date) < cast(created_at as date)
    union all
    select e.lead_id, 'a stage entered before the lead was created'
    from stage_events as e
    join dated as l on l.lead_id = e.lead_id
    where e.entered_at < $until
      and cast(e.entered_at as date) < cast(l.created_at as date)
),

final as (
    select lead_id, cast(null as varchar) as "group", string_agg(distinct problem, '; ' order by problem) as detail
    from problems
    group by lead_id
)
""",
}


def _query(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> pl.DataFrame:
    body = _SQL[name].strip()
    if "{entries}" in body:
        body = body.replace("{entries}", lifecycle_entries_sql())
    sql = f"with\n{_POPULATION.strip()},\n\n{body}\n\nselect lead_id, \"group\", detail from final"
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return frame(con, sql, used).cast(FLAG_SCHEMA)


def _no_owner(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, params: dict) -> pl.DataFrame:
    """Leads at intent or beyond on the funnel ladder whose owner is empty."""
    history = stages.funnel_history(con, settings=settings, as_of=as_of)
    current = stages.current_funnel_stage(history, as_of=as_of, settings=settings)
    column = stages.FUNNEL_STAGE
    ladder = settings.ladders.funnel
    start = INTENT if INTENT in ladder else ladder[-2]
    beyond = list(ladder[ladder.index(start):])
    at_stage = current.filter(pl.col(column).cast(pl.String).is_in(beyond)).select(
        sc.LEAD_ID, pl.col(column).cast(pl.String).alias("stage"))
    unowned = frame(con, f"SELECT {quote_ident(sc.LEAD_ID)} FROM {quote_ident(sc.LEADS.name)} "
                         f"WHERE {quote_ident(sc.LEAD_ID)} IS NOT NULL "
                         f"AND ({quote_ident(sc.CREATED_AT)} IS NULL OR {quote_ident(sc.CREATED_AT)} < $until) "
                         f"AND nullif(trim({quote_ident(sc.OWNER)}), '') IS NULL", {"until": params["until"]})
    return (at_stage.join(unowned.unique(), on=sc.LEAD_ID, how="semi")
            .select(sc.LEAD_ID, pl.lit(None, dtype=pl.String).alias("group"),
                    pl.concat_str(pl.lit("no owner, at "), pl.col("stage")).alias("detail"))
            .cast(FLAG_SCHEMA))


def _params(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> dict:
    params = lifecycle_params(con, settings=settings, as_of=as_of)
    known = set(settings.ladders.lifecycle + settings.ladders.lifecycle_side)
    unmapped = [v for v, s in zip(params["raw"], params["placed"], strict=True) if v and s is None and v not in known]
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
    return _query(con, check, params)


def _check_name(check: str) -> None:
    if check not in CHECKS:
        raise FunnelError(f"there is no hygiene check called {check!r}", hint=f"Use one of: {', '.join(CHECKS)}")


def hygiene_report(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """One row per hygiene check, in a fixed order: check (its id), description, leads flagged,
    share of the leads at D (null when there are none) and what_to_do."""
    params = _params(con, settings=settings, as_of=as_of)
    population = scalar(con, f"SELECT count(DISTINCT {quote_ident(sc.LEAD_ID)}) FROM {quote_ident(sc.LEADS.name)} "
                             f"WHERE {quote_ident(sc.CREATED_AT)} IS NULL OR {quote_ident(sc.CREATED_AT)} < $until",
                        {"until": params["until"]})
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
    flagged = _flags(con, check, settings=settings, as_of=as_of, params=params).unique(sc.LEAD_ID, keep="first")
    columns = (sc.NAME, sc.EMAIL, sc.COMPANY, sc.SOURCE, sc.OWNER, sc.LIFECYCLE_STAGE, sc.LEAD_STATUS,
               sc.CREATED_AT, sc.NEXT_ACTION_AT)
    details = frame(con, f"SELECT {quote_ident(sc.LEAD_ID)}, {', '.join(quote_ident(c) for c in columns)} "
                         f"FROM {quote_ident(sc.LEADS.name)} WHERE {quote_ident(sc.LEAD_ID)} IS NOT NULL "
                         f"QUALIFY row_number() OVER (PARTITION BY {quote_ident(sc.LEAD_ID)}) = 1")
    return (flagged.join(details, on=sc.LEAD_ID, how="left")
            .sort(["group", sc.CREATED_AT, sc.LEAD_ID], nulls_last=True)
            .select(sc.LEAD_ID, "group", "detail", *columns))
