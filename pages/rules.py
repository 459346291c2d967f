"""Rules: the settings behind every number, edited with validation, versioned, and backtested."""

from __future__ import annotations

import polars as pl
import streamlit as st

from funnel.config import DEFAULT_PATH, settings_from_text
from funnel.errors import ConfigError
from funnel.store.settings_versions import active_text, save_version, saved_versions
from pages import ui

ui.routed()
st.title("Rules")
st.caption("Stage ladders, evidence rules, conversion window, reactivation, SLAs, ideal customer profiles, intent "
           "weights, tags and next actions. Every saved edit is kept as a version; the newest one is used "
           "everywhere in the dashboard.")

con = ui.cursor()
try:
    current_text = active_text(con)
    versions = saved_versions(con)
finally:
    con.close()
current = ui.active_settings()

summary = pl.DataFrame({
    "setting": ["conversion window (days)", "skipped stages", "reactivation after (days)", "recycle returns to",
                "high fit at", "high intent at", "intent half-life (days)", "ideal customer profiles",
                "lifecycle ladder", "funnel ladder"],
    "value": [str(current.conversion.window_days), current.conversion.skipped_stages,
              str(current.funnel_rules.reactivation_after_days), current.funnel_rules.recycle_stage,
              f"{current.fit.high_threshold:g}", f"{current.intent.high_threshold:g}",
              f"{current.intent.half_life_days:g}", ", ".join(i.name for i in current.fit.icps),
              " → ".join(current.ladders.lifecycle), " → ".join(current.ladders.funnel)],
})
st.subheader("In force now")
st.dataframe(summary, hide_index=True, key="rules_summary")

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
        con = ui.cursor()
        try:
            number = save_version(con, edited, note=note)
        finally:
            con.close()
        st.cache_data.clear()
        st.success(f"Saved as version {number}; every page now uses it.")
        st.rerun()

st.subheader("Backtest the edit")
if proposed is None or edited == current_text:
    st.caption("Change a setting above to see how the last months would have looked under it.")
else:
    filters = ui.current_filters()
    months = st.slider("Months to replay", 1, 12, 6, key="rules_months")
    try:
        from funnel.model.scoring import rules_backtest
    except ImportError:
        st.info("The backtest needs the funnel-stage engine, which is not installed in this build.")
    else:
        with st.spinner("Replaying history under both settings…"):
            con = ui.cursor()
            try:
                result = rules_backtest(con, current=current, proposed=proposed, as_of=filters.as_of, months=months)
            finally:
                con.close()
        st.dataframe(result, hide_index=True, key="rules_backtest")

st.subheader("Saved versions")
if versions.height == 0:
    st.caption("No edits saved yet: the packaged defaults are in force.")
else:
    st.dataframe(versions.drop("toml"), hide_index=True, key="rules_versions")
    choice = st.selectbox("Bring back an earlier version (saved again as the newest)",
                          versions.get_column("version").to_list(), key="rules_restore_choice")
    if st.button("Restore", key="rules_restore"):
        text = versions.filter(pl.col("version") == choice).get_column("toml")[0]
        con = ui.cursor()
        try:
            save_version(con, text, note=f"restored version {choice}")
        finally:
            con.close()
        st.cache_data.clear()
        st.rerun()

with st.expander("Every setting, with its documentation (the packaged defaults)"):
    st.code(DEFAULT_PATH.read_text(encoding="utf-8"), language="toml")
