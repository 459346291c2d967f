"""Uploaded exports on the Data page: checked once per content (cached), shown as a card (table, rows,
format, mapping, warnings, preview), and mapped column by column when the file is not recognised."""

from __future__ import annotations

import polars as pl
import streamlit as st

from funnel.access import Action
from funnel.errors import FunnelError, MappingError, ValidationError
from funnel.ingest import upload
from funnel.ingest.importer import PreparedImport, remove_import, write_import
from funnel.ingest.mapping_guess import mapping_text as drafted_mapping
from funnel.ingest.mapping_guess import missing_for_analyses, proposed_columns, proposed_table, save_mapping
from funnel.model.identity import identity_matches, match_summary, rebuild_identity
from funnel.schema import TABLES
from pages.ui.access import require
from pages.ui.store import active_settings, settings_for, settings_text, writing
from pages.ui.widgets import show_error


@st.cache_data(max_entries=16, show_spinner=False)
def prepared_upload(data: bytes, name: str, mapping_text: str, table: str | None, settings_key: str,
                    saved_texts: tuple[tuple[str, str], ...] = ()) -> PreparedImport | FunnelError:
    """An uploaded file parsed and validated (or the error saying why not), cached per content."""
    return upload.prepared_upload(data, name, mapping_text=mapping_text, table=table,
                                  settings=settings_for(settings_key), saved_texts=saved_texts)


@st.cache_data(max_entries=16, show_spinner=False)
def upload_sample(data: bytes, name: str) -> pl.DataFrame | FunnelError:
    """The first rows of an upload, all as text, for the guided mapper (parsed by the worker)."""
    return upload.upload_sample(data, name)


def checked_upload(file, number: int, *, mapping_text: str, table: str | None,
                   saved: tuple[tuple[str, str], ...]) -> PreparedImport | None:
    """One uploaded file checked and shown as a card; the guided mapper when it is not recognised.
    Returns the file ready to import, or None (the card says why)."""
    with st.container(border=True):
        st.text(file.name)
        with st.spinner("Checking the file…"):
            item = prepared_upload(file.getvalue(), file.name, mapping_text, table, settings_text(), saved)
        if isinstance(item, (MappingError, ValidationError)) and not mapping_text:
            show_error(item)
            item = guided_mapping(file, number)
        if isinstance(item, FunnelError):
            show_error(item)
            return None
        if item is not None:
            upload_card(item)
        return item


def upload_card(item: PreparedImport) -> None:
    cols = st.columns(3)
    cols[0].metric("Table", item.table)
    cols[1].metric("Rows", f"{item.frame.height:,}")
    cols[2].metric("Format", item.format.upper())
    if item.mapping_name:
        st.text(f"Mapping: {item.mapping_name}")
    for warning in item.warnings:
        st.warning(warning, icon=":material/warning:")
    with st.expander("Column mapping and preview"):
        st.dataframe(upload.column_sources(item), hide_index=True)
        if item.unmapped:
            st.text("Kept as attributes: " + ", ".join(item.unmapped[:40]))
        st.dataframe(item.frame.head(20).drop("attributes", strict=False), hide_index=True)
    for name, derived in item.derived.items():
        st.text(f"Also derived: {derived.height:,} rows for {name}")


def guided_mapping(file, number: int) -> PreparedImport | FunnelError | None:
    """Map an unrecognised export column by column: a proposal, the user's corrections, a preview, what
    is still missing for each analysis, and a saved mapping so next month's export imports in one step."""
    sample = upload_sample(file.getvalue(), file.name)
    if isinstance(sample, FunnelError):
        return sample
    with st.expander("Map its columns", expanded=True, icon=":material/schema:"):
        st.caption("Proposed from the column names and values (dates, e-mails, numbers). Correct any choice; the "
                   "preview and the list of what is still missing update as you go.")
        headers = [h for h in sample.columns if not h.startswith("_")]
        proposed = proposed_table(sample)
        table = st.selectbox("This file feeds", list(TABLES), index=list(TABLES).index(proposed),
                             key=f"map_table_{number}")
        guess = proposed_columns(sample, table)
        options = ["(none)", *headers]
        choices = {}
        grid = st.columns(3)
        for i, column in enumerate(TABLES[table].columns):
            default = guess.get(column.name)
            label = f"{column.name} (required)" if column.required else column.name
            picked = grid[i % 3].selectbox(label, options, index=options.index(default) if default in options else 0,
                                           key=f"map_{number}_{table}_{column.name}", help=column.doc)
            choices[column.name] = None if picked == "(none)" else picked
        for problem in missing_for_analyses(table, choices):
            st.text(f"• {problem}")
        name = st.text_input("Save this mapping as", value=f"{file.name.rsplit('.', 1)[0]} ({table})",
                             key=f"map_name_{number}")
        text = drafted_mapping(name, table=table, columns=choices)
        item = prepared_upload(file.getvalue(), file.name, text, table, settings_text())
        left, right = st.columns(2)
        if left.button("Save mapping", key=f"map_save_{number}", icon=":material/save:",
                       disabled=isinstance(item, FunnelError)):
            require(Action.IMPORT)
            with writing() as con:
                save_mapping(con, name=name, text=text)
            st.success("Saved: the next export with these columns is recognised and imports in one step.")
        right.download_button("Download mapping (.toml)", text, file_name="mapping.toml", mime="application/toml",
                              key=f"map_download_{number}")
    return item


def mapping_text_of(file) -> str:
    """The TOML of an uploaded mapping file, or empty (with the error shown) when it is not a valid mapping."""
    if file is None:
        return ""
    text = file.getvalue().decode("utf-8", errors="replace")
    error = upload.mapping_error(text, source=file.name)
    if error is not None:
        show_error(error)
        return ""
    return text


NOTICES = "_data_notices"
UPLOAD_ROUND = "_upload_round"


def upload_key() -> str:
    """The file uploader's key: a new one after each import, so imported files are not offered again."""
    return f"export_files_{st.session_state.get(UPLOAD_ROUND, 0)}"


def import_files(prepared: list[PreparedImport]) -> None:
    """Writes each checked file (its own transaction, recorded with who imported it), rebuilds the identity
    model, then runs the app again so every panel and the sidebar show the new state at once; each file's result
    and how its people joined leads are shown after that run. Admins only."""
    person = require(Action.IMPORT)
    progress = st.progress(0.0, text="Importing…")
    settings = active_settings()  # read before the write: the write waits for every read to end
    notices: list[str | FunnelError] = []
    with writing() as con:
        try:
            results = []
            for i, item in enumerate(prepared, start=1):
                results.append(write_import(con, item, by=person.label))
                notices.append(results[-1].summary())
                progress.progress(i / len(prepared), text=f"Imported {i} of {len(prepared)}")
            progress.progress(1.0, text="Joining people across tools…")
            rebuild_identity(con, settings=settings)
            matches = identity_matches(con)
            for result in results:
                for row in matches.filter(pl.col("import_id") == result.import_id).iter_rows(named=True):
                    notices.append(match_summary(row))
        except FunnelError as exc:
            notices.append(exc)
    st.session_state[NOTICES] = notices
    st.session_state[UPLOAD_ROUND] = st.session_state.get(UPLOAD_ROUND, 0) + 1
    st.rerun()


def undo_import(import_id: int, label: str) -> None:
    """Removes an import (its rows go, the versions it replaced come back; recorded with who removed it),
    rebuilds the identity model, then runs the app again so every panel and the sidebar show the new state at
    once. Admins only."""
    person = require(Action.REMOVE)
    settings = active_settings()
    with writing() as con:
        try:
            remove_import(con, import_id, by=person.label)
            rebuild_identity(con, settings=settings)
            notices: list[str | FunnelError] = [f"Removed import {label}."]
        except FunnelError as exc:
            notices = [exc]
    st.session_state[NOTICES] = notices
    st.rerun()


def show_notices() -> None:
    """The results of the last import or removal (kept over the run that refreshed the page), as plain text."""
    for notice in st.session_state.pop(NOTICES, []):
        if isinstance(notice, FunnelError):
            show_error(notice)
        else:
            st.success("Done.", icon=":material/check_circle:")
            st.text(notice)
