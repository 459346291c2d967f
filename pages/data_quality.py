"""Data quality: which fields leads carry and which earn their place on a form, and the CRM audit
(duplicates with merge suggestions, values not in standard form, fix files for the CRM)."""

from __future__ import annotations

import streamlit as st

from funnel.analyses.capture import FORM_COMPLETION_TARGET
from funnel.analyses.duplicates import PERSON_SURVIVOR_RULES
from funnel.analyses.fix_files import CRM_COLUMNS
from funnel.errors import FunnelError
from pages.ui import cache, sidebar, store, widgets

sidebar.routed()
st.title("Data quality")
st.caption("Which segmentation fields your leads carry, by entry point and age, and which of them go with "
           "conversion; then the CRM audit: duplicate people and companies, values not in a standard form, "
           "and fix files to import back into the CRM.")

filters = sidebar.current_filters()
sidebar.model_note()
settings = store.active_settings()
sidebar.require_tables("leads", what="The data-quality review")

ENTRY_LABELS = {"source": "Source", "campaign": "First campaign", "url": "First page"}
SURVIVOR_LABELS = {"oldest": "Oldest record", "most_complete": "Most complete record",
                   "most_recent_activity": "Most recent activity"}


def capture_section() -> None:
    st.header("Capture: which fields leads carry")
    by = st.selectbox("Entry point", list(ENTRY_LABELS), format_func=ENTRY_LABELS.get, key="dq_entry")
    audit = cache.capture_audit(filters.as_of)
    if note := store.database_only_text("The capture audit"):
        st.text(note)
    st.subheader("What the numbers on other pages rest on")
    widgets.table(audit.quality)
    st.subheader("Fill rate by entry point")
    st.caption(f"A field counts as filled when the lead has it or its account does. Below "
               f"{FORM_COMPLETION_TARGET:.0%} is marked.")
    widgets.table(cache.fill_rates(filters.as_of, by=by))
    st.subheader("Fill rate by lead age")
    st.caption(audit.panel_note)
    if not audit.panel.is_empty():
        widgets.table(audit.panel, key="dq_panel")
        st.caption("Beside it, leads of each age today (a cross-section: older leads were also captured by older "
                   "forms).")
    widgets.table(audit.age)
    st.subheader("Form funnels")
    st.caption(f"Known leads only (anonymous visitors are in web analytics, not here), so completion is an "
               f"upper bound; target {FORM_COMPLETION_TARGET:.0%}. A form with no recorded views has no rate.")
    if audit.forms.is_empty():
        st.info("No form submissions with a page address in the activities.", icon=":material/info:")
    else:
        widgets.table(audit.forms)
    st.subheader("Which fields go with conversion")
    st.caption("Conversion to SQL with and without each field (Wilson intervals; q-values control the false "
               "discovery rate across fields). Association, not cause.")
    widgets.table(audit.lift, column_config_overrides={
        "lift": st.column_config.NumberColumn("Lift (points)", format="percent")})


def hygiene_section() -> None:
    st.header("CRM audit")
    left, right = st.columns(2)
    threshold = left.slider("Match probability from which a pair is a duplicate", 0.5, 0.99, 0.9, 0.01,
                            key="dq_threshold")
    survivor = right.selectbox("Record a merge keeps", PERSON_SURVIVOR_RULES, format_func=SURVIVOR_LABELS.get,
                               key="dq_survivor")
    try:
        audit = cache.crm_audit(filters.as_of, threshold=threshold, person_survivor=survivor)
    except FunnelError as error:
        widgets.show_error(error)
        return
    widgets.table(audit.summary)
    st.caption("The hygiene checks now and at the end of the previous month.")
    widgets.table(cache.hygiene_trend(filters.as_of))
    st.subheader("People across tools")
    summary, findings = cache.people_across_tools()
    if note := store.database_only_text("People across tools"):
        st.text(note)
    if summary.is_empty():
        st.caption("Every person in the other tools' exports matched a lead, and no key names two leads.")
    else:
        st.caption("People your other tools know but the CRM does not (a sync gap), and keys naming several "
                   "leads with the rule applied. The rows behind them are below, to download.")
        widgets.table(summary, key="dq_identity_summary")
        widgets.table(findings, key="dq_identity_findings")
        widgets.download_buttons(findings, base="people_across_tools", as_of=filters.as_of, key="dq_identity")
    st.subheader("Duplicate people")
    widgets.table(audit.person_pairs)
    st.subheader("Merge suggestions")
    widgets.table(audit.person_merges)
    widgets.download_buttons(audit.person_merges, base="merge_suggestions", as_of=filters.as_of, key="dq_merges")
    st.subheader("Duplicate companies")
    widgets.table(audit.company_pairs)
    widgets.table(audit.company_merges)
    st.subheader("Values not in standard form")
    widgets.table(audit.lead_findings)
    widgets.table(audit.account_findings)
    st.subheader("Fix files")
    st.caption("One file per table in your CRM's import columns, every column of each record present, with the "
               "suggested values. Importing the HubSpot file here (Data page) updates the records too.")
    crm = st.selectbox("CRM", list(CRM_COLUMNS), key="dq_crm")
    for table in ("leads", "accounts"):
        fixes = cache.fix_file(table=table, crm=crm)
        st.text(f"{table}: {fixes.height} records to update")
        if fixes.height:
            widgets.download_buttons(fixes, base=f"{table}_fix_{crm}", as_of=filters.as_of, key=f"dq_fix_{table}")


capture_section()
hygiene_section()
