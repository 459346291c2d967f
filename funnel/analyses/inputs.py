"""What every analysis reads, prepared once: the stage timeline, the leads that exist at D, and
their segments.

`analysis_inputs` reads the store (the heavy scans are SQL in funnel/sql/) and returns a frozen
`AnalysisInputs`; every metric has a `…_of(inputs, …)` form that is pure Polars on it, so a page
or the CLI can compute several metrics from one preparation. Nothing here looks at the clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.config import SKIPPED_POLICIES, Settings
from funnel.errors import FunnelError
from funnel.filters import Filters
from funnel.model.history import (
    BASIS_CURRENT_STAGE,
    UNKNOWN,
    history_counts,
    history_note_of,
    lead_facts,
    lead_frame,
    segment_values,
    stage_history,
    stage_names,
    stage_timeline,
    until,
)
from funnel.stats import segment_vs_rest_p_value, small_sample

__all__ = ["AnalysisInputs", "analysis_inputs", "dimensions_of", "inputs_notes", "inputs_of", "segments_wanted"]

SEG = "seg_key"  # internal: which segment a lead is in (0 when not segmented)


@dataclass(frozen=True, eq=False)
class AnalysisInputs:
    """One as-of date, ladder, filter and segmentation, prepared for the metric functions."""

    filters: Filters
    settings: Settings
    by: tuple[str, ...]
    history: pl.DataFrame  # stage_history of the ladder as of D
    timeline: pl.DataFrame  # stage_timeline of the analysed leads' history, plus seg_key
    population: pl.DataFrame  # one row per lead that exists at D (after filters): see population_of
    segments: pl.DataFrame  # seg_key and the `by` columns: one row per segment value (combination)
    notes: tuple[str, ...]
    lead_ids: pl.Series  # the lead_id of every lead with history (before filters), at position lead_index

    @property
    def as_of(self) -> date:
        return self.filters.as_of

    @property
    def ladder(self) -> str:
        return self.filters.ladder

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Every stage by rank: main stages in ladder order, then side states."""
        return stage_names(self.settings, self.ladder)

    @property
    def main_stages(self) -> tuple[str, ...]:
        return self.settings.ladders.stages(self.ladder)

    @property
    def stage_dtype(self) -> pl.Enum:
        """Stage columns sort in ladder order, not alphabetically."""
        return pl.Enum(list(self.stage_names))

    def stage_column(self, rank: str, name: str) -> pl.Expr:
        """A rank column as the stage's name (Enum in ladder order; null stays null)."""
        stages = pl.Series(list(self.stage_names), dtype=self.stage_dtype)
        return pl.lit(stages).gather(pl.col(rank)).alias(name)

    def rank_of(self, stage: str, *, main_only: bool = False) -> int:
        """The rank of a stage by name; FunnelError naming the stages when it is not on the ladder."""
        names = self.main_stages if main_only else self.stage_names
        if stage not in names:
            raise FunnelError(f"{stage!r} is not a {'main ' if main_only else ''}stage of the {self.ladder} ladder",
                              value=str(stage), hint=f"Use one of: {', '.join(names)}")
        return names.index(stage)

    def in_period(self, column: str) -> pl.Expr:
        """Whether a timestamp's day lies in the cohort period [period_start, cohort_end]."""
        day = pl.col(column).dt.date()
        inside = day <= self.filters.cohort_end
        if self.filters.period_start is not None:
            inside = inside & (day >= self.filters.period_start)
        return inside

    def days_to_as_of(self, column: str) -> pl.Expr:
        """Whole days from a timestamp's day to D."""
        return (pl.lit(self.as_of) - pl.col(column).dt.date()).dt.total_days()

    def with_segments(self, frame: pl.DataFrame) -> pl.DataFrame:
        """A frame keyed by seg_key (null = the total) with the `by` columns in front of it."""
        if not self.by:
            return frame.drop(SEG)
        labelled = frame.join(self.segments, on=SEG, how="left", nulls_equal=False)
        rest = [c for c in frame.columns if c != SEG]
        return labelled.select(*self.by, *rest)

    def segment_spine(self) -> pl.DataFrame:
        """seg_key values of the report: null (the total) first, then every segment."""
        keys = [None] + (self.segments.get_column(SEG).to_list() if self.by else [])
        return pl.DataFrame({SEG: keys}, schema={SEG: pl.Int32})


def dimensions_of(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """`by` as a tuple of distinct dimension names."""
    if by is None:
        return ()
    if isinstance(by, str):
        return (by,)
    return tuple(dict.fromkeys(by))


def analysis_inputs(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                    by: str | Sequence[str] | None = None, history: pl.DataFrame | None = None,
                    leads: pl.DataFrame | None = None) -> AnalysisInputs:
    """The inputs of every metric for `filters` (as-of date, ladder, segment filter), segmented by
    `by` (lead-frame columns). `history` (stage_history of the same ladder and as-of date) and
    `leads` (a lead_frame) may be passed when already computed."""
    dims = dimensions_of(by)
    facts = lead_facts(con, settings=settings)
    if history is None:
        history = stage_history(con, ladder=filters.ladder, settings=settings, as_of=filters.as_of)
    wanted = segments_wanted(filters, dims)
    values = None
    if wanted:
        if leads is None:
            leads = lead_frame(con, settings=settings, as_of=filters.as_of, dimensions=wanted)
        values = segment_values(leads, wanted)
    return inputs_of(facts, history, values, filters=filters, settings=settings, by=dims)


def segments_wanted(filters: Filters, dims: Sequence[str]) -> list[str]:
    """The lead dimensions the inputs read: the segmentation's, then the segment filter's."""
    return list(dims) + [d for d, _ in filters.segments if d not in dims]


def inputs_of(facts: pl.DataFrame, history: pl.DataFrame, values: pl.DataFrame | None, *, filters: Filters,
              settings: Settings, by: tuple[str, ...]) -> AnalysisInputs:
    """`analysis_inputs` from what it reads: `lead_facts` (ordered by lead_id), `stage_history` and the
    `segment_values` of the wanted dimensions (None when none is wanted). Pure: it runs wherever the rows are,
    for all leads or for any group of them."""
    dims = by
    timeline = stage_timeline(history).with_columns(
        (pl.col("is_first").cum_sum() - 1).cast(pl.Int64).alias("lead_index"))
    main = settings.ladders.stages(filters.ladder)
    summary = lead_summary(timeline, customer_rank=len(main) - 1)
    population = population_of(facts, summary, as_of=filters.as_of)

    wanted = segments_wanted(filters, dims)
    segments = pl.DataFrame({SEG: []}, schema={SEG: pl.Int32})
    if wanted:
        population = population.drop(SEG).join(values, on=sc.LEAD_ID, how="left", maintain_order="left")
        population = population.with_columns([pl.col(d).fill_null(UNKNOWN) for d in wanted])
        for dimension, allowed in filters.segments:
            population = population.filter(pl.col(dimension).is_in([str(v) for v in allowed]))
        if dims:
            segments = (population.select(dims).unique().sort(dims)
                        .with_row_index(SEG).with_columns(pl.col(SEG).cast(pl.Int32)))
            population = population.join(segments, on=list(dims), how="left", maintain_order="left")
        else:
            population = population.with_columns(pl.lit(0, dtype=pl.Int32).alias(SEG))
        population = population.drop(wanted)
        # Each history row takes its lead's segment by position (no join of the big frames).
        known = population.filter(pl.col("lead_index").is_not_null())
        size = timeline.height and int(timeline.get_column("lead_index").max()) + 1
        by_index = pl.Series(SEG, [None] * size, dtype=pl.Int32).scatter(known.get_column("lead_index"),
                                                                         known.get_column(SEG))
        timeline = (timeline.with_columns(by_index.gather(timeline.get_column("lead_index")).alias(SEG))
                    .filter(pl.col(SEG).is_not_null()))
    else:
        timeline = timeline.with_columns(pl.lit(0, dtype=pl.Int32).alias(SEG))

    undated = population.filter(pl.col("first_seen").is_null()).height
    notes = inputs_notes(history_counts(history).row(0, named=True), undated, ladder=filters.ladder)
    return AnalysisInputs(filters=filters, settings=settings, by=dims, history=history, timeline=timeline,
                          population=population, segments=segments, notes=notes,
                          lead_ids=summary.get_column(sc.LEAD_ID))


def with_total(counts: pl.DataFrame, *, keys: Sequence[str]) -> pl.DataFrame:
    """Counts per seg_key and `keys`, the total over every segment first (seg_key null): each other column summed
    per `keys`."""
    sums = [pl.col(c).sum() for c in counts.columns if c not in (SEG, *keys)]
    total = counts.group_by(keys).agg(sums) if keys else counts.select(sums)
    return pl.concat([total.with_columns(pl.lit(None, dtype=pl.Int32).alias(SEG)).select(counts.columns),
                      counts.with_columns(pl.col(SEG).cast(pl.Int32))])


def inputs_notes(history: dict[str, int], undated: int, *, ladder: str) -> tuple[str, ...]:
    """What the numbers rest on: `history_note_of` the history's counts, and how many leads have no date."""
    notes = [history_note_of(history, ladder=ladder)]
    if undated:
        notes.append(f"{undated:,} leads have no date at all: they are counted at every date and left "
                     "out of trends, aging and durations.")
    return tuple(notes)


def lead_summary(timeline: pl.DataFrame, *, customer_rank: int) -> pl.DataFrame:
    """One row per lead with history (in timeline order, so row i is lead_index i): lead_id,
    first_entered_at (first dated entry), the latest entry at D (stage_rank, is_side, entered_at,
    reason, basis), furthest_rank (highest main stage entered), customer_at (first entry into the
    last main stage), known (every entry a dated move), lead_index."""
    return (
        timeline.lazy()
        .select(sc.LEAD_ID, sc.ENTERED_AT, "stage_rank", "is_side", sc.REASON, "basis", "lead_index",
                pl.when(~pl.col("is_side")).then(pl.col("stage_rank")).alias("_main"),
                pl.when(pl.col("stage_rank") == customer_rank).then(pl.col(sc.ENTERED_AT)).alias("_customer"),
                moves_known().alias("_known"))
        .group_by(sc.LEAD_ID, maintain_order=True)
        .agg(pl.col(sc.ENTERED_AT).first().alias("first_entered_at"),  # undated entries sort first, alone
             pl.col("stage_rank").last(), pl.col("is_side").last(), pl.col(sc.ENTERED_AT).last(),
             pl.col(sc.REASON).last(), pl.col("basis").last(),
             pl.col("_main").max().alias("furthest_rank"), pl.col("_customer").min().alias("customer_at"),
             pl.col("_known").all().alias("known"), pl.col("lead_index").first())
        .collect()
    )


def entered_masks(inputs: AnalysisInputs) -> pl.Series:
    """Per population lead (in population order): the main stages it entered itself, one bit per
    rank (see `rank_bit`); 0 for a lead without history. Only the strict policy needs it."""
    per_index = (inputs.timeline.lazy()
                 .select("lead_index", pl.when(~pl.col("is_side")).then(rank_bit(pl.col("stage_rank")))
                         .otherwise(0).alias("_bit"))
                 .group_by("lead_index").agg(pl.col("_bit").bitwise_or())
                 .collect())
    return (inputs.population.select("lead_index")
            .join(per_index, on="lead_index", how="left", maintain_order="left")
            .get_column("_bit").fill_null(0).alias("entered_mask"))


def population_of(facts: pl.DataFrame, summary: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """The leads that exist at D — created, or in a stage, at or before the end of day D — each
    with first_seen (the earlier of created_at and the first entry; null when neither is dated),
    seg_key 0 and the columns of `lead_summary` (null for a lead without history: no stage yet)."""
    ids = facts.get_column(sc.LEAD_ID)
    if ids.len() == summary.height and ids.equals(summary.get_column(sc.LEAD_ID)):
        seen = pl.concat([facts.select(sc.CREATED_AT), summary], how="horizontal")  # the same leads, same order
    else:
        seen = facts.select(sc.LEAD_ID, sc.CREATED_AT).join(summary, on=sc.LEAD_ID, how="full", coalesce=True,
                                                             maintain_order="left_right")
    return (
        seen.with_columns(pl.min_horizontal(sc.CREATED_AT, "first_entered_at").alias("first_seen"))
        .filter(pl.col("first_seen").is_null() | (pl.col("first_seen") < until(as_of)))
        .with_columns(pl.lit(0, dtype=pl.Int32).alias(SEG))
        .select(sc.LEAD_ID, SEG, "first_seen", *[c for c in summary.columns if c != sc.LEAD_ID])
    )


def moves_known() -> pl.Expr:
    """An entry that is a real, dated move (not a placement from the current stage alone)."""
    return pl.col(sc.ENTERED_AT).is_not_null() & (pl.col("basis") != BASIS_CURRENT_STAGE)


def conversion_policy(settings: Settings, window_days: int | None, skipped: str | None) -> tuple[int, bool]:
    """(window W in days, whether skipped stages are implicit), the settings filling what is None."""
    window = settings.conversion.window_days if window_days is None else int(window_days)
    if window < 0:
        raise FunnelError("the conversion window must be 0 days or more", value=str(window))
    policy = skipped or settings.conversion.skipped_stages
    if policy not in SKIPPED_POLICIES:
        raise FunnelError(f"unknown skipped-stage policy {policy!r}", hint=f"Use one of {', '.join(SKIPPED_POLICIES)}")
    return window, policy == "implicit"


def rank_bit(rank: pl.Expr) -> pl.Expr:
    """2**rank: one bit per stage, so a set of entered stages is one integer (bitwise or)."""
    return pl.lit(2, dtype=pl.Int64).pow(rank.cast(pl.Int64))


def has_rank_bit(mask: pl.Expr, rank: pl.Expr) -> pl.Expr:
    """Whether the stage `rank` is in a mask built with `rank_bit`."""
    return (mask // pl.lit(2, dtype=pl.Int64).pow(rank.cast(pl.Int64))) % 2 == 1


# ---------------------------------------------------------------------------------------- rates


def vs_rest(frame: pl.DataFrame, *, successes: str, trials: str, prefix: str, min_sample: int) -> pl.DataFrame:
    """Adds <prefix>_p_value (each segment row against everyone outside it; null on the total row)
    and <prefix>_small_sample. Needs the total in the row where seg_key is null."""
    total = frame.filter(pl.col(SEG).is_null())
    total_s = int(total.get_column(successes)[0] or 0) if total.height else 0
    total_n = int(total.get_column(trials)[0] or 0) if total.height else 0
    p_values, smalls = [], []
    for key, s, n in zip(frame.get_column(SEG).to_list(), frame.get_column(successes).to_list(),
                         frame.get_column(trials).to_list(), strict=True):
        s, n = int(s or 0), int(n or 0)
        p = None if key is None else segment_vs_rest_p_value(s, n, total_s, total_n)
        p_values.append(None if p is None or math.isnan(p) else p)
        smalls.append(small_sample(n, s, min_trials=min_sample))
    return frame.with_columns(pl.Series(f"{prefix}_p_value", p_values, dtype=pl.Float64),
                              pl.Series(f"{prefix}_small_sample", smalls, dtype=pl.Boolean))
