"""The funnel-stage engine: every lead's entries on the behavioural funnel ladder, with evidence.

The ladder and its evidence are settings (`[ladders]`, `[funnel_rules]`); the defaults are those of
DOMAIN.md. As of a day D only data dated at or before the end of D is read, and the engine is
causal: the entries up to any earlier day are exactly what that day's run gives, so a history
computed at D can be cut at any earlier month end.

How a lead moves (each rule is shown next to the numbers it changes):

- **Evidence** puts a lead at a stage: lead creation or an awareness activity → the first stage; an
  evidence rule ("3 page_view within 30 days") → its stage, entered at the activity that completes
  the rule (the 3rd one, at most 30 calendar days after the 1st of those 3); a deal for the lead →
  opportunity at the deal's creation, or a lifecycle entry into `opportunity_lifecycle`; a won deal
  → customer at its close, or a lifecycle entry into `customer_lifecycle`. Activity rules never
  prove opportunity or customer: those need human validation. A lead the lifecycle log never
  mentions, whose current lifecycle value is such a stage, is placed there at its creation
  (evidence_id "current value"), as the lifecycle ladder places it. Deals with an account but no
  lead are not evidence for any lead, and undated evidence is left out.
- **Skipped stages** are recorded as they happened: only evidenced entries are rows (a lead can go
  from awareness straight to intent); the conversion metrics apply the implicit/strict policy.
- **Regression**: the stage only rises, except through
  - *reactivation*: a lead at interest, consideration or intent (the stages between the first and
    opportunity) that has had no meaningful engagement (activities not in `not_meaningful`, and the
    sales milestones: creation, deals, lifecycle opportunity/customer entries, recycles) for more
    than `reactivation_after_days` (R) whole days enters reactivation, dated at the start of day
    E + R + 1 (E = the day of its last engagement). Engagement on day E + R + 1 itself means the lead
    was never cold at the end of any day, so nothing else is ever dated at a cold point's moment. It comes back at the stage its
    *fresh* evidence supports: evidence counted only from activities at or after going cold (an
    n-within-d rule needs all n of them after that point). A deal or lifecycle milestone brings it
    back as usual. Stalled opportunities are not reactivated (aging, not reactivation).
  - *recycle*: a lost deal (unless another deal of the lead is still open) or a lifecycle move from
    an opportunity stage back below it (sql → lead) puts a lead that is above `recycle_stage` (and
    not a customer) back at `recycle_stage`, with the lost reason or the stage log's reason. A
    recycle also restarts the reactivation clock.
- **Same moment**: a cold point (the start of a day) comes before anything dated at that moment;
  then activities and milestones, lower stages first (a lead created by a form fill enters awareness
  and interest at once); then a recycle (a deal created and lost at once ends recycled). Entries at
  one timestamp keep the order the engine applied them: `entry_order`.

Results do not depend on row order (every sort has a complete tie-break), and adding an older
activity never lowers the highest stage reached when every n-within-d rule's window is at most R
days (the defaults): fresh evidence after a cold point cannot straddle it then.

How it runs: DuckDB does the heavy work (funnel/sql/stages_recycles.sql, stages_milestones.sql, and
one sort of every lead's time line in stages_timeline.sql); the rules are then O(n) numpy passes
over that sorted stream (the n-th previous same-rule activity is an index offset: a plain LAG), and
the state machine takes one vectorised step per segment index (a lead's segments end at its cold
points and recycles), never a Python loop per lead. Speed and memory at 1M leads / 10M activities:
benchmarks/bench_stages.py.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from funnel import schema as sc
from funnel.config import EvidenceRule, Settings
from funnel.engine import is_spark
from funnel.errors import ConfigError
from funnel.filters import until
from funnel.model.materialised import stored_funnel_entrants, stored_funnel_history, stored_funnel_stages
from funnel.store.db import arrow_table, frame, quote_ident, registered
from funnel.store.queries import sql_text

__all__ = [
    "HISTORY_SCHEMA",
    "LeadBucket",
    "activity_types",
    "computed_funnel_history",
    "current_funnel_stage",
    "evidence_text",
    "evidence_texts",
    "funnel_entrants",
    "funnel_history",
    "funnel_stages_at",
    "next_stage_gap",
    "stage_explanation",
]


# Column names this module adds (schema.py names the canonical tables' columns).
STAGE_RANK = "stage_rank"
IS_SIDE = "is_side"
EVIDENCE_TYPE, EVIDENCE_ID, EVIDENCE_AT = sc.EVIDENCE_COLUMNS
ENTRY_ORDER = "entry_order"
FUNNEL_STAGE = "funnel_stage"
STAGE_ENTERED_AT = "stage_entered_at"

HISTORY_SCHEMA: dict[str, pl.DataType] = {
    sc.LEAD_ID: pl.String(),
    sc.STAGE: pl.String(),
    STAGE_RANK: pl.Int32(),
    sc.ENTERED_AT: pl.Datetime("us"),
    sc.REASON: pl.String(),
    IS_SIDE: pl.Boolean(),
    EVIDENCE_TYPE: pl.String(),
    EVIDENCE_ID: pl.String(),
    EVIDENCE_AT: pl.Datetime("us"),
    ENTRY_ORDER: pl.Int32(),  # 1, 2, … per lead: the order the entries apply in (ties in entered_at)
}

CREATED = "created"
DEAL = "deal"
LIFECYCLE_PREFIX = "lifecycle:"

# Engine-internal stage values (never in the output).
_NOT_ON_LADDER = -2
_COLD = -1
_ACTIVITY, _MILESTONE, _RECYCLE = 0, 1, 2  # kinds of time-line rows
_COLD_POINT = 3  # a boundary that is not a row
_BOUNDARY = 4  # an entry made by a boundary (cold point or recycle)




# ------------------------------------------------------------------------------------ the ladder


@dataclass(frozen=True)
class Ladder:
    """The funnel ladder as the engine uses it: names, ranks and the rules grouped for the scan."""

    stages: tuple[str, ...]
    side: tuple[str, ...]
    reactivation: str | None  # the side state a cold lead enters (None: no side state, no reactivation)
    recycle_rank: int
    reactivation_days: int
    single: tuple[tuple[int, tuple[str, ...]], ...]  # (stage rank, activity types) of the one-activity rules
    multi: tuple[tuple[int, int, EvidenceRule], ...]  # (rule index, stage rank, rule) of the n-activity rules
    rules: tuple[EvidenceRule, ...]

    @property
    def opportunity_rank(self) -> int:
        return len(self.stages) - 2

    @property
    def customer_rank(self) -> int:
        return len(self.stages) - 1

    @property
    def warm_ranks(self) -> tuple[int, ...]:
        """The stages a lead can go cold from: after the first, before opportunity."""
        return tuple(range(1, self.opportunity_rank))

    @property
    def reactivation_rank(self) -> int:
        return len(self.stages) + (self.side.index(self.reactivation) if self.reactivation else 0)

    def name(self, rank: int) -> str:
        return (self.stages + self.side)[rank]


def ladder_of(settings: Settings) -> Ladder:
    """The engine's view of the settings; ConfigError for a rule that would skip human validation."""
    stages, side = settings.ladders.funnel, settings.ladders.funnel_side
    rank = {s: i for i, s in enumerate(stages)}
    opportunity = len(stages) - 2
    single: dict[int, list[str]] = {}
    multi = []
    for index, rule in enumerate(settings.funnel_rules.evidence):
        r = rank[rule.stage]
        if r >= opportunity:
            raise ConfigError(f"evidence rule {index + 1} puts leads at {rule.stage} from activities alone",
                              file=settings.source, value=rule.stage,
                              hint="Opportunity and customer need human validation: a deal or a lifecycle stage "
                                   "(funnel_rules.opportunity_lifecycle, customer_lifecycle)")
        if rule.min_count == 1:
            types = single.setdefault(r, [])
            types.extend(t for t in rule.activity_types if t not in types)
        else:
            multi.append((index, r, rule))
    return Ladder(stages=stages, side=side, reactivation=side[0] if side else None,
                  recycle_rank=rank[settings.funnel_rules.recycle_stage],
                  reactivation_days=settings.funnel_rules.reactivation_after_days,
                  single=tuple((r, tuple(types)) for r, types in sorted(single.items())),
                  multi=tuple(multi), rules=settings.funnel_rules.evidence)


# ---------------------------------------------------------------------------------------- SQL


@dataclass(frozen=True)
class LeadBucket:
    """The leads whose id hashes to bucket `index` of `count`: the engine works lead by lead, so running it
    bucket by bucket gives the same entries with a share of the memory (the lead model's build)."""

    index: int
    count: int
    activity_types: tuple[str, ...] | None = None  # the run's activity types, when the caller read them once


Leads = Sequence[str] | LeadBucket | None  # which leads the engine runs on: given ids, a bucket, or all


def _lead_filter(leads: Leads) -> str:
    if leads is None:
        return ""
    if isinstance(leads, LeadBucket):
        return f" and hash({quote_ident(sc.LEAD_ID)}) % $bucket_count = $bucket_index"
    return f" and list_contains($lead_ids, {quote_ident(sc.LEAD_ID)})"


_RECYCLE_SCHEMA = {sc.LEAD_ID: pl.String, "t": pl.Datetime("us"), sc.REASON: pl.String,
                   EVIDENCE_TYPE: pl.String, EVIDENCE_ID: pl.String}
_MILESTONE_SCHEMA = {sc.LEAD_ID: pl.String, "t": pl.Datetime("us"), STAGE_RANK: pl.Int32, EVIDENCE_TYPE: pl.String,
                     EVIDENCE_ID: pl.String}
_DAY_US = 86_400_000_000
_ENTRY_SCHEMA = {sc.LEAD_ID: pl.String, STAGE_RANK: pl.Int32, "at": pl.Datetime("us"), sc.REASON: pl.String,
                 EVIDENCE_TYPE: pl.String, EVIDENCE_ID: pl.String, EVIDENCE_AT: pl.Datetime("us"),
                 "rule_index": pl.Int32, "window_start": pl.Datetime("us")}


def _typed(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return df.select([pl.col(c).cast(t) for c, t in schema.items()])


def _params(as_of: date, lead_ids: Leads, **values: object) -> dict[str, object]:
    params: dict[str, object] = {"until": until(as_of), **values}
    if isinstance(lead_ids, LeadBucket):
        params |= {"bucket_count": lead_ids.count, "bucket_index": lead_ids.index}
    elif lead_ids is not None:
        params["lead_ids"] = list(lead_ids)
    return params


def _recycle_params(settings: Settings, as_of: date, lead_ids: Leads) -> dict[str, object]:
    lifecycle = settings.ladders.lifecycle
    opportunity = settings.funnel_rules.opportunity_lifecycle
    positions = [lifecycle.index(s) + 1 for s in opportunity if s in lifecycle]
    return _params(as_of, lead_ids, lifecycle=list(lifecycle), opportunity_lifecycle=list(opportunity),
                   first_opportunity_position=min(positions) if positions else 0)


def _recycles(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
              lead_ids: Leads) -> pl.DataFrame:
    result = frame(con, sql_text("stages_recycles", fragments={"lead_filter": _lead_filter(lead_ids)}),
                   _recycle_params(settings, as_of, lead_ids))
    return _typed(result, _RECYCLE_SCHEMA)


def _milestone_params(settings: Settings, ladder: Ladder, as_of: date,
                      lead_ids: Leads) -> dict[str, object]:
    return _params(as_of, lead_ids, first_rank=0, opportunity_rank=ladder.opportunity_rank,
                   customer_rank=ladder.customer_rank,
                   opportunity_lifecycle=list(settings.funnel_rules.opportunity_lifecycle),
                   customer_lifecycle=list(settings.funnel_rules.customer_lifecycle))


def _milestones(con: duckdb.DuckDBPyConnection, settings: Settings, ladder: Ladder, as_of: date,
                lead_ids: Leads) -> pl.DataFrame:
    result = frame(con, sql_text("stages_milestones", fragments={"lead_filter": _lead_filter(lead_ids)}),
                   _milestone_params(settings, ladder, as_of, lead_ids))
    return _typed(result, _MILESTONE_SCHEMA)


def activity_types(con: duckdb.DuckDBPyConnection, as_of: date, lead_ids: Leads = None) -> list[str]:
    """The activity types present at D, in a fixed order (the codes of the time line): among the given leads,
    or among all leads for a bucket (codes never change the entries): the bucket's own list when it carries one
    (a build of many buckets reads it once), else one scan without hashing every row."""
    if isinstance(lead_ids, LeadBucket):
        if lead_ids.activity_types is not None:
            return list(lead_ids.activity_types)
        lead_ids = None
    params = _params(as_of, lead_ids)
    result = frame(con, sql_text("activity_types", fragments={"lead_filter": _lead_filter(lead_ids)}), params)
    return sorted(v for v in result.get_column("activity_type").to_list() if v is not None)


_relation_names = itertools.count()


def _timeline(con: duckdb.DuckDBPyConnection, as_of: date, types: list[str], ignored: list[str],
              milestones: pl.DataFrame, recycles: pl.DataFrame, lead_ids: Leads) -> pa.Table:
    """The sorted time line as Arrow (its strings stay Arrow: only the few that end up in entries
    are ever converted)."""
    tables = {"milestones": milestones.with_row_index("ref").to_arrow(),
              "recycles": recycles.with_row_index("ref").to_arrow()}
    with registered(con, tables) as relations:
        return arrow_table(con, sql_text("stages_timeline", fragments={"lead_filter": _lead_filter(lead_ids)}, **relations),
                           _params(as_of, lead_ids, types=types, ignored=ignored))


# ------------------------------------------------------------------------------ state machine


def _within_lead(values: np.ndarray, lead: np.ndarray, shift: int) -> np.ndarray:
    """Index of the row `shift` rows back among the given rows of the same lead (-1 when none)."""
    back = np.arange(len(values)) - shift
    ok = back >= 0
    ok[ok] = lead[back[ok]] == lead[np.flatnonzero(ok)]
    return np.where(ok, back, -1)


@dataclass
class _Timeline:
    """The sorted stream as numpy arrays, with the derived per-row facts the rules need."""

    lead: np.ndarray  # dense lead number, nondecreasing
    t: np.ndarray  # µs since the epoch
    kind: np.ndarray
    code: np.ndarray  # activities: type code (1-based); milestones: stage rank
    activity_code: np.ndarray  # the type code, 0 for other rows
    segment: np.ndarray  # how many of the lead's cold points and recycles precede the row
    cold_rows: np.ndarray  # rows after which a cold point falls
    cold_at: np.ndarray  # when (µs)
    cold_segment: np.ndarray  # the segment index each cold point opens
    recycle_rows: np.ndarray
    recycle_segment: np.ndarray


def _numbers(column: pa.ChunkedArray, dtype: pa.DataType) -> np.ndarray:
    return column.combine_chunks().cast(dtype).to_numpy(zero_copy_only=False)


def _new_values(column: pa.ChunkedArray) -> np.ndarray:
    """True where a row's value differs from the previous row's (the first row: True), chunk by chunk
    (the strings are never copied into one array)."""
    out = np.ones(len(column), dtype=bool)
    position, previous = 0, None
    for chunk in column.chunks:
        size = len(chunk)
        if size == 0:
            continue
        if size > 1:
            out[position + 1:position + size] = pc.not_equal(chunk.slice(1), chunk.slice(0, size - 1)).to_numpy(
                zero_copy_only=False)
        if previous is not None:
            out[position] = chunk[0].as_py() != previous
        previous = chunk[size - 1].as_py()
        position += size
    return out


def _walk(stream: pa.Table, *, types: list[str], settings: Settings, ladder: Ladder, as_of: date) -> _Timeline:
    n = stream.num_rows
    new_lead = _new_values(stream.column(sc.LEAD_ID))
    starts = np.flatnonzero(new_lead)
    counts = np.diff(np.append(starts, n))
    lead = np.repeat(np.arange(len(starts), dtype=np.int32), counts)
    t = _numbers(stream.column("t"), pa.int64())
    kind = _numbers(stream.column("kind"), pa.int8())
    code = _numbers(stream.column("code"), pa.int16())
    not_meaningful = set(settings.funnel_rules.not_meaningful)
    meaningful_code = np.array([True] + [ty not in not_meaningful for ty in types])
    is_recycle = kind == _RECYCLE
    activity_code = np.where(kind == _ACTIVITY, code, 0).astype(np.int16)
    engaged = is_recycle | (kind == _MILESTONE) | ((kind == _ACTIVITY) & meaningful_code[activity_code])

    # Cold points: after an engagement on day E with the next one more than R + 1 days later (or none,
    # and D - E > R), at the start of day E + R + 1.
    day = t // _DAY_US
    eng = np.flatnonzero(engaged)
    after = np.full(len(eng), (as_of - date(1970, 1, 1)).days + 1, dtype=np.int64)
    if len(eng) > 1:
        same = lead[eng[1:]] == lead[eng[:-1]]
        after[:-1] = np.where(same, day[eng[1:]], after[:-1])
    cold = (after - day[eng]) > ladder.reactivation_days + 1
    if ladder.reactivation is None:
        cold[:] = False
    cold_rows = eng[cold]
    cold_at = (day[cold_rows] + ladder.reactivation_days + 1) * _DAY_US

    # Segments: how many of its lead's boundaries precede each row. A cold point takes effect at the
    # first row at or after its moment (rows between the engagement and that moment are not
    # engagement); a recycle for the rows after it.
    cold_end = starts[lead[cold_rows]] + counts[lead[cold_rows]]
    position = cold_rows + 1
    moving = np.flatnonzero(position < cold_end)
    moving = moving[t[position[moving]] < cold_at[moving]]
    while len(moving):
        position[moving] += 1
        moving = moving[position[moving] < cold_end[moving]]
        moving = moving[t[position[moving]] < cold_at[moving]]
    effect = np.zeros(n, dtype=np.int32)
    inside = position < cold_end
    effect[position[inside]] += 1
    recycle_rows = np.flatnonzero(is_recycle)
    recycle_next = recycle_rows + 1
    inside = recycle_next < starts[lead[recycle_rows]] + counts[lead[recycle_rows]]
    np.add.at(effect, recycle_next[inside], 1)
    segment = np.cumsum(effect, dtype=np.int32)
    segment -= np.repeat(segment[starts], counts)
    return _Timeline(lead=lead, t=t, kind=kind, code=code, activity_code=activity_code, segment=segment,
                     cold_rows=cold_rows, cold_at=cold_at, cold_segment=segment[cold_rows] + is_recycle[cold_rows] + 1,
                     recycle_rows=recycle_rows, recycle_segment=segment[recycle_rows] + 1)


def _candidates(line: _Timeline, *, types: list[str], ladder: Ladder) -> dict[str, np.ndarray]:
    """Evidence that can move a lead: milestones, the first activity of each one-activity stage per
    segment, and n-within-d completions (the first per segment and start segment)."""
    code_of = {ty: i + 1 for i, ty in enumerate(types)}
    rows, ranks, starts, rules = [], [], [], []
    milestone = np.flatnonzero(line.kind == _MILESTONE)
    rows.append(milestone)
    ranks.append(line.code[milestone])
    starts.append(milestone)
    rules.append(np.full(len(milestone), -1))
    for rank, stage_types in ladder.single:
        member = np.zeros(len(types) + 1, dtype=bool)
        member[[code_of[ty] for ty in stage_types if ty in code_of]] = True
        idx = np.flatnonzero(member[line.activity_code])
        first = np.ones(len(idx), dtype=bool)
        first[1:] = (line.lead[idx[1:]] != line.lead[idx[:-1]]) | (line.segment[idx[1:]] != line.segment[idx[:-1]])
        idx = idx[first]
        rows.append(idx)
        ranks.append(np.full(len(idx), rank))
        starts.append(idx)
        rules.append(np.full(len(idx), -1))
    for index, rank, rule in ladder.multi:
        member = np.zeros(len(types) + 1, dtype=bool)
        member[[code_of[ty] for ty in rule.activity_types if ty in code_of]] = True
        idx = np.flatnonzero(member[line.activity_code])
        back = _within_lead(idx, line.lead[idx], rule.min_count - 1)
        ok = back >= 0
        start = np.where(ok, idx[np.clip(back, 0, None)], -1)
        if rule.within_days:
            ok &= (line.t[idx] // _DAY_US - line.t[np.clip(start, 0, None)] // _DAY_US) <= rule.within_days
        idx, start = idx[ok], start[ok]
        start_segment = line.segment[start]
        first = np.ones(len(idx), dtype=bool)
        first[1:] = ((line.lead[idx[1:]] != line.lead[idx[:-1]]) | (line.segment[idx[1:]] != line.segment[idx[:-1]])
                     | (start_segment[1:] != start_segment[:-1]))
        rows.append(idx[first])
        ranks.append(np.full(int(first.sum()), rank))
        starts.append(start[first])
        rules.append(np.full(int(first.sum()), index))
    return {"row": np.concatenate(rows), "rank": np.concatenate(ranks).astype(np.int64),
            "start": np.concatenate(starts), "rule": np.concatenate(rules)}


def _run_ladder(line: _Timeline, cand: dict[str, np.ndarray], ladder: Ladder) -> dict[str, np.ndarray]:
    """The state machine: per segment index, every lead's boundary (cold point or recycle) first, then
    its candidates in time order, each emitted when it raises the stage. Returns the entries in the
    order they were applied: source (_ACTIVITY for evidence, _COLD_POINT, _RECYCLE), row (the stream
    row of the evidence; for a cold point its last engagement), rank, at (µs), start (the window
    start's row), rule (-1: none)."""
    n_leads = int(line.lead[-1]) + 1 if len(line.lead) else 0
    row, rank = cand["row"], cand["rank"]
    # time order within a segment: the lead's moment (stream order), then rank, then stream order
    n = len(line.t)
    new_moment = np.ones(n, dtype=bool)
    new_moment[1:] = (line.lead[1:] != line.lead[:-1]) | (line.t[1:] != line.t[:-1])
    moment_start = np.maximum.accumulate(np.where(new_moment, np.arange(n, dtype=np.int64), 0))
    del new_moment
    bits = max(n.bit_length(), 1)
    order = np.argsort((moment_start[row] << (bits + 5)) | (rank.astype(np.int64) << bits) | row, kind="stable")
    del moment_start
    order = order[np.argsort(line.segment[row[order]], kind="stable")]
    row, rank = row[order], rank[order]
    segment, start_segment = line.segment[row], line.segment[cand["start"][order]]
    lead = line.lead[row]
    cand_bounds = np.searchsorted(segment, np.arange(int(segment.max(initial=0)) + 2))

    b_rows = np.concatenate([line.cold_rows, line.recycle_rows])
    b_kind = np.concatenate([np.full(len(line.cold_rows), _COLD_POINT), np.full(len(line.recycle_rows), _RECYCLE)])
    b_segment = np.concatenate([line.cold_segment, line.recycle_segment])
    b_at = np.concatenate([line.cold_at, line.t[line.recycle_rows]])
    b_order = np.argsort(b_segment, kind="stable")
    b_rows, b_kind, b_segment, b_at = b_rows[b_order], b_kind[b_order], b_segment[b_order], b_at[b_order]
    b_lead = line.lead[b_rows]
    bound_bounds = np.searchsorted(b_segment, np.arange(int(b_segment.max(initial=0)) + 2))

    stage = np.full(n_leads, _NOT_ON_LADDER, dtype=np.int64)
    fresh_from = np.zeros(n_leads, dtype=np.int64)
    warm = np.zeros(ladder.customer_rank + 1, dtype=bool)
    warm[list(ladder.warm_ranks)] = True
    big = ladder.customer_rank + 4
    emitted: list[tuple[int, np.ndarray, np.ndarray]] = []  # (_ACTIVITY or _BOUNDARY, index, rank)
    last = max(len(cand_bounds), len(bound_bounds)) - 2
    for k in range(last + 1):
        if k < len(bound_bounds) - 1 and bound_bounds[k] < bound_bounds[k + 1]:
            sl = slice(bound_bounds[k], bound_bounds[k + 1])
            keys, kinds = b_lead[sl], b_kind[sl]
            now = stage[keys]
            cold = (kinds == _COLD_POINT) & (now >= 0) & warm[np.clip(now, 0, ladder.customer_rank)]
            recycled = (kinds == _RECYCLE) & (now > ladder.recycle_rank) & (now < ladder.customer_rank)
            hit = cold | recycled
            if hit.any():
                new_rank = np.where(cold, ladder.reactivation_rank, ladder.recycle_rank)
                emitted.append((_BOUNDARY, np.arange(sl.start, sl.stop)[hit], new_rank[hit]))
                stage[keys[cold]] = _COLD
                fresh_from[keys[cold]] = k
                stage[keys[recycled]] = ladder.recycle_rank
        if k >= len(cand_bounds) - 1 or cand_bounds[k] == cand_bounds[k + 1]:
            continue
        lo, hi = cand_bounds[k], cand_bounds[k + 1]
        keys, ranks = lead[lo:hi].astype(np.int64), rank[lo:hi]
        fresh = np.flatnonzero(start_segment[lo:hi] >= fresh_from[keys])
        keys, ranks = keys[fresh], ranks[fresh]
        running = np.maximum.accumulate(keys * big + ranks)
        best_before = np.full(len(keys), _NOT_ON_LADDER, dtype=np.int64)
        if len(keys) > 1:
            same = keys[1:] == keys[:-1]
            best_before[1:] = np.where(same, running[:-1] - keys[1:] * big, _NOT_ON_LADDER)
        emit = ranks > np.maximum(best_before, stage[keys])
        if emit.any():
            chosen = lo + fresh[emit]
            emitted.append((_ACTIVITY, chosen, ranks[emit]))
            # a lead's emitted ranks rise, so its last one is its new stage
            keys, ranks = keys[emit], ranks[emit]
            last_of_lead = np.ones(len(keys), dtype=bool)
            last_of_lead[:-1] = keys[1:] != keys[:-1]
            stage[keys[last_of_lead]] = ranks[last_of_lead]
    starts, rules = cand["start"][order], cand["rule"][order]
    parts = {"source": [], "row": [], "rank": [], "at": [], "start": [], "rule": []}
    for source, index, ranks in emitted:
        if source == _ACTIVITY:
            rows = row[index]
            parts["source"].append(np.full(len(index), _ACTIVITY, dtype=np.int8))
            parts["at"].append(line.t[rows])
            parts["start"].append(starts[index])
            parts["rule"].append(rules[index])
        else:
            rows = b_rows[index]
            parts["source"].append(np.where(b_kind[index] == _COLD_POINT, _COLD_POINT, _RECYCLE).astype(np.int8))
            parts["at"].append(b_at[index])
            parts["start"].append(rows)
            parts["rule"].append(np.full(len(index), -1))
        parts["row"].append(rows)
        parts["rank"].append(ranks)
    return {name: np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64) for name, chunks in parts.items()}


def _datetimes(us: np.ndarray, name: str) -> pl.Series:
    return pl.Series(name, us, dtype=pl.Int64).cast(pl.Datetime("us"))


def _engine(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
            lead_ids: Leads = None) -> pl.DataFrame:
    """The entries with the engine's extra columns (rule_index, window_start) for explanations."""
    ladder = ladder_of(settings)
    types = activity_types(con, as_of, lead_ids)
    named = {t for rule in ladder.rules for t in rule.activity_types}
    ignored = [t for t in settings.funnel_rules.not_meaningful if t not in named]
    if is_spark(con):
        return _engine_in_groups(con, settings=settings, ladder=ladder, as_of=as_of, types=types,
                                 ignored=ignored, lead_ids=lead_ids)
    recycles = _recycles(con, settings, as_of, lead_ids)
    milestones = _milestones(con, settings, ladder, as_of, lead_ids)
    stream = _timeline(con, as_of, types, ignored, milestones, recycles, lead_ids)
    return _entries(stream, milestones, recycles, types=types, settings=settings, ladder=ladder, as_of=as_of)


def _entries(stream: pa.Table, milestones: pl.DataFrame, recycles: pl.DataFrame, *, types: list[str],
             settings: Settings, ladder: Ladder, as_of: date) -> pl.DataFrame:
    """The entries of the leads in a sorted time line (stages_timeline.sql's rows; `ref` pointing
    into `milestones` / `recycles`): the numpy passes, lead by lead, with no store access."""
    if stream.num_rows == 0:
        return _named(pl.DataFrame(schema={**_ENTRY_SCHEMA, ENTRY_ORDER: pl.Int32}), ladder)
    line = _walk(stream, types=types, settings=settings, ladder=ladder, as_of=as_of)
    entry = _run_ladder(line, _candidates(line, types=types, ladder=ladder), ladder)
    if not len(entry["row"]):
        return _named(pl.DataFrame(schema={**_ENTRY_SCHEMA, ENTRY_ORDER: pl.Int32}), ladder)

    # Entries were applied segment by segment; a stable sort by lead gives each lead's own order.
    order = np.argsort(line.lead[entry["row"]], kind="stable")
    entry = {name: values[order] for name, values in entry.items()}
    rows, source = entry["row"], entry["source"]
    lead_of = line.lead[rows]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = lead_of[1:] != lead_of[:-1]
    position = np.arange(len(rows))
    entry_order = position - np.maximum.accumulate(np.where(first, position, 0)) + 1

    take = pa.array(rows, type=pa.int64())
    kinds = line.kind[rows]
    refs = stream.column("ref").take(take).fill_null(0).to_numpy(zero_copy_only=False)

    # One small list of evidence-type names; each entry points into it.
    names = ["(unknown)", *types]
    other = sorted(set(milestones.get_column(EVIDENCE_TYPE).drop_nulls().unique().to_list())
                   | set(recycles.get_column(EVIDENCE_TYPE).drop_nulls().unique().to_list()))
    names += other
    extra_code = {name: len(types) + 1 + i for i, name in enumerate(other)}

    def codes(table: pl.DataFrame) -> np.ndarray:
        if table.is_empty():
            return np.zeros(1, dtype=np.int64)
        return table.get_column(EVIDENCE_TYPE).replace_strict(extra_code, default=0, return_dtype=pl.Int64).to_numpy()

    milestone_codes, recycle_codes = codes(milestones), codes(recycles)
    type_code = np.where(kinds == _ACTIVITY, line.activity_code[rows],
                         np.where(kinds == _MILESTONE, milestone_codes[np.clip(refs, 0, len(milestone_codes) - 1)],
                                  recycle_codes[np.clip(refs, 0, len(recycle_codes) - 1)]))
    reason = pl.Series(sc.REASON, [None] * len(rows), dtype=pl.String)
    cold = np.flatnonzero(source == _COLD_POINT)
    if len(cold):
        last = pl.Series(line.t[rows[cold]], dtype=pl.Int64).cast(pl.Datetime("us")).dt.date().cast(pl.String)
        text = f"no meaningful engagement for more than {ladder.reactivation_days} days (last on "
        reason = reason.scatter(cold, (text + last + ")"))
    recycled = np.flatnonzero(source == _RECYCLE)
    if len(recycled):
        reason = reason.scatter(recycled, recycles.get_column(sc.REASON).gather(refs[recycled]))
    is_evidence = source == _ACTIVITY
    result = pl.DataFrame({
        sc.LEAD_ID: pl.Series(sc.LEAD_ID, stream.column(sc.LEAD_ID).take(take)),
        STAGE_RANK: pl.Series(entry["rank"], dtype=pl.Int32),
        "at": _datetimes(entry["at"], "at"),
        sc.REASON: reason,
        EVIDENCE_TYPE: pl.Series(names, dtype=pl.String).gather(pl.Series(type_code, dtype=pl.Int64)),
        EVIDENCE_ID: pl.Series(EVIDENCE_ID, stream.column(EVIDENCE_ID).take(take)),
        EVIDENCE_AT: _datetimes(line.t[rows], EVIDENCE_AT),
        "rule_index": pl.Series(np.where(entry["rule"] >= 0, entry["rule"], 0), dtype=pl.Int32),
        "rule_set": pl.Series(entry["rule"] >= 0),
        "window_start": _datetimes(line.t[entry["start"]], "window_start"),
        "evidence_row": pl.Series(is_evidence),
        ENTRY_ORDER: pl.Series(entry_order, dtype=pl.Int32),
    })
    result = result.with_columns(
        pl.when(pl.col("rule_set")).then(pl.col("rule_index")).alias("rule_index"),
        pl.when(pl.col("evidence_row")).then(pl.col("window_start")).alias("window_start"),
    )
    return _named(result, ladder)


# The engine's entries as Arrow (what a group of leads returns from a Spark task).
ENTRY_ARROW = pa.schema([
    (sc.LEAD_ID, pa.string()), (sc.STAGE, pa.string()), (STAGE_RANK, pa.int32()), (sc.ENTERED_AT, pa.timestamp("us")),
    (sc.REASON, pa.string()), (IS_SIDE, pa.bool_()), (EVIDENCE_TYPE, pa.string()), (EVIDENCE_ID, pa.string()),
    (EVIDENCE_AT, pa.timestamp("us")), (ENTRY_ORDER, pa.int32()), ("rule_index", pa.int32()),
    ("window_start", pa.timestamp("us")),
])
# Lead groups per run on an engine that computes per group (Spark); each group is one task's input: one group per
# LEADS_PER_GROUP leads, at most LEAD_GROUPS (`lead_groups`).
LEAD_GROUPS = 64
LEADS_PER_GROUP = 10_000
# Each milestone's / recycle's number within its lead (the `ref` the time line and the markers share).
_REF = "SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY {order}) - 1 AS ref FROM ({sql})"
_MILESTONE_ORDER = "t, stage_rank, evidence_type, evidence_id"
_RECYCLE_ORDER = "t, evidence_type, evidence_id, reason"


def lead_groups(con) -> int:
    """How many groups a per-group step of an engine (`con`: one that answers `rows_in`) hashes the leads into:
    `groups_for` its leads. A group costs a fixed call inside the task whatever its size (about 65 ms on a local
    session), so 64 groups of the sample's 3,000 leads took 5.5 s where one took 1.3 s; from 640,000 leads on every
    group has 10,000 or more. No figure depends on it: each group's result is summed or concatenated."""
    return groups_for(con.rows_in(sc.LEADS.name))


def groups_for(leads: int) -> int:
    """One group per LEADS_PER_GROUP of `leads`, at least one and at most LEAD_GROUPS."""
    return max(1, min(LEAD_GROUPS, -(-leads // LEADS_PER_GROUP)))


def _engine_in_groups(con, *, settings: Settings, ladder: Ladder, as_of: date, types: list[str],
                      ignored: list[str], lead_ids: Leads) -> pl.DataFrame:
    """The same entries with the time line built, split by lead and walked inside the engine's
    tasks (`per_group`): each task gets its leads' time-line rows and their milestones and
    recycles, and runs `_entries` on them; only the entries come back."""
    serial = next(_relation_names)
    relations = {"milestones": f"_funnel_milestones_{serial}", "recycles": f"_funnel_recycles_{serial}"}
    lead_filter = {"lead_filter": _lead_filter(lead_ids)}
    con.view(relations["milestones"], _REF.format(order=_MILESTONE_ORDER, sql=sql_text(
        "stages_milestones", fragments=lead_filter)), _milestone_params(settings, ladder, as_of, lead_ids))
    con.view(relations["recycles"], _REF.format(order=_RECYCLE_ORDER, sql=sql_text(
        "stages_recycles", fragments=lead_filter)), _recycle_params(settings, as_of, lead_ids))
    try:
        stream = (sql_text("stages_timeline", fragments=lead_filter, **relations),
                  _params(as_of, lead_ids, types=types, ignored=ignored))
        markers = (sql_text("stages_markers", **relations), {})
        walk = functools.partial(_group_entries, types=types, settings=settings, ladder=ladder, as_of=as_of)
        entries = con.per_group([stream, markers], key=sc.LEAD_ID, groups=lead_groups(con), function=walk,
                                schema=ENTRY_ARROW)
    finally:
        for name in relations.values():
            con.unregister(name)
    return pl.from_arrow(entries).sort(sc.LEAD_ID, ENTRY_ORDER)


def _group_entries(stream: pa.Table, markers: pa.Table, *, types: list[str], settings: Settings, ladder: Ladder,
                   as_of: date) -> pa.Table:
    """`_entries` for one group of leads: the group's time line sorted as stages_timeline.sql sorts
    it, its refs renumbered into the group's own milestones and recycles."""
    marks = pl.from_arrow(markers)
    own = {kind: marks.filter(pl.col("kind") == kind).sort(sc.LEAD_ID, "ref").with_row_index("local")
           for kind in (_MILESTONE, _RECYCLE)}
    keys = pl.concat([part.select(pl.col("kind").cast(pl.Int8), sc.LEAD_ID, pl.col("ref").cast(pl.Int64),
                                  pl.col("local").cast(pl.Int64), pl.col(EVIDENCE_TYPE).alias("tie"))
                      for part in own.values()])
    line = (pl.from_arrow(stream).with_columns(pl.col("kind").cast(pl.Int8), pl.col("ref").cast(pl.Int64))
            .join(keys, on=["kind", sc.LEAD_ID, "ref"], how="left")
            .sort([sc.LEAD_ID, "t", "kind", "code", "tie", EVIDENCE_ID, "ref"], nulls_last=True)
            .with_columns(pl.col("local").alias("ref")).drop("local", "tie"))
    milestones = own[_MILESTONE].with_columns(pl.col("stage_rank").cast(pl.Int32))
    entries = _entries(line.to_arrow(), _typed(milestones, _MILESTONE_SCHEMA), _typed(own[_RECYCLE], _RECYCLE_SCHEMA),
                       types=types, settings=settings, ladder=ladder, as_of=as_of)
    return entries.to_arrow()


def _named(entries: pl.DataFrame, ladder: Ladder) -> pl.DataFrame:
    names = list(ladder.stages + ladder.side)
    return entries.select(
        sc.LEAD_ID,
        pl.col(STAGE_RANK).replace_strict(list(range(len(names))), names, return_dtype=pl.String).alias(sc.STAGE),
        STAGE_RANK, pl.col("at").alias(sc.ENTERED_AT), sc.REASON,
        (pl.col(STAGE_RANK) >= len(ladder.stages)).alias(IS_SIDE), EVIDENCE_TYPE, EVIDENCE_ID, EVIDENCE_AT,
        ENTRY_ORDER, "rule_index", "window_start",
    )


# --------------------------------------------------------------------------------- public API


def funnel_history(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                   lead_ids: Leads = None, evidence: bool = True) -> pl.DataFrame:
    """One row per funnel-stage entry at or before the end of day `as_of` (ordered by lead and
    entry_order): lead_id, stage, stage_rank, entered_at, reason, is_side, evidence_type,
    evidence_id, evidence_at, entry_order. `lead_ids` limits the leads (an explanation page);
    `evidence=False` leaves out the three evidence columns (the metrics never read them).

    Read from the stored lead model when it holds a run for these settings (funnel.model.materialised),
    else computed from the tables: both give the same rows."""
    history = stored_funnel_history(con, settings=settings, as_of=as_of, lead_ids=lead_ids, evidence=evidence)
    if history is None:
        history = computed_funnel_history(con, settings=settings, as_of=as_of, lead_ids=lead_ids)
    return history.select([pl.col(c).cast(t) for c, t in HISTORY_SCHEMA.items()
                           if evidence or c not in sc.EVIDENCE_COLUMNS])


def computed_funnel_history(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                            lead_ids: Leads = None) -> pl.DataFrame:
    """`funnel_history` computed from the tables by the engine (what the lead model stores)."""
    history = _engine(con, settings=settings, as_of=as_of, lead_ids=lead_ids)
    return history.select([pl.col(c).cast(t) for c, t in HISTORY_SCHEMA.items()])


def current_funnel_stage(history: pl.DataFrame, *, as_of: date, settings: Settings) -> pl.DataFrame:
    """One row per lead with an entry at or before the end of day `as_of`: lead_id, funnel_stage,
    stage_rank, is_side, stage_entered_at, reason, evidence_type, evidence_id, evidence_at.

    The latest entry wins; entries at the same timestamp apply in `entry_order`. `history` must come
    from `funnel_history` run as of `as_of` or later (a later run cut at `as_of` is the same)."""
    del settings  # the history already carries names and ranks; kept for a uniform signature
    order = [sc.ENTERED_AT, ENTRY_ORDER] if ENTRY_ORDER in history.columns else [sc.ENTERED_AT, STAGE_RANK]
    latest = (history.filter(pl.col(sc.ENTERED_AT) < until(as_of))
              .sort([sc.LEAD_ID, *order])
              .group_by(sc.LEAD_ID, maintain_order=True).last())
    return latest.select(
        sc.LEAD_ID, pl.col(sc.STAGE).alias(FUNNEL_STAGE), STAGE_RANK, IS_SIDE,
        pl.col(sc.ENTERED_AT).alias(STAGE_ENTERED_AT), sc.REASON, EVIDENCE_TYPE, EVIDENCE_ID, EVIDENCE_AT)


def funnel_stages_at(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """`current_funnel_stage` at the end of day `as_of` for every lead: read from the stored lead model's
    entries when it holds a run for these settings (only the latest entry per lead leaves the database),
    else from the history computed from the tables. Both give the same rows (in no set order)."""
    stored = stored_funnel_stages(con, settings=settings, as_of=as_of)
    if stored is None:
        return current_funnel_stage(funnel_history(con, settings=settings, as_of=as_of), as_of=as_of, settings=settings)
    schema = {sc.LEAD_ID: HISTORY_SCHEMA[sc.LEAD_ID], FUNNEL_STAGE: HISTORY_SCHEMA[sc.STAGE], STAGE_RANK: HISTORY_SCHEMA[STAGE_RANK],
              IS_SIDE: HISTORY_SCHEMA[IS_SIDE], STAGE_ENTERED_AT: HISTORY_SCHEMA[sc.ENTERED_AT],
              sc.REASON: HISTORY_SCHEMA[sc.REASON], EVIDENCE_TYPE: HISTORY_SCHEMA[EVIDENCE_TYPE],
              EVIDENCE_ID: HISTORY_SCHEMA[EVIDENCE_ID], EVIDENCE_AT: HISTORY_SCHEMA[EVIDENCE_AT]}
    return stored.cast(schema)


def funnel_entrants(con: duckdb.DuckDBPyConnection, *, settings: Settings, stages: Sequence[str], after: date | None,
                    as_of: date, history: pl.DataFrame | None = None) -> pl.DataFrame:
    """lead_id of every lead that entered one of `stages` after day `after` (None: at any time) and by the end of
    day `as_of` (an entry without a time never counts): from `history` (`funnel_history` as of D) when given, else
    from the stored lead model's entries when it holds a run for these settings (only those leads leave the
    database), else from the history computed from the tables. All give the same leads (in no set order)."""
    if history is None:
        stored = stored_funnel_entrants(con, settings=settings, stages=stages, after=after, as_of=as_of)
        if stored is not None:
            return stored.cast({sc.LEAD_ID: HISTORY_SCHEMA[sc.LEAD_ID]})
        history = funnel_history(con, settings=settings, as_of=as_of)
    entered = pl.col(sc.ENTERED_AT)
    inside = entered < until(as_of)  # null for an entry without a time: never kept
    if after is not None:
        inside = inside & (entered >= until(after))
    return history.filter(pl.col(sc.STAGE).is_in(list(stages)) & inside).select(sc.LEAD_ID).unique()


# ------------------------------------------------------------------------------- explanations


def evidence_texts(stage: pl.Expr, evidence_type: pl.Expr, evidence_at: pl.Expr, reason: pl.Expr,
                   evidence_id: pl.Expr, detail: pl.Expr, is_side: pl.Expr) -> pl.Expr:
    """A short line per stage entry, e.g. "intent: pricing_page_view on 2026-10-03 (/pricing)",
    "opportunity: deal D0001 created on 2026-09-01", "consideration: deal D0001 lost on 2026-09-20
    (Price)", "reactivation: no meaningful engagement for more than 90 days (last on 2026-05-02:
    page_view)". `detail` (a URL, say) is added in parentheses to activity evidence."""
    when = evidence_at.dt.date().cast(pl.String).fill_null("?")
    deal = pl.concat_str(pl.lit("deal "), evidence_id, ignore_nulls=True)
    cold = pl.concat_str(stage, pl.lit(": "), reason.str.strip_suffix(")"), pl.lit(": "), evidence_type, pl.lit(")"))
    text = (
        pl.when(is_side.fill_null(False) & reason.is_not_null()).then(cold)
        .when(evidence_type.is_null()).then(pl.concat_str(stage, pl.lit(" on "), when))
        .when(evidence_type == CREATED).then(pl.concat_str(stage, pl.lit(": lead created on "), when))
        .when((evidence_type == DEAL) & reason.is_not_null())
        .then(pl.concat_str(stage, pl.lit(": "), deal, pl.lit(" lost on "), when, pl.lit(" ("), reason, pl.lit(")")))
        .when(evidence_type == DEAL)
        .then(pl.concat_str(stage, pl.lit(": "), deal,
                            pl.when(stage == "customer").then(pl.lit(" won on ")).otherwise(pl.lit(" created on ")),
                            when))
        .when(evidence_type.str.starts_with(LIFECYCLE_PREFIX))
        .then(pl.concat_str(stage, pl.lit(": lifecycle "), evidence_type.str.strip_prefix(LIFECYCLE_PREFIX),
                            pl.lit(" on "), when,
                            pl.when(reason.is_not_null()).then(pl.concat_str(pl.lit(" ("), reason, pl.lit(")")))
                            .when(evidence_id.is_not_null()).then(pl.concat_str(pl.lit(" ("), evidence_id, pl.lit(")")))
                            .otherwise(pl.lit(""))))
        .otherwise(pl.concat_str(stage, pl.lit(": "), evidence_type, pl.lit(" on "), when))
    )
    with_detail = pl.concat_str(text, pl.lit(" ("), detail, pl.lit(")"))
    return pl.when(detail.is_not_null() & ~is_side.fill_null(False)).then(with_detail).otherwise(text)


def evidence_text(stage: str, evidence_type: str | None, evidence_at: datetime | None, *,
                  reason: str | None = None, detail: str | None = None, evidence_id: str | None = None,
                  is_side: bool = False) -> str:
    """The evidence line of one stage entry (see `evidence_texts`)."""
    row = pl.DataFrame({"s": [stage], "t": [evidence_type], "a": [evidence_at], "r": [reason], "i": [evidence_id],
                        "d": [detail], "x": [is_side]},
                       schema={"s": pl.String, "t": pl.String, "a": pl.Datetime("us"), "r": pl.String,
                               "i": pl.String, "d": pl.String, "x": pl.Boolean})
    return row.select(evidence_texts(pl.col("s"), pl.col("t"), pl.col("a"), pl.col("r"), pl.col("i"),
                                     pl.col("d"), pl.col("x"))).item()


def _rule_text(rule: EvidenceRule) -> str:
    types = " or ".join(rule.activity_types)
    if rule.min_count == 1:
        return f"a {types}"
    window = f" within {rule.within_days} days" if rule.within_days else ""
    return f"{rule.min_count} × {types}{window}"


def stage_explanation(con: duckdb.DuckDBPyConnection, lead_id: str, *, settings: Settings,
                      as_of: date) -> pl.DataFrame:
    """The lead's timeline at the end of day `as_of`, one row per activity, deal event, lifecycle
    entry and funnel-stage entry, in time order: at, kind, what, detail, row_id, caused (the stage
    this row put the lead in), rule (the evidence rule it completed), stage (for stage rows),
    reason. Every stage entry names the row that caused it."""
    ladder = ladder_of(settings)
    history = _engine(con, settings=settings, as_of=as_of, lead_ids=[lead_id])
    end = until(as_of)
    params = {"lead": lead_id, "until": end}
    activities = frame(con, sql_text("explanation_activities"), params)
    not_meaningful = settings.funnel_rules.not_meaningful
    activities = activities.with_columns(
        pl.lit("activity").alias("kind"),
        pl.when(pl.col("what").is_in(list(not_meaningful))).then(pl.lit("not meaningful engagement"))
        .otherwise(pl.col("detail")).alias("detail"))
    deals = frame(con, sql_text("explanation_deals"), params)
    deals = deals.with_columns(pl.lit("deal").alias("kind"))
    lifecycle = frame(con, sql_text("explanation_lifecycle"), params).with_columns(
        pl.lit("lifecycle").alias("kind"))
    created = frame(con, sql_text("explanation_created"), params)
    created = created.with_columns(pl.lit("created").alias("kind"))
    columns = ["at", "kind", "what", "detail", "row_id"]
    rows = pl.concat([_typed(f.select(columns), {"at": pl.Datetime("us"), "kind": pl.String, "what": pl.String,
                                                 "detail": pl.String, "row_id": pl.String})
                      for f in (activities, deals, lifecycle, created)])

    # Which source row caused each entry (reactivation is caused by the calendar: its row is the last
    # engagement, shown on the stage row itself).
    caused = history.filter(~pl.col(IS_SIDE)).with_columns(
        pl.when(pl.col(EVIDENCE_TYPE) == CREATED).then(pl.lit("created"))
        .when(pl.col(EVIDENCE_TYPE) == DEAL).then(pl.lit("deal"))
        .when(pl.col(EVIDENCE_TYPE).str.starts_with(LIFECYCLE_PREFIX)).then(pl.lit("lifecycle"))
        .otherwise(pl.lit("activity")).alias("kind"),
        pl.when(pl.col(EVIDENCE_TYPE) == DEAL)
        .then(pl.when(pl.col(sc.REASON).is_not_null()).then(pl.lit("deal lost"))
              .when(pl.col(STAGE_RANK) == ladder.customer_rank).then(pl.lit("deal won"))
              .otherwise(pl.lit("deal created")))
        .when(pl.col(EVIDENCE_TYPE).str.starts_with(LIFECYCLE_PREFIX))
        .then(pl.concat_str(pl.lit("lifecycle "), pl.col(EVIDENCE_TYPE).str.strip_prefix(LIFECYCLE_PREFIX)))
        .when(pl.col(EVIDENCE_TYPE) == CREATED).then(pl.lit("lead created"))
        .otherwise(pl.col(EVIDENCE_TYPE)).alias("what"),
    )
    rule_texts = {i: _rule_text(r) for i, r in enumerate(ladder.rules)}
    caused = caused.with_columns(
        pl.col("rule_index").replace_strict(list(rule_texts), list(rule_texts.values()), default=None,
                                            return_dtype=pl.String).alias("rule"),
        pl.concat_str(pl.lit("→ "), pl.col(sc.STAGE)).alias("caused"),
    ).select(pl.col(EVIDENCE_AT).alias("at"), "kind", "what", pl.col(EVIDENCE_ID).alias("row_id"), "caused", "rule",
             pl.col("window_start"))
    caused = caused.group_by("at", "kind", "what", "row_id", maintain_order=True).agg(
        pl.col("caused").str.join(", "), pl.col("rule").drop_nulls().str.join("; "), pl.col("window_start").min())
    rows = rows.join(caused.with_columns(pl.col("rule").replace("", None)), on=["at", "kind", "what", "row_id"],
                     how="left", nulls_equal=True)
    rows = rows.with_columns(
        pl.when(pl.col("window_start").is_not_null() & (pl.col("window_start") != pl.col("at")))
        .then(pl.concat_str(pl.col("rule"), pl.lit(", counted from "), pl.col("window_start").dt.date().cast(pl.String)))
        .otherwise(pl.col("rule")).alias("rule")).drop("window_start")
    rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias(sc.STAGE), pl.lit(None, dtype=pl.String)
                             .alias(sc.REASON), pl.lit(1, dtype=pl.Int32).alias("_part"),
                             pl.lit(0, dtype=pl.Int32).alias(ENTRY_ORDER))
    stage_rows = history.select(
        pl.col(sc.ENTERED_AT).alias("at"), pl.lit("stage").alias("kind"),
        pl.concat_str(pl.lit("entered "), pl.col(sc.STAGE)).alias("what"),
        pl.when(pl.col(IS_SIDE)).then(pl.concat_str(pl.lit("last engagement: "), pl.col(EVIDENCE_TYPE),
                                                    pl.lit(" on "), pl.col(EVIDENCE_AT).dt.date().cast(pl.String)))
        .otherwise(pl.concat_str(pl.lit("evidence: "), pl.col(EVIDENCE_TYPE))).alias("detail"),
        pl.col(EVIDENCE_ID).alias("row_id"), pl.lit(None, dtype=pl.String).alias("caused"),
        pl.lit(None, dtype=pl.String).alias("rule"), sc.STAGE, sc.REASON, pl.lit(2, dtype=pl.Int32).alias("_part"),
        ENTRY_ORDER)
    timeline = pl.concat([rows, stage_rows]).sort("at", "_part", ENTRY_ORDER, "kind", "what", "row_id",
                                                  nulls_last=True)
    return timeline.drop("_part", ENTRY_ORDER)


def _runs(times: list[datetime], *, start: datetime | None, within_days: int, as_of: date) -> int:
    """How many of the rule's activities (fresh: at or after `start`) would still count for a run
    completed today: those at most `within_days` calendar days before `as_of` (all when 0)."""
    fresh = [t for t in times if start is None or t >= start]
    if within_days:
        fresh = [t for t in fresh if (as_of - t.date()).days <= within_days]
    return len(fresh)


def next_stage_gap(con: duckdb.DuckDBPyConnection, lead_id: str, *, settings: Settings,
                   as_of: date) -> list[dict]:
    """What would move the lead to its next stage at the end of day `as_of`: one dict per way in,
    with keys stage, rule, have, need, by (the last day the partial run still counts), text.

    For a lead in reactivation the target is the stage it held before going cold, with evidence
    counted from the cold point; for a customer the list is empty."""
    ladder = ladder_of(settings)
    history = _engine(con, settings=settings, as_of=as_of, lead_ids=[lead_id])
    if history.is_empty():
        target, fresh_from = 0, None
    else:
        last = history.row(-1, named=True)
        if last[IS_SIDE]:
            before = history.filter(~pl.col(IS_SIDE))
            target = before.row(-1, named=True)[STAGE_RANK] if before.height else 0
            fresh_from = last[sc.ENTERED_AT]
        else:
            target, fresh_from = last[STAGE_RANK] + 1, None
            cold = history.filter(pl.col(IS_SIDE))
            fresh_from = cold.row(-1, named=True)[sc.ENTERED_AT] if cold.height else None
    if target > ladder.customer_rank:
        return []
    stage = ladder.name(target)
    if target == ladder.opportunity_rank:
        lifecycle = " or ".join(settings.funnel_rules.opportunity_lifecycle)
        return [{"stage": stage, "rule": "sales acceptance", "have": 0, "need": 1, "by": None,
                 "text": f"a deal (sales acceptance), or lifecycle {lifecycle}"}]
    if target == ladder.customer_rank:
        lifecycle = " or ".join(settings.funnel_rules.customer_lifecycle)
        return [{"stage": stage, "rule": "a won deal", "have": 0, "need": 1, "by": None,
                 "text": f"a won deal, or lifecycle {lifecycle}"}]
    acts = frame(con, sql_text("lead_activity_times"),
                 {"lead": lead_id, "until": until(as_of)}).sort("at")
    gaps = []
    for rule in ladder.rules:
        if rule.stage != stage:
            continue
        if rule.min_count == 1:
            types = " or ".join(rule.activity_types)
            gaps.append({"stage": stage, "rule": _rule_text(rule), "have": 0, "need": 1, "by": None,
                         "text": f"a {types}"})
            continue
        times = acts.filter(pl.col("t").is_in(list(rule.activity_types))).get_column("at").to_list()
        have = min(_runs(times, start=fresh_from, within_days=rule.within_days, as_of=as_of), rule.min_count - 1)
        need = rule.min_count - have
        counted = sorted(t for t in times if fresh_from is None or t >= fresh_from)[-have:] if have else []
        by = (counted[0].date() + timedelta(days=rule.within_days)) if (counted and rule.within_days) else None
        types = " or ".join(rule.activity_types)
        window = f" within {rule.within_days} days" if rule.within_days else ""
        text = f"{need} more {types}{window}"
        if by is not None:
            text += f" (by {by.isoformat()})"
        gaps.append({"stage": stage, "rule": _rule_text(rule), "have": have, "need": need, "by": by, "text": text})
    return gaps

