"""Routing: every lead's team, named owner, next action, due date and nurture track, from ordered
rules that are data (`[routing]` in funnel.toml), each lead carrying the rule that gave them.

Definitions (settings documented in funnel.toml):

- **Rule match**: a rule matches a lead when every list it sets holds the lead's value (funnel stage
  at D, quadrant, ICP, any of its tags, source (case-insensitive), lifecycle stage at D, territory,
  size band), `recycled` agrees with whether the current stage came from a recycle, and every `when`
  criterion matches. **First match wins**; a lead no rule matches gets "No active owner", no action
  and no rule (the rule lint lists it).
- **Territory**: the first `[[routing.territories]]` whose field holds one of its values.
- **Owner**: `team` → the team itself ("None" → "No active owner"); `round_robin` → the rule's
  owners (else the team's) in turn, leads taken in order of creation (then lead id), starting from
  the first owner listed, skipping an owner whose open leads reached their capacity; `territory` →
  the same rotation among the lead's territory owners of the rule's team (none, or no territory: all
  of the team's owners). When every owner in the rotation is full the lead goes to "<team> queue".
  Capacity counts every lead routed to the owner at D, across rules, in rule order.
- **Due date**: `due_business_days` business days after D (Saturdays, Sundays and `holidays`
  skipped; D itself rolls forward to a business day first); none when the rule sets no due days.
- **Track**: the first `[[routing.tracks]]` whose stages, quadrants and ICPs hold the lead's.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl

from funnel import schema as sc
from funnel.config import Criterion, RoutingRule, Settings
from funnel.model import stages
from funnel.model.criteria import matches

__all__ = [
    "FIELDS",
    "business_days_after",
    "owner_rotation",
    "recycle_reason_of",
    "routed_leads",
    "rule_hits",
]

# Columns this module adds.
TEAM = "team"
NEXT_OWNER = "next_owner"
NEXT_ACTION = "next_action"
NEXT_ACTION_DUE = "next_action_due"
ROUTE_RULE = "route_rule"
TERRITORY = "territory"
SIZE_BAND = "size_band"
TRACK = "track"
RECYCLE_REASON = "recycle_reason"
ROUTED_COLUMNS = (TEAM, NEXT_OWNER, NEXT_ACTION, NEXT_ACTION_DUE, ROUTE_RULE, TERRITORY, TRACK)

# Lead fields every routing reads besides the rules' own criteria.
FIELDS = (sc.CREATED_AT, sc.SOURCE, sc.COUNTRY, sc.EMPLOYEES)
NO_OWNER = "No active owner"
NO_TEAM = "None"
NO_RULE_ACTION = "No routing rule matches this lead"
NO_REASON = "no reason recorded"
QUEUE_SUFFIX = " queue"


def recycle_reason_of(is_side: pl.Expr, reason: pl.Expr) -> pl.Expr:
    """The recycle reason of a current-stage entry that came from a recycle (a main-ladder entry with a
    reason: a lost deal or a move back in the lifecycle), else null."""
    return pl.when(~is_side.fill_null(False) & reason.is_not_null()).then(reason)


def business_days_after(day: date, days: int, *, holidays: tuple[str, ...] = ()) -> date:
    """The business day `days` business days after `day` (rolled forward to a business day first)."""
    moved = np.busday_offset(np.datetime64(day, "D"), days, roll="forward",
                             holidays=[np.datetime64(h, "D") for h in holidays])
    return moved.astype("datetime64[D]").item()


def size_band_of(employees: pl.Expr, settings: Settings) -> pl.Expr:
    """The company-size band label of an employee count ('1–50', …, '5001+'); null when unknown."""
    bounds, labels = settings.segments.size_bands, settings.segments.size_band_labels()
    number = employees.cast(pl.Float64, strict=False)
    band = pl.lit(labels[-1])
    for bound, label in reversed(list(zip(bounds, labels[:-1]))):
        band = pl.when(number <= bound).then(pl.lit(label)).otherwise(band)
    return pl.when(number.is_not_null()).then(band)


def territory_of(leads: pl.DataFrame, settings: Settings) -> pl.Expr:
    """The first territory whose field holds the lead's value; null when none does."""
    result = pl.lit(None, dtype=pl.String)
    for territory in reversed(settings.routing.territories):
        criterion = Criterion(field=territory.field, values=territory.values)
        result = pl.when(matches(criterion, leads)).then(pl.lit(territory.name)).otherwise(result)
    return result


def _in(column: str, values: tuple[str, ...], *, fold_case: bool = False) -> pl.Expr:
    if not values:
        return pl.lit(True)
    if fold_case:
        return pl.col(column).str.strip_chars().str.to_lowercase().is_in([v.strip().lower() for v in values])
    return pl.col(column).is_in(list(values))


def rule_condition(rule: RoutingRule, leads: pl.DataFrame) -> pl.Expr:
    """True where the lead matches every condition the rule sets."""
    condition = (_in(stages.FUNNEL_STAGE, rule.stages) & _in("quadrant", rule.quadrants) & _in("icp", rule.icps)
                 & _in(sc.SOURCE, rule.sources, fold_case=True) & _in(sc.LIFECYCLE_STAGE, rule.lifecycle)
                 & _in(TERRITORY, rule.territories) & _in(SIZE_BAND, rule.size_bands))
    if rule.tags:
        condition = condition & pl.col("tags").list.eval(pl.element().is_in(list(rule.tags))).list.any()
    if rule.recycled is not None:
        recycled = pl.col(RECYCLE_REASON).is_not_null()
        condition = condition & (recycled if rule.recycled else ~recycled)
    for criterion in rule.when:
        condition = condition & matches(criterion, leads)
    return condition.fill_null(False)


def _prepared(leads: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """`leads` with territory, size band and (when absent) an empty recycle reason."""
    if RECYCLE_REASON not in leads.columns:
        leads = leads.with_columns(pl.lit(None, dtype=pl.String).alias(RECYCLE_REASON))
    return leads.with_columns(territory_of(leads, settings).alias(TERRITORY),
                              size_band_of(pl.col(sc.EMPLOYEES), settings).alias(SIZE_BAND))


def rule_hits(leads: pl.DataFrame, *, settings: Settings) -> pl.DataFrame:
    """One row per lead: lead_id, territory and one boolean column per rule (named after the rule,
    config order): whether the rule matches the lead, regardless of order."""
    prepared = _prepared(leads, settings)
    return prepared.select(sc.LEAD_ID, TERRITORY,
                           *[rule_condition(r, prepared).alias(r.name) for r in settings.routing.rules])


def owner_rotation(count: int, pool: list[str], room: dict[str, float]) -> list[str | None]:
    """The owners of `count` leads in turn from `pool` (order kept), skipping an owner with no room
    left; None for each lead once every owner is full. `room` (open leads each owner may still take,
    inf = no limit) is reduced by what is handed out."""
    if not pool or count == 0:
        return [None] * count
    if all(math.isinf(room[o]) for o in pool):
        return [pool[i % len(pool)] for i in range(count)]
    out: list[str | None] = []
    while len(out) < count:
        round_ = [o for o in pool if room[o] >= 1]
        if not round_:
            break
        for owner in round_[:count - len(out)]:
            out.append(owner)
            room[owner] -= 1
    return out + [None] * (count - len(out))


def _owner_frame(rule: RoutingRule, chosen: pl.DataFrame, settings: Settings,
                 room: dict[str, float]) -> pl.DataFrame:
    """_row and next_owner of the leads `rule` won."""
    routing = settings.routing
    if rule.assign == "team":
        owner = NO_OWNER if rule.team == NO_TEAM else rule.team
        return chosen.select("_row", pl.lit(owner).alias(NEXT_OWNER))
    team = [o.name for o in routing.owners if o.team == rule.team]
    queue = rule.team + QUEUE_SUFFIX
    ordered = chosen.sort(sc.CREATED_AT, sc.LEAD_ID, nulls_last=True)
    if rule.assign == "round_robin":
        groups = [(list(rule.owners) or team, ordered)]
    else:
        by_name = {t.name: [o for o in t.owners if o in team] for t in routing.territories}
        groups = [(by_name.get(key[0]) or team, part)
                  for key, part in ordered.partition_by(TERRITORY, as_dict=True, maintain_order=True).items()]
    parts = []
    for pool, part in groups:
        owners = owner_rotation(part.height, pool, room)
        parts.append(part.select("_row").with_columns(
            pl.Series(NEXT_OWNER, owners, dtype=pl.String).fill_null(queue)))
    return pl.concat(parts) if parts else chosen.select("_row", pl.lit(None, dtype=pl.String).alias(NEXT_OWNER))


def _track_of(settings: Settings) -> pl.Expr:
    result = pl.lit(None, dtype=pl.String)
    for track in reversed(settings.routing.tracks):
        hit = (_in(stages.FUNNEL_STAGE, track.stages) & _in("quadrant", track.quadrants)
               & _in("icp", track.icps)).fill_null(False)
        result = pl.when(hit).then(pl.lit(track.name)).otherwise(result)
    return result


def routed_leads(leads: pl.DataFrame, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """`leads` (lead_id, created_at, funnel_stage, lifecycle_stage, quadrant, icp, tags, source,
    country, employees, recycle_reason and the fields the rules' criteria test) with team,
    next_owner, next_action, next_action_due, route_rule, territory and track added: exactly one of
    each per lead (definitions in the module docstring)."""
    rules = settings.routing.rules
    prepared = _prepared(leads, settings).with_row_index("_row")
    winner = pl.lit(None, dtype=pl.Int32)
    for i in reversed(range(len(rules))):
        winner = pl.when(rule_condition(rules[i], prepared)).then(pl.lit(i, dtype=pl.Int32)).otherwise(winner)
    prepared = prepared.with_columns(winner.alias("_rule"))
    room = {o.name: float(o.capacity) if o.capacity else math.inf for o in settings.routing.owners}
    owner_parts, details = [], []
    for i, rule in enumerate(rules):
        chosen = prepared.filter(pl.col("_rule") == i)
        if chosen.is_empty():
            continue
        owner_parts.append(_owner_frame(rule, chosen, settings, room))
        due = (None if rule.due_business_days is None
               else business_days_after(as_of, rule.due_business_days, holidays=settings.routing.holidays))
        details.append({"_rule": i, TEAM: rule.team, "_action": rule.action, NEXT_ACTION_DUE: due,
                        ROUTE_RULE: rule.name})
    detail_schema = {"_rule": pl.Int32, TEAM: pl.String, "_action": pl.String, NEXT_ACTION_DUE: pl.Date,
                     ROUTE_RULE: pl.String}
    owners = (pl.concat(owner_parts) if owner_parts
              else pl.DataFrame(schema={"_row": pl.UInt32, NEXT_OWNER: pl.String}))
    reason = pl.col(RECYCLE_REASON).fill_null(NO_REASON)
    routed = (prepared.join(pl.DataFrame(details, schema=detail_schema), on="_rule", how="left")
              .join(owners, on="_row", how="left")
              .with_columns(pl.col(TEAM).fill_null(NO_TEAM), pl.col(NEXT_OWNER).fill_null(NO_OWNER),
                            pl.col("_action").str.replace_all("{reason}", reason, literal=True)
                            .fill_null(NO_RULE_ACTION).alias(NEXT_ACTION),
                            _track_of(settings).alias(TRACK))
              .sort("_row"))
    keep = [c for c in leads.columns if c not in ROUTED_COLUMNS]
    return routed.select(*keep, *ROUTED_COLUMNS)
