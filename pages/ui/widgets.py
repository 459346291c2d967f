"""Widgets the pages share: segment pickers, selected rows, lead tables with formula-safe downloads, and
messages (errors quote file values, so they are plain text, never markdown)."""

from __future__ import annotations

from datetime import date
from functools import partial

import polars as pl
import streamlit as st

from funnel import export
from funnel.access import Action
from funnel.errors import FunnelError
from pages.ui import cache
from pages.ui.access import allowed, role_note


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


def leads_table(frame: pl.DataFrame, *, title: str, base: str, as_of: date, key: str) -> None:
    """The leads behind a number, with formula-safe CSV and XLSX downloads."""
    st.text(f"{title}: {frame.height:,} rows")
    st.dataframe(frame, hide_index=True, key=f"{key}_table", height=320)
    download_buttons(frame, base=base, as_of=as_of, key=key)


def segment_picker(*, key: str, crossed: bool = True, default: str | None = None) -> tuple[str, ...]:
    """A choice of one segment dimension (and optionally a second, crossed), kept in the URL."""
    options = cache.segment_dimensions()
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


def notes(filters, by: tuple[str, ...] = ()) -> None:
    """The plain-text notes an analysis carries (what history was used, what was left out), and what share of
    the leads behind the numbers lacked a creation date, an owner or firmographics (linked to Data quality)."""
    for note in getattr(cache.analysis(filters, by), "notes", ()):
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
