"""The shared sidebar: who is signed in; the database in view, by name (kept in the URL); the filters every
page reads (as-of date, ladder, cohort period), kept in the URL so a view can be shared; the choice to
compute the pages on one's own rules draft; and the routing of a deep link to a fresh server."""

from __future__ import annotations

from datetime import date

import streamlit as st

from funnel.access import Action
from funnel.errors import EngineError, StoreError
from funnel.filters import FIRST_DAY, LAST_DAY, Filters, as_of_within
from funnel.schema import FUNNEL, LADDERS, LIFECYCLE
from funnel.store.databases import create_database
from funnel.store.inventory import data_days
from pages.ui.access import allowed, gate, person_panel
from pages.ui.store import (
    USE_DRAFT,
    data_place,
    db_path,
    engine_text,
    has_draft,
    inventory,
    load_sample_if_empty,
    model_is_current,
    on_draft,
    sample_loaded,
    table_rows,
    total_rows,
)

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
        gate()
        load_sample_if_empty()
        sidebar_filters()
    st.session_state["_seen"] = True


def ladder_label(ladder: str) -> str:
    return LADDER_LABELS[ladder]


def sidebar_filters() -> Filters | None:
    """The shared filters (as-of date, ladder, period), kept in the URL so a view can be shared."""
    with st.sidebar:
        person_panel()
        database_choice()
        engine_line()
    table_spans, newest = inventory()
    days = data_days(table_spans, newest)
    with st.sidebar:
        if days is None and table_rows("leads") == 0:
            st.caption("No data yet: import exports on the Data page.")
            st.session_state["_filters"] = None
            return None
        if days is None:
            return undated_filters()
        st.session_state[UNDATED] = False
        first, default_as_of = days
        follow_the_data(default_as_of)
        as_of = st.date_input("As of", value=default_as_of, key="as_of", bind="query-params", min_value=FIRST_DAY, max_value=LAST_DAY,
                              help="Every number is computed as it stood at the end of this day. Default: the "
                                   "newest date in the database.")
        as_of, note = as_of_within(as_of or default_as_of, first=first, last=default_as_of)
        if note:
            st.text(note)
        ladder = st.segmented_control("Ladder", LADDERS, default=LIFECYCLE, key="ladder", bind="query-params",
                                      format_func=ladder_label, required=True)
        with st.expander("Cohort period", expanded=False):
            start = st.date_input("Entries from", value=None, key="from", bind="query-params", min_value=FIRST_DAY, max_value=LAST_DAY,
                                  help="First day of the stage entries that form conversion cohorts.")
            end = st.date_input("Entries to", value=None, key="to", bind="query-params", min_value=FIRST_DAY, max_value=LAST_DAY,
                                help="Last day of those entries (default: the as-of date).")
        data_status()
        draft_choice()
    if on_draft():
        st.warning("This page is computed on your draft rules, not on the saved version everyone else sees. "
                   "Turn off 'Compute on my draft' in the sidebar to see the saved version.", icon=":material/edit_note:")
    if start and end and start > end:
        st.sidebar.warning("The period starts after it ends; it is ignored.")
        start = end = None
    filters = Filters(as_of=as_of, ladder=ladder or LIFECYCLE, period_start=start, period_end=end)
    st.session_state["_filters"] = filters
    return filters


UNDATED = "_undated"
NEEDS_DATES = ("Conversion, aging, handoff, the monthly review, what moved and trends need dates: map a date column "
               "of your export (a created date or stage dates) on the Data page to get them.")
UNDATED_NOTE = ("This database has leads but no dates (no creation dates, stage dates, activities or deals with a "
                "date), so there is no as-of date: each lead is counted at its current stage. " + NEEDS_DATES)


def undated_filters() -> Filters:
    """The filters of a store with leads but no date at all: no as-of date to pick (every lead counted at its
    current stage, as of today), the ladder only. Called inside the sidebar."""
    st.caption("No dates in this database: every lead is counted at its current stage.")
    ladder = st.segmented_control("Ladder", LADDERS, default=LIFECYCLE, key="ladder", bind="query-params",
                                  format_func=ladder_label, required=True)
    data_status()
    draft_choice()
    filters = Filters(as_of=date.today(), ladder=ladder or LIFECYCLE)
    st.session_state["_filters"], st.session_state[UNDATED] = filters, True
    return filters


def undated() -> bool:
    """Whether the database in view has leads but no dates (the sidebar's filters of this run say so)."""
    return bool(st.session_state.get(UNDATED))


def require_dates(what: str) -> None:
    """Stops a page that needs dates, in plain words, on a database with leads but no dates."""
    if undated():
        st.info(f"{what} needs dates, and this database has none. {NEEDS_DATES}",
                icon=":material/event_busy:")
        st.page_link("pages/distribution.py", label="Distribution by current stage (needs no dates)",
                     icon=":material/stacked_bar_chart:")
        st.page_link("pages/segments.py", label="Segments (need no dates)", icon=":material/category:")
        st.page_link("pages/data.py", label="Go to the Data page", icon=":material/upload_file:")
        st.stop()


AS_OF_DB = "_as_of_db"
AS_OF_DEFAULT = "_as_of_default"


def follow_the_data(last: date) -> None:
    """Before the as-of widget: another database resets the date to its newest day (a link's own date is kept
    on the first run), and new data moves a date left at the old newest day to the new one."""
    database = str(db_path())
    previous, previous_default = st.session_state.get(AS_OF_DB), st.session_state.get(AS_OF_DEFAULT)
    st.session_state[AS_OF_DB], st.session_state[AS_OF_DEFAULT] = database, last
    switched = previous is not None and previous != database
    if switched or (previous_default not in (None, last) and st.session_state.get("as_of") == previous_default):
        st.session_state["as_of"] = last


def current_filters() -> Filters:
    """The sidebar's filters for this run; stops the page with a plain note when there is no data yet."""
    filters = st.session_state.get("_filters")
    if filters is None or (inventory()[1] is None and table_rows("leads") == 0):
        st.info("There is no data yet. Import your CRM and marketing exports on the Data page, or start with "
                "`make run` to load the bundled sample.", icon=":material/upload_file:")
        st.page_link("pages/data.py", label="Go to the Data page", icon=":material/upload_file:")
        st.stop()
    return filters


def require_tables(*tables: str, what: str) -> None:
    """Stops the page with plain words when a table it needs is empty."""
    missing = [t for t in tables if table_rows(t) == 0]
    if missing:
        st.info(f"{what} needs data in: {', '.join(missing)}. Import those exports on the Data page.",
                icon=":material/upload_file:")
        st.page_link("pages/data.py", label="Go to the Data page", icon=":material/upload_file:")
        st.stop()


def engine_line() -> None:
    """The engine and dataset the pages read, in plain text; a chosen engine that cannot start stops every page
    with the reason (nothing is computed on DuckDB instead)."""
    try:
        line = engine_text()
    except EngineError as exc:
        st.error("The engine this server was started with cannot run, so no page is computed: the dashboard never "
                 "falls back to another engine.", icon=":material/error:")
        st.text(exc.message())
        st.stop()
    st.text(line)


def data_status() -> None:
    st.text(f"{total_rows():,} rows")
    if sample_loaded():
        st.caption("Showing the bundled sample data (generated, not real leads).")


def database_choice() -> None:
    """The databases of the server's data folder, by name (kept in the URL); admins may create one."""
    names = data_place().names()
    st.selectbox("Database", names, key="db", bind="query-params",
                 help="The databases in the server's data folder. The choice is part of the page's link.")
    if not allowed(Action.MANAGE_DATABASES):
        return
    with st.expander("New database"):
        st.text_input("Name (letters, digits, - and _)", key="new_db_name", max_chars=64)
        st.button("Create", key="create_db", on_click=created_database, icon=":material/add:")
        if st.session_state.get("_db_error"):
            st.text(st.session_state.pop("_db_error"))


def created_database() -> None:
    """Creates the named database in the data folder and switches to it (a button callback; admins only)."""
    if not allowed(Action.MANAGE_DATABASES):
        st.session_state["_db_error"] = "Your role may not create databases."
        return
    name = str(st.session_state.get("new_db_name") or "").strip()
    try:
        create_database(data_place(), name)
    except StoreError as exc:
        st.session_state["_db_error"] = exc.message()
        return
    st.session_state["db"] = name


def draft_choice() -> None:
    """Lets a person with a rules draft compute every page on it (said on each page) instead of the saved version."""
    if has_draft():
        st.toggle("Compute on my draft rules", key="use_draft", value=bool(st.session_state.get(USE_DRAFT)),
                  on_change=kept_draft_choice,
                  help="Your unsaved edit of the Rules page; everyone else sees the saved version.")


def model_note() -> None:
    """One plain caption on an analysis page whose settings the lead model is not built for."""
    if not model_is_current():
        st.caption("Computed from the tables: slower until the lead model is built — Data page.")


def kept_draft_choice() -> None:
    """The draft toggle's choice kept in the session (a widget's own state is dropped on a page switch)."""
    st.session_state[USE_DRAFT] = bool(st.session_state.get("use_draft"))


def sample_notice() -> None:
    if sample_loaded():
        st.info("You are looking at generated sample data. Import your own exports on the Data page; "
                "remove the sample imports there when you do.", icon=":material/science:")
