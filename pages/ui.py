"""What every page shares: the store, the active settings, the sidebar filters, caching, downloads.

Pages gather inputs, call `funnel` functions through `computed`, handle the empty case and
render. Data values reach the screen only through dataframes, charts and plain text, never
inside markdown: labels and messages here are our own words.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from funnel import export
from funnel.config import Settings, load_settings, settings_from_text
from funnel.errors import FunnelError
from funnel.filters import Filters
from funnel.ingest.importer import PreparedImport, prepare_import, write_import
from funnel.ingest.mapping import mapping_from_text
from funnel.ingest.mapping_guess import saved_mappings
from funnel.model.identity import rebuild_identity
from funnel.schema import FUNNEL, IMPORTS, LADDERS, LIFECYCLE, SETTINGS_VERSIONS
from funnel.store.db import connect, default_db_path, first_row, scalar
from funnel.store.inventory import data_inventory, import_history, newest_timestamp

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "sample_data"
SAMPLE_LABEL = "sample data"
SAMPLE_FILES = ("accounts.csv", "leads.csv", "stage_events.csv", "activities.csv", "deals.csv")
COMPUTING = "Computing from the database… the first view after an import takes longest; later views are cached."
LADDER_LABELS = {LIFECYCLE: "Lifecycle (CRM)", FUNNEL: "Funnel (behaviour)"}


def routed() -> None:
    """Every page runs through app.py's router. Streamlit treats a folder named pages/ as an old-style
    multipage app until the router has run once, so a deep link to a fresh server runs the page
    alone: switch Streamlit to the router, then run again through it (on a session's first run,
    where no click can be lost), or do the router's work for this run."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get("_seen"):
            st.session_state["_seen"] = True
            st.rerun()
        load_sample_if_empty()
        sidebar_filters()
    st.session_state["_seen"] = True


def ladder_label(ladder: str) -> str:
    return LADDER_LABELS[ladder]


def cli_db_argument() -> str | None:
    """`streamlit run app.py -- --db PATH` sets the database for this server."""
    args = sys.argv[1:]
    if "--db" in args and args.index("--db") + 1 < len(args):
        return args[args.index("--db") + 1]
    return None


def db_path() -> Path:
    """The database this session uses: the sidebar's choice, else --db, else FUNNEL_DB, else the default."""
    chosen = st.session_state.get("db_path") or cli_db_argument()
    return Path(chosen) if chosen else default_db_path()


@st.cache_resource(show_spinner=False)
def store(path: str) -> duckdb.DuckDBPyConnection:
    """One shared connection per database file; sessions query through their own cursors."""
    return connect(path)


def cursor() -> duckdb.DuckDBPyConnection:
    return store(str(db_path())).cursor()


def data_version() -> tuple[int, int]:
    """Changes whenever an import is added or removed: part of every cache key."""
    con = cursor()
    try:
        row = first_row(con, f"SELECT coalesce(max(import_id), 0), count(removed_at) FROM {IMPORTS}")
        saved = scalar(con, f"SELECT coalesce(max(version), 0) FROM {SETTINGS_VERSIONS}")
    finally:
        con.close()
    return (row[0], row[1] * 100000 + saved)


def settings_text() -> str:
    """The active settings as TOML text: the newest version saved on the Rules page, else the file."""
    con = cursor()
    try:
        row = first_row(con, f"SELECT toml FROM {SETTINGS_VERSIONS} ORDER BY version DESC LIMIT 1")
    finally:
        con.close()
    return row[0] if row else ""


@st.cache_data(max_entries=16, show_spinner=False)
def settings_for(text: str) -> Settings:
    return settings_from_text(text, source="saved settings") if text else load_settings()


def active_settings() -> Settings:
    return settings_for(settings_text())


@st.cache_data(max_entries=256, show_spinner=COMPUTING)
def _computed(qualname: str, db: str, version: tuple[int, int], settings_key: str, kwargs: tuple) -> object:
    module_name, _, fn_name = qualname.rpartition(".")
    fn = getattr(__import__(module_name, fromlist=[fn_name]), fn_name)
    options = dict(kwargs)
    if "settings" in inspect.signature(fn).parameters:
        options["settings"] = settings_for(settings_key)
    con = store(db).cursor()
    try:
        return fn(con, **options)
    finally:
        con.close()


def computed(fn: Callable, **kwargs) -> object:
    """`fn(con, [settings=…,] **kwargs)`, cached per database, data version, settings and arguments."""
    qualname = f"{fn.__module__}.{fn.__name__}"
    return _computed(qualname, str(db_path()), data_version(), settings_text(), tuple(sorted(kwargs.items())))


@st.cache_data(max_entries=32, show_spinner=False)
def _inventory(db: str, version: tuple[int, int]) -> tuple[pl.DataFrame, datetime | None]:
    con = store(db).cursor()
    try:
        return data_inventory(con), newest_timestamp(con)
    finally:
        con.close()


def inventory() -> tuple[pl.DataFrame, datetime | None]:
    """Rows and date ranges per table, and the newest timestamp (the default as-of date)."""
    return _inventory(str(db_path()), data_version())


def table_rows(table: str) -> int:
    frame, _ = inventory()
    match = frame.filter(pl.col("table") == table)
    return int(match.get_column("rows")[0]) if match.height else 0


def require_tables(*tables: str, what: str) -> None:
    """Stops the page with plain words when a table it needs is empty."""
    missing = [t for t in tables if table_rows(t) == 0]
    if missing:
        st.info(f"{what} needs data in: {', '.join(missing)}. Import those exports on the Data page.",
                icon=":material/upload_file:")
        st.page_link("pages/data.py", label="Go to the Data page", icon=":material/upload_file:")
        st.stop()


def sidebar_filters() -> Filters | None:
    """The shared filters (as-of date, ladder, period), kept in the URL so a view can be shared."""
    frame, newest = inventory()
    with st.sidebar:
        if newest is None:
            st.caption("No data yet: import exports on the Data page.")
            database_choice()
            st.session_state["_filters"] = None
            return None
        default_as_of = newest.date()
        as_of = st.date_input("As of", value=default_as_of, key="as_of", bind="query-params",
                              help="Every number is computed as it stood at the end of this day.")
        ladder = st.segmented_control("Ladder", LADDERS, default=LIFECYCLE, key="ladder", bind="query-params",
                                      format_func=ladder_label, required=True)
        with st.expander("Cohort period", expanded=False):
            start = st.date_input("Entries from", value=None, key="from", bind="query-params",
                                  help="First day of the stage entries that form conversion cohorts.")
            end = st.date_input("Entries to", value=None, key="to", bind="query-params",
                                help="Last day of those entries (default: the as-of date).")
        data_status(frame)
    if start and end and start > end:
        st.sidebar.warning("The period starts after it ends; it is ignored.")
        start = end = None
    filters = Filters(as_of=as_of or default_as_of, ladder=ladder or LIFECYCLE, period_start=start, period_end=end)
    st.session_state["_filters"] = filters
    return filters


def current_filters() -> Filters:
    """The sidebar's filters for this run; stops the page with a plain note when there is no data yet."""
    filters = st.session_state.get("_filters")
    if filters is None or inventory()[1] is None:
        st.info("There is no data yet. Import your CRM and marketing exports on the Data page, or start with "
                "`make run` to load the bundled sample.", icon=":material/upload_file:")
        st.page_link("pages/data.py", label="Go to the Data page", icon=":material/upload_file:")
        st.stop()
    return filters


def data_status(frame: pl.DataFrame) -> None:
    total = int(frame.get_column("rows").sum())
    st.text(f"Database: {db_path().name} · {total:,} rows")
    database_choice()
    if sample_loaded():
        st.caption("Showing the bundled sample data (generated, not real leads).")


def database_choice() -> None:
    """A sidebar field to open another database file (this server's user's own files)."""
    with st.expander("Database file"):
        st.text_input("Path of a DuckDB file (created when missing)", key="db_path",
                      placeholder=str(cli_db_argument() or default_db_path()),
                      help="Overrides --db and FUNNEL_DB for this browser session.")


@st.cache_data(max_entries=8, show_spinner=False)
def _sample_loaded(db: str, version: tuple[int, int]) -> bool:
    con = store(db).cursor()
    try:
        return bool(scalar(con, f"SELECT count(*) FROM {IMPORTS} WHERE mapping = $m AND removed_at IS NULL",
                           {"m": SAMPLE_LABEL}))
    finally:
        con.close()


def sample_loaded() -> bool:
    return _sample_loaded(str(db_path()), data_version())


def load_sample_if_empty() -> None:
    """On first start with FUNNEL_LOAD_SAMPLE=1 (make run), loads sample_data/ into an empty store."""
    if os.environ.get("FUNNEL_LOAD_SAMPLE") != "1" or st.session_state.get("sample_checked"):
        return
    st.session_state["sample_checked"] = True
    con = cursor()
    try:
        if scalar(con, f"SELECT count(*) FROM {IMPORTS}"):
            return
        with st.spinner("Loading the bundled sample data…"):
            for name in SAMPLE_FILES:
                path = SAMPLE_DIR / name
                if path.is_file():
                    prepared = prepare_import(path, settings=active_settings())
                    prepared.mapping_name = SAMPLE_LABEL
                    write_import(con, prepared)
            rebuild_identity(con, settings=active_settings())
    finally:
        con.close()
    st.cache_data.clear()


def sample_notice() -> None:
    if sample_loaded():
        st.info("You are looking at generated sample data. Import your own exports on the Data page; "
                "remove the sample imports there when you do.", icon=":material/science:")


def show_error(error: FunnelError) -> None:
    """A user error as plain text (never markdown: it may quote a value from the file)."""
    st.error("The file could not be used.", icon=":material/error:")
    st.text(error.message())
    if error.details:
        with st.expander(f"All {len(error.details)} problems listed"):
            st.text("\n".join(error.details))


def download_buttons(frame: pl.DataFrame, *, base: str, as_of: date, key: str) -> None:
    """CSV and XLSX downloads of `frame`, every formula-like cell neutralised."""
    left, right = st.columns(2)
    # The files are written only when a button is clicked (a callable), not on every rerun.
    left.download_button("Download CSV", partial(export.csv_bytes, frame), file_name=export.download_name(
        base, as_of=as_of, ext="csv"), mime="text/csv", key=f"{key}_csv", icon=":material/download:")
    right.download_button("Download XLSX", partial(export.xlsx_bytes, frame), file_name=export.download_name(
        base, as_of=as_of, ext="xlsx"), key=f"{key}_xlsx", icon=":material/download:",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if export.truncated_cells(frame):
        st.caption("Some cells are longer than Excel's 32,767-character limit and are cut in the XLSX file.")


def saved_upload(data: bytes, name: str) -> Path:
    """An upload written to a private temp file with a server-made name (the client's name is display only)."""
    folder = Path(tempfile.gettempdir()) / "funnel-uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    suffix = Path(name).suffix.lower()
    path = folder / f"{uuid.uuid4().hex}{suffix if suffix in ('.csv', '.txt', '.tsv', '.xlsx', '.parquet') else '.bin'}"
    path.write_bytes(data)
    path.chmod(0o600)
    return path


@st.cache_data(max_entries=16, show_spinner=False)
def prepared_upload(data: bytes, name: str, mapping_text: str, table: str | None, settings_key: str,
                    saved_texts: tuple[tuple[str, str], ...] = ()) -> PreparedImport | FunnelError:
    """An uploaded file parsed and validated (or the error saying why not), cached per content."""
    path = saved_upload(data, name)
    try:
        mapping = mapping_from_text(mapping_text, source="mapping") if mapping_text else None
        saved = tuple(mapping_from_text(text, source=label) for label, text in saved_texts)
        return prepare_import(path, name=name, table=table, mapping=mapping, settings=settings_for(settings_key),
                              saved=saved)
    except FunnelError as exc:
        return exc
    finally:
        path.unlink(missing_ok=True)


@st.cache_data(max_entries=16, show_spinner=False)
def upload_sample(data: bytes, name: str) -> pl.DataFrame | FunnelError:
    """The first rows of an upload, all as text, for the guided mapper (parsed by the worker)."""
    from funnel.ingest.worker import parse_untrusted

    path = saved_upload(data, name)
    try:
        return pl.from_arrow(parse_untrusted(path, name=name).table).head(500)
    except FunnelError as exc:
        return exc
    finally:
        path.unlink(missing_ok=True)


def saved_mapping_texts() -> tuple[tuple[str, str], ...]:
    """(name, TOML) of every mapping saved from the guided mapper, newest first."""
    con = cursor()
    try:
        return tuple((m.source, m.text) for m in saved_mappings(con))
    finally:
        con.close()


def history() -> pl.DataFrame:
    con = cursor()
    try:
        return import_history(con)
    finally:
        con.close()


@st.cache_resource(max_entries=8, show_spinner=COMPUTING)
def _analysis(db: str, version: tuple[int, int], settings_key: str, filters: Filters, by: tuple[str, ...]) -> object:
    from funnel.analyses.inputs import analysis_inputs

    con = store(db).cursor()
    try:
        return analysis_inputs(con, filters, settings=settings_for(settings_key), by=by or None)
    finally:
        con.close()


def analysis(filters: Filters, by: tuple[str, ...] = ()) -> object:
    """The prepared inputs of every core metric (history, population, segments): read from the store
    once per data version, settings, filters and segmentation, and shared (never copied) by the pages."""
    return _analysis(str(db_path()), data_version(), settings_text(), filters, tuple(by))


@st.cache_data(max_entries=256, show_spinner=COMPUTING)
def _derived(qualname: str, db: str, version: tuple[int, int], settings_key: str, filters: Filters,
             by: tuple[str, ...], kwargs: tuple) -> object:
    module_name, _, fn_name = qualname.rpartition(".")
    fn = getattr(__import__(module_name, fromlist=[fn_name]), fn_name)
    options = dict(kwargs)
    parameters = inspect.signature(fn).parameters
    if "losses" in parameters:
        options["losses"] = _computed("funnel.analyses.conversion.deal_losses", db, version, settings_key,
                                      (("as_of", filters.as_of),))
    if "deals" in parameters:
        options["deals"] = _computed("funnel.analyses.segments.lead_deals", db, version, settings_key,
                                     (("as_of", filters.as_of),))
    return fn(_analysis(db, version, settings_key, filters, by), **options)


def derived(fn: Callable, filters: Filters, by: tuple[str, ...] = (), **kwargs) -> object:
    """A metric's `…_of(inputs, …)` form on the shared prepared inputs, its result cached."""
    return _derived(f"{fn.__module__}.{fn.__name__}", str(db_path()), data_version(), settings_text(), filters,
                    tuple(by), tuple(sorted(kwargs.items())))


@st.cache_data(max_entries=64, show_spinner=COMPUTING)
def _behind(db: str, version: tuple[int, int], settings_key: str, filters: Filters, selectors: tuple) -> pl.DataFrame:
    from funnel.analyses import leads_behind

    options = {k: dict(v) if k == "segment" and v is not None else v for k, v in selectors}
    inputs = _analysis(db, version, settings_key, filters, ())
    con = store(db).cursor()
    try:
        return leads_behind(con, filters, settings=settings_for(settings_key), history=inputs.history, **options)
    finally:
        con.close()


def behind(filters: Filters, **selectors) -> pl.DataFrame:
    """The leads behind a number (`leads_behind`), reusing the prepared stage history; cached."""
    frozen = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v) for k, v in selectors.items()))
    return _behind(str(db_path()), data_version(), settings_text(), filters, frozen)


def segment_dimensions(filters: Filters) -> list[str]:
    """The lead attributes a page can segment by (source, industry, size band, …, then ICP, quadrant and
    tags). Listing them reads no scores: those are computed only when a page segments by them."""
    from funnel.model.history import SCORE_COLUMNS, lead_frame
    from funnel.model.history import segment_dimensions as dimensions

    return [*dimensions(computed(lead_frame)), *SCORE_COLUMNS]


def segment_picker(filters: Filters, *, key: str, crossed: bool = True, default: str | None = None) -> tuple[str, ...]:
    """A choice of one segment dimension (and optionally a second, crossed), kept in the URL."""
    options = segment_dimensions(filters)
    left, right = st.columns(2)
    choices = ["(none)", *options]
    first = left.selectbox("Segment by", choices, index=choices.index(default) if default in choices else 0,
                           key=f"{key}_by", bind="query-params")
    chosen = () if first in (None, "(none)") else (first,)
    if crossed and chosen:
        second = right.selectbox("Crossed with", ["(none)", *[o for o in options if o != first]],
                                 key=f"{key}_by2", bind="query-params")
        if second not in (None, "(none)"):
            chosen = (first, second)
    return chosen


def selected_row(event, frame: pl.DataFrame) -> dict | None:
    """The row picked in a selectable st.dataframe, as a dict (None when nothing is selected)."""
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    return frame.row(rows[0], named=True) if rows and rows[0] < frame.height else None


def segment_of(row: dict, by: tuple[str, ...]) -> dict[str, str] | None:
    """The {dimension: value} of a table row (None for the total row)."""
    if not by or any(row.get(d) is None for d in by):
        return None
    return {d: str(row[d]) for d in by}


def notes(inputs) -> None:
    """The plain-text notes an analysis carries (what history was used, what was left out)."""
    for note in getattr(inputs, "notes", ()):
        if note:
            st.caption(note)


def leads_table(frame: pl.DataFrame, *, title: str, base: str, as_of: date, key: str) -> None:
    """The leads behind a number, with formula-safe CSV and XLSX downloads."""
    st.text(f"{title}: {frame.height:,} rows")
    st.dataframe(frame, hide_index=True, key=f"{key}_table", height=320)
    download_buttons(frame, base=base, as_of=as_of, key=key)
