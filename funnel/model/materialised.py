"""The lead model kept in the database file: what is built once per data version and settings, and read by
every page, command and report instead of being derived again.

The funnel stage engine is causal (funnel/model/stages.py: a later run cut at day D is the run as of D), so
one run over all the data, with no end date, serves every as-of date: its entries are kept in
`model_funnel_entries` and a page at D reads the entries dated before the end of D. Cold points after the
newest data (a lead going cold next month) are entries too; they are cut away until D reaches them.
The Spark engine reads the same tables when `funnel export-tables` wrote them with the data: an export holds
the store as it was, so its model is current for its tables (replace the tables, and remove those two).

A part is current when `model_state` names it with the key of the settings that shape it. Every rebuild of
the imported data (funnel.model.identity, after each import or removal, or for new [identity] rules) drops
every other part and records itself, so a part can be missing (then the caller computes from the tables, as
before the model existed) but never stale.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime

import duckdb
import polars as pl

from funnel.config import Settings
from funnel.engine import is_spark
from funnel.errors import FunnelError
from funnel.filters import LAST_DAY, until
from funnel.schema import (
    ACTIVITIES,
    AUDIT_RECORDS_PART,
    CONTENT_VIEWS_PART,
    CREATED_AT,
    ENGAGEMENT_PART,
    EVIDENCE_COLUMNS,
    FIRST_TOUCHES_PART,
    FORM_TOUCHES_PART,
    FORM_TYPES,
    FUNNEL_PART,
    IDENTITY_PART,
    INTENT_INPUTS_PART,
    LEAD_ID,
    LIFECYCLE,
    LIFECYCLE_PART,
    MODEL_ACCOUNT_FINDINGS,
    MODEL_COMPANY_RECORDS,
    MODEL_CONTENT_VIEWS,
    MODEL_ENGAGEMENT_DAYS,
    MODEL_FIRST_TOUCHES,
    MODEL_FORM_TOUCHES,
    MODEL_FUNNEL_ENTRIES,
    MODEL_INTENT_DAYS,
    MODEL_LEAD_FINDINGS,
    MODEL_LIFECYCLE_ENTRIES,
    MODEL_PERSON_RECORDS,
    MODEL_SCORING_FACTS,
    MODEL_STATE,
    MODEL_SURGE_DAYS,
    MODEL_TABLE_SPANS,
    SCORING_FACTS_PART,
    TABLE_SPANS_PART,
    VIEW_TYPES,
)
from funnel.store.db import BOOKKEEPING_COLUMNS, MODEL_TABLES, first_row, frame, quote_ident, registered
from funnel.store.inventory import table_spans
from funnel.store.queries import sql_text

__all__ = [
    "AUDIT_RECORDS_PART",
    "CONTENT_VIEWS_PART",
    "ENGAGEMENT_PART",
    "FIRST_TOUCHES_PART",
    "FORM_TOUCHES_PART",
    "FUNNEL_PART",
    "HORIZON",
    "IDENTITY_PART",
    "INTENT_INPUTS_PART",
    "LIFECYCLE_PART",
    "SCORING_FACTS_PART",
    "TABLE_SPANS_PART",
    "activity_times_query",
    "audit_records_are_current",
    "clear_model",
    "content_views_are_current",
    "content_views_key",
    "content_views_query",
    "engagement_days_are_current",
    "engagement_key",
    "first_touch_query",
    "first_touches_are_current",
    "form_touch_query",
    "form_touches_are_current",
    "funnel_is_current",
    "funnel_settings_key",
    "identity_is_current",
    "identity_settings_key",
    "intent_inputs_are_current",
    "lifecycle_is_current",
    "lifecycle_settings_key",
    "model_is_current",
    "model_parts",
    "scoring_facts_is_current",
    "scoring_facts_key",
    "stored_audit_records",
    "stored_content_views_query",
    "stored_engaged_query",
    "stored_funnel_entrants",
    "stored_funnel_history",
    "stored_funnel_history_query",
    "stored_funnel_stages",
    "stored_scoring_facts",
    "stored_surge_days",
    "stored_table_spans",
    "table_spans_are_current",
    "write_audit_records",
    "write_content_views",
    "write_engagement_days",
    "write_first_touches",
    "write_form_touches",
    "write_funnel_entries",
    "write_intent_inputs",
    "write_lifecycle_entries",
    "write_scoring_facts",
    "write_table_spans",
]

STATE_COLUMNS = ", ".join(BOOKKEEPING_COLUMNS[MODEL_STATE])
ENTRY_COLUMNS = BOOKKEEPING_COLUMNS[MODEL_FUNNEL_ENTRIES]
LIFECYCLE_COLUMNS = BOOKKEEPING_COLUMNS[MODEL_LIFECYCLE_ENTRIES]
# The end date of the model's one run: the last day an import accepts, so every entry and cold point a page can
# reach (an as-of date is at most that day too) is in it.
HORIZON = LAST_DAY


# The layout of the stored entries: a model written in an older one is rebuilt, never read (2: next_at; 3: run
# to the last importable day, one year later than before).
ENTRIES_LAYOUT = 3


def funnel_settings_key(settings: Settings) -> str:
    """A short fingerprint of the settings the funnel engine reads (the ladders and the funnel rules), and of
    the entries' layout."""
    return hashlib.sha256(repr((ENTRIES_LAYOUT, settings.ladders, settings.funnel_rules)).encode()).hexdigest()[:16]


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    if is_spark(con):  # a dataset exported with the model holds its tables (funnel export-tables)
        return name in con.tables()
    return first_row(con, "SELECT 1 FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $name",
                     {"name": name}) is not None


def model_parts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per built part of the model: part, settings_key, built_at, rows, seconds (empty when none)."""
    if not _has_table(con, MODEL_STATE):
        return pl.DataFrame(schema={"part": pl.String, "settings_key": pl.String, "built_at": pl.Datetime("us"),
                                    "rows": pl.Int64, "seconds": pl.Float64})
    return frame(con, f"SELECT part, settings_key, built_at, rows, seconds FROM {quote_ident(MODEL_STATE)} "
                      "ORDER BY part")


def identity_settings_key(settings: Settings) -> str:
    """A short fingerprint of the [identity] settings the resolved tables were built with."""
    return hashlib.sha256(repr(settings.identity).encode()).hexdigest()[:16]


def identity_is_current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the resolved tables were built with these [identity] settings from the data as it is."""
    return _is_current(con, IDENTITY_PART, identity_settings_key(settings))


def funnel_is_current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the model holds the funnel engine's run for these settings on the current data."""
    return _is_current(con, FUNNEL_PART, funnel_settings_key(settings))


def lifecycle_settings_key(settings: Settings) -> str:
    """A short fingerprint of what lifecycle_entries.sql reads from the settings: the lifecycle ladder's stages
    and side states, in order."""
    ladder = (settings.ladders.stages(LIFECYCLE), settings.ladders.side(LIFECYCLE))
    return hashlib.sha256(repr(ladder).encode()).hexdigest()[:16]


def lifecycle_is_current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the model holds the lifecycle ladder's entries for these settings on the current data."""
    return _is_current(con, LIFECYCLE_PART, lifecycle_settings_key(settings))


def model_is_current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the pages and commands read every history from the model for these settings: the identity and
    both ladders' entries are current (the scoring parts, when missing, are computed by whoever reads them)."""
    return (identity_is_current(con, settings) and funnel_is_current(con, settings)
            and lifecycle_is_current(con, settings))


def _is_current(con: duckdb.DuckDBPyConnection, part: str, key: str) -> bool:
    if not _has_table(con, MODEL_STATE):
        return False
    return first_row(con, f"SELECT 1 FROM {quote_ident(MODEL_STATE)} WHERE part = $part AND settings_key = $key",
                     {"part": part, "key": key}) is not None


def stored_funnel_history(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                          lead_ids: Sequence[str] | None = None, evidence: bool = True) -> pl.DataFrame | None:
    """The funnel entries as of D from the stored model (ordered by lead and entry_order), or None when the
    model holds no current run for these settings. `evidence`: with the evidence columns (without them, the read
    costs half: evidence_id is a text per entry)."""
    query = stored_funnel_history_query(con, settings=settings, as_of=as_of, lead_ids=lead_ids, evidence=evidence)
    return None if query is None else frame(con, *query)


def stored_funnel_history_query(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                                lead_ids: Sequence[str] | None = None,
                                evidence: bool = True) -> tuple[str, dict[str, object]] | None:
    """The query (SQL and its parameters) of `stored_funnel_history`, or None when the model holds no current
    run for these settings."""
    if not funnel_is_current(con, settings):
        return None
    params: dict[str, object] = {"until": until(as_of)}
    lead_filter = ""
    if lead_ids is not None:
        params["lead_ids"] = list(lead_ids)
        lead_filter = f" and list_contains($lead_ids, {quote_ident(LEAD_ID)})"
    columns = ", ".join(quote_ident(c) for c in EVIDENCE_COLUMNS) + "," if evidence else ""
    return sql_text("model_funnel_entries", fragments={"lead_filter": lead_filter, "evidence": columns}), params


def stored_funnel_stages(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame | None:
    """Each lead's funnel stage at the end of D from the stored entries (model_funnel_stages.sql), or None
    when the model holds no current run for these settings."""
    if not funnel_is_current(con, settings):
        return None
    return frame(con, sql_text("model_funnel_stages"), {"until": until(as_of)})


def stored_funnel_entrants(con: duckdb.DuckDBPyConnection, *, settings: Settings, stages: Sequence[str],
                           after: date | None, as_of: date) -> pl.DataFrame | None:
    """lead_id of every lead that entered one of `stages` after day `after` (None: at any time) and by the end
    of D, from the stored entries (model_funnel_entrants.sql), or None when the model holds no current run for
    these settings."""
    if not funnel_is_current(con, settings):
        return None
    return frame(con, sql_text("model_funnel_entrants"), {"stages": list(stages), "until": until(as_of),
                                                          "since": None if after is None else until(after)})


def clear_model(con: duckdb.DuckDBPyConnection, *, identity_for: Settings, rows: int, seconds: float,
                now: datetime | None = None) -> None:
    """Every part forgotten (the data it was built from changed) but the resolved tables just rebuilt with
    `identity_for`'s [identity] rules, recorded as current; the caller holds the transaction."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(MODEL_STATE)} ({STATE_COLUMNS})")
    con.execute(f"DELETE FROM {quote_ident(MODEL_STATE)}")
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(MODEL_FUNNEL_ENTRIES)} ({', '.join(ENTRY_COLUMNS)})")
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(MODEL_LIFECYCLE_ENTRIES)} ({', '.join(LIFECYCLE_COLUMNS)})")
    for table in MODEL_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
    con.execute(f"INSERT INTO {quote_ident(MODEL_STATE)} VALUES ($part, $key, $at, $rows, $seconds)",
                {"part": IDENTITY_PART, "key": identity_settings_key(identity_for), "at": now or datetime.now(),
                 "rows": rows, "seconds": seconds})


def write_funnel_entries(con: duckdb.DuckDBPyConnection, batches: Iterable[pl.DataFrame], *, settings: Settings,
                         now: datetime | None = None) -> int:
    """The funnel entries of a run to HORIZON, given in batches of whole leads (computed as they are consumed),
    stored as the current funnel part for `settings`; returns the number of entries. Each batch is committed as
    it is written, so the process never holds the whole run (DuckDB keeps a transaction's appended rows in
    memory: about 1 GB per million leads); the part is recorded as current only once every batch is in, so a
    build stopped midway leaves it absent (the figures then come from the tables), never partly current."""
    started = time.perf_counter()
    table, rows = quote_ident(MODEL_FUNNEL_ENTRIES), 0
    with _rewriting(con, FUNNEL_PART):
        con.execute(f"CREATE OR REPLACE TABLE {table} ({', '.join(ENTRY_COLUMNS)})")
    for batch in batches:
        with registered(con, {"entries": batch.to_arrow()}) as names:
            con.execute(f"INSERT INTO {table} {sql_text('model_entries_next', entries=names['entries'])}")
        rows += batch.height
    _record(con, FUNNEL_PART, funnel_settings_key(settings), rows=rows, started=started, now=now)
    return rows


@contextmanager
def _rewriting(con: duckdb.DuckDBPyConnection, part: str) -> Iterator[None]:
    """One transaction in which `part` is forgotten and its tables written again (the body's work): all of it
    or none."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(MODEL_STATE)} ({STATE_COLUMNS})")
        con.execute(f"DELETE FROM {quote_ident(MODEL_STATE)} WHERE part = $part", {"part": part})
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _store_frame(con: duckdb.DuckDBPyConnection, table: str, data: pl.DataFrame) -> int:
    """`data` as the table `table`, replacing it; returns its number of rows."""
    with registered(con, {"data": data.to_arrow()}) as names:
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(table)} AS SELECT * FROM {quote_ident(names['data'])}")
    return data.height


def _created(con: duckdb.DuckDBPyConnection, table: str, query: str, params: dict[str, object]) -> int:
    """The rows of `query` as the table `table`, replacing it; returns its number of rows."""
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(table)} AS {query}", params)
    return _row_count(con, table)


def _row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(first_row(con, f"SELECT count(*) FROM {quote_ident(table)}")[0])


def _written(con: duckdb.DuckDBPyConnection, part: str, key: str, write: Callable[[], int], *,
             now: datetime | None) -> int:
    """`part` written again by `write` (which returns its number of rows) and recorded as current for `key`, in
    one transaction; returns the number of rows."""
    started = time.perf_counter()
    with _rewriting(con, part):
        rows = write()
        _record(con, part, key, rows=rows, started=started, now=now)
    return rows


def write_lifecycle_entries(con: duckdb.DuckDBPyConnection, *, settings: Settings, params: dict,
                            now: datetime | None = None) -> int:
    """lifecycle_entries.sql run once over all the data with `params` (funnel.model.history.lifecycle_params at
    HORIZON), stored ordered by lead and seq as the current lifecycle part for `settings` in one transaction;
    returns the number of entries."""
    table = quote_ident(MODEL_LIFECYCLE_ENTRIES)
    columns = ", ".join(column.split()[0] for column in LIFECYCLE_COLUMNS)

    def write() -> int:
        con.execute(f"CREATE OR REPLACE TABLE {table} ({', '.join(LIFECYCLE_COLUMNS)})")
        con.execute(f"INSERT INTO {table} SELECT {columns} FROM ({sql_text('lifecycle_entries')}) "
                    "ORDER BY lead_id, seq", params)
        return _row_count(con, MODEL_LIFECYCLE_ENTRIES)

    return _written(con, LIFECYCLE_PART, lifecycle_settings_key(settings), write, now=now)


# ------------------------------------------------------------------------------------ scoring parts
# What scoring at a day D replays (funnel.model.scoring): the lead facts fit, tags and routing read (they do
# not change with D, so they are computed once), and the inputs of intent: activities per lead, type and day,
# and the days an account surged, so the intent at D is an aggregate over the stored rows dated in D's
# lookback. Weights, decay, caps and the lookback are applied when read: no setting shapes those rows.

INTENT_INPUTS_KEY = "every activity and surge"  # the part depends on the data only
# The window the stored intent inputs cover: every dated row up to the model's horizon.
EARLIEST = date(1, 1, 1)


def scoring_facts_key(settings: Settings) -> str:
    """A short fingerprint of the settings the lead facts read: the ideal customer profiles (not the
    thresholds: the matrix's sliders change those), seniority levels, tags and the routing criteria."""
    shaping = (settings.fit.icps, settings.segments.seniority, settings.tags, settings.routing.criteria())
    return hashlib.sha256(repr(shaping).encode()).hexdigest()[:16]


def scoring_facts_is_current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the model holds the lead facts for these settings on the current data."""
    return _is_current(con, SCORING_FACTS_PART, scoring_facts_key(settings))


def intent_inputs_are_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the model holds the inputs of intent for the current data."""
    return _is_current(con, INTENT_INPUTS_PART, INTENT_INPUTS_KEY)


def _record(con: duckdb.DuckDBPyConnection, part: str, key: str, *, rows: int, started: float,
            now: datetime | None) -> None:
    con.execute(f"INSERT INTO {quote_ident(MODEL_STATE)} VALUES ($part, $key, $at, $rows, $seconds)",
                {"part": part, "key": key, "at": now or datetime.now(), "rows": rows,
                 "seconds": time.perf_counter() - started})


def write_scoring_facts(con: duckdb.DuckDBPyConnection, facts: pl.DataFrame, *, settings: Settings,
                        now: datetime | None = None) -> int:
    """The lead facts (funnel.model.scoring.scored_facts: one row per lead) stored as the current part for
    `settings` in one transaction; returns the number of rows."""
    return _written(con, SCORING_FACTS_PART, scoring_facts_key(settings),
                    lambda: _store_frame(con, MODEL_SCORING_FACTS, facts), now=now)


def stored_scoring_facts(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date | None = None,
                         lead_ids: Sequence[str] | None = None) -> pl.DataFrame | None:
    """The stored lead facts (of the leads created by the end of `as_of` when given, of `lead_ids` when
    given), or None when the model holds none for these settings."""
    if not scoring_facts_is_current(con, settings):
        return None
    params: dict[str, object] = {}
    where = ["true"]
    if as_of is not None:
        params["until"] = until(as_of)
        where.append(f"({quote_ident(CREATED_AT)} IS NULL OR {quote_ident(CREATED_AT)} < $until)")
    if lead_ids is not None:
        params["lead_ids"] = list(lead_ids)
        where.append(f"list_contains($lead_ids, {quote_ident(LEAD_ID)})")
    return frame(con, f"SELECT * FROM {quote_ident(MODEL_SCORING_FACTS)} WHERE {' AND '.join(where)}", params)


def write_intent_inputs(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> int:
    """The inputs of intent over all the data (intent_days.sql and surge_days.sql to the horizon), stored
    ordered by day (a lookback reads only its days) as the current part in one transaction; returns the
    number of activity rows."""
    window = {"since": EARLIEST, "until": until(HORIZON)}

    def write() -> int:
        rows = _created(con, MODEL_INTENT_DAYS, f"SELECT * FROM ({sql_text('intent_days')}) ORDER BY day, lead_id",
                        window)
        _created(con, MODEL_SURGE_DAYS, f"SELECT * FROM ({sql_text('surge_days')}) ORDER BY day, lead_id", window)
        return rows

    return _written(con, INTENT_INPUTS_PART, INTENT_INPUTS_KEY, write, now=now)


def _window_params(since: date, as_of: date, lead_ids: Sequence[str] | None) -> tuple[dict[str, object], str]:
    params: dict[str, object] = {"since": since, "as_of": as_of}
    if lead_ids is None:
        return params, ""
    params["lead_ids"] = list(lead_ids)
    return params, f" and list_contains($lead_ids, {quote_ident(LEAD_ID)})"


def stored_surge_days(con: duckdb.DuckDBPyConnection, *, since: date, as_of: date,
                      lead_ids: Sequence[str] | None = None) -> pl.DataFrame | None:
    """The stored rows of surge_days.sql for the days `since` to `as_of`, or None when the model holds none
    for the current data."""
    if not intent_inputs_are_current(con):
        return None
    params, lead_filter = _window_params(since, as_of, lead_ids)
    return frame(con, sql_text("model_surge_days", fragments={"lead_filter": lead_filter}), params)


# ------------------------------------------------------------------------------------ table spans
# Each canonical table's rows, date span and newest timestamp (funnel.store.inventory.table_spans): the default
# as-of date of every page and command, and the Data page's inventory, read instead of scanning every table.

TABLE_SPANS_KEY = "the data, whatever the settings"


def table_spans_are_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the model holds the table spans of the current data."""
    return _is_current(con, TABLE_SPANS_PART, TABLE_SPANS_KEY)


def write_table_spans(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> int:
    """The current data's table spans (funnel.store.inventory.table_spans) stored as the current part in one
    transaction; returns the number of tables."""
    return _written(con, TABLE_SPANS_PART, TABLE_SPANS_KEY,
                    lambda: _store_frame(con, MODEL_TABLE_SPANS, table_spans(con)), now=now)


def stored_table_spans(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """The stored table spans (in the order written), or None when the model holds none for the current data."""
    if not table_spans_are_current(con):
        return None
    return frame(con, f"SELECT * FROM {quote_ident(MODEL_TABLE_SPANS)}")


# ------------------------------------------------------------------------------------ first touches
# Each lead's first campaign and first page (first_touches.sql to the horizon): the capture audit's entry points.
# The pick is causal (the first campaign before D is the first one overall when that came before D), so a day D
# reads the stored rows through first_touches_at.sql instead of grouping every activity by lead again.

FIRST_TOUCHES_KEY = "every activity, whatever the settings"


def first_touches_are_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the model holds the first touches of the current data."""
    return _is_current(con, FIRST_TOUCHES_PART, FIRST_TOUCHES_KEY)


def write_first_touches(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> int:
    """Every lead's first campaign and first page over all the data, stored as the current part in one
    transaction; returns the number of leads."""
    query = sql_text("first_touches", activities=ACTIVITIES.name)
    return _written(con, FIRST_TOUCHES_PART, FIRST_TOUCHES_KEY,
                    lambda: _created(con, MODEL_FIRST_TOUCHES, query, {"until": until(HORIZON)}), now=now)


def first_touch_query(con: duckdb.DuckDBPyConnection) -> str:
    """The query of each lead's first campaign and first page as of the day its $until ends: a scan of the stored
    first touches when the model holds them, else first_touches.sql over the activities."""
    if first_touches_are_current(con):
        return sql_text("first_touches_at", first_touches=MODEL_FIRST_TOUCHES)
    return sql_text("first_touches", activities=ACTIVITIES.name)


# ------------------------------------------------------------------------------------ form touches
# Each lead's first submission and first view of each form (form_touches.sql to the horizon): the capture audit's
# form funnels. The firsts are causal, so a day D reads the stored rows cut at D (form_funnels.sql) instead of
# reading every form submission and page view again.

FORM_TOUCHES_KEY = "every form and page view, whatever the settings"
# What form_touches.sql binds besides $until: the activity types that submit a form, and those that view a page.
FORM_TOUCH_TYPES = {"forms": list(FORM_TYPES), "views": list(VIEW_TYPES)}


def form_touches_are_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the model holds the form touches of the current data."""
    return _is_current(con, FORM_TOUCHES_PART, FORM_TOUCHES_KEY)


def write_form_touches(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> int:
    """Every form's and lead's first submission and first view over all the data, stored as the current part in
    one transaction; returns the number of rows."""
    query = sql_text("form_touches", activities=ACTIVITIES.name)
    return _written(con, FORM_TOUCHES_PART, FORM_TOUCHES_KEY,
                    lambda: _created(con, MODEL_FORM_TOUCHES, query, FORM_TOUCH_TYPES | {"until": until(HORIZON)}),
                    now=now)


def form_touch_query(con: duckdb.DuckDBPyConnection) -> str:
    """The query of each form's and lead's first submission and first view, for form_funnels.sql to cut at the
    day its $until ends: the stored form touches when the model holds them, else form_touches.sql over the
    activities (binding FORM_TOUCH_TYPES and $until)."""
    if form_touches_are_current(con):
        return f"select form, lead_id, first_submit, first_view from {quote_ident(MODEL_FORM_TOUCHES)}"
    return sql_text("form_touches", activities=ACTIVITIES.name)


# ------------------------------------------------------------------------------------ content views
# Each stay at a funnel stage with its first view of each content type (content_first_views.sql over the stored
# funnel entries, to the horizon): the Routing page's content followed by the next stage. A stay's first view and
# its next entry are causal, so a day D reads the stored rows cut at D (model_content_views.sql) instead of
# joining every content view to every stay again.


def content_views_key(settings: Settings) -> str:
    """A short fingerprint of what the first views depend on beyond the data: the funnel run they read (its
    settings key) and the content types."""
    shaping = (funnel_settings_key(settings), settings.routing.content_types)
    return hashlib.sha256(repr(shaping).encode()).hexdigest()[:16]


def content_views_are_current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the model holds the stays' first views for these settings on the current data."""
    return _is_current(con, CONTENT_VIEWS_PART, content_views_key(settings))


def content_views_query(entries: str) -> str:
    """content_first_views.sql with its stays read from the funnel entries in the relation `entries` (binding
    $until and $types)."""
    spans = sql_text("funnel_spans", entries=entries)
    return sql_text("content_first_views", fragments={"spans": spans})


def write_content_views(con: duckdb.DuckDBPyConnection, *, settings: Settings, now: datetime | None = None) -> int:
    """Every stay's first view of each content type over all the data, from the stored funnel entries (current
    for `settings`), stored as the current part in one transaction; returns the number of rows."""
    if not funnel_is_current(con, settings):  # the stays are read from the stored run: never another settings' run
        raise FunnelError("the lead model holds no funnel run for these settings to read the stays from",
                          hint="Build the lead model first (funnel model --build)")
    params = {"until": until(HORIZON), "types": list(settings.routing.content_types) or [""]}
    query = content_views_query(MODEL_FUNNEL_ENTRIES)
    return _written(con, CONTENT_VIEWS_PART, content_views_key(settings),
                    lambda: _created(con, MODEL_CONTENT_VIEWS, query, params), now=now)


def stored_content_views_query() -> str:
    """The stored first views cut at the day its $until ends (model_content_views.sql)."""
    return sql_text("model_content_views", content_views=MODEL_CONTENT_VIEWS)


# ------------------------------------------------------------------------------------ engagement days
# Each lead's days with a meaningful activity, each with its next one (engagement_days.sql to the horizon): the
# hygiene check of no meaningful engagement reads, at each day D, the one row per lead whose day is on or before D
# and whose next day is after it (model_engaged.sql), instead of grouping every activity again.


def engagement_key(settings: Settings) -> str:
    """A short fingerprint of what the engagement days depend on beyond the data: the activity types that are no
    engagement."""
    return hashlib.sha256(repr(tuple(settings.funnel_rules.not_meaningful)).encode()).hexdigest()[:16]


def engagement_days_are_current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the model holds the leads' engagement days for these settings on the current data."""
    return _is_current(con, ENGAGEMENT_PART, engagement_key(settings))


def activity_times_query(con: duckdb.DuckDBPyConnection) -> str:
    """The activities' lead, type and moment as the engagement checks read them: from the lead model's activity
    days when it holds them (no activity is read again, nor matched to its person again; a day's start stands for
    its activities, since the checks count whole days), else from the activities."""
    if intent_inputs_are_current(con):
        return sql_text("model_activity_days", intent_days=MODEL_INTENT_DAYS)
    return sql_text("hygiene_activity_times", activities=ACTIVITIES.name)


def write_engagement_days(con: duckdb.DuckDBPyConnection, *, settings: Settings, now: datetime | None = None) -> int:
    """Every lead's days with a meaningful activity over all the data, each with the next one, stored as the
    current part for `settings` in one transaction; returns the number of rows."""
    query = sql_text("engagement_days", fragments={"activity_times": activity_times_query(con)})
    params = {"until": until(HORIZON), "not_meaningful": list(settings.funnel_rules.not_meaningful) or [""]}
    return _written(con, ENGAGEMENT_PART, engagement_key(settings),
                    lambda: _created(con, MODEL_ENGAGEMENT_DAYS, query, params), now=now)


def stored_engaged_query(days: str) -> str:
    """Each lead's last meaningful activity at each day of the text `days` (hygiene_days.sql), from the stored
    engagement days (model_engaged.sql)."""
    return sql_text("model_engaged", fragments={"days": days}, engagement_days=MODEL_ENGAGEMENT_DAYS)


# ------------------------------------------------------------------------------------ the CRM audit's records
# Each lead's and account's match record and the values not in their standard form (funnel.model.records): the
# CRM audit at every as-of date and threshold reads them, and no setting shapes them.

AUDIT_RECORDS_KEY = "the data, whatever the settings"
# The table each of the audit's inputs is kept in, by its name in funnel.model.records.AuditInputs.
AUDIT_RECORDS_TABLES = {"people": MODEL_PERSON_RECORDS, "companies": MODEL_COMPANY_RECORDS,
                        "lead_findings": MODEL_LEAD_FINDINGS, "account_findings": MODEL_ACCOUNT_FINDINGS}


def audit_records_are_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the model holds the CRM audit's records of the current data."""
    return _is_current(con, AUDIT_RECORDS_PART, AUDIT_RECORDS_KEY)


def write_audit_records(con: duckdb.DuckDBPyConnection, inputs: Mapping[str, pl.DataFrame], *,
                        now: datetime | None = None) -> int:
    """The CRM audit's records (funnel.model.records.computed_audit_records, by name) stored as the current part
    in one transaction; returns the number of lead records."""

    def write() -> int:
        for name, table in AUDIT_RECORDS_TABLES.items():
            _store_frame(con, table, inputs[name])
        return inputs["people"].height

    return _written(con, AUDIT_RECORDS_PART, AUDIT_RECORDS_KEY, write, now=now)


def stored_audit_records(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame] | None:
    """The stored CRM audit's records by name (each in the order written), or None when the model holds none for
    the current data."""
    if not audit_records_are_current(con):
        return None
    return {name: frame(con, f"SELECT * FROM {quote_ident(table)}") for name, table in AUDIT_RECORDS_TABLES.items()}
