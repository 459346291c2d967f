"""Data: upload exports, see what each file is and what is wrong with it, import, undo."""

from __future__ import annotations

import polars as pl
import streamlit as st

from funnel.errors import FunnelError, MappingError, ValidationError
from funnel.ingest.importer import remove_import, write_import
from funnel.ingest.mapping import mapping_from_text
from funnel.ingest.mapping_guess import mapping_text as drafted_mapping
from funnel.ingest.mapping_guess import missing_for_analyses, proposed_columns, proposed_table, save_mapping
from funnel.model.identity import (
    identity_conflicts,
    identity_is_built,
    identity_matches,
    match_summary,
    rebuild_identity,
    unmatched_people,
)
from funnel.schema import TABLES
from pages import ui

ui.routed()


def guided_mapping(upload, number: int):
    """Map an unrecognised export column by column: a proposal, the user's corrections, a preview, what
    is still missing for each analysis, and a saved mapping so next month's export imports in one step."""
    sample = ui.upload_sample(upload.getvalue(), upload.name)
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
        name = st.text_input("Save this mapping as", value=f"{upload.name.rsplit('.', 1)[0]} ({table})",
                             key=f"map_name_{number}")
        text = drafted_mapping(name, table=table, columns=choices)
        item = ui.prepared_upload(upload.getvalue(), upload.name, text, table, ui.settings_text())
        left, right = st.columns(2)
        if left.button("Save mapping", key=f"map_save_{number}", icon=":material/save:",
                       disabled=isinstance(item, FunnelError)):
            con = ui.cursor()
            try:
                save_mapping(con, name=name, text=text)
            finally:
                con.close()
            st.success("Saved: the next export with these columns is recognised and imports in one step.")
        right.download_button("Download mapping (.toml)", text, file_name="mapping.toml", mime="application/toml",
                              key=f"map_download_{number}")
    return item


st.title("Data")
st.caption("Load CRM, marketing-automation, product-analytics, enrichment and intent exports (CSV, XLSX, "
           "Parquet). Files are checked first; nothing is written until you import, and a failed import "
           "changes nothing. Your data never leaves this machine.")

inventory, newest = ui.inventory()
st.subheader("What the database holds")
st.dataframe(inventory, hide_index=True, key="inventory_table",
             column_config={"first": st.column_config.DatetimeColumn("first", format="YYYY-MM-DD"),
                            "last": st.column_config.DatetimeColumn("last", format="YYYY-MM-DD")})
ui.sample_notice()

st.subheader("Import exports")
table_choice = st.selectbox("Table", ["recognise from the columns", *TABLES], key="import_table",
                            help="Leave on 'recognise' for canonical files and known vendor exports.")
mapping_upload = st.file_uploader("Mapping (optional .toml)", type=["toml"], key="mapping_file",
                                  help="A saved column mapping for exports the dashboard does not recognise.")
uploads = st.file_uploader("Export files", type=["csv", "txt", "tsv", "xlsx", "parquet"],
                           accept_multiple_files=True, key="export_files")

mapping_text = ""
if mapping_upload is not None:
    mapping_text = mapping_upload.getvalue().decode("utf-8", errors="replace")
    try:
        mapping_from_text(mapping_text, source=mapping_upload.name)
    except FunnelError as exc:
        ui.show_error(exc)
        mapping_text = ""

prepared = []
saved = ui.saved_mapping_texts()
for number, upload in enumerate(uploads or []):
    with st.container(border=True):
        st.text(upload.name)
        with st.spinner("Checking the file…"):
            item = ui.prepared_upload(upload.getvalue(), upload.name, mapping_text,
                                      None if table_choice.startswith("recognise") else table_choice,
                                      ui.settings_text(), saved)
        if isinstance(item, (MappingError, ValidationError)) and not mapping_text:
            ui.show_error(item)
            item = guided_mapping(upload, number)
        if item is None:
            continue
        if isinstance(item, FunnelError):
            ui.show_error(item)
            continue
        prepared.append(item)
        cols = st.columns(3)
        cols[0].metric("Table", item.table)
        cols[1].metric("Rows", f"{item.frame.height:,}")
        cols[2].metric("Format", item.format.upper())
        if item.mapping_name:
            st.text(f"Mapping: {item.mapping_name}")
        for warning in item.warnings:
            st.warning(warning, icon=":material/warning:")
        mapped = pl.DataFrame({"canonical column": list(item.source_columns),
                               "from export column": list(item.source_columns.values())})
        with st.expander("Column mapping and preview"):
            st.dataframe(mapped, hide_index=True)
            if item.unmapped:
                st.text("Kept as attributes: " + ", ".join(item.unmapped[:40]))
            st.dataframe(item.frame.head(20).drop("attributes", strict=False), hide_index=True)
        for name, derived in item.derived.items():
            st.text(f"Also derived: {derived.height:,} rows for {name}")

if prepared and st.button(f"Import {len(prepared)} file(s)", type="primary", key="import_button",
             icon=":material/download_done:"):
    con = ui.cursor()
    progress = st.progress(0.0, text="Importing…")
    try:
        results = []
        for i, item in enumerate(prepared, start=1):
            results.append(write_import(con, item))
            st.success(results[-1].summary(), icon=":material/check_circle:")
            progress.progress(i / len(prepared), text=f"Imported {i} of {len(prepared)}")
        rebuild_identity(con, settings=ui.active_settings())
        matches = identity_matches(con)
        for result in results:
            for row in matches.filter(pl.col("import_id") == result.import_id).iter_rows(named=True):
                st.text(match_summary(row))
    except FunnelError as exc:
        ui.show_error(exc)
    finally:
        con.close()
    st.cache_data.clear()

st.subheader("Import history")
history = ui.history()
if history.height == 0:
    st.caption("Nothing imported yet.")
else:
    st.dataframe(history.drop("sha256"), hide_index=True, key="history_table")
    active = history.filter(pl.col("removed_at").is_null())
    if active.height:
        choice = st.selectbox("Remove an import (its rows go, the versions it replaced come back)",
                              active.get_column("import_id").to_list(), key="remove_choice")
        if st.button("Remove import", icon=":material/delete:", key="remove_button"):
            con = ui.cursor()
            try:
                remove_import(con, int(choice))
                rebuild_identity(con, settings=ui.active_settings())
            except FunnelError as exc:
                ui.show_error(exc)
            finally:
                con.close()
            st.cache_data.clear()
            st.rerun()


# ------------------------------------------------------------------ people across tools (identity model)
st.subheader("People across tools")
con = ui.cursor()
try:
    built = identity_is_built(con)
    matches = identity_matches(con) if built else pl.DataFrame()
    unmatched = unmatched_people(con) if built else pl.DataFrame()
    conflicts = identity_conflicts(con) if built else pl.DataFrame()
finally:
    con.close()
if matches.height == 0:
    st.caption("No imported activities, stage entries or deals to join to leads yet.")
else:
    st.caption("How each file's rows joined a lead: by lead id, e-mail, a recorded alias or a device.")
    st.dataframe(matches, hide_index=True, key="identity_matches")
    st.caption(f"People and ids that match no lead ({unmatched.height:,}): kept, not counted as leads.")
    st.dataframe(unmatched, hide_index=True, key="identity_unmatched")
    st.caption(f"Identity conflicts ({conflicts.height:,}): one key naming several leads, and the rule applied.")
    st.dataframe(conflicts, hide_index=True, key="identity_conflicts")
