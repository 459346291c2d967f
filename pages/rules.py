"""Rules: the settings behind every number, edited with validation, versioned, and backtested."""

from __future__ import annotations

import streamlit as st

from funnel.config import DEFAULT_PATH, settings_from_text
from funnel.display.rules import settings_summary, version_text
from funnel.errors import ConfigError
from funnel.model.scoring import rules_backtest
from funnel.store.settings_versions import active_text, save_version, saved_versions
from pages.ui import sidebar, store, widgets

sidebar.routed()
st.title("Rules")
st.caption("Stage ladders, evidence rules, conversion window, reactivation, SLAs, ideal customer profiles, intent "
           "weights, tags and next actions. Every saved edit is kept as a version; the newest one is used "
           "everywhere in the dashboard.")


def saved(text: str, note: str) -> int:
    """Saves `text` as the newest settings version, drops every cached result; returns the version."""
    with store.opened() as con:
        number = save_version(con, text, note=note)
    st.cache_data.clear()
    return number


with store.opened() as con:
    current_text, versions = active_text(con), saved_versions(con)
current = store.active_settings()
st.subheader("In force now")
widgets.table(settings_summary(current), key="rules_summary")

st.subheader("Edit")
edited = st.text_area("Settings (TOML; anything you leave out keeps its default)", value=current_text, height=420,
                      key="rules_text")
note = st.text_input("What changed (kept with the version)", key="rules_note")
check_col, save_col = st.columns(2)
proposed = None
try:
    proposed = settings_from_text(edited, source="edited settings")
except ConfigError as exc:
    st.error("These settings are not valid; nothing was saved.", icon=":material/error:")
    st.text(exc.message())
if proposed is not None:
    check_col.success("Valid settings.", icon=":material/check_circle:")
    if save_col.button("Save as a new version", type="primary", key="rules_save", disabled=edited == current_text):
        st.success(f"Saved as version {saved(edited, note)}; every page now uses it.")
        st.rerun()

st.subheader("Backtest the edit")
if proposed is None or edited == current_text:
    st.caption("Change a setting above to see how the last months would have looked under it.")
else:
    filters = sidebar.current_filters()
    months = st.slider("Months to replay", 1, 12, 6, key="rules_months")
    with st.spinner("Replaying history under both settings…"), store.opened() as con:
        result = rules_backtest(con, current=current, proposed=proposed, as_of=filters.as_of, months=months)
    widgets.table(result, key="rules_backtest")

st.subheader("Saved versions")
if versions.height == 0:
    st.caption("No edits saved yet: the packaged defaults are in force.")
else:
    widgets.table(versions.drop("toml"), key="rules_versions")
    choice = st.selectbox("Bring back an earlier version (saved again as the newest)",
                          versions.get_column("version").to_list(), key="rules_restore_choice")
    if st.button("Restore", key="rules_restore"):
        saved(version_text(versions, choice), f"restored version {choice}")
        st.rerun()

with st.expander("Every setting, with its documentation (the packaged defaults)"):
    st.code(DEFAULT_PATH.read_text(encoding="utf-8"), language="toml")
