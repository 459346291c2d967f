"""Rules: the settings behind every number, edited with validation, drafted per person, saved as versions
(by admins, with author and note), and backtested."""

from __future__ import annotations

import streamlit as st

from funnel.access import Action
from funnel.config import DEFAULT_PATH, settings_from_text
from funnel.display.rules import settings_summary, version_text
from funnel.errors import ConfigError
from funnel.model.scoring import rules_backtest
from pages.ui import access, rules, sidebar, store

sidebar.routed()
st.title("Rules")
st.caption("Stage ladders, evidence rules, conversion window, reactivation, SLAs, ideal customer profiles, intent "
           "weights, tags and next actions. An edit is your draft until an admin saves it as a new version; "
           "every saved version is kept, and the newest one is used everywhere in the dashboard.")
st.page_link("pages/routing.py", label="Routing: check an edit of the [routing] rules and replay it before saving here",
             icon=":material/alt_route:")

current_text, my_draft, versions, drafts = rules.texts()
current = store.saved_settings()
st.subheader("In force now")
st.dataframe(settings_summary(current), hide_index=True, key="rules_summary")

st.subheader("Edit")
if my_draft is not None:
    st.caption("Showing your draft (not saved as a version yet).")
edited = st.text_area("Settings (TOML; anything you leave out keeps its default)", value=my_draft or current_text,
                      height=420, key="rules_text")
proposed = None
try:
    proposed = settings_from_text(edited, source="edited settings")
except ConfigError as exc:
    st.error("These settings are not valid; nothing was saved.", icon=":material/error:")
    st.text(exc.message())
if proposed is not None:
    st.success("Valid settings.", icon=":material/check_circle:")
    draft_col, discard_col, save_col = st.columns(3)
    if access.allowed(Action.DRAFT_RULES):
        if draft_col.button("Keep as my draft", key="rules_draft", disabled=edited == (my_draft or current_text)):
            rules.keep_draft(edited)
            st.rerun()
        if my_draft is not None and discard_col.button("Discard my draft", key="rules_discard"):
            rules.discard_draft()
            st.rerun()
    else:
        access.role_note(Action.DRAFT_RULES)
    if access.allowed(Action.SAVE_RULES):
        note = save_col.text_input("What changed (kept with the version)", key="rules_note")
        if save_col.button("Save as a new version", type="primary", key="rules_save", disabled=edited == current_text):
            st.success(f"Saved as version {rules.save_version(edited, note)}; every page now uses it.")
            st.rerun()

st.subheader("Backtest the edit")
if proposed is None or edited == current_text:
    st.caption("Change a setting above to see how the last months would have looked under it.")
else:
    filters = sidebar.current_filters()
    months = st.slider("Months to replay", 1, 12, 6, key="rules_months")
    with st.spinner("Replaying history under both settings…"), store.opened() as con:
        result = rules_backtest(con, current=current, proposed=proposed, as_of=filters.as_of, months=months)
    st.dataframe(result, hide_index=True, key="rules_backtest")

if drafts.height and access.allowed(Action.SAVE_RULES):
    st.subheader("Drafts waiting to be saved")
    st.dataframe(drafts.drop("toml"), hide_index=True, key="rules_drafts")
    author = st.selectbox("Draft", drafts.get_column("author").to_list(), key="rules_draft_author")
    with st.expander("Its settings"):
        st.code(drafts.filter(drafts.get_column("author") == author).get_column("toml")[0], language="toml")
    draft_note = st.text_input("What changed (kept with the version)", key="rules_draft_note")
    if st.button("Save this draft as a new version", type="primary", key="rules_save_draft"):
        st.success(f"Saved as version {rules.save_draft_of(author, draft_note)}; every page now uses it.")
        st.rerun()

st.subheader("Saved versions")
if versions.height == 0:
    st.caption("No edits saved yet: the packaged defaults are in force.")
else:
    st.dataframe(versions.drop("toml"), hide_index=True, key="rules_versions")
    if access.allowed(Action.SAVE_RULES):
        choice = st.selectbox("Bring back an earlier version (saved again as the newest)",
                              versions.get_column("version").to_list(), key="rules_restore_choice")
        if st.button("Restore", key="rules_restore"):
            rules.save_version(version_text(versions, choice), f"restored version {choice}")
            st.rerun()

with st.expander("Every setting, with its documentation (the packaged defaults)"):
    st.code(DEFAULT_PATH.read_text(encoding="utf-8"), language="toml")
