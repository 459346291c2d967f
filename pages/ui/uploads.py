"""Uploaded exports on the Data page: checked once per content (cached), shown as a card (table, rows,
format, mapping, warnings, preview), and mapped column by column when the file is not recognised or is
recognised only in part (columns left over that could fill a stage, outcome, date or owner)."""

from __future__ import annotations

import polars as pl
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from funnel.access import Action
from funnel.errors import FunnelError, MappingError, ValidationError
from funnel.ingest import upload
from funnel.ingest.import_job import imported_in_child
from funnel.ingest.importer import BatchFile, remove_import
from funnel.ingest.mapping_guess import (
    completed_columns,
    corrected_mapping_text,
    distinct_values,
    fillable_gaps,
    missing_for_analyses,
    proposed_columns,
    proposed_stage_values,
    proposed_table,
    recognising_mapping,
    save_mapping,
)
from funnel.ingest.mapping_guess import mapping_text as drafted_mapping
from funnel.ingest.upload import CheckedUpload
from funnel.model.build import rebuild_model
from funnel.model.identity import identity_matches, match_summary
from funnel.schema import TABLES
from funnel.store.db import connect
from pages.ui.access import require
from pages.ui.store import db_path, saved_settings, saved_text, settings_for, writing
from pages.ui.widgets import show_error


@st.cache_data(max_entries=16, show_spinner=False)
def checked_file(data: bytes, name: str, mapping_text: str, table: str | None, settings_key: str,
                 saved_texts: tuple[tuple[str, str], ...] = ()) -> CheckedUpload | FunnelError:
    """An uploaded file as the limited worker found it (or the error saying why not), cached per content."""
    return upload.checked_upload(data, name, mapping_text=mapping_text, table=table,
                                 settings=settings_for(settings_key), saved_texts=saved_texts)


@st.cache_data(max_entries=16, show_spinner=False)
def upload_sample(data: bytes, name: str) -> pl.DataFrame | FunnelError:
    """The first rows of an upload, all as text, for the guided mapper (parsed by the worker)."""
    return upload.upload_sample(data, name)


def checked_upload(file, number: int, *, mapping_text: str, table: str | None,
                   saved: tuple[tuple[str, str], ...]) -> CheckedUpload | None:
    """One uploaded file checked and shown as a card; the guided mapper when it is not recognised, or when it
    is recognised with columns left over that could fill what analyses need (a half-mapping, which imports
    only with the user's corrections or when they choose to import it as recognised anyway).
    Returns the file ready to import, or None (the card says why)."""
    with st.container(border=True):
        st.text(file.name)
        with st.spinner("Checking the file…"):
            item = checked_file(file.getvalue(), file.name, mapping_text, table, saved_text(), saved)
        if isinstance(item, (MappingError, ValidationError)) and not mapping_text:
            show_error(item)
            item = guided_mapping(file, number, saved=saved)
        elif isinstance(item, CheckedUpload) and not mapping_text and half_mapped(file, item):
            item = guided_mapping(file, number, recognised=item, saved=saved)
        if isinstance(item, FunnelError):
            show_error(item)
            return None
        if item is not None:
            upload_card(item)
        return item


def half_mapped(file, item: CheckedUpload) -> bool:
    """Whether a recognised file leaves columns as attributes that could fill a stage, outcome, date or owner."""
    if not item.unmapped:
        return False
    sample = upload_sample(file.getvalue(), file.name)
    return not isinstance(sample, FunnelError) and bool(fillable_gaps(sample, item.table, item.source_columns))


def upload_card(item: CheckedUpload) -> None:
    cols = st.columns(3)
    cols[0].metric("Table", item.table)
    cols[1].metric("Rows", f"{item.rows:,}")
    cols[2].metric("Format", item.format.upper())
    if item.mapping_name:
        st.text(f"Mapping: {item.mapping_name}")
    for warning in item.warnings:
        st.warning(warning, icon=":material/warning:")
    with st.expander("Column mapping and preview"):
        st.dataframe(upload.column_sources(item), hide_index=True)
        if item.unmapped:
            st.text("Kept as attributes: " + ", ".join(item.unmapped[:40]))
        st.dataframe(item.head, hide_index=True)
    for name, rows in item.derived_rows.items():
        st.text(f"Also derived: {rows:,} rows for {name}")


def guided_mapping(file, number: int, *, recognised: CheckedUpload | None = None,
                   saved: tuple[tuple[str, str], ...] = ()) -> CheckedUpload | FunnelError | None:
    """Map an export column by column: a proposal, the user's corrections, stage values onto the lifecycle
    ladder, a preview of what each analysis will show from the file as now mapped (nothing written), what
    is still missing, and a saved mapping so next month's export imports in one step. For a `recognised`
    file that is half-mapped, the corrections keep everything else its mapping (a preset or a saved one)
    says, and the corrected file is returned only once nothing its columns could fill is left empty, or
    the file as recognised when the user chooses so."""
    sample = upload_sample(file.getvalue(), file.name)
    if isinstance(sample, FunnelError):
        return sample
    with st.expander("Map its columns", expanded=True, icon=":material/schema:"):
        if recognised is not None:
            st.warning("This file was recognised, but columns that analyses need are missing although the file "
                       "has columns that could supply them. Check the proposal below: nothing is imported "
                       "half-mapped unless you choose to.", icon=":material/warning:")
            st.text(f"Recognised as {recognised.table}" + (f" by {recognised.mapping_name}"
                                                            if recognised.mapping_name else "") + ".")
            for problem in missing_for_analyses(recognised.table, recognised.source_columns):
                st.text(f"• as recognised, {problem}")
        st.caption("Proposed from the column names and values (dates, e-mails, numbers, yes/no outcomes). "
                   "Correct any choice; the preview and the list of what is still missing update as you go.")
        headers = [h for h in sample.columns if not h.startswith("_")]
        proposed = recognised.table if recognised is not None else proposed_table(sample)
        table = st.selectbox("This file feeds", list(TABLES), index=list(TABLES).index(proposed),
                             key=f"map_table_{number}")
        guess = (completed_columns(sample, table, recognised.source_columns)
                 if recognised is not None and table == recognised.table else proposed_columns(sample, table))
        options = ["(none)", *headers]
        choices = {}
        grid = st.columns(3)
        for i, column in enumerate(TABLES[table].columns):
            default = guess.get(column.name)
            label = f"{column.name} (required)" if column.required else column.name
            picked = grid[i % 3].selectbox(label, options, index=options.index(default) if default in options else 0,
                                           key=f"map_{number}_{table}_{column.name}", help=column.doc)
            choices[column.name] = None if picked == "(none)" else picked
        values = {"lifecycle_stage": stage_value_map(sample, choices["lifecycle_stage"], number)} if (
            choices.get("lifecycle_stage")) else {}
        st.text("Still missing, and what each analysis will lack:")
        for problem in missing_for_analyses(table, choices) or ["nothing: every analysis has what it needs"]:
            st.text(f"• {problem}")
        name = st.text_input("Save this mapping as", value=f"{file.name.rsplit('.', 1)[0]} ({table})",
                             key=f"map_name_{number}")
        base = (recognising_mapping(recognised.mapping_name, saved)
                if recognised is not None and recognised.mapping_name and table == recognised.table else None)
        text = (corrected_mapping_text(name, base=base, headers=headers, table=table, columns=choices, values=values)
                if base is not None else drafted_mapping(name, table=table, columns=choices, values=values))
        item = checked_file(file.getvalue(), file.name, text, table, saved_text())
        if isinstance(item, CheckedUpload):
            st.text("What each analysis will show once the file is imported as now mapped (nothing is written yet):")
            st.table(item.analysis.rename(lambda name: name.capitalize()), hide_index=True)  # wraps: every word readable
        if isinstance(item, CheckedUpload) and item.stages is not None and "lifecycle_stage" in values:
            st.text("Lifecycle stages after this mapping (the distribution will show):")
            st.dataframe(item.stages, hide_index=True, key=f"map_preview_{number}")
        left, right = st.columns(2)
        if left.button("Save mapping", key=f"map_save_{number}", icon=":material/save:",
                       disabled=isinstance(item, FunnelError)):
            require(Action.IMPORT)
            with writing() as con:
                save_mapping(con, name=name, text=text)
            st.success("Saved: the next export with these columns is recognised and imports in one step.")
        right.download_button("Download mapping (.toml)", text, file_name="mapping.toml", mime="application/toml",
                              key=f"map_download_{number}")
        if recognised is None:
            return item
        if st.checkbox("Import as recognised anyway (without the columns listed above)", key=f"map_anyway_{number}"):
            return recognised
        left_empty = fillable_gaps(sample, table, choices)
        if left_empty:
            st.info("Not imported yet: choose a column for each of these, or tick 'Import as recognised anyway'.",
                    icon=":material/info:")
            for canonical, source in left_empty.items():
                st.text(f"• {canonical} (the file's column {source} could supply it)")
            return None
    return item


def stage_value_map(sample: pl.DataFrame, column: str, number: int) -> dict[str, str]:
    """The user's lifecycle stage for each distinct sample value of `column` (proposed from the settings'
    ladder and obvious cases); values left as they are are not in the map."""
    settings = settings_for(saved_text())
    stages = [*settings.ladders.lifecycle, *settings.ladders.lifecycle_side]
    keep = "(keep the value as it is)"
    seen = distinct_values(sample, column)
    proposals = proposed_stage_values(seen, settings)
    st.text(f"Lifecycle stage for each value of {column}:")
    value_map = {}
    for i, value in enumerate(seen):
        left, right = st.columns([1, 2])
        left.text(value)
        options = [keep, *stages]
        picked = right.selectbox(f"Lifecycle stage for value {i + 1}", options, label_visibility="collapsed",
                                 index=options.index(proposals[value]) if proposals[value] in options else 0,
                                 key=f"map_stage_{number}_{column}_{i}")
        if picked != keep:
            value_map[value] = picked
    return value_map


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


def import_files(uploaded: list[tuple[UploadedFile, CheckedUpload]]) -> None:
    """Imports the checked files as one batch (all or nothing, recorded with who imported it) in a child process
    under the import's memory limit: only each file's result comes back here. Then rebuilds the lead model and
    runs the app again so every panel and the sidebar show the new state at once; each file's result and how its
    people joined leads are shown after that run. Admins only."""
    person = require(Action.IMPORT)
    progress = st.progress(0.0, text="Importing…")
    settings = saved_settings()  # the team's rules, never a draft; read before the write: it waits for reads to end
    notices: list[str | FunnelError] = []
    paths = [upload.saved_upload(file.getvalue(), file.name) for file, _ in uploaded]
    files = [BatchFile(path, name=file.name, table=item.table, mapping=item.mapping)
             for path, (file, item) in zip(paths, uploaded)]
    with writing() as con:
        con.close()  # the child opens the database itself; no other session reads while `writing` holds it
        try:
            results = imported_in_child(db_path(), files, settings=settings, by=person.label,
                                        progress=lambda step, done: progress.progress(done / 2, text=f"Importing: {step}…"))
            notices.extend(result.summary() for result in results)
            con = connect(db_path())
            rebuild_model(con, settings=settings, progress=lambda step, done: progress.progress(
                0.5 + done / 2, text=f"Building the lead model: {step}…"))
            matches = identity_matches(con)
            for result in results:
                for row in matches.filter(pl.col("import_id") == result.import_id).iter_rows(named=True):
                    notices.append(match_summary(row))
        except FunnelError as exc:
            notices.append(exc)
        finally:
            con.close()
            for path in paths:
                path.unlink(missing_ok=True)
    st.session_state[NOTICES] = notices
    st.session_state[UPLOAD_ROUND] = st.session_state.get(UPLOAD_ROUND, 0) + 1
    st.rerun()


def undo_import(import_id: int, label: str) -> None:
    """Removes an import (its rows go, the versions it replaced come back; recorded with who removed it),
    rebuilds the lead model, then runs the app again so every panel and the sidebar show the new state at
    once. Admins only."""
    person = require(Action.REMOVE)
    settings = saved_settings()  # the team's rules, never a draft being previewed
    with writing() as con:
        try:
            remove_import(con, import_id, by=person.label)
            rebuild_model(con, settings=settings)
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
