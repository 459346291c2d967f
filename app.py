"""The dashboard's entry point: a router with the shared sidebar. Run with `make run`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages.ui import access, preload, sidebar, store  # noqa: F401  (preload: see its docstring)

HERE = Path(__file__).parent

st.set_page_config(page_title="Lead funnel", page_icon=":material/filter_alt:", layout="wide")

PAGES = {
    "Funnel": [
        ("pages/overview.py", "Overview", ":material/dashboard:"),
        ("pages/monthly_review.py", "Monthly review", ":material/calendar_month:"),
        ("pages/distribution.py", "Distribution", ":material/stacked_bar_chart:"),
        ("pages/conversion.py", "Conversion", ":material/trending_down:"),
        ("pages/aging.py", "Aging", ":material/hourglass_bottom:"),
        ("pages/segments.py", "Segments", ":material/category:"),
    ],
    "Leads": [
        ("pages/lead.py", "Lead", ":material/person_search:"),
        ("pages/matrix.py", "Fit × intent", ":material/grid_view:"),
        ("pages/handoff.py", "Handoff & hygiene", ":material/handshake:"),
        ("pages/handoff_review.py", "Handoff review", ":material/fact_check:"),
    ],
    "Setup": [
        ("pages/data.py", "Data", ":material/upload_file:"),
        ("pages/rules.py", "Rules", ":material/tune:"),
        ("pages/routing.py", "Routing", ":material/alt_route:"),
        ("pages/data_quality.py", "Data quality", ":material/cleaning_services:"),
    ],
}

access.gate()
store.load_sample_if_empty()
navigation = st.navigation({
    section: [st.Page(HERE / path, title=title, icon=icon) for path, title, icon in entries
              ]
    for section, entries in PAGES.items()
})
sidebar.sidebar_filters()
navigation.run()
