"""The metrics report from counts that add up over groups of leads, so its group-bys run where the data is.

Each of the report's four analyses comes in two halves: what it counts per segment (`distribution_counts`,
`step_counts`, `aging_counts` and `stay_risks`, `segment_counts`: counts and Kaplan–Meier risk tables, where
the counts of two groups of leads, summed key by key, are the counts of both) and how its rows follow from
those counts (`distribution_rows`, `step_rows`, `aging_rows`, `segment_rows`: totals, shares, rates,
intervals, tests, quantiles). `report_parts` is the first half for one preparation; `metrics_report`
finishes it. The views the pages show besides the report are split the same way (`page_parts`): the
distribution's monthly trend (`trend_counts`, `trend_rows`), the cumulative funnel (`cumulative_counts`,
`cumulative_rows`), the conversion cohorts (`cohort_counts`, `step_rows`), the moves between stages
(`flow_counts`, `flow_rows`) and the time to convert between two stages (Kaplan–Meier risk tables:
`convert_risks`, then `time_to_convert_rows` and `curve_rows`).

On one machine the report is both halves over all leads at once. On an engine that computes per group of
leads (Spark), `engine_report_parts` runs `group_report_parts` inside the engine's tasks, once per bucket of
leads, on the rows of that bucket's leads alone: each task prepares its leads (`inputs_of`) and counts them,
its parts keyed by segment values (a group's seg_keys are its own); only those parts come back, and
`merged_parts` sums them and numbers the segments as `inputs_of` numbers them over all leads. The numbers
are the same by construction: every part is a sum, and a lead's rows never span two buckets.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence

import duckdb
import polars as pl
import pyarrow as pa

from funnel import schema as sc
from funnel.analyses.aging import aging_counts, stay_risks
from funnel.analyses.capture import data_quality_counts, lead_needs_query
from funnel.analyses.conversion import (
    cohort_counts,
    conversion_entries_of,
    convert_risks,
    cumulative_counts,
    deal_losses_query,
    pair_ranks,
    step_counts,
)
from funnel.analyses.distribution import distribution_counts, flow_counts, trend_counts
from funnel.analyses.inputs import (
    SEG,
    AnalysisInputs,
    dimensions_of,
    inputs_notes,
    inputs_of,
    segments_wanted,
)
from funnel.analyses.segments import lead_deals_query, segment_counts
from funnel.config import Settings
from funnel.filters import Filters
from funnel.model.history import (
    ATTRIBUTE_PREFIX,
    LEAD_FRAME_BASE,
    SCORE_COLUMNS,
    attribute_keys,
    history_counts,
    lead_facts_query,
    lead_frame,
    lead_frame_of,
    lead_frame_queries,
    segment_values,
    stage_history_of,
    stage_history_query,
)
from funnel.model.stages import lead_groups
from funnel.store.db import registered

__all__ = ["PART_KEYS", "Counted", "engine_per_group", "engine_report_parts", "frames_of", "group_inputs",
           "group_report_parts", "merged_parts", "page_parts", "parts_table", "report_parts", "shell_inputs",
           "unsegmented"]

# Each part's keys besides the segment ("notes" and "quality": one row of counts, no segment); its other columns are
# sums.
PART_KEYS: dict[str, tuple[str, ...]] = {
    "distribution": ("stage_rank",),
    "conversion": ("stage_rank", "outcome"),
    "aging": ("stage_rank",),
    "stays": ("stage_rank", "_time"),
    "segments": (),
    "to_customer": ("_time",),
    "notes": (),
    "quality": (),
    "trend": ("stage_rank", "date"),
    "cumulative": (),
    "cohorts": ("cohort_month", "stage_rank", "outcome"),
    "flows": ("prev_rank", "stage_rank", "direction"),
    "convert": ("_time",),
}
UNKEYED = ("notes", "quality")  # one row of counts over every lead, whatever the segments
UNSEGMENTED = ("cohorts", "flows")  # counted over every lead, whatever the segments, by their own keys
PARTS_SCHEMA = pa.schema([("part", pa.string()), ("payload", pa.binary())])


def report_parts(inputs: AnalysisInputs, losses: pl.DataFrame, deals: pl.DataFrame, *,
                 window_days: int, skipped: str | None = None) -> dict[str, pl.DataFrame]:
    """The counts behind the report for the leads of `inputs`, each part keyed by seg_key and `PART_KEYS` (the
    conversion steps under `skipped`, None: the settings' policy)."""
    counted, to_customer = segment_counts(inputs, deals)
    undated = inputs.population.select(pl.col("first_seen").is_null().sum().cast(pl.Int64).alias("undated_leads"))
    return {
        "distribution": distribution_counts(inputs),
        "conversion": step_counts(conversion_entries_of(inputs, losses, window_days=window_days, skipped=skipped)),
        "aging": aging_counts(inputs),
        "stays": stay_risks(inputs),
        "segments": counted,
        "to_customer": to_customer,
        "notes": pl.concat([history_counts(inputs.history), undated], how="horizontal"),
    }


def page_parts(inputs: AnalysisInputs, losses: pl.DataFrame, *, window_days: int, skipped: str | None,
               pair: tuple[str, str] | None) -> dict[str, pl.DataFrame]:
    """The counts the pages read besides the report's: the distribution's monthly trend (`trend_counts`), the
    cumulative funnel (`cumulative_counts`), the conversion cohorts by entry month (`cohort_counts`) and the
    moves between stages (`flow_counts`), both over every segment, and with a `pair` of stages (from, to), the
    time to convert between them (`convert_risks`: a risk table per segment and day, asked for apart, as every pair
    of every segment's days would be many rows)."""
    cohorts = cohort_counts(inputs, losses, window_days=window_days, skipped=skipped)
    parts = {"trend": trend_counts(inputs), "cumulative": cumulative_counts(inputs, skipped=skipped),
             "cohorts": cohorts.group_by(PART_KEYS["cohorts"]).agg(pl.col("_n").sum(), pl.col("_implied").sum()),
             "flows": flow_counts(inputs)}
    if pair is not None:
        parts["convert"] = convert_risks(inputs, from_stage=pair[0], to_stage=pair[1], skipped=skipped)
    return parts


def unsegmented(shell: AnalysisInputs) -> AnalysisInputs:
    """The shell inputs of the whole population, for the UNSEGMENTED parts (given seg_key 0, as one machine
    numbers every lead without segments)."""
    return shell_inputs(shell.filters, settings=shell.settings, notes=shell.notes)


def group_inputs(history: pa.Table, facts: pa.Table, rest: Sequence[pa.Table], *, filters: Filters,
                 settings: Settings, by: tuple[str, ...],
                 lead_rows: str | None) -> tuple[AnalysisInputs, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(inputs, deal losses, lead deals, lead needs) of one group of leads from the rows of its queries (see
    `engine_per_group`): the stage history's, `lead_facts`', the wanted segments' (`lead_rows`: "frame", the rows
    of `lead_frame_queries`; "values", the segment values themselves; None: no segment is wanted), the deal
    losses', the lead deals' and the lead needs' (`lead_needs_query`)."""
    *leads, losses, deals, needs = (pl.from_arrow(t) for t in rest)
    wanted = segments_wanted(filters, by)
    values = None
    if lead_rows == "frame":
        values = segment_values(lead_frame_of(leads, settings=settings, dimensions=wanted), wanted)
    elif lead_rows == "values":
        values = leads[0]
    rows = stage_history_of(pl.from_arrow(history), ladder=filters.ladder, settings=settings, as_of=filters.as_of)
    inputs = inputs_of(pl.from_arrow(facts).sort(sc.LEAD_ID), rows, values, filters=filters, settings=settings, by=by)
    return inputs, losses, deals, needs


def parts_table(parts: dict[str, pl.DataFrame]) -> pa.Table:
    """Frames by name as the tasks send them back: one row per frame (part, payload: Arrow IPC)."""
    payloads = []
    for part in parts.values():
        buffer = io.BytesIO()
        part.write_ipc(buffer)
        payloads.append(buffer.getvalue())
    return pa.table({"part": pa.array(list(parts), pa.string()), "payload": pa.array(payloads, pa.binary())})


def frames_of(found: pa.Table) -> dict[str, list[pl.DataFrame]]:
    """Every task's frames (`parts_table`) by name."""
    frames: dict[str, list[pl.DataFrame]] = {}
    for name, payload in zip(found.column("part").to_pylist(), found.column("payload").to_pylist(), strict=True):
        frames.setdefault(name, []).append(pl.read_ipc(io.BytesIO(payload)))
    return frames


def group_report_parts(history: pa.Table, facts: pa.Table, *rest: pa.Table, filters: Filters, settings: Settings,
                       by: tuple[str, ...], window_days: int, skipped: str | None, lead_rows: str | None,
                       pages: bool, pair: tuple[str, str] | None = None) -> pa.Table:
    """`report_parts` of one group of leads from the rows of its queries (`group_inputs`), and the "quality" part
    (what the leads behind the numbers lack); with `pages`, the `page_parts` too. Each part is keyed by segment
    values instead of seg_key (`parts_table`)."""
    inputs, losses, deals, needs = group_inputs(history, facts, rest, filters=filters, settings=settings, by=by,
                                                lead_rows=lead_rows)
    parts = report_parts(inputs, losses, deals, window_days=window_days, skipped=skipped)
    parts["quality"] = data_quality_counts(needs, lead_ids=inputs.population.get_column(sc.LEAD_ID))
    if pages:
        parts |= page_parts(inputs, losses, window_days=window_days, skipped=skipped, pair=pair)
    for name, part in parts.items():
        if by and SEG in part.columns:
            part = part.join(inputs.segments, on=SEG, how="left").drop(SEG)
        parts[name] = part.drop(SEG, strict=False)
    return parts_table(parts)


def merged_parts(groups: pa.Table, *, by: tuple[str, ...]) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """(segments, parts) from every group's `group_report_parts`: each part summed over the groups key by key,
    the segments numbered as `inputs_of` numbers them (their values sorted), each part keyed by seg_key again
    (but the UNKEYED parts, one row of counts each; the UNSEGMENTED ones are keyed by their own keys and seg_key 0,
    as one machine numbers every lead without segments: read them with `unsegmented` inputs)."""
    summed = {}
    for name, frames in frames_of(groups).items():
        keys = [] if name in UNKEYED else list(PART_KEYS[name]) if name in UNSEGMENTED else [*by, *PART_KEYS[name]]
        rows = pl.concat(frames)
        sums = [pl.col(c).sum() for c in rows.columns if c not in keys]
        summed[name] = rows.group_by(keys).agg(sums) if keys else rows.select(sums)
    unkeyed = {name: summed.pop(name) for name in UNKEYED if name in summed}
    whole = {name: summed.pop(name).with_columns(pl.lit(0, dtype=pl.Int32).alias(SEG))
             for name in UNSEGMENTED if name in summed}
    if by:
        segments = (summed["distribution"].select(by).unique().sort(by)
                    .with_row_index(SEG).with_columns(pl.col(SEG).cast(pl.Int32)))
        keyed = {name: part.join(segments, on=list(by), how="left").drop(by) for name, part in summed.items()}
    else:
        segments = pl.DataFrame({SEG: []}, schema={SEG: pl.Int32})
        keyed = {name: part.with_columns(pl.lit(0, dtype=pl.Int32).alias(SEG)) for name, part in summed.items()}
    return segments, {**keyed, **unkeyed, **whole}


def shell_inputs(filters: Filters, *, settings: Settings, by: tuple[str, ...] = (),
                 segments: pl.DataFrame | None = None, notes: tuple[str, ...] = ()) -> AnalysisInputs:
    """Inputs without any lead's rows: what the second halves (`…_rows`) read besides the parts (without
    segments: the ladders' stages alone, as the checks of a question read them)."""
    empty = pl.DataFrame()
    segments = pl.DataFrame({SEG: []}, schema={SEG: pl.Int32}) if segments is None else segments
    return AnalysisInputs(filters=filters, settings=settings, by=by, history=empty, timeline=empty,
                          population=empty, segments=segments, notes=notes,
                          lead_ids=pl.Series(sc.LEAD_ID, [], dtype=pl.String))


Counted = tuple[AnalysisInputs, dict[str, pl.DataFrame]]  # shell inputs and the summed parts


def engine_per_group(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings, by: tuple[str, ...],
                     task: Callable[..., pa.Table], groups: int | None = None) -> pa.Table | None:
    """`task` run inside the engine's tasks (`per_group`), once per bucket of leads, on the rows of that bucket's
    leads of the queries `group_inputs` reads (it is given `lead_rows`), each returning a `parts_table`; their rows
    together. None when the stage history is not one query there (the funnel ladder without the lead model's
    entries for these settings) or a segment dimension (of `by` or the filters) is not a lead column: then the
    caller computes as on one machine.
    The tasks read the segments from the tables too, but scores: those are computed here and each lead's values
    handed to the tasks. `groups`: how many buckets (default `lead_groups`, one per 10,000 leads)."""
    query = stage_history_query(con, ladder=filters.ladder, settings=settings, as_of=filters.as_of)
    if query is None:
        return None
    wanted = segments_wanted(filters, by)
    lead_rows, tables, lead_queries = None, {}, []
    if wanted and not set(wanted) & set(SCORE_COLUMNS):
        keys = attribute_keys(con) if any(w.startswith(ATTRIBUTE_PREFIX) for w in wanted) else []
        if not set(wanted) <= {*LEAD_FRAME_BASE, "seniority", *(ATTRIBUTE_PREFIX + k for k in keys)}:
            return None  # not a segment of the leads: one machine's preparation says why, and what there is
        lead_rows, lead_queries = "frame", lead_frame_queries(con, settings=settings, dimensions=wanted)
    elif wanted:
        leads = lead_frame(con, settings=settings, as_of=filters.as_of, dimensions=wanted)
        lead_rows, tables = "values", {"segment_values": segment_values(leads, wanted).to_arrow()}
    with registered(con, tables) as names:
        lead_queries += [(f"SELECT * FROM {name}", {}) for name in names.values()]
        inputs = [query, lead_facts_query(settings), *lead_queries, deal_losses_query(filters.as_of),
                  lead_deals_query(filters.as_of), lead_needs_query(filters.as_of)]
        return con.per_group(inputs, key=sc.LEAD_ID, groups=groups or lead_groups(con),
                             function=functools.partial(task, lead_rows=lead_rows),
                             schema=PARTS_SCHEMA)


def engine_report_parts(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                        by: str | Sequence[str] | None, window_days: int, skipped: str | None = None,
                        pages: bool = False, pair: tuple[str, str] | None = None,
                        groups: int | None = None) -> Counted | None:
    """(shell inputs, parts) of the report counted inside the engine's tasks (`engine_per_group`; with `pages`
    the `page_parts` too, with `pair` the time to convert between its stages); None where the engine cannot count
    them (see `engine_per_group`) or no lead has any row (then the report is computed as on one machine)."""
    dims = dimensions_of(by)
    if pair is not None:  # a pair the ladder does not have is the same error as on one machine, before any task
        pair_ranks(shell_inputs(filters, settings=settings), *pair)
    task = functools.partial(group_report_parts, filters=filters, settings=settings, by=dims,
                             window_days=window_days, skipped=skipped, pages=pages, pair=pair)
    found = engine_per_group(con, filters, settings=settings, by=dims, task=task, groups=groups)
    if found is None or not found.num_rows:
        return None
    segments, parts = merged_parts(found, by=dims)
    counts = parts.pop("notes").row(0, named=True)
    notes = inputs_notes(counts, counts["undated_leads"], ladder=filters.ladder)
    return shell_inputs(filters, settings=settings, by=dims, segments=segments, notes=notes), parts
