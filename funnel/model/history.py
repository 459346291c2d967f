"""Stage histories and the lead frame: the two row-level inputs of every funnel analysis.

`stage_history` gives one row per stage entry on a ladder as of a day D; `lead_frame` gives one row
per lead with the dimensions it can be segmented by. Both read the store through the SQL files in
`funnel/store/sql/` (loaded by `sql_text`, the one place those files are read), and neither looks at the
clock: everything is as of the D passed in.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date

import duckdb
import polars as pl
import pyarrow as pa

from funnel import schema as sc
from funnel.config import Settings
from funnel.engine import is_spark
from funnel.errors import FunnelError
from funnel.filters import until
from funnel.model import materialised, scoring, stages
from funnel.model.scoring import seniority_by_title
from funnel.store import inventory
from funnel.store.db import frame, quote_ident, registered
from funnel.store.queries import bound_params, sql_text

__all__ = [
    "BASIS_CURRENT_STAGE",
    "BASIS_STAGE_EVENT",
    "DIMENSION_VALUES",
    "HISTORY_COLUMNS",
    "UNKNOWN",
    "conformed_history",
    "dimension_values",
    "dimensions_of_values",
    "group_dimension_values",
    "history_counts",
    "history_note",
    "history_note_of",
    "history_until",
    "lead_facts",
    "lead_facts_query",
    "lead_frame",
    "lead_frame_of",
    "lead_frame_queries",
    "lead_rows_of",
    "lifecycle_entries",
    "lifecycle_params",
    "newest_day",
    "segment_dimensions",
    "segment_dimensions_in",
    "segment_text",
    "segment_values",
    "stage_history",
    "stage_history_of",
    "stage_history_query",
    "stage_names",
    "stage_timeline",
]


# The columns of a stage history, in order (a funnel history may add evidence columns after them).
HISTORY_COLUMNS: dict[str, pl.DataType] = {
    sc.LEAD_ID: pl.String(),
    sc.STAGE: pl.String(),
    "stage_rank": pl.Int32(),
    sc.ENTERED_AT: pl.Datetime("us"),
    sc.REASON: pl.String(),
    "is_side": pl.Boolean(),
    "basis": pl.String(),
}
BASIS_STAGE_EVENT = "stage_event"  # a dated entry from the stage log (or the funnel stage engine)
BASIS_CURRENT_STAGE = "current_stage"  # placed from leads.lifecycle_stage alone: no move is known

UNKNOWN = "(unknown)"  # the segment value of a lead whose dimension is empty
# Values that say "we don't know" in exports: one segment with UNKNOWN, compared trimmed and in lower case.
UNKNOWN_VALUES = ("", "unknown", "(unknown)", "n/a", "not known", "not available", "-")
NO_TAGS = "(no tags)"  # the tags segment of a lead no tag rule matched
ATTRIBUTE_PREFIX = "attr:"
SCORE_COLUMNS = ("icp", "quadrant", "tags")
# Lead-frame columns that identify a lead or hold raw values, not segments.
NOT_SEGMENTS = {sc.LEAD_ID, sc.ACCOUNT_ID, sc.COMPANY, sc.CREATED_AT, sc.EMPLOYEES, sc.TITLE}
MAX_SEGMENT_VALUES = 200
# Lead-frame columns read from leads alone (the others fall back to, or come from, the account).
LEAD_ONLY = {sc.SOURCE, sc.OWNER, sc.LIFECYCLE_STAGE, sc.LEAD_STATUS, sc.TITLE, sc.ACCOUNT_ID, sc.CREATED_AT}



def stage_names(settings: Settings, ladder: str) -> tuple[str, ...]:
    """Every stage of a ladder by rank: the main stages in order, then the side states."""
    return settings.ladders.stages(ladder) + settings.ladders.side(ladder)


def stage_history(con: duckdb.DuckDBPyConnection, *, ladder: str, settings: Settings, as_of: date) -> pl.DataFrame:
    """One row per stage entry at or before the end of day `as_of`, ordered by lead and time:
    lead_id, stage, stage_rank, entered_at, reason, is_side, basis (see `history_note`)."""
    query = stage_history_query(con, ladder=ladder, settings=settings, as_of=as_of)
    if query is None:  # the funnel ladder without stored entries for these settings: the engine computes them
        rows = stages.computed_funnel_history(con, settings=settings, as_of=as_of)
    else:
        rows = frame(con, *query)
    return stage_history_of(rows, ladder=ladder, settings=settings, as_of=as_of)


def stage_history_query(con: duckdb.DuckDBPyConnection, *, ladder: str, settings: Settings,
                        as_of: date) -> tuple[str, dict] | None:
    """The one query (SQL and parameters) whose rows `stage_history_of` makes the stage history as of D: the
    lifecycle ladder's entries (`lifecycle_entries_sql`), or the funnel ladder's stored entries without
    evidence; None when the lead model holds no funnel run for these settings (the stage engine computes them)."""
    if ladder == sc.LIFECYCLE:
        sql = lifecycle_entries_sql(con, settings)
        return sql, bound_params(sql, lifecycle_params(settings, as_of=as_of))
    if ladder == sc.FUNNEL:
        return materialised.stored_funnel_history_query(con, settings=settings, as_of=as_of, evidence=False)
    raise ValueError(f"unknown ladder {ladder!r}; expected one of {', '.join(sc.LADDERS)}")


def stage_history_of(rows: pl.DataFrame, *, ladder: str, settings: Settings, as_of: date) -> pl.DataFrame:
    """`stage_history` from the rows of its query (or, on the funnel ladder, of the stage engine): pure, so it
    runs wherever the rows are (per group of leads, in the tasks of a Spark engine)."""
    if ladder == sc.LIFECYCLE:
        return conformed_history(rows.drop("seq", "prev_rank"), settings=settings, ladder=ladder, ranked=True)
    history = rows.select([pl.col(c).cast(t) for c, t in stages.HISTORY_SCHEMA.items()
                           if c not in sc.EVIDENCE_COLUMNS])
    if "basis" not in history.columns:
        history = history.with_columns(pl.lit(BASIS_STAGE_EVENT).alias("basis"))
    history = history.filter(pl.col(sc.ENTERED_AT).is_null() | (pl.col(sc.ENTERED_AT) < until(as_of)))
    return conformed_history(history, settings=settings, ladder=ladder)


def history_until(history: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """A `stage_history` of a later day cut at the end of day D: the same rows as `stage_history` at D. Both
    ladders are causal (an entry after D changes nothing at or before it, and undated entries count at every
    date), so one history read at the latest day serves every earlier one."""
    return history.filter(pl.col(sc.ENTERED_AT).is_null() | (pl.col(sc.ENTERED_AT) < until(as_of)))


def lifecycle_params(settings: Settings, *, as_of: date) -> dict:
    """The parameters of lifecycle_entries.sql, the one query of the lifecycle ladder as of D."""
    return {"ladder": sc.LIFECYCLE, "stages": list(stage_names(settings, sc.LIFECYCLE)), "until": until(as_of)}


def lifecycle_entries_sql(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The query of the lifecycle ladder as of D (lifecycle_entries.sql's rows, with `lifecycle_params`, of
    which $until cuts): the stored entries of one run over all the data cut at D when the lead model holds them
    for these settings (model_lifecycle_entries.sql), else lifecycle_entries.sql itself. Both give the same rows:
    the ladder is causal (an entry after D changes nothing at or before it, repeats are dropped in time order,
    and whether the log mentions a lead does not depend on D)."""
    if materialised.lifecycle_is_current(con, settings):
        return sql_text("model_lifecycle_entries")
    return sql_text("lifecycle_entries")


def lifecycle_entries(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """The lifecycle ladder as of D (one row per entry: lead_id, stage_rank, entered_at, reason, basis, seq,
    prev_rank), unordered: see `lifecycle_entries_sql`."""
    sql = lifecycle_entries_sql(con, settings)
    return frame(con, sql, bound_params(sql, lifecycle_params(settings, as_of=as_of)))


def lead_facts(con: duckdb.DuckDBPyConnection, *, settings: Settings) -> pl.DataFrame:
    """One row per lead, ordered by lead_id: lead_id, created_at, lifecycle_rank (the rank of its
    current lifecycle stage on the settings' lifecycle ladder; null when off the ladder)."""
    return frame(con, *lead_facts_query(settings)).sort(sc.LEAD_ID)


def lead_facts_query(settings: Settings) -> tuple[str, dict]:
    """The query (SQL and parameters) of `lead_facts`, its rows in no set order."""
    return sql_text("lead_facts"), {"stages": list(stage_names(settings, sc.LIFECYCLE))}


def conformed_history(history: pl.DataFrame, *, settings: Settings, ladder: str, ranked: bool = False) -> pl.DataFrame:
    """The contract columns first, typed, ranks and side flags from the settings, rows ordered by
    lead, time (undated first) and place on the ladder (or the funnel engine's entry_order); a repeated entry into the stage the lead is
    already in is dropped (it is not a new entry). `ranked`: stage_rank is given and stage is not."""
    names = stage_names(settings, ladder)
    main = len(settings.ladders.stages(ladder))
    needed = (sc.LEAD_ID, "stage_rank" if ranked else sc.STAGE, sc.ENTERED_AT)
    missing = [c for c in needed if c not in history.columns]
    if missing:
        raise FunnelError(f"the {ladder} stage history lacks the column(s) {', '.join(missing)}")
    for column, default in ((sc.REASON, pl.lit(None, dtype=pl.String)), ("basis", pl.lit(BASIS_STAGE_EVENT))):
        if column not in history.columns:
            history = history.with_columns(default.alias(column))
    if ranked:
        history = history.with_columns(pl.col("stage_rank").replace_strict(
            list(range(len(names))), list(names), default=None, return_dtype=pl.String).alias(sc.STAGE))
    else:
        history = history.with_columns(pl.col(sc.STAGE).cast(pl.String).replace_strict(
            list(names), list(range(len(names))), default=None, return_dtype=pl.Int32).alias("stage_rank"))
    conformed = (
        history.filter(pl.col("stage_rank").is_not_null() & pl.col(sc.LEAD_ID).is_not_null())
        .with_columns((pl.col("stage_rank") >= main).alias("is_side"))
    )
    if "entry_order" in conformed.columns:  # the funnel engine's own order of entries at one timestamp
        conformed = conformed.sort([sc.LEAD_ID, sc.ENTERED_AT, "entry_order"], nulls_last=[False, False, True])
    else:
        conformed = conformed.sort([sc.LEAD_ID, sc.ENTERED_AT, "stage_rank", sc.REASON],
                                   nulls_last=[False, False, False, True])
    repeated = ((pl.col(sc.LEAD_ID) == pl.col(sc.LEAD_ID).shift(1))
                & (pl.col("stage_rank") == pl.col("stage_rank").shift(1)))
    conformed = conformed.filter(~repeated.fill_null(False))
    extra = [c for c in conformed.columns if c not in HISTORY_COLUMNS]
    return conformed.select([pl.col(c).cast(t) for c, t in HISTORY_COLUMNS.items()] + extra)


def stage_timeline(history: pl.DataFrame) -> pl.DataFrame:
    """The history (ordered as `stage_history` returns it) with each entry's neighbours: prev_rank,
    prev_side, next_rank, next_side, next_at, next_reason (null at the lead's first/last entry),
    is_first and is_last."""
    same_prev = (pl.col(sc.LEAD_ID).shift(1) == pl.col(sc.LEAD_ID)).fill_null(False)
    same_next = (pl.col(sc.LEAD_ID).shift(-1) == pl.col(sc.LEAD_ID)).fill_null(False)
    return history.with_columns(
        pl.when(same_prev).then(pl.col("stage_rank").shift(1)).alias("prev_rank"),
        pl.when(same_prev).then(pl.col("is_side").shift(1)).alias("prev_side"),
        pl.when(same_next).then(pl.col("stage_rank").shift(-1)).alias("next_rank"),
        pl.when(same_next).then(pl.col("is_side").shift(-1)).alias("next_side"),
        pl.when(same_next).then(pl.col(sc.ENTERED_AT).shift(-1)).alias("next_at"),
        pl.when(same_next).then(pl.col(sc.REASON).shift(-1)).alias("next_reason"),
        (~same_prev).alias("is_first"),
        (~same_next).alias("is_last"),
    )


def history_counts(history: pl.DataFrame) -> pl.DataFrame:
    """What `history_note` says, as one row of counts that add up over groups of leads: leads (with a history),
    placed (placed from their current stage alone), undated (placed, and without any date)."""
    per_lead = history.group_by(sc.LEAD_ID).agg(
        (pl.col("basis") == BASIS_CURRENT_STAGE).any().alias("placed"),
        pl.col(sc.ENTERED_AT).is_null().all().alias("undated"),
    )
    return per_lead.select(pl.len().cast(pl.Int64).alias("leads"), pl.col("placed").sum().cast(pl.Int64),
                           (pl.col("placed") & pl.col("undated")).sum().cast(pl.Int64).alias("undated"))


def history_note(history: pl.DataFrame, *, ladder: str) -> str:
    """What a ladder's stage history was built from, in words a page can show next to the numbers."""
    return history_note_of(history_counts(history).row(0, named=True), ladder=ladder)


def history_note_of(counts: dict[str, int], *, ladder: str) -> str:
    """`history_note` from `history_counts` (of all leads, or summed over groups of them)."""
    if not counts["leads"]:
        return "No stage history at this date: no lead has a stage yet."
    placed, undated = counts["placed"], counts["undated"]
    logged = counts["leads"] - placed
    source = "the funnel stage engine's evidence" if ladder == sc.FUNNEL else "stage events"
    parts = [f"history from {source}: {logged:,} leads"] if logged else []
    if placed:
        text = f"current stage only: {placed:,} leads (placed at their created date"
        text += f"; {undated:,} without any date)" if undated else ")"
        parts.append(text)
        parts.append("conversion and time-to-convert use dated stage events only; "
                     "leads without a date count in the distribution but not in aging")
    return "; ".join(parts) + "."


# ------------------------------------------------------------------------------------ lead frame


def lead_rows_of(con: duckdb.DuckDBPyConnection, lead_ids: pl.Series, columns: Sequence[str]) -> pl.DataFrame:
    """lead_id and the leads-table `columns` of the leads in `lead_ids`, one row per lead id (lead_rows_of.sql):
    what a list of a few leads shows beside each, read for those leads only (reading every lead's row to keep a
    few cost seconds at a million leads)."""
    selected = ", ".join(quote_ident(c) for c in dict.fromkeys(columns))
    with registered(con, {"lead_ids": lead_ids.unique().to_frame(sc.LEAD_ID).to_arrow()}) as names:
        return frame(con, sql_text("lead_rows_of", fragments={"columns": selected}, lead_ids=names["lead_ids"]))


def lead_frame(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date | None = None,
               dimensions: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per lead: lead_id, source, owner, lifecycle_stage, lead_status, country, industry,
    employees, size_band, seniority, title, account_id, company, created_at, one `attr:<key>` text
    column per key of leads.attributes, and icp, quadrant, tags when funnel.model.scoring exists and
    `as_of` is given. `dimensions` limits the columns (besides lead_id) to those named, and the
    work to what they need."""
    wanted = None if dimensions is None else list(dict.fromkeys(dimensions))
    queries = lead_frame_queries(con, settings=settings, dimensions=wanted)
    leads = lead_frame_of([frame(con, *query) for query in queries], settings=settings, dimensions=wanted)
    if as_of is not None and (wanted is None or any(w in SCORE_COLUMNS for w in wanted)):
        scores = lead_scores(con, settings=settings, as_of=as_of)
        if scores is not None:
            leads = leads.join(scores, on=sc.LEAD_ID, how="left", maintain_order="left")
    if wanted is not None:
        leads = leads.select(sc.LEAD_ID, *[c for c in wanted if c in leads.columns])
    return leads


LEAD_FRAME_BASE = (sc.SOURCE, sc.OWNER, sc.LIFECYCLE_STAGE, sc.LEAD_STATUS, sc.COUNTRY, sc.INDUSTRY, sc.EMPLOYEES,
                   "size_band", sc.TITLE, sc.ACCOUNT_ID, sc.COMPANY, sc.CREATED_AT)


def lead_frame_queries(con: duckdb.DuckDBPyConnection, *, settings: Settings,
                       dimensions: Sequence[str] | None) -> list[tuple[str, dict]]:
    """The queries (SQL and parameters) whose rows `lead_frame_of` makes the lead frame without its scores: the
    lead columns' (joined to the account only when a column needs it), then the custom attributes' when one is
    wanted (any, when `dimensions` is None) and the leads have any."""
    wanted = None if dimensions is None else list(dimensions)
    needed = list(LEAD_FRAME_BASE) if wanted is None else [
        c for c in LEAD_FRAME_BASE if c in wanted or (c == sc.TITLE and "seniority" in wanted)]
    columns = ", ".join(quote_ident(c) for c in [sc.LEAD_ID, *needed])
    if set(needed) <= LEAD_ONLY:  # nothing from the account: skip the join
        queries = [(f"SELECT {columns} FROM leads WHERE lead_id IS NOT NULL", {})]
    else:
        bands = settings.segments
        queries = [(f"SELECT {columns} FROM ({sql_text('lead_dimensions')})",
                    {"bands": list(bands.size_bands), "band_labels": list(bands.size_band_labels())})]
    if wanted is None or any(w.startswith(ATTRIBUTE_PREFIX) for w in wanted):
        attributes = attribute_columns_query(con)
        if attributes is not None:
            queries.append(attributes)
    return queries


def lead_frame_of(rows: Sequence[pl.DataFrame], *, settings: Settings,
                  dimensions: Sequence[str] | None) -> pl.DataFrame:
    """The lead frame without its scores from the rows of `lead_frame_queries` (same `dimensions`): seniority
    from the title, the wanted attributes joined, the columns in their order. Pure: it runs wherever the rows
    are, for all leads or any group of them."""
    leads, *attributes = rows
    if dimensions is None or "seniority" in dimensions:
        leads = leads.with_columns(seniority_by_title(leads.get_column(sc.TITLE), settings).alias("seniority"))
    for found in attributes:
        keep = [c for c in found.columns if dimensions is None or c in dimensions or c == sc.LEAD_ID]
        leads = leads.join(found.select(keep), on=sc.LEAD_ID, how="left", maintain_order="left")
    order = [sc.LEAD_ID, *LEAD_FRAME_BASE[:7], "size_band", "seniority", *LEAD_FRAME_BASE[8:]]
    first = [c for c in order if c in leads.columns]
    return leads.select(first + [c for c in leads.columns if c not in first])


def attribute_keys(con: duckdb.DuckDBPyConnection, table: str = "leads") -> list[str]:
    """The custom attribute keys found in `table`.attributes (leads, accounts or deals), sorted."""
    keys = frame(con, f"SELECT DISTINCT unnest(map_keys(attributes)) AS k FROM {quote_ident(table)} ORDER BY k")
    return [k for k in keys.get_column("k").to_list() if k is not None]


def plain_name(name: str) -> str:
    """A column name compared loosely: lower case, runs of anything but letters and digits as one "_"."""
    return "_".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def dimension_named(name: str, attribute_keys: Sequence[str], columns: Sequence[str]) -> str:
    """The segment dimension a person means by `name`: one of `columns` (the lead or deal columns) as written,
    `attr:<key>` as written, else the custom attribute whose key matches loosely ("Lead Origin", "lead origin",
    "lead_origin"), else the column that matches loosely; `name` itself when nothing does (the caller's error
    then lists what can be used)."""
    if name in columns or name.startswith(ATTRIBUTE_PREFIX):
        return name
    wanted = plain_name(name)
    for key in attribute_keys:
        if key == name or plain_name(key) == wanted:
            return ATTRIBUTE_PREFIX + key
    for column in columns:
        if plain_name(column) == wanted:
            return column
    return name


LEAD_DIMENSIONS = (sc.SOURCE, sc.OWNER, sc.LIFECYCLE_STAGE, sc.LEAD_STATUS, sc.COUNTRY, sc.INDUSTRY, "size_band",
                   "seniority", sc.TITLE, sc.ACCOUNT_ID, sc.COMPANY, *SCORE_COLUMNS)


def lead_dimension_named(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """`dimension_named` over the lead frame's columns and the leads' custom attributes (`--by` of the CLI)."""
    return dimension_named(name, attribute_keys(con), LEAD_DIMENSIONS)


def attribute_columns_query(con: duckdb.DuckDBPyConnection) -> tuple[str, dict] | None:
    """The query (SQL and parameters) of lead_id and one text column `attr:<key>` per key found in
    leads.attributes, or None when the leads have no attributes."""
    names = attribute_keys(con)
    if not names:
        return None
    # Identifiers go through quote_ident; the keys themselves are bound values.
    params = {f"k{i}": k for i, k in enumerate(names)}
    columns = ", ".join(f"map_extract_value(attributes, ${p}) AS {quote_ident(ATTRIBUTE_PREFIX + k)}"
                        for p, k in params.items())
    return f"SELECT lead_id, {columns} FROM ({sql_text('lead_rows')})", params


def lead_scores(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame | None:
    """lead_id, icp, quadrant and tags (its sorted tags joined by ", ", or "(no tags)")."""
    scores = scoring.lead_scores(con, settings=settings, as_of=as_of)
    wanted = [c for c in SCORE_COLUMNS if c in scores.columns]
    scores = scores.select(sc.LEAD_ID, *wanted)
    if "tags" in wanted and isinstance(scores.schema["tags"], pl.List):  # one segment per set of tags
        joined = pl.col("tags").list.sort().list.join(", ")
        scores = scores.with_columns(pl.when(pl.col("tags").list.len() > 0).then(joined)
                                     .otherwise(pl.lit(NO_TAGS)).alias("tags"))
    return scores.with_columns([pl.col(c).cast(pl.String) for c in wanted])


def segment_dimensions(leads: pl.DataFrame) -> list[str]:
    """The lead-frame columns worth segmenting by: text columns with at least one value and at most
    200 distinct ones (ids, names and raw numbers left out), in the frame's order."""
    return dimensions_of_values(dimension_values(leads))


DIMENSION_VALUES = pa.schema([("position", pa.int32()), ("column", pa.string()), ("value", pa.string())])


def dimension_values(leads: pl.DataFrame) -> pa.Table:
    """Per text column of a lead frame that could be a segment (its position, its name): its distinct values,
    at most MAX_SEGMENT_VALUES + 1 of them (enough to tell that there are too many). The values of two groups
    of leads together are the values of both, so `dimensions_of_values` gives the same answer over all leads
    at once or over groups of them (DIMENSION_VALUES)."""
    found = [pl.DataFrame({"value": leads.get_column(name).drop_nulls().unique().head(MAX_SEGMENT_VALUES + 1)
                                    .cast(pl.String)})
             .select(pl.lit(position, dtype=pl.Int32).alias("position"), pl.lit(name).alias("column"), "value")
             for position, (name, dtype) in enumerate(leads.schema.items())
             if name not in NOT_SEGMENTS and (dtype in (pl.String(), pl.Categorical()) or isinstance(dtype, pl.Enum))]
    rows = pl.concat(found) if found else pl.DataFrame(schema={"position": pl.Int32, "column": pl.String,
                                                               "value": pl.String})
    return rows.to_arrow().cast(DIMENSION_VALUES)


def dimensions_of_values(values: pa.Table) -> list[str]:
    """`segment_dimensions` from the `dimension_values` of every group of leads: the columns with at least one and
    at most MAX_SEGMENT_VALUES distinct values, in the frame's order."""
    counted = (pl.from_arrow(values).group_by("position", "column").agg(pl.col("value").n_unique().alias("n"))
               .filter(pl.col("n").is_between(1, MAX_SEGMENT_VALUES)).sort("position"))
    return counted.get_column("column").to_list()


def group_dimension_values(*tables: pa.Table, settings: Settings) -> pa.Table:
    """`dimension_values` of one group of leads' frame, from the rows of its `lead_frame_queries` (run per group
    of leads by an engine)."""
    return dimension_values(lead_frame_of([pl.from_arrow(t) for t in tables], settings=settings, dimensions=None))


def segment_dimensions_in(con: duckdb.DuckDBPyConnection, *, settings: Settings) -> list[str]:
    """`segment_dimensions` of the store's lead frame. On an engine that computes per group of leads (Spark) each
    group's distinct values are taken inside its tasks and only those come back, never a row per lead."""
    if not is_spark(con):
        return segment_dimensions(lead_frame(con, settings=settings))
    queries = lead_frame_queries(con, settings=settings, dimensions=None)
    task = functools.partial(group_dimension_values, settings=settings)
    return dimensions_of_values(con.per_group(queries, key=sc.LEAD_ID, groups=stages.lead_groups(con), function=task,
                                              schema=DIMENSION_VALUES))


def segment_values(leads: pl.DataFrame, dimensions: Sequence[str]) -> pl.DataFrame:
    """lead_id and the given dimensions as text, empty and "unknown"-like values as one "(unknown)" segment."""
    missing = [d for d in dimensions if d not in leads.columns or d == sc.LEAD_ID]
    if missing:
        usable = ", ".join(segment_dimensions(leads)) or "none"
        raise FunnelError(f"cannot segment by {', '.join(missing)}: no such lead column",
                          column=missing[0], hint=f"Segment by one of: {usable}")
    return leads.select(
        sc.LEAD_ID,
        *[segment_text(pl.col(d)).alias(d) for d in dict.fromkeys(dimensions)],
    )


def segment_text(value: pl.Expr) -> pl.Expr:
    """A segment value as text: empty, blank and "unknown"-like values (UNKNOWN_VALUES, any case) as the one
    segment UNKNOWN; other values trimmed."""
    text = value.cast(pl.String).str.strip_chars()
    return pl.when(text.is_null() | text.str.to_lowercase().is_in(list(UNKNOWN_VALUES))).then(pl.lit(UNKNOWN)) \
        .otherwise(text)


def table_spans(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Each canonical table's rows, date span and newest timestamp (funnel.store.inventory.table_spans): stored
    by the lead model for the current data, else read from the tables."""
    stored = materialised.stored_table_spans(con)
    return inventory.table_spans(con) if stored is None else stored.cast(inventory.SPAN_SCHEMA)


def newest_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day of the newest timestamp in the store (the default as-of date), None when empty."""
    newest = inventory.newest_of(table_spans(con))  # a datetime (the spans' schema), or None
    return None if newest is None else newest.date()


