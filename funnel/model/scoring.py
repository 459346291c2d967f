"""Fit and intent scores, the fit × intent matrix, tags, the next owner and action, their
explanations, and how well the scores predict later conversion.

Definitions (all settings in funnel.toml, shown next to the numbers they change):

- **Fields** a criterion can test: the lead's columns; the account's industry, employees,
  annual_revenue, country and domain (the account's value wins, else the lead's); `seniority` (the
  first `[segments.seniority]` level, from the top, with a keyword found in the title as whole
  words); `attr:<key>` (the lead's custom attribute, else the account's). Firmographics are their
  current values: fit does not change with the as-of date. A criterion matches when the value is one
  of `values` (case-insensitive), contains one of `contains`, or lies in [min, max].
- **Fit** (0–100): per ideal customer profile, the points of its matching criteria; a lead's fit is
  its best profile's points, capped at 100; `icp` is that profile (the first one listed on a tie),
  null when no criterion of any profile matched.
- **Intent** (0–100): every activity in the lookback window (age 0 to `lookback_days` whole days
  before D) adds weight × 0.5^(age / half_life_days); each type adds at most its `type_caps` points;
  an account with an intent-vendor surge signal observed in the window adds `account_surge_points`
  (once); the sum is capped at `cap`.
- **Quadrant**: high fit when fit ≥ `fit.high_threshold`, high intent when intent ≥
  `intent.high_threshold`.
- **Next owner and action**: team, named owner, action, due date, nurture track and the rule that
  gave them, from the ordered `[routing]` rules (funnel/model/routing.py).

Every score has an explanation whose `counted` column adds up to it, caps included.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.config import QUADRANTS, Criterion, Settings
from funnel.errors import ConfigError, FunnelError
from funnel.model import materialised, routing, stages
from funnel.model.criteria import matches
from funnel.stats import small_sample, wilson_interval, with_rate
from funnel.store.db import frame, quote_ident, registered
from funnel.store.queries import sql_text

__all__ = [
    "QUADRANT_SCHEMA",
    "SCORE_SCHEMA",
    "activity_points",
    "fit_explanation",
    "fit_scores",
    "intent_days",
    "intent_explanation",
    "intent_scores",
    "lead_facts",
    "lead_fields",
    "lead_quadrants",
    "lead_scores",
    "leads_report",
    "rules_backtest",
    "score_validation",
    "scored_facts",
    "seniority_by_title",
    "seniority_of",
    "surge_days",
    "validation_cutoff",
]

# Column names this module adds.
SENIORITY = "seniority"
FIT_SCORE = "fit_score"
ICP = "icp"
INTENT_SCORE = "intent_score"
QUADRANT = "quadrant"
TAGS = "tags"
NEXT_OWNER = "next_owner"
NEXT_ACTION = "next_action"
NEXT_ACTION_DUE = "next_action_due"
EVIDENCE = "evidence"
ATTRIBUTE_PREFIX = "attr:"

ACCOUNT_FIELDS = (sc.INDUSTRY, sc.EMPLOYEES, sc.ANNUAL_REVENUE, sc.COUNTRY, sc.DOMAIN)

ROUTE_RULE = routing.ROUTE_RULE
TEAM = routing.TEAM
TRACK = routing.TRACK

SCORE_SCHEMA: dict[str, pl.DataType] = {
    sc.LEAD_ID: pl.String(),
    FIT_SCORE: pl.Int32(),
    ICP: pl.String(),
    INTENT_SCORE: pl.Float64(),
    QUADRANT: pl.String(),
    TAGS: pl.List(pl.String()),
    SENIORITY: pl.String(),
    stages.FUNNEL_STAGE: pl.String(),
    sc.LIFECYCLE_STAGE: pl.String(),
    NEXT_OWNER: pl.String(),
    NEXT_ACTION: pl.String(),
    NEXT_ACTION_DUE: pl.Date(),
    TEAM: pl.String(),
    ROUTE_RULE: pl.String(),
    TRACK: pl.String(),
    routing.RECYCLE_REASON: pl.String(),
}
# The columns of `lead_quadrants`: those of `lead_scores` without the lifecycle stage, the recycle reason and the route.
QUADRANT_SCHEMA: dict[str, pl.DataType] = {c: t for c, t in SCORE_SCHEMA.items()
                                           if c in (sc.LEAD_ID, FIT_SCORE, ICP, INTENT_SCORE, QUADRANT, TAGS, SENIORITY,
                                                    stages.FUNNEL_STAGE)}
# The inputs of intent (intent_days, surge_days), whether read from the lead model or the tables.
INTENT_DAYS_SCHEMA: dict[str, pl.DataType] = {sc.LEAD_ID: pl.String(), sc.ACTIVITY_TYPE: pl.String(),
                                              "day": pl.Date(), "activities": pl.Int64()}
SURGE_DAYS_SCHEMA: dict[str, pl.DataType] = {sc.LEAD_ID: pl.String(), "day": pl.Date()}


# ------------------------------------------------------------------------------------- fields


def seniority_of(title: pl.Expr, settings: Settings) -> pl.Expr:
    """The seniority level of a job title: the first level (config order) with a keyword that
    appears in the title as whole words, case-insensitively; null when none does."""
    result = pl.lit(None, dtype=pl.String)
    for level, keywords in reversed(list(settings.segments.seniority.items())):
        words = [r"\s+".join(re.escape(part) for part in k.lower().split()) for k in keywords if k.strip()]
        if not words:
            continue
        pattern = r"(?i)\b(?:" + "|".join(words) + r")\b"
        result = pl.when(title.str.contains(pattern)).then(pl.lit(level)).otherwise(result)
    return result


def seniority_by_title(titles: pl.Series, settings: Settings) -> pl.Series:
    """`seniority_of` for a column of titles, matched once per distinct title."""
    distinct = titles.drop_nulls().unique().to_frame(sc.TITLE)
    levels = distinct.select(seniority_of(pl.col(sc.TITLE), settings).alias("seniority")).get_column("seniority")
    return titles.replace_strict(distinct.get_column(sc.TITLE), levels, default=None, return_dtype=pl.String)


def _criteria(settings: Settings) -> list[Criterion]:
    return ([c for icp in settings.fit.icps for c in icp.criteria] + [t.rule for t in settings.tags]
            + list(settings.routing.criteria()))


def lead_fields(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date | None = None,
                lead_ids: Sequence[str] | None = None, every_column: bool = False) -> pl.DataFrame:
    """One row per lead (created at or before the end of `as_of` when given): lead_id, created_at,
    title, seniority and every field the fit criteria and tags test (all the lead's columns when
    `every_column`): the account's fields (account first, else the lead's) and `attr:<key>`."""
    criteria = _criteria(settings)
    attribute_keys = sorted({c.field.removeprefix(ATTRIBUTE_PREFIX) for c in criteria
                             if c.field.startswith(ATTRIBUTE_PREFIX)})
    wanted = {sc.LEAD_ID, sc.CREATED_AT, sc.TITLE, *routing.FIELDS} | {c.field for c in criteria}
    lead_columns = [c for c in sc.LEADS.column_names if c not in ACCOUNT_FIELDS and (every_column or c in wanted)]
    select = [f"l.{quote_ident(c)}" for c in lead_columns]
    for field in ACCOUNT_FIELDS:
        if not every_column and field not in wanted:
            continue
        if field in sc.LEADS.column_names:
            select.append(f"coalesce(a.{quote_ident(field)}, l.{quote_ident(field)}) AS {quote_ident(field)}")
        else:
            select.append(f"a.{quote_ident(field)} AS {quote_ident(field)}")
    params: dict[str, object] = {}
    for i, key in enumerate(attribute_keys):
        params[f"k{i}"] = key
        select.append(f"coalesce(map_extract_value(l.{quote_ident(sc.ATTRIBUTES)}, $k{i}), "
                      f"map_extract_value(a.{quote_ident(sc.ATTRIBUTES)}, $k{i})) "
                      f"AS {quote_ident(ATTRIBUTE_PREFIX + key)}")
    where = [f"l.{quote_ident(sc.LEAD_ID)} IS NOT NULL"]
    if as_of is not None:
        params["until"] = stages.until(as_of)
        where.append(f"(l.{quote_ident(sc.CREATED_AT)} IS NULL OR l.{quote_ident(sc.CREATED_AT)} < $until)")
    if lead_ids is not None:
        params["lead_ids"] = list(lead_ids)
        where.append(f"list_contains($lead_ids, l.{quote_ident(sc.LEAD_ID)})")
    sql = sql_text("lead_fields", fragments={"columns": ", ".join(select), "conditions": " AND ".join(where)})
    fields = frame(con, sql, params).with_columns(seniority_of(pl.col(sc.TITLE), settings).alias(SENIORITY))
    _check_fields(fields, settings)
    return fields


def _check_fields(fields: pl.DataFrame, settings: Settings) -> None:
    for criterion in _criteria(settings):
        if criterion.field not in fields.columns:
            known = ", ".join(dict.fromkeys([*sc.LEADS.column_names, *ACCOUNT_FIELDS, SENIORITY]))
            raise ConfigError(f"a fit or tag criterion tests the field {criterion.field!r}, which leads do not have",
                              file=settings.source, value=criterion.field,
                              hint=f"Use one of: {known}, or attr:<key> for a custom attribute")


# ---------------------------------------------------------------------------------------- fit


def fit_scores(fields: pl.DataFrame, *, settings: Settings) -> pl.DataFrame:
    """One row per lead: lead_id, fit_score (0–100), icp, and each profile's points."""
    _check_fields(fields, settings)
    per_icp = []
    for i, icp in enumerate(settings.fit.icps):
        points = pl.sum_horizontal([matches(c, fields).cast(pl.Int32) * c.points for c in icp.criteria])
        per_icp.append(points.alias(f"_icp{i}"))
    scored = fields.select(sc.LEAD_ID, *per_icp)
    names = [f"_icp{i}" for i in range(len(settings.fit.icps))]
    best = pl.max_horizontal(names)
    chosen = pl.lit(None, dtype=pl.String)
    for i in reversed(range(len(names))):
        chosen = pl.when(pl.col(names[i]) == best).then(pl.lit(settings.fit.icps[i].name)).otherwise(chosen)
    return scored.with_columns(
        pl.min_horizontal(best, pl.lit(100)).cast(pl.Int32).alias(FIT_SCORE),
        pl.when(best > 0).then(chosen).alias(ICP),
    ).select(sc.LEAD_ID, FIT_SCORE, ICP, *names)


def tags_of(fields: pl.DataFrame, *, settings: Settings) -> pl.Expr:
    """The tags (config order) whose rule the lead matches, as a list."""
    empty = pl.lit([], dtype=pl.List(pl.String))
    if not settings.tags:
        return empty
    separator = "\x1f"  # (list building by text is ten times faster than concat_list + drop_nulls)
    joined = pl.concat_str([pl.when(matches(t.rule, fields)).then(pl.lit(t.name + separator)).otherwise(pl.lit(""))
                            for t in settings.tags])
    listed = joined.str.strip_suffix(separator).str.split(separator)
    return pl.when(joined == "").then(empty).otherwise(listed)


def scored_facts(fields: pl.DataFrame, *, settings: Settings) -> pl.DataFrame:
    """A `lead_fields` frame with what scoring reads of each lead that does not change with D: its tags,
    fit_score and icp (row for row)."""
    fit = fit_scores(fields, settings=settings)
    return fields.with_columns(tags_of(fields, settings=settings).alias(TAGS), fit.get_column(FIT_SCORE),
                               fit.get_column(ICP))


def lead_facts(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date | None = None,
               lead_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """`scored_facts` of `lead_fields` (the leads created by the end of `as_of` when given, of `lead_ids` when
    given): read from the lead model when it holds them for these settings, else computed from the tables."""
    stored = materialised.stored_scoring_facts(con, settings=settings, as_of=as_of, lead_ids=lead_ids)
    if stored is not None:
        return stored
    return scored_facts(lead_fields(con, settings=settings, as_of=as_of, lead_ids=lead_ids), settings=settings)


# ------------------------------------------------------------------------------------- intent


def _intent_params(settings: Settings, as_of: date) -> dict[str, object]:
    weights = {t: w for t, w in settings.intent.weights.items() if w > 0}
    return {"until": stages.until(as_of), "since": as_of - timedelta(days=settings.intent.lookback_days),
            "as_of": as_of, "types": list(weights), "weights": list(weights.values()),
            "half_life": float(settings.intent.half_life_days)}


def _weighted(settings: Settings) -> dict[str, float]:
    return {t: w for t, w in settings.intent.weights.items() if w > 0}


def _lead_filter(lead_ids: Sequence[str] | None, params: dict[str, object], column: str) -> str:
    if lead_ids is None:
        return ""
    params["lead_ids"] = list(lead_ids)
    return f" AND list_contains($lead_ids, {column})"


def _day_rows(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
              lead_ids: Sequence[str] | None) -> tuple[str, dict[str, object]]:
    """The query of `intent_days` and its parameters: the lead model's stored rows when it holds them, else
    the activities counted."""
    since = as_of - timedelta(days=settings.intent.lookback_days)
    params: dict[str, object] = {"since": since, "types": list(_weighted(settings))}
    lead_filter = _lead_filter(lead_ids, params, quote_ident(sc.LEAD_ID))
    if materialised.intent_inputs_are_current(con):
        return sql_text("model_intent_days", fragments={"lead_filter": lead_filter}), params | {"as_of": as_of}
    fragments = {"type_filter": " AND list_contains($types, activity_type)", "lead_filter": lead_filter}
    return sql_text("intent_days", fragments=fragments), params | {"until": stages.until(as_of)}


def intent_days(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                lead_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """lead_id, activity_type, day, activities: how many activities of each weighted type each lead had on
    each day of D's lookback, the inputs of intent. Read from the lead model when it holds them (one stored
    row per lead, type and day of all the data), else counted from the activities."""
    if not _weighted(settings):
        return pl.DataFrame(schema=INTENT_DAYS_SCHEMA)
    return frame(con, *_day_rows(con, settings, as_of, lead_ids)).cast(INTENT_DAYS_SCHEMA)


def activity_points(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                    lead_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """lead_id, activity_points: the capped points of each lead's activities in D's lookback, summed over
    the `intent_days` rows (intent_activity_points.sql)."""
    weights, caps = _weighted(settings), settings.intent.type_caps
    if not weights:
        return pl.DataFrame(schema={sc.LEAD_ID: pl.String, "activity_points": pl.Float64})
    rows, params = _day_rows(con, settings, as_of, lead_ids)
    params |= {"as_of": as_of, "weights": [float(w) for w in weights.values()],
               "half_life": float(settings.intent.half_life_days),
               # a type no activity has closes the lists, so they are never empty (an empty list has no type)
               "cap_types": [*caps, ""], "caps": [*(float(c) for c in caps.values()), math.inf]}
    return frame(con, sql_text("intent_activity_points", fragments={"day_rows": rows}), params).cast(
        {"activity_points": pl.Float64})


def surge_days(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
               lead_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """lead_id, day: the days of D's lookback on which the lead's account surged (intent_surges.sql's
    matching). Read from the lead model when it holds them, else from the intent signals."""
    since = as_of - timedelta(days=settings.intent.lookback_days)
    days = materialised.stored_surge_days(con, since=since, as_of=as_of, lead_ids=lead_ids)
    if days is None:
        params: dict[str, object] = {"since": since, "until": stages.until(as_of)}
        days = frame(con, sql_text("surge_days", fragments={"lead_filter": _lead_filter(lead_ids, params, "l.lead_id")}),
                     params)
    return days.cast(SURGE_DAYS_SCHEMA)


def _surging_leads(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                   lead_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """lead_id and the newest surge observation of its account (by id or domain) in the lookback."""
    params: dict[str, object] = {"until": stages.until(as_of),
                                 "since": as_of - timedelta(days=settings.intent.lookback_days)}
    lead_filter = ""
    if lead_ids is not None:
        params["lead_ids"] = list(lead_ids)
        lead_filter = " AND list_contains($lead_ids, l.lead_id)"
    sql = sql_text("intent_surges", fragments={"lead_filter": lead_filter})
    return frame(con, sql, params)


def intent_scores(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                  lead_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per lead with intent in the lookback: lead_id, intent_score (capped), surge (bool)."""
    per_lead = activity_points(con, settings=settings, as_of=as_of, lead_ids=lead_ids)
    surging = (surge_days(con, settings=settings, as_of=as_of, lead_ids=lead_ids).select(sc.LEAD_ID).unique()
               .with_columns(pl.lit(True).alias("surge")))
    result = per_lead.join(surging, on=sc.LEAD_ID, how="full", coalesce=True).with_columns(
        pl.col("activity_points").fill_null(0.0), pl.col("surge").fill_null(False))
    total = pl.col("activity_points") + pl.when(pl.col("surge")).then(settings.intent.account_surge_points).otherwise(0.0)
    return result.select(sc.LEAD_ID, pl.min_horizontal(total, pl.lit(settings.intent.cap)).alias(INTENT_SCORE),
                         "surge")


# ------------------------------------------------------------------------------------ routing


def quadrant_of(fit: pl.Expr, intent: pl.Expr, settings: Settings) -> pl.Expr:
    high_fit = fit >= settings.fit.high_threshold
    high_intent = intent >= settings.intent.high_threshold
    return (pl.when(high_fit & high_intent).then(pl.lit(QUADRANTS[0]))
            .when(high_fit).then(pl.lit(QUADRANTS[1]))
            .when(high_intent).then(pl.lit(QUADRANTS[2]))
            .otherwise(pl.lit(QUADRANTS[3])))


def lifecycle_stages(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """lead_id, lifecycle_stage at the end of `as_of`: the latest lifecycle stage event (same moment:
    the higher stage), else the lead's current lifecycle_stage when it has no event at all."""
    names = list(settings.ladders.lifecycle + settings.ladders.lifecycle_side)
    return frame(con, sql_text("lifecycle_stages"), {"names": names, "until": stages.until(as_of)}).unique(sc.LEAD_ID, keep="first")


# ------------------------------------------------------------------------------------- scores


def _quadrants(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
               facts: pl.DataFrame | None = None, history: pl.DataFrame | None = None,
               current: pl.DataFrame | None = None) -> pl.DataFrame:
    """The lead facts of the leads at D with intent, funnel stage, recycle reason and quadrant at D set beside
    them (what routing starts from, with the lifecycle stage at D)."""
    if facts is None:
        facts = lead_facts(con, settings=settings)
    facts = facts.filter(pl.col(sc.CREATED_AT).is_null() | (pl.col(sc.CREATED_AT) < stages.until(as_of)))
    if current is None:
        current = (stages.funnel_stages_at(con, settings=settings, as_of=as_of) if history is None
                   else stages.current_funnel_stage(history, as_of=as_of, settings=settings))
    current = current.select(
        sc.LEAD_ID, stages.FUNNEL_STAGE,
        routing.recycle_reason_of(pl.col(stages.IS_SIDE), pl.col(sc.REASON)).alias(routing.RECYCLE_REASON))
    del history
    intent = intent_scores(con, settings=settings, as_of=as_of)
    # The values at D joined to the lead ids alone and set beside the facts (rows in the facts' order): the wide
    # facts are never copied by a join.
    at_d = (facts.select(sc.LEAD_ID)
            .join(intent.select(sc.LEAD_ID, INTENT_SCORE), on=sc.LEAD_ID, how="left", maintain_order="left")
            .join(current, on=sc.LEAD_ID, how="left", maintain_order="left"))
    scored = facts.hstack(at_d.drop(sc.LEAD_ID).get_columns()).with_columns(
        pl.col(INTENT_SCORE).fill_null(0.0), pl.col(FIT_SCORE).fill_null(0))
    return scored.with_columns(quadrant_of(pl.col(FIT_SCORE), pl.col(INTENT_SCORE), settings).alias(QUADRANT))


def _scores(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
            facts: pl.DataFrame | None = None, history: pl.DataFrame | None = None,
            current: pl.DataFrame | None = None) -> pl.DataFrame:
    """lead_scores with parts that do not change between dates passed in (the backtest reuses them)."""
    scored = _quadrants(con, settings=settings, as_of=as_of, facts=facts, history=history, current=current)
    lifecycle = lifecycle_stages(con, settings=settings, as_of=as_of)
    scored = scored.hstack(scored.select(sc.LEAD_ID).join(lifecycle, on=sc.LEAD_ID, how="left", maintain_order="left")
                           .drop(sc.LEAD_ID).get_columns())
    scored = routing.routed_leads(scored, settings=settings, as_of=as_of)
    return scored.select([pl.col(c).cast(t) for c, t in SCORE_SCHEMA.items()])


def lead_quadrants(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                   facts: pl.DataFrame | None = None, history: pl.DataFrame | None = None) -> pl.DataFrame:
    """`lead_scores` without the route, for what reads only the scores (the matrix's later conversion and the
    score check at the validation cutoff): one row per lead created at or before the end of `as_of` with the
    columns of QUADRANT_SCHEMA, the same values as `lead_scores` gives them, without reading each lead's
    lifecycle stage or routing it."""
    scored = _quadrants(con, settings=settings, as_of=as_of, facts=facts, history=history)
    return scored.select([pl.col(c).cast(t) for c, t in QUADRANT_SCHEMA.items()])


def lead_scores(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                fields: pl.DataFrame | None = None, history: pl.DataFrame | None = None,
                facts: pl.DataFrame | None = None, current: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per lead created at or before the end of `as_of`: lead_id, fit_score, icp,
    intent_score, quadrant, tags, seniority, funnel_stage, lifecycle_stage, next_owner, next_action,
    next_action_due, team, route_rule, track, recycle_reason. `fields` (from `lead_fields`) or `facts` (from
    `lead_facts` of every lead), and `history` (from `funnel_history` as of `as_of` or later) or `current`
    (from `funnel_stages_at` at `as_of`) may be passed in when replaying several dates or reading the stages
    for something else too."""
    if fields is not None:
        facts = scored_facts(fields, settings=settings)
    return _scores(con, settings=settings, as_of=as_of, history=history, facts=facts, current=current)


# ------------------------------------------------------------------------------- explanations


def fit_explanation(con: duckdb.DuckDBPyConnection, lead_id: str, *, settings: Settings,
                    as_of: date | None = None) -> pl.DataFrame:
    """One row per criterion of every profile for one lead: icp, best (the profile that gives the
    fit), field, rule, value (the lead's), matched, points, counted; `counted` adds up to the fit
    score (the best profile's matched points; a last "cap" row when they pass 100). Fit uses current
    firmographics, so `as_of` only limits the lead to those created by then."""
    fields = lead_fields(con, settings=settings, as_of=as_of, lead_ids=[lead_id])
    if fields.is_empty():
        raise FunnelError("there is no such lead", value=lead_id)
    fit = fit_scores(fields, settings=settings).row(0, named=True)
    best_name = fit[ICP]
    rows = []
    for icp in settings.fit.icps:
        for criterion in icp.criteria:
            hit = bool(fields.select(matches(criterion, fields)).item())
            value = fields.get_column(criterion.field)[0]
            best = icp.name == best_name
            rows.append({"icp": icp.name, "best": best, "field": criterion.field, "rule": criterion.describe(),
                         "value": None if value is None else str(value), "matched": hit,
                         "points": criterion.points, "counted": criterion.points if hit and best else 0})
    total = sum(r["counted"] for r in rows)
    if total > 100:
        rows.append({"icp": best_name, "best": True, "field": None, "rule": "fit is capped at 100", "value": None,
                     "matched": None, "points": None, "counted": 100 - total})
    schema = {"icp": pl.String, "best": pl.Boolean, "field": pl.String, "rule": pl.String, "value": pl.String,
              "matched": pl.Boolean, "points": pl.Int32, "counted": pl.Int32}
    return pl.DataFrame(rows, schema=schema)


def intent_explanation(con: duckdb.DuckDBPyConnection, lead_id: str, *, settings: Settings,
                       as_of: date) -> pl.DataFrame:
    """One row per activity in the lookback (newest first), then the account surge and the cap:
    kind, activity_id, activity_type, occurred_at, url, age_days, weight, decay, points, counted,
    note. `points` = weight × decay; `counted` is what reached the score after the type caps (filled
    newest first) and the overall cap, so `counted` adds up to the intent score."""
    params = _intent_params(settings, as_of) | {"lead": lead_id}
    acts = frame(con, sql_text("intent_activities"),
                 {k: params[k] for k in ("lead", "until", "since", "as_of")})
    weights, caps, half_life = settings.intent.weights, settings.intent.type_caps, settings.intent.half_life_days
    acts = acts.with_columns(
        pl.col(sc.ACTIVITY_TYPE).replace_strict(list(weights), list(weights.values()), default=0.0,
                                                return_dtype=pl.Float64).alias("weight"),
        (0.5 ** (pl.col("age_days").cast(pl.Float64) / half_life)).alias("decay"),
    ).with_columns((pl.col("weight") * pl.col("decay")).alias("points"))
    acts = acts.sort([sc.OCCURRED_AT, sc.ACTIVITY_ID], descending=[True, False], nulls_last=True)
    cap_of = pl.col(sc.ACTIVITY_TYPE).replace_strict(list(caps), list(caps.values()), default=math.inf,
                                                      return_dtype=pl.Float64)
    before = pl.col("points").cum_sum().over(sc.ACTIVITY_TYPE) - pl.col("points")
    acts = acts.with_columns(
        pl.min_horizontal(pl.col("points"), pl.max_horizontal(cap_of - before, pl.lit(0.0))).alias("counted"),
        pl.lit("activity").alias("kind"),
    ).with_columns(
        pl.when(pl.col("weight") == 0).then(pl.lit("weight 0: adds nothing"))
        .when(pl.col("counted") < pl.col("points"))
        .then(pl.format("type cap {} reached", cap_of.round(1)))
        .otherwise(pl.lit(None, dtype=pl.String)).alias("note"))
    columns = ["kind", sc.ACTIVITY_ID, sc.ACTIVITY_TYPE, sc.OCCURRED_AT, sc.URL, "age_days", "weight", "decay",
               "points", "counted", "note"]
    schema = {"kind": pl.String, sc.ACTIVITY_ID: pl.String, sc.ACTIVITY_TYPE: pl.String,
              sc.OCCURRED_AT: pl.Datetime("us"), sc.URL: pl.String, "age_days": pl.Int64, "weight": pl.Float64,
              "decay": pl.Float64, "points": pl.Float64, "counted": pl.Float64, "note": pl.String}
    parts = [acts.select(columns).cast(schema)]
    surge = _surging_leads(con, settings, as_of, [lead_id])
    if surge.height:
        s = surge.row(0, named=True)
        points = settings.intent.account_surge_points
        parts.append(pl.DataFrame([{"kind": "account surge", sc.OCCURRED_AT: s["surge_at"], "points": points,
                                    "counted": points, "weight": points, "decay": 1.0,
                                    "note": f"intent-data surge on the account ({s['surge_signals']} signal(s)"
                                            + (f"; topics: {s['surge_topics']})" if s["surge_topics"] else ")")}],
                                  schema=schema))
    explained = pl.concat(parts)
    total = float(explained.get_column("counted").sum())
    if total > settings.intent.cap:
        explained = pl.concat([explained, pl.DataFrame(
            [{"kind": "cap", "counted": settings.intent.cap - total,
              "note": f"intent is capped at {settings.intent.cap:g}"}], schema=schema)])
    return explained


# --------------------------------------------------------------------------------- validation


def _decile_rates(scored: pl.DataFrame, column: str, *, min_sample: int) -> pl.DataFrame:
    """Leads in ten groups by `column` (10 = highest); equal scores share a decile, so a score
    with many ties makes its decile larger and leaves some deciles empty (not listed)."""
    n = scored.height
    ranked = scored.with_columns(
        (((pl.col(column).rank("min") - 1) * 10) // max(n, 1) + 1).cast(pl.Int32).alias("decile"))
    grouped = ranked.group_by("decile").agg(
        pl.len().alias("leads"), pl.col("converted").sum().alias("converted"),
        pl.col(column).min().alias("score_min"), pl.col(column).max().alias("score_max")).sort("decile")
    return _with_rates(grouped, "leads", "converted", min_sample=min_sample)


def _with_rates(df: pl.DataFrame, trials: str, successes: str, *, min_sample: int, prefix: str = "") -> pl.DataFrame:
    rated = with_rate(df, successes=successes, trials=trials, name=f"{prefix}rate", min_trials=min_sample,
                      flag=f"{prefix}small_sample")
    return rated.rename({f"{prefix}rate_lo": f"{prefix}low", f"{prefix}rate_hi": f"{prefix}high"})


def _lift(a: int, n1: int, c: int, n2: int) -> tuple[float | None, float | None, float | None]:
    """Rate ratio (a/n1) / (c/n2) and its 95% interval by MOVER on the log scale from the two Wilson
    intervals (Donner & Zou), which stays honest for rates near 0 or 1. An empty group gives no
    numbers; no conversions without the flag gives no ratio (infinite) but a lower bound."""
    if n1 == 0 or n2 == 0 or (a == 0 and c == 0):
        return None, None, None
    l1, u1 = wilson_interval(a, n1)
    l2, u2 = wilson_interval(c, n2)
    p1, p2 = a / n1, c / n2
    if c == 0:
        return None, l1 / u2, None
    if a == 0:
        return 0.0, 0.0, u1 / l2 if l2 else None
    log_ratio = math.log(p1) - math.log(p2)
    down = math.sqrt((math.log(p1) - math.log(l1)) ** 2 + (math.log(u2) - math.log(p2)) ** 2)
    up = math.sqrt((math.log(u1) - math.log(p1)) ** 2 + (math.log(p2) - math.log(l2)) ** 2)
    return p1 / p2, math.exp(log_ratio - down), math.exp(log_ratio + up)


def _lift_table(flags: pl.DataFrame, keys: list[str], *, total: int, converted: int, min_sample: int) -> pl.DataFrame:
    """Per key row: leads and conversions with the flag and without, rates with intervals, lift."""
    rows = []
    for row in flags.iter_rows(named=True):
        n1, a = int(row["leads_with"]), int(row["converted_with"])
        n2, c = total - n1, converted - a
        lift, low, high = _lift(a, n1, c, n2)
        rows.append({**{k: row[k] for k in keys}, "leads_with": n1, "converted_with": a, "leads_without": n2,
                     "converted_without": c, "lift": lift, "lift_low": low, "lift_high": high})
    schema = {**{k: flags.schema[k] for k in keys}, "leads_with": pl.Int64, "converted_with": pl.Int64,
              "leads_without": pl.Int64, "converted_without": pl.Int64, "lift": pl.Float64,
              "lift_low": pl.Float64, "lift_high": pl.Float64}
    table = pl.DataFrame(rows, schema=schema)
    table = _with_rates(table, "leads_with", "converted_with", min_sample=min_sample, prefix="with_")
    table = _with_rates(table, "leads_without", "converted_without", min_sample=min_sample, prefix="without_")
    return table.with_columns((pl.col("with_small_sample") | pl.col("without_small_sample")).alias("small_sample"))


def validation_cutoff(settings: Settings, as_of: date) -> date:
    """The day scores are checked from: one conversion window (W days) before D."""
    return as_of - timedelta(days=settings.conversion.window_days)


def score_validation(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                     outcome: str = "opportunity", scores: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """How well fit and intent predicted later conversion. Scores are taken as of a cutoff one
    conversion window (W days) before `as_of`; the leads are those created by then that had not yet
    reached `outcome`; converted = reached `outcome` (or a later stage) within the W days after.

    Frames: summary (one row), fit_deciles and intent_deciles (decile, leads, converted, score_min,
    score_max, rate, low, high, small_sample; equal scores share a decile), criteria (per ICP criterion) and activity_types (per
    type seen in the lookback before the cutoff): leads and conversions with and without it, rates
    with Wilson intervals, lift = rate with / rate without with a 95% interval (MOVER from the two
    Wilson intervals), small_sample (either group below `segments.min_sample`, or under 5
    conversions or non-conversions). `scores` is `lead_quadrants` (or `lead_scores`) at the cutoff
    (`validation_cutoff`) when the caller has it (the Fit × intent cells read the same)."""
    ladder = settings.ladders.funnel
    if outcome not in ladder[1:]:
        raise FunnelError(f"{outcome!r} is not a funnel stage after the first", value=outcome,
                          hint=f"Use one of: {', '.join(ladder[1:])}")
    rank = ladder.index(outcome)
    window = settings.conversion.window_days
    cutoff = validation_cutoff(settings, as_of)
    min_sample = settings.segments.min_sample
    # The whole history is read only when the scores at the cutoff must be computed from it; else only the leads
    # that reached the outcome (a main stage from it on) leave the database.
    history = None if scores is not None else stages.funnel_history(con, settings=settings, as_of=as_of)
    before = stages.funnel_entrants(con, settings=settings, stages=ladder[rank:], after=None, as_of=cutoff,
                                    history=history)
    after = stages.funnel_entrants(con, settings=settings, stages=ladder[rank:], after=cutoff, as_of=as_of,
                                   history=history)
    fields = lead_facts(con, settings=settings, as_of=cutoff)
    if scores is None:
        scores = lead_quadrants(con, settings=settings, as_of=cutoff, facts=fields,
                                history=history.filter(pl.col(sc.ENTERED_AT) < stages.until(cutoff)))
    population = (scores.join(before, on=sc.LEAD_ID, how="anti")
                  .join(after.with_columns(pl.lit(True).alias("converted")), on=sc.LEAD_ID, how="left")
                  .with_columns(pl.col("converted").fill_null(False)))
    total, converted = population.height, int(population.get_column("converted").sum())
    lo, hi = wilson_interval(converted, total)
    summary = pl.DataFrame([{"outcome": outcome, "cutoff": cutoff, "as_of": as_of, "window_days": window,
                             "leads": total, "converted": converted, "rate": converted / total if total else None,
                             "low": lo, "high": hi, "small_sample": small_sample(total, converted,
                                                                                  min_trials=min_sample)}])
    frames = {"summary": summary,
              "fit_deciles": _decile_rates(population, FIT_SCORE, min_sample=min_sample),
              "intent_deciles": _decile_rates(population, INTENT_SCORE, min_sample=min_sample)}

    at_risk = fields.join(population.select(sc.LEAD_ID, "converted"), on=sc.LEAD_ID, how="inner")
    criteria = []
    for icp in settings.fit.icps:
        for i, criterion in enumerate(icp.criteria):
            flag = at_risk.select(matches(criterion, at_risk).alias("f"), "converted")
            criteria.append({"icp": icp.name, "criterion": i + 1, "field": criterion.field,
                             "rule": criterion.describe(), "points": criterion.points,
                             "leads_with": int(flag.get_column("f").sum()),
                             "converted_with": int((flag.get_column("f") & flag.get_column("converted")).sum())})
    criteria_frame = pl.DataFrame(criteria, schema={"icp": pl.String, "criterion": pl.Int32, "field": pl.String,
                                                    "rule": pl.String, "points": pl.Int32, "leads_with": pl.Int64,
                                                    "converted_with": pl.Int64})
    frames["criteria"] = _lift_table(criteria_frame, ["icp", "criterion", "field", "rule", "points"],
                                     total=total, converted=converted, min_sample=min_sample)
    seen = frame(con, sql_text("intent_types_seen"),
                 {"until": stages.until(cutoff), "since": cutoff - timedelta(days=settings.intent.lookback_days)})
    by_type = (seen.join(population.select(sc.LEAD_ID, "converted"), on=sc.LEAD_ID, how="inner")
               .group_by(sc.ACTIVITY_TYPE).agg(pl.len().alias("leads_with"),
                                               pl.col("converted").sum().alias("converted_with"))
               .sort(sc.ACTIVITY_TYPE))
    frames["activity_types"] = _lift_table(by_type, [sc.ACTIVITY_TYPE], total=total, converted=converted,
                                           min_sample=min_sample)
    return frames


# ---------------------------------------------------------------------------------- backtest


def month_ends(as_of: date, months: int) -> list[date]:
    """The last `months` month ends at or before `as_of`, oldest first."""
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    nxt = date(as_of.year + (as_of.month == 12), as_of.month % 12 + 1, 1)
    end = as_of if nxt - timedelta(days=1) == as_of else date(as_of.year, as_of.month, 1) - timedelta(days=1)
    ends = [end]
    while len(ends) < months:
        ends.append(date(ends[-1].year, ends[-1].month, 1) - timedelta(days=1))
    return sorted(ends)


_BACKTEST_SCHEMA = {"month_end": pl.Date, "settings": pl.String, "measure": pl.String, "category": pl.String,
                    "value": pl.Float64, "leads": pl.Int64, "low": pl.Float64, "high": pl.Float64}


def rules_backtest(con: duckdb.DuckDBPyConnection, *, current: Settings, proposed: Settings, as_of: date,
                   months: int = 6) -> pl.DataFrame:
    """Both settings replayed at each of the last `months` month ends (long format: month_end,
    settings, measure, category, value, leads, low, high). Measures: `stage` (leads per funnel stage),
    `entered_intent` (leads that entered intent during the month: the MQL-equivalent volume),
    `quadrant` (leads per fit × intent quadrant), `routing` (leads per next owner), and `conversion`
    (of the month's intent entrants, the share that reached opportunity within the conversion window,
    open entries left out; leads = decided entries, with a Wilson interval).

    Whatever the two settings share (the stage history, fit, intent at a month end, the lifecycle
    stages) is computed once; the engine's history is causal, so one run as of `as_of` is cut at
    every month end."""
    ends = month_ends(as_of, months)
    cache: dict[tuple, pl.DataFrame] = {}

    def once(key: tuple, compute) -> pl.DataFrame:
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    rows: list[dict] = []
    for label, settings in (("current", current), ("proposed", proposed)):
        ladder = settings.ladders.funnel
        intent_rank = ladder.index("intent") if "intent" in ladder else len(ladder) - 3
        opportunity_rank = len(ladder) - 2
        window = settings.conversion.window_days
        history = once(("history", repr(settings.ladders), repr(settings.funnel_rules), repr(settings.lifecycle_values)),
                       lambda s=settings: stages.funnel_history(con, settings=s, as_of=as_of).select(
                           sc.LEAD_ID, sc.STAGE, stages.STAGE_RANK, sc.ENTERED_AT, stages.IS_SIDE, stages.ENTRY_ORDER,
                           sc.REASON))

        def fit_of(s: Settings = settings) -> pl.DataFrame:
            fields = lead_fields(con, settings=s)
            return fields.with_columns(tags_of(fields, settings=s).alias(TAGS)).drop(SENIORITY).join(
                fit_scores(fields, settings=s).select(sc.LEAD_ID, FIT_SCORE, ICP), on=sc.LEAD_ID, how="left")

        fit = once(("fit", repr(settings.fit), repr(settings.segments.seniority), repr(settings.tags),
                    repr(settings.routing.criteria())), fit_of)
        for end in ends:
            stage = _latest_stages(history, end)
            intent = once(("intent", repr(settings.intent), end),
                          lambda s=settings, e=end: intent_scores(con, settings=s, as_of=e).select(sc.LEAD_ID, INTENT_SCORE))
            lifecycle = once(("lifecycle", repr(settings.ladders), end),
                             lambda s=settings, e=end: lifecycle_stages(con, settings=s, as_of=e))
            scores = (fit.filter(pl.col(sc.CREATED_AT).is_null() | (pl.col(sc.CREATED_AT) < stages.until(end)))
                      .join(stage, on=sc.LEAD_ID, how="left").join(intent, on=sc.LEAD_ID, how="left")
                      .join(lifecycle, on=sc.LEAD_ID, how="left")
                      .with_columns(pl.col(INTENT_SCORE).fill_null(0.0), pl.col(FIT_SCORE).fill_null(0)))
            scores = scores.with_columns(quadrant_of(pl.col(FIT_SCORE), pl.col(INTENT_SCORE), settings).alias(QUADRANT))
            scores = routing.routed_leads(scores, settings=settings, as_of=end)
            for measure, column in (("stage", stages.FUNNEL_STAGE), (QUADRANT, QUADRANT), ("routing", NEXT_OWNER)):
                counts = scores.filter(pl.col(column).is_not_null()).group_by(column).len()
                rows += [{"month_end": end, "settings": label, "measure": measure, "category": k, "value": float(v)}
                         for k, v in counts.sort(column).iter_rows()]
            rows += _intent_volumes(history, end, label=label, as_of=as_of, window=window, intent_rank=intent_rank,
                                    opportunity_rank=opportunity_rank)
    return pl.DataFrame(rows, schema=_BACKTEST_SCHEMA)


def _latest_stages(history: pl.DataFrame, end: date) -> pl.DataFrame:
    """lead_id, funnel_stage, recycle_reason at the end of `end` from a history in entry order."""
    cut = history.filter(pl.col(sc.ENTERED_AT) < stages.until(end))
    latest = cut.filter(pl.col(stages.ENTRY_ORDER) == pl.col(stages.ENTRY_ORDER).max().over(sc.LEAD_ID))
    return latest.select(sc.LEAD_ID, pl.col(sc.STAGE).alias(stages.FUNNEL_STAGE),
                         routing.recycle_reason_of(pl.col(stages.IS_SIDE), pl.col(sc.REASON))
                         .alias(routing.RECYCLE_REASON))


def _intent_volumes(history: pl.DataFrame, end: date, *, label: str, as_of: date, window: int, intent_rank: int,
                    opportunity_rank: int) -> list[dict]:
    """The month's intent entrants, and how many of them reached opportunity within the window."""
    start = stages.until(date(end.year, end.month, 1) - timedelta(days=1))
    main = history.filter(~pl.col(stages.IS_SIDE))
    entrants = main.filter((pl.col(stages.STAGE_RANK) == intent_rank) & (pl.col(sc.ENTERED_AT) >= start)
                           & (pl.col(sc.ENTERED_AT) < stages.until(end))).select(sc.LEAD_ID, sc.ENTERED_AT)
    advanced = main.filter(pl.col(stages.STAGE_RANK) >= opportunity_rank).select(
        sc.LEAD_ID, pl.col(sc.ENTERED_AT).alias("advanced_at")).join(entrants.select(sc.LEAD_ID).unique(),
                                                                    on=sc.LEAD_ID, how="semi")
    days_after = (pl.col("advanced_at").dt.date() - pl.col(sc.ENTERED_AT).dt.date()).dt.total_days()
    outcome = (entrants.join(advanced, on=sc.LEAD_ID, how="left")
               .with_columns(((pl.col("advanced_at") > pl.col(sc.ENTERED_AT)) & (days_after <= window))
                             .fill_null(False).alias("hit"))
               .group_by(sc.LEAD_ID, sc.ENTERED_AT).agg(pl.col("hit").any()))
    age = (pl.lit(as_of) - pl.col(sc.ENTERED_AT).dt.date()).dt.total_days()
    hits = int(outcome.get_column("hit").sum())
    decided = hits + outcome.filter(~pl.col("hit") & (age > window)).height
    low, high = wilson_interval(hits, decided)
    return [{"month_end": end, "settings": label, "measure": "entered_intent", "category": "intent",
             "value": float(entrants.get_column(sc.LEAD_ID).n_unique())},
            {"month_end": end, "settings": label, "measure": "conversion", "category": "intent→opportunity",
             "value": hits / decided if decided else None, "leads": decided, "low": low, "high": high}]


# ------------------------------------------------------------------------------------- report


def leads_report(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                 lead_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per lead for `funnel leads`: lead_id, funnel_stage, lifecycle_stage, stage_entered_at,
    fit_score, intent_score, quadrant, icp, tags, next_owner, next_action, next_action_due, team,
    route_rule (the routing rule that gave owner and action), evidence (e.g. "intent:
    pricing_page_view on 2026-10-03 (/pricing)"). `lead_ids` limits the leads computed (the Lead page's card)."""
    history = stages.funnel_history(con, settings=settings, as_of=as_of, lead_ids=lead_ids)
    current = stages.current_funnel_stage(history, as_of=as_of, settings=settings)
    facts = None if lead_ids is None else lead_facts(con, settings=settings, lead_ids=lead_ids)
    scores = _scores(con, settings=settings, as_of=as_of, facts=facts, history=history)
    is_activity = (pl.col(stages.EVIDENCE_ID).is_not_null() & ~pl.col(stages.EVIDENCE_TYPE).is_in([stages.CREATED, stages.DEAL])
                   & ~pl.col(stages.EVIDENCE_TYPE).str.starts_with(stages.LIFECYCLE_PREFIX))
    ids = current.filter(is_activity).select(pl.col(stages.EVIDENCE_ID).alias(sc.ACTIVITY_ID)).unique()
    urls = pl.DataFrame(schema={sc.ACTIVITY_ID: pl.String, sc.URL: pl.String})
    if ids.height:
        with registered(con, {"evidence_ids": ids.to_arrow()}) as names:
            urls = frame(con, sql_text("evidence_urls", evidence_ids=names["evidence_ids"]))
    current = current.join(urls.unique(sc.ACTIVITY_ID), left_on=stages.EVIDENCE_ID, right_on=sc.ACTIVITY_ID,
                           how="left").with_columns(
        stages.evidence_texts(pl.col(stages.FUNNEL_STAGE), pl.col(stages.EVIDENCE_TYPE), pl.col(stages.EVIDENCE_AT),
                              pl.col(sc.REASON), pl.col(stages.EVIDENCE_ID),
                              pl.when(is_activity).then(pl.col(sc.URL)), pl.col(stages.IS_SIDE)).alias(EVIDENCE))
    report = scores.join(current.select(sc.LEAD_ID, stages.STAGE_ENTERED_AT, EVIDENCE), on=sc.LEAD_ID, how="left")
    return report.sort(sc.LEAD_ID).select(sc.LEAD_ID, stages.FUNNEL_STAGE, sc.LIFECYCLE_STAGE, stages.STAGE_ENTERED_AT, FIT_SCORE,
                         INTENT_SCORE, QUADRANT, ICP, TAGS, NEXT_OWNER, NEXT_ACTION, NEXT_ACTION_DUE, TEAM, ROUTE_RULE,
                         EVIDENCE)
