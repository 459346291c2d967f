"""Data: upload exports, see what each file is and what is wrong with it, import, undo."""

from __future__ import annotations

import streamlit as st

from funnel.access import Action
from funnel.schema import TABLES
from funnel.store.status import active_import_ids, import_labels
from pages.ui import access, sidebar, store, uploads, widgets

sidebar.routed()
st.title("Data")
st.caption("Load CRM, marketing-automation, product-analytics, enrichment and intent exports (CSV, XLSX, "
           "Parquet). Files are checked first; nothing is written until you import, and a failed import "
           "changes nothing. Each import and removal is recorded with who did it.")
uploads.show_notices()

inventory, _ = store.database_inventory()
st.subheader("What the database holds")
if writes := store.writes_text():
    st.text(writes)
widgets.table(inventory, key="inventory_table")
sidebar.sample_notice()

st.subheader("The lead model")
st.caption("Who is who across tools and every lead's stage entries, built once after each import or removal and "
           "whenever saved settings change; the pages read it instead of computing from the tables.")
model = store.model_status()
if model.parts.height:
    widgets.table(model.parts, key="model_parts")
else:
    st.caption("Nothing built yet.")
if store.total_rows() and not model.saved_current:
    st.warning("The lead model is not built for the saved settings: every page computes from the tables, which is "
               "slower, until it is.", icon=":material/hourglass_top:")
    if access.allowed(Action.BUILD_MODEL):
        if st.button("Build the lead model", key="build_model", icon=":material/construction:"):
            store.build_model()
            st.rerun()
    else:
        access.role_note(Action.BUILD_MODEL)
elif store.total_rows() and not model.viewed_current:
    st.caption("The model is built for the saved settings, not for your draft: while you compute on your draft, "
               "pages compute from the tables (slower). Saving the draft as a version builds the model for it.")

st.subheader("Import exports")
if not access.allowed(Action.IMPORT):
    access.role_note(Action.IMPORT)
else:
    table_choice = st.selectbox("Table", ["recognise from the columns", *TABLES], key="import_table",
                                help="Leave on 'recognise' for canonical files and known vendor exports.")
    mapping_upload = st.file_uploader("Mapping (optional .toml)", type=["toml"], key="mapping_file",
                                      help="A saved column mapping for exports the dashboard does not recognise.")
    files = st.file_uploader("Export files", type=["csv", "txt", "tsv", "xlsx", "parquet"],
                             accept_multiple_files=True, key=uploads.upload_key())
    mapping_text = uploads.mapping_text_of(mapping_upload)
    table = None if table_choice.startswith("recognise") else table_choice
    saved = store.saved_mapping_texts()
    checked = [uploads.checked_upload(file, number, mapping_text=mapping_text, table=table, saved=saved)
               for number, file in enumerate(files or [])]
    ready = [(file, item) for file, item in zip(files or [], checked) if item is not None]
    if ready and st.button(f"Import {len(ready)} file(s)", type="primary", key="import_button",
                           icon=":material/download_done:"):
        uploads.import_files(ready)

st.subheader("People across tools")
matches, unmatched, conflicts = store.people_across_tools()
if matches.height == 0:
    st.caption("No imported activities, stage entries or deals to join to leads yet.")
else:
    st.caption("How each file's rows joined a lead: by lead id, e-mail, a recorded alias or a device.")
    widgets.table(matches, key="identity_matches")
    st.caption(f"People and ids that match no lead ({unmatched.height:,}): kept, not counted as leads.")
    widgets.table(unmatched, key="identity_unmatched")
    st.caption(f"Identity conflicts ({conflicts.height:,}): one key naming several leads, and the rule applied.")
    widgets.table(conflicts, key="identity_conflicts")

st.subheader("Import history")
history = store.history()
if history.height == 0:
    st.caption("Nothing imported yet.")
    st.stop()
widgets.table(history.drop("sha256"), key="history_table")
active = active_import_ids(history)
if active and access.allowed(Action.REMOVE):
    labels = import_labels(history)
    choice = st.selectbox("Remove an import (its rows go, the versions it replaced come back)", active,
                          key="remove_choice", format_func=labels.get)
    if st.button("Remove import", icon=":material/delete:", key="remove_button"):
        uploads.undo_import(int(choice), labels[choice])
