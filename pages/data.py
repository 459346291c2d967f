"""Data: upload exports, see what each file is and what is wrong with it, import, undo."""

from __future__ import annotations

import polars as pl
import streamlit as st

from funnel.errors import FunnelError
from funnel.importer import remove_import, write_import
from funnel.mapping import mapping_from_text
from funnel.schema import TABLES
from pages import ui

ui.routed()
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
for upload in uploads or []:
    with st.container(border=True):
        st.text(upload.name)
        with st.spinner("Checking the file…"):
            item = ui.prepared_upload(upload.getvalue(), upload.name, mapping_text,
                                      None if table_choice.startswith("recognise") else table_choice,
                                      ui.settings_text())
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
        for i, item in enumerate(prepared, start=1):
            result = write_import(con, item)
            st.success(result.summary(), icon=":material/check_circle:")
            progress.progress(i / len(prepared), text=f"Imported {i} of {len(prepared)}")
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
            except FunnelError as exc:
                ui.show_error(exc)
            finally:
                con.close()
            st.cache_data.clear()
            st.rerun()
