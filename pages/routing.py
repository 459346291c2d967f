"""Routing: the rules that give every lead an owner and a next action, checked (lint) and replayed
(what-if) for an unsaved edit; nurture tracks and the content followed by the next stage; alerts; and
any segment, queue or track exported in the import format of the tool that acts on it."""

from __future__ import annotations

from functools import partial

import polars as pl
import streamlit as st

from funnel.analyses.routing import track_summary
from funnel.analyses.tool_exports import TOOLS
from funnel.config import with_routing_text
from funnel.errors import ConfigError
from funnel.export import csv_bytes, download_name
from pages.ui import cache, sidebar, store, widgets

sidebar.routed()
filters = sidebar.current_filters()
sidebar.require_tables("leads", what="Routing")
st.title("Routing")
sidebar.model_note()
st.caption("Ordered rules give every lead one team, named owner, next action and due date (business days); the "
           "first rule that matches wins, and every lead carries the rule that routed it. Edit the [routing] "
           "settings below to check and replay them before saving on the Rules page.")
if sidebar.undated():
    st.caption("No dates in this database: every lead is routed as it stands today, with no activity (so no intent) "
               "and due dates counted from today; the what-if replay and the content that led to the next stage "
               "need dates.")

settings, in_force = store.active_settings(), store.routing_text()
edit = st.text_area("Routing rules (TOML: only the [routing] table; unsaved)", value=in_force, height=300,
                    key="routing_edit")
unchanged = edit.strip() == in_force.strip()  # the edit is the rules in force
try:
    with_routing_text(settings, edit)
except ConfigError as exc:
    st.error("This routing edit is not valid.", icon=":material/error:")
    st.text(exc.message())
    st.stop()

lint = cache.edit_lint(routing_text=edit, as_of=filters.as_of)
st.subheader("Rules, in order")
widgets.table(lint["rules"], key="routing_rules")
st.subheader("Lint")
findings = lint["findings"]
if findings.is_empty():
    st.success("No findings: every lead is covered, no two rules overlap, every rule fires.",
               icon=":material/check_circle:")
else:
    event = widgets.table(findings, key="routing_findings", on_select="rerun", selection_mode="single-row")
    chosen = widgets.selected_row(event, findings)
    if chosen is None:
        st.caption("Select a finding to see the leads behind it.")
    else:
        behind = lint["finding_leads"].filter((pl.col("kind") == chosen["kind"])
                                              & (pl.col("subject") == chosen["subject"]))
        widgets.leads_table(behind, title=f"{chosen['kind']}: {chosen['subject']}", base="routing_finding",
                            as_of=filters.as_of, key="routing_behind")

st.subheader("What-if: the last weeks routed by this edit")
if sidebar.undated():
    st.caption("The replay routes the leads created in each of the last weeks, and this database has no dates. "
               + sidebar.NEEDS_DATES)
else:
    weeks = st.slider("Weeks to replay", 1, 26, 8, key="routing_weeks")
    if unchanged and not st.toggle("Replay the unchanged rules too", key="routing_replay_same"):
        st.caption("Change the rules above to compare them with the rules in force (or switch the toggle).")
    else:
        whatif = cache.edit_whatif(routing_text=edit, as_of=filters.as_of, weeks=weeks)
        st.caption("Leads each owner would have received per week; SLA breaches at the observed speed-to-lead (first "
                   "sales touch); conversion of each route's leads to a higher stage within the conversion window "
                   "(open leads are not counted as failures).")
        widgets.table(whatif["weekly"], key="routing_weekly")
        widgets.table(whatif["sla"], key="routing_sla")
        widgets.table(whatif["conversion"], key="routing_conversion")

leads = lint["leads"]
st.subheader("Nurture tracks")
widgets.table(track_summary(leads, settings=with_routing_text(settings, edit)), key="routing_tracks")
if sidebar.undated():
    st.caption("Which content was followed by the next stage needs dated activities and stage dates; this database "
               "has none.")
else:
    content = cache.content_next_stage(filters.as_of)
    st.caption("Content seen at each stage, and how often the next stage followed within the conversion window "
               "(rate with 95% interval; days from the first view to the next stage).")
    widgets.table(content, key="routing_content")

st.subheader("Alerts since the last import")
alerts = cache.import_alerts(filters.as_of, routed=lint["leads"] if unchanged else None)
widgets.leads_table(alerts, title="Alerts", base="routing_alerts", as_of=filters.as_of, key="routing_alerts")

st.subheader("Send a segment back to a tool")
cols = st.columns(4)
rule = widgets.one_or_every(cols[0], "Rule", lint["rules"].get_column("rule").to_list(), "routing_x_rule")
team = widgets.one_or_every(cols[1], "Team", sorted(leads.get_column("team").unique().to_list()), "routing_x_team")
track = widgets.one_or_every(cols[2], "Track", sorted(leads.get_column("track").drop_nulls().unique().to_list()),
                             "routing_x_track")
tool = cols[3].selectbox("Tool", TOOLS, key="routing_x_tool")
table, left_out = cache.segment_export(routing_text=edit, as_of=filters.as_of, tool=tool,
                                       chosen={"route_rule": rule, "team": team, "track": track})
st.text(f"{table.height:,} leads in {tool}'s import columns" + (f"; {left_out:,} without an e-mail left out" if left_out else ""))
widgets.table(table.head(200), key="routing_export_preview")
widgets.file_download("Download the import file", partial(csv_bytes, table),
                      file_name=download_name(f"{tool}_import", as_of=filters.as_of, ext="csv"), mime="text/csv",
                      key="routing_export_csv")
