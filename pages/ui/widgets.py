"""Widgets the pages share: segment pickers, selected rows, lead tables with formula-safe downloads, and
messages (errors quote file values, so they are plain text, never markdown)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

import polars as pl
import streamlit as st

from funnel import export
from funnel.access import Action
from funnel.display.labels import column_label, column_spec, readable_frame
from funnel.errors import FunnelError
from pages.ui import cache
from pages.ui.access import allowed, role_note

# How each kind of number column is shown (funnel.display.labels names the kind of every column).
NUMBER_FORMATS = {"count": "localized", "rate": "percent", "ratio": "%.2f×", "number": "%+d", "points": "%+.1f", "score": "%.1f",
                  "days": "%.0f", "hours": "%.1f", "money": "localized", "p_value": "%.3f"}


def show_error(error: FunnelError) -> None:
    """A user error as plain text (never markdown: it may quote a value from the file)."""
    st.error("The file could not be used.", icon=":material/error:")
    st.text(error.message())
    if error.details:
        with st.expander(f"All {len(error.details)} problems listed"):
            st.text("\n".join(error.details))


def show_problem(error: FunnelError) -> None:
    """A review that cannot be computed with these settings or data, said in plain text."""
    st.error("This part of the page cannot be computed with the current settings and data.",
             icon=":material/error:")
    st.text(error.message())


def download_buttons(frame: pl.DataFrame, *, base: str, as_of: date, key: str) -> None:
    """CSV and XLSX downloads of `frame`, every formula-like cell neutralised (analysts and admins)."""
    if not allowed(Action.EXPORT):
        role_note(Action.EXPORT)
        return
    left, right = st.columns(2)
    # The files are written only when a button is clicked (a callable), not on every rerun.
    left.download_button("Download CSV", partial(export.csv_bytes, frame), file_name=export.download_name(
        base, as_of=as_of, ext="csv"), mime="text/csv", key=f"{key}_csv", icon=":material/download:")
    right.download_button("Download XLSX", partial(export.xlsx_bytes, frame), file_name=export.download_name(
        base, as_of=as_of, ext="xlsx"), key=f"{key}_xlsx", icon=":material/download:",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if export.truncated_cells(frame):
        st.caption("Some cells are longer than Excel's 32,767-character limit and are cut in the XLSX file.")


def file_download(label: str, data, *, file_name: str, mime: str, key: str) -> None:
    """One download button (analysts and admins; a note for viewers)."""
    if not allowed(Action.EXPORT):
        role_note(Action.EXPORT)
        return
    st.download_button(label, data, file_name=file_name, mime=mime, key=key, icon=":material/download:")


def column_config(shown: pl.DataFrame, overrides: dict | None = None) -> dict:
    """A column config for every column of a readable frame: the label table's header, the kind's format,
    long texts wide, the first column pinned (it names the row); `overrides` win."""
    config = {}
    for position, (name, dtype) in enumerate(shown.schema.items()):
        spec = column_spec(name)
        common = {"label": spec.label, "pinned": position == 0 or None}
        if dtype == pl.Boolean:
            config[name] = st.column_config.CheckboxColumn(**common)
        elif dtype.is_numeric():
            config[name] = st.column_config.NumberColumn(**common, format=NUMBER_FORMATS.get(spec.kind, "localized"))
        elif dtype == pl.Date:
            config[name] = st.column_config.DateColumn(**common, format="YYYY-MM" if spec.kind == "month" else
                                                       "YYYY-MM-DD")
        elif isinstance(dtype, pl.Datetime):
            config[name] = st.column_config.DatetimeColumn(**common, format="YYYY-MM-DD HH:mm")
        else:
            config[name] = st.column_config.TextColumn(**common, width="large" if spec.kind == "long_text" else None)
    return {**config, **(overrides or {})}


@st.cache_resource(max_entries=64, show_spinner=False)
def _readable(frame: pl.DataFrame) -> pl.DataFrame:
    return readable_frame(frame)


@st.cache_resource(max_entries=64, show_spinner=False)
def _figure(name: str, args: tuple, options: tuple, _build: Callable[..., Any]) -> Any:
    return _build(*args, **dict(options))


def figure(build: Callable[..., Any], *args, **options) -> Any:
    """`build(*args, **options)` (a chart of funnel.charts) made once per distinct input and shared, never
    changed, by later reruns and sessions: building a Plotly figure costs more than the rest of a rerun."""
    return _figure(f"{build.__module__}.{build.__qualname__}", args, tuple(sorted(options.items())), build)


def table(frame: pl.DataFrame, *, key: str | None = None, column_config_overrides: dict | None = None, **options):
    """`frame` as people read it (funnel.display.labels: headers, named stages and codes, dates, no empty
    "None"), rows in the same order, so a selected row's index points into `frame`. Returns the selection
    event when `options` ask for one. The readable frame is made once per distinct frame (st.dataframe only
    reads it)."""
    shown = _readable(frame)
    return st.dataframe(shown, hide_index=True, key=key, column_config=column_config(shown, column_config_overrides),
                        **options)


SHOWN_ROWS = 1_000  # rows of a list sent to the browser; the downloads hold every row


def leads_table(frame: pl.DataFrame, *, title: str | None, base: str, as_of: date, key: str) -> None:
    """The leads behind a number (headed by `title` and their count), with formula-safe CSV and XLSX downloads.
    A long list shows its first SHOWN_ROWS rows (its own order puts the ones to act on first) and says so: a
    run never sends a browser hundreds of thousands of rows."""
    shown = frame.head(SHOWN_ROWS)
    count = f"{frame.height:,} rows"
    if frame.height > SHOWN_ROWS:
        count += f"; the first {SHOWN_ROWS:,} are shown, the downloads hold all"
    if title is not None:
        st.text(f"{title}: {count}")
    elif frame.height > SHOWN_ROWS:
        st.text(count)
    table(shown, key=f"{key}_table", height=320 if shown.height > 8 else "content")  # no empty grid under a few rows
    download_buttons(frame, base=base, as_of=as_of, key=key)


def segment_picker(*, key: str, crossed: bool = True, default: str | None = None) -> tuple[str, ...]:
    """A choice of one segment dimension (and optionally a second, crossed), kept in the URL."""
    options = cache.segment_dimensions()
    left, right = st.columns(2)
    choices = ["(none)", *options]
    first = left.selectbox("Segment by", choices, index=choices.index(default) if default in choices else 0,
                           key=f"{key}_by", bind="query-params", format_func=column_label)
    chosen = () if first in (None, "(none)") else (first,)
    if crossed and chosen:
        second = right.selectbox("Crossed with", ["(none)", *[o for o in options if o != first]],
                                 key=f"{key}_by2", bind="query-params", format_func=column_label)
        if second not in (None, "(none)"):
            chosen = (first, second)
    return chosen


def one_or_every(column, label: str, values: list[str], key: str) -> str | None:
    """A choice in `column` of one of `values`, or None for "(every <label>)", the first option."""
    every = f"(every {label.lower()})"
    chosen = column.selectbox(label, [every, *values], key=key)
    return None if chosen == every else chosen


def selected_row(event, frame: pl.DataFrame) -> dict | None:
    """The row picked in a selectable st.dataframe, as a dict (None when nothing is selected)."""
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    return frame.row(rows[0], named=True) if rows and rows[0] < frame.height else None


def segment_of(row: dict, by: tuple[str, ...]) -> dict[str, str] | None:
    """The {dimension: value} of a table row (None for the total row)."""
    if not by or any(row.get(d) is None for d in by):
        return None
    return {d: str(row[d]) for d in by}


def notes(filters, by: tuple[str, ...] = ()) -> None:
    """The plain-text notes an analysis carries (what history was used, what was left out), and what share of
    the leads behind the numbers lacked a creation date, an owner or firmographics (linked to Data quality); on
    Spark from the counts the page's numbers come from."""
    for note in cache.analysis_notes(filters, by):
        if note:
            st.caption(note)
    quality = cache.data_quality_sentence(filters, by)
    if quality:
        st.caption(quality)
        st.page_link("pages/data_quality.py", label="Data quality: which fields are missing, where, and how to fix them",
                     icon=":material/fact_check:")


def percent_columns(columns) -> dict:
    """Number columns shown as percents."""
    return {c: st.column_config.NumberColumn(format="percent") for c in columns}
