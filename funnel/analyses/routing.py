"""Routing checked and backtested: the rule lint, the what-if of a routing edit over past weeks,
nurture tracks and the content followed by the next stage, and the alerts after an import.

- **Lint** (on the leads at D): leads no rule covers; leads two or more rules claim (the first wins,
  the others lose; one finding per winner and loser); rules that match nothing; rules that match
  leads but never win (every lead they match an earlier rule takes); owners at capacity (their
  team's queue holds the overflow); territories with no owner of a team that a territory rule routes
  to, and leads outside every territory that such a rule routes (both fall back to the whole team).
- **What-if**: both settings replayed at each week end over the last `weeks` weeks. A lead is
  *received* by an owner in the week ending on E when its owner at E differs from its owner a week
  before (or it was not yet a lead). For routes to named owners with a due date, the observed
  speed-to-lead is the first `sales_touch` in that week or after: *in time* when on or before the
  due date (`due_business_days` business days after E), *breached* when later or never by D with
  the due date passed, *pending* otherwise. Conversion by route: of the leads received, the share
  that entered a higher main stage within the conversion window after E (decided = advanced or
  the window passed by D), with a Wilson interval.
- **Content followed by the next stage**: per stay at a funnel stage and content type
  (`routing.content_types`), whether the next entry after the first view was a higher main stage
  within the conversion window; intervals are whole days from that view to the next stage.
- **Alerts** since a moment: "activity" rules list leads with a matching activity at or after it
  (high-fit leads only, fit ≥ fit.high_threshold, when `high_fit_only`); "over_sla" rules list leads, routed to the rule's teams and at
  its stages, whose days in the current funnel stage passed the stage's `aging.sla_days`, where the
  first day past the SLA is at or after it. `since_last_import` is the newest activity that was in
  the store before the latest activities import (None when activities came in one import: every
  alert is new).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.handoff import SALES_TOUCH
from funnel.config import Settings, with_routing_text
from funnel.filters import until
from funnel.model import routing, stages
from funnel.model.materialised import (
    content_views_are_current,
    content_views_query,
    funnel_is_current,
    stored_content_views_query,
)
from funnel.model.scoring import FIT_SCORE, ICP, SENIORITY, TAGS, lead_facts, lead_fields, lead_scores
from funnel.stats import wilson_interval
from funnel.store.db import frame, quote_ident, registered, scalar
from funnel.store.queries import bound_params, sql_text

__all__ = [
    "content_next_stage",
    "edit_lint",
    "edit_whatif",
    "import_alerts",
    "routing_inputs",
    "routing_lint",
    "routing_whatif",
    "since_last_import",
    "track_summary",
]

FINDING_SCHEMA = {"kind": pl.String, "subject": pl.String, "leads": pl.Int64, "detail": pl.String}
FINDING_LEAD_SCHEMA = {"kind": pl.String, "subject": pl.String, sc.LEAD_ID: pl.String, "detail": pl.String}
UNCOVERED, CLAIMED, NOTHING, NEVER_WINS, CAPACITY, NO_OWNER, OUTSIDE = (
    "no rule covers", "claimed by two rules", "rule matches nothing", "rule never wins", "owner at capacity",
    "territory without owner", "outside every territory")


def routing_inputs(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                   history: pl.DataFrame | None = None, scores: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per lead at D: its scores, route and the lead fields routing reads (what the lint,
    the tracks and the exports start from). The lead facts are read from the lead model when it holds them (they
    are the lead fields with tags and fit), not scored again. `scores`: `lead_scores` at D with these settings,
    when the caller has them."""
    facts = lead_facts(con, settings=settings)
    if scores is None:
        scores = lead_scores(con, settings=settings, as_of=as_of, facts=facts, history=history)
    return scores.join(facts.drop(SENIORITY, TAGS, FIT_SCORE, ICP), on=sc.LEAD_ID, how="left")


# ------------------------------------------------------------------------------------------ lint


def _finding(kind: str, subject: str, leads: int, detail: str) -> dict:
    return {"kind": kind, "subject": subject, "leads": leads, "detail": detail}


def routing_lint(leads: pl.DataFrame, *, settings: Settings) -> dict[str, pl.DataFrame]:
    """The rule lint of `leads` (from `routing_inputs`, routed with `settings`). Frames: `rules` (one
    row per rule: position, rule, team, assign, matches, wins, loses), `findings` (kind, subject,
    leads, detail) and `finding_leads` (kind, subject, lead_id, detail: the leads behind each)."""
    rules = settings.routing.rules
    names = [r.name for r in rules]
    hits = routing.rule_hits(leads, settings=settings)
    matched = hits.select(sc.LEAD_ID, *names)
    counts = matched.select([pl.col(n).sum().alias(n) for n in names]).row(0) if names else ()
    winners = leads.select(sc.LEAD_ID, routing.ROUTE_RULE)
    wins = dict(winners.group_by(routing.ROUTE_RULE).len().iter_rows())
    rule_rows = [{"position": i + 1, "rule": r.name, "team": r.team, "assign": r.assign,
                  "matches": int(counts[i]), "wins": int(wins.get(r.name, 0)),
                  "loses": int(counts[i]) - int(wins.get(r.name, 0))} for i, r in enumerate(rules)]
    rule_frame = pl.DataFrame(rule_rows, schema={"position": pl.Int64, "rule": pl.String, "team": pl.String,
                                                 "assign": pl.String, "matches": pl.Int64, "wins": pl.Int64,
                                                 "loses": pl.Int64})
    findings: list[dict] = []
    behind: list[pl.DataFrame] = []

    def leads_of(kind: str, subject: str, rows: pl.DataFrame, detail: pl.Expr | str) -> None:
        detail_expr = pl.lit(detail) if isinstance(detail, str) else detail
        behind.append(rows.select(pl.lit(kind).alias("kind"), pl.lit(subject).alias("subject"), sc.LEAD_ID,
                                  detail_expr.cast(pl.String).alias("detail")))

    uncovered = winners.filter(pl.col(routing.ROUTE_RULE).is_null())
    if uncovered.height:
        findings.append(_finding(UNCOVERED, "—", uncovered.height, "these leads get no owner and no action"))
        leads_of(UNCOVERED, "—", uncovered, "no rule matches")
    for i, winner in enumerate(names):
        for loser in names[i + 1:]:
            both = matched.filter(pl.col(winner) & pl.col(loser)).join(
                winners.filter(pl.col(routing.ROUTE_RULE) == winner), on=sc.LEAD_ID, how="semi")
            if both.height:
                subject = f"{winner} ▸ {loser}"
                findings.append(_finding(CLAIMED, subject, both.height,
                                         f"first match wins: {winner!r} takes them, {loser!r} loses"))
                leads_of(CLAIMED, subject, both, f"won by {winner}; also matched {loser}")
    for row in rule_rows:
        if row["matches"] == 0:
            findings.append(_finding(NOTHING, row["rule"], 0, "no lead in the data matches this rule"))
        elif row["wins"] == 0:
            findings.append(_finding(NEVER_WINS, row["rule"], row["matches"],
                                     "every lead it matches is taken by an earlier rule"))
            taken = matched.filter(pl.col(row["rule"])).join(winners, on=sc.LEAD_ID, how="left")
            leads_of(NEVER_WINS, row["rule"], taken, pl.format("taken by {}", pl.col(routing.ROUTE_RULE)))
    owned = dict(leads.group_by(routing.NEXT_OWNER).len().iter_rows())
    for owner in settings.routing.owners:
        if owner.capacity and owned.get(owner.name, 0) >= owner.capacity:
            queue = owner.team + routing.QUEUE_SUFFIX
            overflow = leads.filter(pl.col(routing.NEXT_OWNER) == queue)
            findings.append(_finding(CAPACITY, owner.name, overflow.height,
                                     f"{owned[owner.name]} open leads, capacity {owner.capacity}; "
                                     f"{overflow.height} lead(s) wait in the {queue}"))
            leads_of(CAPACITY, owner.name, overflow, pl.format("in the {}", pl.col(routing.NEXT_OWNER)))
    territory_teams = sorted({r.team for r in rules if r.assign == "territory"})
    team_of = {o.name: o.team for o in settings.routing.owners}
    routed = leads.join(hits.select(sc.LEAD_ID, routing.TERRITORY), on=sc.LEAD_ID, how="left")
    for territory in settings.routing.territories:
        have = {team_of[o] for o in territory.owners}
        for team in territory_teams:
            if team in have:
                continue
            subject = f"{territory.name} · {team}"
            fallback = routed.filter((pl.col(routing.TERRITORY) == territory.name) & (pl.col(routing.TEAM) == team))
            findings.append(_finding(NO_OWNER, subject, fallback.height,
                                     f"no {team} owner works {territory.name}: its leads go round robin to all of {team}"))
            leads_of(NO_OWNER, subject, fallback, pl.format("routed to {}", pl.col(routing.NEXT_OWNER)))
    by_territory_rule = [r.name for r in rules if r.assign == "territory"]
    outside = routed.filter(pl.col(routing.TERRITORY).is_null() & pl.col(routing.ROUTE_RULE).is_in(by_territory_rule))
    if outside.height:
        findings.append(_finding(OUTSIDE, "—", outside.height,
                                 "a territory rule routed them but they are in no territory (round robin to the team)"))
        leads_of(OUTSIDE, "—", outside, pl.format("routed to {}", pl.col(routing.NEXT_OWNER)))
    return {"rules": rule_frame, "findings": pl.DataFrame(findings, schema=FINDING_SCHEMA),
            "finding_leads": pl.concat(behind) if behind else pl.DataFrame(schema=FINDING_LEAD_SCHEMA)}


# --------------------------------------------------------------------------------------- what-if


def _routing_only_differs(current: Settings, proposed: Settings) -> bool:
    return replace(proposed, routing=current.routing, source=current.source) == current


_ROUTE_KEYS = (sc.LEAD_ID, routing.TEAM, routing.NEXT_OWNER, routing.ROUTE_RULE, stages.FUNNEL_STAGE)


def routing_whatif(con: duckdb.DuckDBPyConnection, *, current: Settings, proposed: Settings, as_of: date,
                   weeks: int = 13) -> dict[str, pl.DataFrame]:
    """Both settings' routing replayed at each of the last `weeks` week ends (definitions in the
    module docstring). Frames: `weekly` (settings, week_end, team, owner, received), `sla` (settings,
    team, owner, received, in_time, breached, pending) and `conversion` (settings, route_rule, team,
    received, decided, advanced, rate, low, high)."""
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")
    ends = [as_of - timedelta(days=7 * k) for k in range(weeks, -1, -1)]
    history = stages.funnel_history(con, settings=current, as_of=as_of)
    fields = lead_fields(con, settings=current)
    proposed_history = history if proposed.ladders == current.ladders and proposed.funnel_rules == current.funnel_rules \
        else stages.funnel_history(con, settings=proposed, as_of=as_of)
    proposed_fields = fields if proposed.routing.criteria() == current.routing.criteria() \
        and proposed.fit == current.fit and proposed.tags == current.tags else lead_fields(con, settings=proposed)
    shared = _routing_only_differs(current, proposed)
    states: dict[str, list[pl.DataFrame]] = {"current": [], "proposed": []}
    for end in ends:
        now = lead_scores(con, settings=current, as_of=end, fields=fields, history=history)
        states["current"].append(now.select(_ROUTE_KEYS))
        if shared:
            inputs = now.drop(routing.ROUTED_COLUMNS, strict=False).join(
                proposed_fields.drop(SENIORITY), on=sc.LEAD_ID, how="left")
            then = routing.routed_leads(inputs, settings=proposed, as_of=end)
        else:
            then = lead_scores(con, settings=proposed, as_of=end, fields=proposed_fields, history=proposed_history)
        states["proposed"].append(then.select(_ROUTE_KEYS))
    received = pl.concat([_received(states[label], ends, label) for label in ("current", "proposed")])
    weekly = (received.group_by("settings", "week_end", routing.TEAM, routing.NEXT_OWNER).len("received")
              .sort("settings", "week_end", routing.TEAM, routing.NEXT_OWNER))
    return {"weekly": weekly.rename({routing.NEXT_OWNER: "owner"}),
            "sla": _sla(con, received, current=current, proposed=proposed, as_of=as_of),
            "conversion": _route_conversion(received, history, settings=current, as_of=as_of)}


def _received(states: list[pl.DataFrame], ends: list[date], label: str) -> pl.DataFrame:
    """settings, week_end, week_start, lead_id, team, next_owner, route_rule, funnel_stage of every
    lead whose owner changed in the week ending on week_end."""
    parts = []
    for k in range(1, len(ends)):
        before = states[k - 1].select(sc.LEAD_ID, pl.col(routing.NEXT_OWNER).alias("_before"))
        changed = states[k].join(before, on=sc.LEAD_ID, how="left").filter(
            pl.col("_before").is_null() | (pl.col("_before") != pl.col(routing.NEXT_OWNER)))
        parts.append(changed.drop("_before").with_columns(
            pl.lit(label).alias("settings"), pl.lit(ends[k]).alias("week_end"),
            pl.lit(ends[k - 1] + timedelta(days=1)).alias("week_start")))
    return pl.concat(parts).select("settings", "week_end", "week_start", *_ROUTE_KEYS)


def _sla(con: duckdb.DuckDBPyConnection, received: pl.DataFrame, *, current: Settings, proposed: Settings,
         as_of: date) -> pl.DataFrame:
    """Per settings, team and owner: received leads with a due date on a named-owner route, and how
    many the observed first sales touch met in time, breached, or leaves pending."""
    due_rows = []
    for label, settings in (("current", current), ("proposed", proposed)):
        for rule in settings.routing.rules:
            if rule.assign != "team" and rule.due_business_days is not None:
                due_rows.append({"settings": label, routing.ROUTE_RULE: rule.name, "_days": rule.due_business_days,
                                 "_holidays": list(settings.routing.holidays)})
    schema = {"settings": pl.String, routing.TEAM: pl.String, "owner": pl.String, "received": pl.Int64,
              "in_time": pl.Int64, "breached": pl.Int64, "pending": pl.Int64}
    if not due_rows or received.is_empty():
        return pl.DataFrame(schema=schema)
    dues = pl.DataFrame(due_rows, schema={"settings": pl.String, routing.ROUTE_RULE: pl.String, "_days": pl.Int64,
                                          "_holidays": pl.List(pl.String)})
    timed = received.join(dues, on=["settings", routing.ROUTE_RULE], how="inner")
    if timed.is_empty():
        return pl.DataFrame(schema=schema)
    due_by = {(end, days, tuple(h)): routing.business_days_after(end, days, holidays=tuple(h))
              for end, days, h in timed.select("week_end", "_days", "_holidays").unique().iter_rows()}
    due_frame = pl.DataFrame([{"week_end": e, "_days": d, "_holidays": list(h), "due": v} for (e, d, h), v in due_by.items()],
                             schema={"week_end": pl.Date, "_days": pl.Int64, "_holidays": pl.List(pl.String),
                                     "due": pl.Date})
    timed = timed.join(due_frame, on=["week_end", "_days", "_holidays"], how="left")
    first_start = timed.get_column("week_start").min()
    touches = frame(con, sql_text("sales_touches"), {"since": datetime.combine(first_start, time()),
                                                     "until": until(as_of), "touch": SALES_TOUCH})
    firsts = (timed.select(sc.LEAD_ID, "week_start").unique()
              .join(touches, on=sc.LEAD_ID, how="inner")
              .filter(pl.col("touched_at").dt.date() >= pl.col("week_start"))
              .group_by(sc.LEAD_ID, "week_start").agg(pl.col("touched_at").min()))
    judged = timed.join(firsts, on=[sc.LEAD_ID, "week_start"], how="left").with_columns(
        (pl.col("touched_at").dt.date() <= pl.col("due")).fill_null(False).alias("in_time"),
        (pl.col("touched_at").is_null() & (pl.col("due") >= as_of)).alias("pending"))
    return (judged.group_by("settings", routing.TEAM, routing.NEXT_OWNER)
            .agg(pl.len().cast(pl.Int64).alias("received"), pl.col("in_time").sum().cast(pl.Int64),
                 pl.col("pending").sum().cast(pl.Int64))
            .with_columns((pl.col("received") - pl.col("in_time") - pl.col("pending")).alias("breached"))
            .rename({routing.NEXT_OWNER: "owner"}).select(list(schema)).sort("settings", routing.TEAM, "owner"))


def _route_conversion(received: pl.DataFrame, history: pl.DataFrame, *, settings: Settings,
                      as_of: date) -> pl.DataFrame:
    """Per settings and route rule: received leads, decided, advanced to a higher main stage within
    the window after the week end, the rate and its Wilson interval."""
    ladder = settings.ladders.funnel
    window = settings.conversion.window_days
    rank = pl.col(stages.FUNNEL_STAGE).replace_strict(list(ladder), list(range(len(ladder))), default=-1,
                                                      return_dtype=pl.Int32)
    got = received.with_columns(rank.alias("_rank"))
    main = history.filter(~pl.col(stages.IS_SIDE)).select(sc.LEAD_ID, stages.STAGE_RANK, sc.ENTERED_AT)
    later = (got.select(sc.LEAD_ID, "week_end", "_rank").unique()
             .join(main, on=sc.LEAD_ID, how="inner")
             .filter((pl.col(stages.STAGE_RANK) > pl.col("_rank"))
                     & (pl.col(sc.ENTERED_AT).dt.date() > pl.col("week_end"))
                     & ((pl.col(sc.ENTERED_AT).dt.date() - pl.col("week_end")).dt.total_days() <= window))
             .select(sc.LEAD_ID, "week_end", "_rank").unique().with_columns(pl.lit(True).alias("advanced")))
    judged = got.join(later, on=[sc.LEAD_ID, "week_end", "_rank"], how="left").with_columns(
        pl.col("advanced").fill_null(False),
        ((pl.lit(as_of) - pl.col("week_end")).dt.total_days() > window).alias("_closed"))
    table = (judged.group_by("settings", routing.ROUTE_RULE, routing.TEAM)
             .agg(pl.len().cast(pl.Int64).alias("received"),
                  (pl.col("advanced") | pl.col("_closed")).sum().cast(pl.Int64).alias("decided"),
                  pl.col("advanced").sum().cast(pl.Int64).alias("advanced"))
             .sort("settings", routing.ROUTE_RULE, nulls_last=True))
    return _with_wilson(table, "decided", "advanced")


def _with_wilson(table: pl.DataFrame, trials: str, successes: str) -> pl.DataFrame:
    """`table` with rate (null for no trials), low and high (95% Wilson)."""
    bounds = [wilson_interval(int(s), int(n)) for n, s in table.select(trials, successes).iter_rows()]
    return table.with_columns(
        pl.when(pl.col(trials) > 0).then(pl.col(successes) / pl.col(trials)).alias("rate"),
        pl.Series("low", [b[0] for b in bounds], dtype=pl.Float64),
        pl.Series("high", [b[1] for b in bounds], dtype=pl.Float64))


def edit_lint(con: duckdb.DuckDBPyConnection, *, settings: Settings, routing_text: str,
              as_of: date, scores: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """`routing_lint` of the leads at D routed by `settings` with the routing of `routing_text` (an
    unsaved [routing] edit), plus `leads` (those routed leads). `scores`: `lead_scores` at D with `settings`,
    when the caller has them (read only when the edit routes as `settings` do)."""
    proposed = with_routing_text(settings, routing_text)
    leads = routing_inputs(con, settings=proposed, as_of=as_of, scores=scores if proposed == settings else None)
    return routing_lint(leads, settings=proposed) | {"leads": leads}


def edit_whatif(con: duckdb.DuckDBPyConnection, *, settings: Settings, routing_text: str, as_of: date,
                weeks: int) -> dict[str, pl.DataFrame]:
    """`routing_whatif` of the active settings against the same with the routing of `routing_text`."""
    proposed = with_routing_text(settings, routing_text)
    return routing_whatif(con, current=settings, proposed=proposed, as_of=as_of, weeks=weeks)


# ---------------------------------------------------------------------------------------- tracks


def track_summary(leads: pl.DataFrame, *, settings: Settings) -> pl.DataFrame:
    """One row per nurture track (config order), then leads on none: track, content, leads."""
    counts = dict(leads.group_by(routing.TRACK).len().iter_rows())
    rows = [{"track": t.name, "content": t.content, "leads": int(counts.get(t.name, 0))}
            for t in settings.routing.tracks]
    rows.append({"track": None, "content": "(no track)", "leads": int(counts.get(None, 0))})
    return pl.DataFrame(rows, schema={"track": pl.String, "content": pl.String, "leads": pl.Int64})


def content_next_stage(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                       history: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per funnel stage and content type: stage, activity_type, leads, advanced, decided,
    rate, low, high (Wilson), median_days, p80_days (first view to the next stage).

    Each stay's first views are read from the lead model cut at D when it holds them for these settings;
    else they are found in the database from the stored funnel entries when the model holds a run for these
    settings, else from `history` (`stages.funnel_history` as of D, computed when not given) registered for
    the query: the per-lead history never comes into Python when it is stored."""
    params = {"until": until(as_of), "as_of": as_of, "window": settings.conversion.window_days,
              "types": list(settings.routing.content_types) or [""]}
    if history is None and content_views_are_current(con, settings):
        table = _content_table(con, stored_content_views_query(), params)
    elif history is None and funnel_is_current(con, settings):
        table = _content_table(con, content_views_query(sc.MODEL_FUNNEL_ENTRIES), params)
    else:
        if history is None:
            history = stages.funnel_history(con, settings=settings, as_of=as_of)
        entries = history.select(sc.LEAD_ID, sc.STAGE, stages.STAGE_RANK, sc.ENTERED_AT, stages.IS_SIDE,
                                 stages.ENTRY_ORDER).to_arrow()
        with registered(con, {"funnel_history": entries}) as names:
            table = _content_table(con, content_views_query(names["funnel_history"]), params)
    return _with_wilson(table, "decided", "advanced").select(
        "stage", "activity_type", "leads", "advanced", "decided", "rate", "low", "high", "median_days", "p80_days")


def _content_table(con: duckdb.DuckDBPyConnection, first_views: str, params: dict) -> pl.DataFrame:
    """content_next_stage.sql over the stays' first views `first_views` (a query binding $until, and $types when
    it reads the activities)."""
    sql = sql_text("content_next_stage", fragments={"first_views": first_views})
    table = frame(con, sql, bound_params(sql, params))
    return table.cast({"leads": pl.Int64, "advanced": pl.Int64, "decided": pl.Int64,
                       "median_days": pl.Float64, "p80_days": pl.Float64})


# ---------------------------------------------------------------------------------------- alerts

ALERT_SCHEMA = {"alert": pl.String, sc.LEAD_ID: pl.String, "owner": pl.String, routing.TEAM: pl.String,
                "at": pl.Datetime("us"), "detail": pl.String, routing.ROUTE_RULE: pl.String}


def since_last_import(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest activity already in the store before the latest activities import; None when all
    activities came in one import (then every alert is new)."""
    column = quote_ident(sc.IMPORT_ID)
    return scalar(con, f"SELECT max(occurred_at) FROM activities WHERE {column} < "
                       f"(SELECT max({column}) FROM activities)")


def import_alerts(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                  since: datetime | None, routed: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per alert rule and lead that newly meets it since `since` (None: ever), with its
    owner: alert, lead_id, owner, team, at, detail, route_rule (sorted by owner, then moment). `routed`: every
    lead at `as_of` scored and routed by these settings (`lead_scores`, or `routing_inputs`), when already
    computed."""
    # Each lead's latest entry is all an alert reads of the funnel: scanned from the stored model, not the whole
    # history replayed in memory (at 1M leads that was most of the Overview page's time and memory).
    current = stages.funnel_stages_at(con, settings=settings, as_of=as_of)
    leads = routed if routed is not None else lead_scores(con, settings=settings, as_of=as_of, current=current)
    current = current.select(sc.LEAD_ID, stages.STAGE_ENTERED_AT)
    start = since or datetime(1, 1, 1)
    parts = [pl.DataFrame(schema=ALERT_SCHEMA)]
    owners = leads.select(sc.LEAD_ID, pl.col(routing.NEXT_OWNER).alias("owner"), routing.TEAM, routing.ROUTE_RULE,
                          "fit_score", stages.FUNNEL_STAGE)
    for rule in settings.routing.alerts:
        if rule.kind == "activity":
            if not rule.activity_types:
                continue
            acts = frame(con, sql_text("alert_activities"),
                         {"since": start, "until": until(as_of), "types": list(rule.activity_types)})
            hit = acts.join(owners, on=sc.LEAD_ID, how="inner")
            if rule.high_fit_only:
                hit = hit.filter(pl.col("fit_score") >= settings.fit.high_threshold)
            hit = hit.group_by(sc.LEAD_ID).agg(
                pl.col("at").max(), pl.col("activity_type").sort().str.join(", ").alias("detail"),
                pl.col("owner").first(), pl.col(routing.TEAM).first(), pl.col(routing.ROUTE_RULE).first())
        else:
            sla = settings.aging.sla_days
            days = pl.col(stages.FUNNEL_STAGE).replace_strict(list(sla), list(sla.values()), default=None,
                                                              return_dtype=pl.Int64)
            entered = pl.col(stages.STAGE_ENTERED_AT).dt.date()
            age = (pl.lit(as_of) - entered).dt.total_days()
            first_late = entered + pl.duration(days=days + 1)
            hit = owners.join(current, on=sc.LEAD_ID, how="inner").filter(
                days.is_not_null() & (age > days) & (first_late >= start.date())
                & (pl.col(routing.TEAM).is_in(list(rule.teams)) if rule.teams else pl.lit(True))
                & (pl.col(stages.FUNNEL_STAGE).is_in(list(rule.stages)) if rule.stages else pl.lit(True)))
            hit = hit.with_columns(
                pl.col(stages.STAGE_ENTERED_AT).alias("at"),
                pl.format("{} for {} days (SLA {} days)", pl.col(stages.FUNNEL_STAGE), age, days).alias("detail"))
        parts.append(hit.select(pl.lit(rule.name).alias("alert"), sc.LEAD_ID, "owner", routing.TEAM, "at", "detail",
                                routing.ROUTE_RULE).cast(ALERT_SCHEMA))
    return pl.concat(parts).sort("owner", "at", sc.LEAD_ID, nulls_last=True)

