"""The database this session uses (by name, from the server's data folder), its version, the settings in
view (the saved version, or the person's own draft while they preview it), and what the store holds.

The engine the analyses read is chosen as the CLI chooses it (`streamlit run app.py -- --engine spark --data
DIR`, else $FUNNEL_ENGINE and $FUNNEL_SPARK_DATA, else DuckDB). On Spark, the analysis pages read the
dataset's tables there; the database in view still holds what the pages write (imports, saved settings,
drafts, review verdicts), so the Data page's imports reach Spark only when `funnel export-tables` rewrites
the dataset. A Spark that cannot start is an error on every page, never DuckDB's numbers instead.

Every cached call is keyed by a `StoreKey`: the database path, the data version (which changes with each
import, removal or saved settings version), the active settings text, and on Spark the dataset and its
files' fingerprint."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from funnel.access import Action
from funnel.config import Settings, load_settings, routing_text_in_force, settings_from_text
from funnel.engine import dataset_version, engine_caption, engine_name, open_engine, spark_data
from funnel.ingest.mapping_guess import saved_mappings
from funnel.ingest.upload import SAMPLE_LABEL, load_sample_into_empty_store
from funnel.model import materialised
from funnel.model.build import ensure_model, rebuild_model
from funnel.model.history import table_spans
from funnel.model.identity import (
    identity_conflicts,
    identity_is_built,
    identity_matches,
    unmatched_people,
)
from funnel.store.databases import DataFolder, data_folder, database_file
from funnel.store.db import connect
from funnel.store.inventory import data_inventory_of, import_history, newest_of
from funnel.store.status import import_count, saved_settings_text, stored_rows, view_state
from pages.ui.access import current_person, require

COMPUTING = "Computing from the database… the first view after an import takes longest; later views are cached."


def cli_argument(flag: str) -> str | None:
    """`streamlit run app.py -- --db PATH --engine spark --data DIR`: the server's value for `flag`."""
    args = sys.argv[1:]
    if flag in args and args.index(flag) + 1 < len(args):
        return args[args.index(flag) + 1]
    return None


def cli_db_argument() -> str | None:
    """`streamlit run app.py -- --db PATH` sets the database for this server."""
    return cli_argument("--db")


def engine_in_use() -> str:
    """The engine the analysis pages read: --engine, else $FUNNEL_ENGINE, else duckdb (an EngineError for any
    other name)."""
    return engine_name(cli_argument("--engine"))


def spark_dataset() -> str | None:
    """Where Spark reads the tables: --data, else $FUNNEL_SPARK_DATA."""
    return spark_data(cli_argument("--data"))


@st.cache_resource(show_spinner="Starting Spark and reading the dataset…")
def spark_engine(data: str | None):
    """The Spark engine on the dataset, opened once per server (an EngineError, raised again on the next run,
    when pyspark, Java or the dataset is missing)."""
    return open_engine("spark", data=data)


SPARK_READER = threading.RLock()


@contextmanager
def engine_reading(data: str | None) -> Iterator:
    """The Spark engine, one reading run at a time: the sessions share its temporary views."""
    engine = spark_engine(data)
    with SPARK_READER:
        yield engine


def engine_text() -> str:
    """The sidebar's plain line on what the pages read (an EngineError when the chosen engine cannot start)."""
    if engine_in_use() == "spark":
        data = spark_dataset()
        return engine_caption("spark", dataset=str(data), where=spark_engine(data).where)
    return engine_caption("duckdb", dataset=db_path().name)


def database_only_text(what: str) -> str | None:
    """On Spark: a plain line that `what` reads the DuckDB database in view (None on DuckDB)."""
    if engine_in_use() != "spark":
        return None
    return f"{what} reads the DuckDB database {db_path().name}, not the Spark dataset: only the database keeps it."


def writes_text() -> str | None:
    """On Spark: where the pages' writes go, and when Spark sees an import (None on DuckDB)."""
    if engine_in_use() != "spark":
        return None
    return (f"Imports, saved rules and review verdicts are written to the DuckDB database {db_path().name}; the "
            f"analysis pages read the Spark dataset, which shows an import once `funnel export-tables` rewrites it.")


def data_place() -> DataFolder:
    """The server's data folder and default database (FUNNEL_DATA_DIR, --db, FUNNEL_DB)."""
    return data_folder(cli_db_argument())


RUN_DB = "_database_of_run"


def database_name() -> str:
    """The database in view, by name: the sidebar's choice (kept in the URL as ?db=NAME) when the data folder
    lists it, else the server's default. A name from the browser only ever selects a listed file."""
    return _database_of_run()[0]


def db_path() -> Path:
    return _database_of_run()[1]


def _database_of_run() -> tuple[str, Path]:
    """The database in view and its file, resolved once per script run and choice: listing the data folder on
    every call (each cached call's key asks for it) cost ~2 ms a time, dozens of times a run. A database created
    or chosen during the run is a new choice, so it is looked up again."""
    chosen = st.session_state.get("db") or st.query_params.get("db")

    def resolved() -> tuple[str, Path]:
        place = data_place()
        name = chosen if isinstance(chosen, str) and chosen in place.names() else place.default
        return name, database_file(place.folder, name)

    return once_per_run(RUN_DB, chosen, resolved)


@st.cache_resource(show_spinner=False)
def store(path: str) -> duckdb.DuckDBPyConnection:
    """One shared read-only connection per database file (created with its tables when missing); sessions
    query through their own cursors. Read-only, so the server holds no write lock: `funnel metrics` and the
    other read-only commands can open the same file while the dashboard runs."""
    if not Path(path).is_file():
        connect(path).close()
    return connect(path, read_only=True)


class ReadersWriterGate:
    """Many sessions read at once; a write waits until no session is reading, and reads wait for a write. The
    server's sessions are threads of one process, where DuckDB opens a file either read-only or read-write."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()


GATE = ReadersWriterGate()


@contextmanager
def opened(path: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only cursor of this session's database (or of `path`), closed on leaving the block."""
    with GATE.reading():
        con = store(path or str(db_path())).cursor()
        try:
            yield con
        finally:
            con.close()


@contextmanager
def writing(path: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one write (an import, a removal, saved settings or verdicts), once no session
    is reading: the shared read-only connection is closed first and the write lock is held only inside the
    block. Every cached result is dropped afterwards, so each panel and the sidebar show the new state on the
    next run."""
    target = path or str(db_path())
    with GATE.writing():
        if Path(target).is_file():
            store(target).close()
        store.clear(target)
        con = connect(target)
        try:
            yield con
        finally:
            con.close()
    st.cache_data.clear()
    forget_key()


@dataclass(frozen=True)
class StoreKey:
    """What a cached result depends on besides its own arguments."""

    db: str
    version: tuple[int, int]
    settings_text: str
    on_draft: bool = False  # the settings text is this person's draft, not the saved version
    has_draft: bool = False  # this person has a draft (whether or not they preview it)
    engine: str = "duckdb"
    dataset: str | None = None  # spark: the dataset the analyses read
    dataset_version: tuple = ()  # spark: its files' fingerprint

    @property
    def settings(self) -> Settings:
        return settings_for(self.settings_text)

    def opened(self):
        """What the analyses read: a cursor of the database, or the Spark engine on the dataset."""
        return engine_reading(self.dataset) if self.engine == "spark" else opened(self.db)

    def database_opened(self):
        """A cursor of the database in view, whatever the engine: for what only the store keeps (the imported
        versions of each row, in its raw schema)."""
        return opened(self.db)


RUN_KEY = "_store_key_of_run"
T = TypeVar("T")
USE_DRAFT = "_use_draft"  # the sidebar's "Compute on my draft" choice, kept over page switches


def _this_run() -> object:
    """A token of the script run in progress (a full run or a fragment's): Streamlit gives each run a fresh
    `cursors` dict, held here so no later run can share its identity."""
    ctx = get_script_run_ctx()
    return ctx.cursors if ctx is not None else None


def once_per_run(slot: str, tag: object, compute: Callable[[], T]) -> T:
    """`compute()` kept in session state `slot` for the rest of this script run, while `tag` (what it depends
    on) stays the same; computed again in the next run, for another tag, or once the slot is cleared."""
    run, remembered = _this_run(), st.session_state.get(slot)
    if run is not None and remembered is not None and remembered[0] is run and remembered[1] == tag:
        return remembered[2]
    value = compute()
    if run is not None:
        st.session_state[slot] = (run, tag, value)
    return value


def key() -> StoreKey:
    """This session's database, its current data version and the settings text in view: read once per run
    (one cheap version check; every cached call of the run is keyed by it), again after a write."""
    db = str(db_path())
    return once_per_run(RUN_KEY, db, lambda: _key_of(db))


def _key_of(db: str) -> StoreKey:
    person = current_person()
    with opened() as con:
        state = view_state(con, author=person.label if person else None)
    on_draft = state.draft_text is not None and bool(st.session_state.get(USE_DRAFT))
    engine = engine_in_use()
    dataset = spark_dataset() if engine == "spark" else None
    current = StoreKey(db, state.version, state.draft_text if on_draft else state.saved_text, on_draft=on_draft,
                       has_draft=state.draft_text is not None, engine=engine, dataset=dataset,
                       dataset_version=dataset_version(dataset) if dataset else ())
    return current


def forget_key() -> None:
    """After a write: the next `key()` reads the new version."""
    st.session_state.pop(RUN_KEY, None)


def on_draft() -> bool:
    """Whether this session's pages are computed on the person's draft instead of the saved version."""
    return key().on_draft


def has_draft() -> bool:
    """Whether the person has a rules draft they could compute the pages on."""
    return key().has_draft


def _version_of_key() -> tuple[str, tuple[int, int]]:
    at = key()
    return at.db, at.version


@st.cache_data(max_entries=16, show_spinner=False)
def _saved_text(db: str, version: tuple[int, int]) -> str:
    with opened(db) as con:
        return saved_settings_text(con)


def settings_text() -> str:
    """The settings in view as TOML text: the newest version saved on the Rules page (or the person's own
    draft while they preview it), else empty (the packaged file)."""
    return key().settings_text


@st.cache_data(max_entries=16, show_spinner=False)
def settings_for(text: str) -> Settings:
    return settings_from_text(text, source="saved settings") if text else load_settings()


def active_settings() -> Settings:
    """The settings the pages compute on (the person's draft while they preview it)."""
    return settings_for(settings_text())


@st.cache_data(max_entries=16, show_spinner=False)
def _routing_text(text: str) -> str:
    return routing_text_in_force(text)


def routing_text() -> str:
    """The [routing] table the pages compute on, as TOML text (the Routing page's starting edit)."""
    return _routing_text(settings_text())


def saved_text() -> str:
    """The newest saved version as TOML text (empty: the packaged file), whatever this person previews."""
    return _saved_text(*_version_of_key())


def saved_settings() -> Settings:
    """The newest saved version, what everyone's pages use and what imports follow (whatever this person
    previews)."""
    return settings_for(saved_text())


@st.cache_data(max_entries=32, show_spinner=False)
def _inventory(at: StoreKey) -> tuple[pl.DataFrame, datetime | None]:
    with at.opened() as con:
        spans = table_spans(con)
    return data_inventory_of(spans), newest_of(spans)


def inventory_of(at: StoreKey) -> tuple[pl.DataFrame, datetime | None]:
    """`inventory` of the store or dataset `at` reads (its data alone: one cached read whatever the settings)."""
    return _inventory(StoreKey(at.db, at.version, "", engine=at.engine, dataset=at.dataset,
                               dataset_version=at.dataset_version))


def inventory() -> tuple[pl.DataFrame, datetime | None]:
    """Rows and date ranges per table of what the analysis pages read, and the newest timestamp (the default
    as-of date)."""
    return inventory_of(key())


def database_inventory() -> tuple[pl.DataFrame, datetime | None]:
    """Rows and date ranges per table of the database in view (what the Data page's imports change)."""
    at = key()
    return _inventory(StoreKey(at.db, at.version, ""))


def table_rows(table: str) -> int:
    frame, _ = inventory()
    match = frame.filter(pl.col("table") == table)
    return int(match.get_column("rows")[0]) if match.height else 0


def total_rows() -> int:
    return stored_rows(inventory()[0])


@st.cache_data(max_entries=8, show_spinner=False)
def _sample_loaded(db: str, version: tuple[int, int]) -> bool:
    with opened(db) as con:
        return bool(import_count(con, mapping=SAMPLE_LABEL))


def sample_loaded() -> bool:
    at = key()
    return _sample_loaded(at.db, at.version)


def load_sample_if_empty() -> None:
    """With FUNNEL_LOAD_SAMPLE=1, loads sample_data/ into an empty store on the first request (`make run` loads it
    before the server starts, with `funnel load-sample`, so its first request finds it loaded)."""
    if os.environ.get("FUNNEL_LOAD_SAMPLE") != "1" or st.session_state.get("sample_checked"):
        return
    st.session_state["sample_checked"] = True
    with opened() as con:
        if import_count(con):
            return
    settings = active_settings()
    with st.spinner("Loading the bundled sample data…"), writing() as con:
        if load_sample_into_empty_store(con, settings=settings):
            rebuild_model(con, settings=settings)


MODEL_PART_NAMES = {materialised.IDENTITY_PART: "Who is who across tools (identity)",
                    materialised.FUNNEL_PART: "Every lead's entries on the funnel ladder",
                    materialised.LIFECYCLE_PART: "Every lead's entries on the lifecycle ladder",
                    materialised.SCORING_FACTS_PART: "Every lead's fit, tags and routed fields",
                    materialised.INTENT_INPUTS_PART: "Every lead's buying signals per day",
                    materialised.TABLE_SPANS_PART: "Each table's rows, dates and newest time",
                    materialised.FIRST_TOUCHES_PART: "Every lead's first campaign and page",
                    materialised.FORM_TOUCHES_PART: "Every lead's first submission and view of each form",
                    materialised.CONTENT_VIEWS_PART: "Each stay's first view of each content type",
                    materialised.ENGAGEMENT_PART: "Every lead's days of meaningful engagement",
                    materialised.AUDIT_RECORDS_PART: "Every lead's and account's match keys"}
BUILDING = "Building the lead model"


@dataclass(frozen=True)
class ModelStatus:
    """The lead model as the Data page shows it: its built parts, and whether it is current for the saved
    settings and for the settings in view (the person's draft while they preview it)."""

    parts: pl.DataFrame
    saved_current: bool
    viewed_current: bool


def _built_for(settings_key: str, keys: dict[str, str]) -> str:
    return next((name for name, key_ in keys.items() if key_ == settings_key), "earlier settings")


@st.cache_data(max_entries=16, show_spinner=False)
def _model_status(db: str, version: tuple[int, int], saved_text: str, viewed_text: str) -> ModelStatus:
    saved, viewed = settings_for(saved_text), settings_for(viewed_text)
    keys = {materialised.IDENTITY_PART: {"the saved settings": materialised.identity_settings_key(saved),
                                         "your draft": materialised.identity_settings_key(viewed)},
            materialised.FUNNEL_PART: {"the saved settings": materialised.funnel_settings_key(saved),
                                       "your draft": materialised.funnel_settings_key(viewed)},
            materialised.LIFECYCLE_PART: {"the saved settings": materialised.lifecycle_settings_key(saved),
                                          "your draft": materialised.lifecycle_settings_key(viewed)},
            materialised.SCORING_FACTS_PART: {"the saved settings": materialised.scoring_facts_key(saved),
                                              "your draft": materialised.scoring_facts_key(viewed)},
            materialised.INTENT_INPUTS_PART: {"the data, whatever the settings": materialised.INTENT_INPUTS_KEY},
            materialised.TABLE_SPANS_PART: {"the data, whatever the settings": materialised.TABLE_SPANS_KEY},
            materialised.FIRST_TOUCHES_PART: {"the data, whatever the settings": materialised.FIRST_TOUCHES_KEY},
            materialised.FORM_TOUCHES_PART: {"the data, whatever the settings": materialised.FORM_TOUCHES_KEY},
            materialised.CONTENT_VIEWS_PART: {"the saved settings": materialised.content_views_key(saved),
                                              "your draft": materialised.content_views_key(viewed)},
            materialised.ENGAGEMENT_PART: {"the saved settings": materialised.engagement_key(saved),
                                           "your draft": materialised.engagement_key(viewed)},
            materialised.AUDIT_RECORDS_PART: {"the data, whatever the settings": materialised.AUDIT_RECORDS_KEY}}
    with opened(db) as con:
        parts = materialised.model_parts(con)
        saved_current, viewed_current = materialised.model_is_current(con, saved), materialised.model_is_current(con, viewed)
    shown = pl.DataFrame({
        "part": [MODEL_PART_NAMES.get(part, part) for part in parts.get_column("part")],
        "built_for": [_built_for(k, keys.get(part, {})) for part, k in parts.select("part", "settings_key").rows()],
    }, schema={"part": pl.String, "built_for": pl.String})
    return ModelStatus(pl.concat([shown, parts.select("built_at", "rows", "seconds")], how="horizontal"),
                       saved_current, viewed_current)


def model_status() -> ModelStatus:
    at = key()
    return _model_status(at.db, at.version, _saved_text(at.db, at.version), at.settings_text)


@st.cache_data(max_entries=16, show_spinner=False)
def _engine_model_current(at: StoreKey) -> bool:
    with at.opened() as con:
        return materialised.model_is_current(con, at.settings)


def model_is_current() -> bool:
    """Whether the pages read the lead model for the settings in view (else they compute from the tables); on
    Spark, the model exported with the dataset."""
    at = key()
    return _engine_model_current(at) if at.engine == "spark" else model_status().viewed_current


def ensure_model_with_progress(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """`ensure_model` inside a write, its progress shown as a bar on the page; whether anything was built."""
    bar = st.progress(0.0, text=f"{BUILDING}…")
    try:
        return ensure_model(con, settings=settings,
                            progress=lambda step, done: bar.progress(min(max(done, 0.0), 1.0),
                                                                     text=f"{BUILDING}: {step}…"))
    finally:
        bar.empty()


def build_model() -> None:
    """The lead model built for the saved settings (what everyone's pages read); admins only."""
    require(Action.BUILD_MODEL)
    settings = saved_settings()  # read before the write: the write waits for every read to end
    with writing() as con:
        ensure_model_with_progress(con, settings)


def saved_mapping_texts() -> tuple[tuple[str, str], ...]:
    """(name, TOML) of every mapping saved from the guided mapper, newest first."""
    with opened() as con:
        return tuple((m.source, m.text) for m in saved_mappings(con))


def history() -> pl.DataFrame:
    with opened() as con:
        return import_history(con)


@st.cache_data(max_entries=8, show_spinner=False)
def _people_across_tools(db: str, version: tuple[int, int]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    with opened(db) as con:
        if not identity_is_built(con):
            return pl.DataFrame(), pl.DataFrame(), pl.DataFrame()
        return identity_matches(con), unmatched_people(con), identity_conflicts(con)


def people_across_tools() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """How each import's rows joined leads, the ids that joined none, and the identity conflicts."""
    at = key()
    return _people_across_tools(at.db, at.version)
