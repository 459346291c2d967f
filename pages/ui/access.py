"""Sign-in and roles in the dashboard: Streamlit's `st.login` (OpenID Connect) when the server's secrets
have an `[auth]` section, the `[team]` allow-list with each member's role, and the checks every write
path makes before it writes. Without `[auth]` the dashboard serves this machine only, to one local admin.

The rules themselves (roles, what each may do, who is on the team) are plain functions in funnel.access."""

from __future__ import annotations

import streamlit as st

from funnel.access import (
    Action,
    Person,
    Team,
    local_person,
    person_from_claims,
    serving_refusal,
    team_from_config,
)
from funnel.errors import ConfigError


def secrets_section(name: str) -> dict:
    """A table of the server's secrets (.streamlit/secrets.toml or `secrets.files`), empty when absent."""
    if not st.secrets.load_if_toml_exists():
        return {}
    section = st.secrets.get(name)
    return section.to_dict() if hasattr(section, "to_dict") else dict(section or {})


def auth_configured() -> bool:
    return bool(secrets_section("auth"))


def team() -> Team:
    return team_from_config(secrets_section("team"))


def current_person() -> Person | None:
    """Who is using this session: the signed-in team member, the local admin without sign-in, else None."""
    if not auth_configured():
        return local_person()
    if not st.user.is_logged_in:
        return None
    try:
        return person_from_claims(st.user.to_dict(), team())
    except ConfigError:
        return None


def gate() -> Person:
    """Stops the run unless this session may see the dashboard: the server is local or has sign-in, the
    visitor is signed in, and their e-mail is on the team."""
    refusal = serving_refusal(st.get_option("server.address"), auth_configured=auth_configured())
    if refusal:
        st.error("This dashboard refuses to serve from this address.", icon=":material/block:")
        st.text(refusal)
        st.stop()
    if not auth_configured():
        return local_person()
    if not st.user.is_logged_in:
        st.title("Lead funnel")
        st.text("This dashboard holds personal data. Sign in with your work account to continue.")
        if st.button("Sign in", type="primary", key="sign_in", icon=":material/login:"):
            st.login()
        st.stop()
    try:
        members = team()
    except ConfigError as exc:
        st.error("The server's team list is not valid, so nobody is let in.", icon=":material/error:")
        st.text(exc.message() + " (an admin fixes [team] in the server's secrets)")
        st.stop()
    person = person_from_claims(st.user.to_dict(), members)
    if person is None:
        st.error("Your account is not on this dashboard's team list.", icon=":material/block:")
        st.text(f"Signed in as: {st.user.to_dict().get('email') or 'an account without an e-mail'}. "
                "Ask an admin to add you, or sign out and use another account.")
        st.button("Sign out", key="sign_out_refused", on_click=st.logout)
        st.stop()
    return person


def allowed(action: Action) -> bool:
    person = current_person()
    return person is not None and person.may(action)


def require(action: Action) -> Person:
    """The person taking `action` on a write path; stops the run, saying why, when their role may not."""
    person = current_person()
    if person is None or not person.may(action):
        role = person.role if person else "no role"
        st.error(f"Your role ({role}) may not {action.value}. Ask an admin.", icon=":material/block:")
        st.stop()
    return person


def role_note(action: Action) -> None:
    """A plain note where a control is left out because the role may not use it."""
    st.caption(f"Your role may not {action.value}: ask an admin.")


def person_panel() -> None:
    """The sidebar's name and role, and the sign-out button when signed in."""
    person = current_person()
    if person is None:
        return
    st.text(f"{person.name} · {person.role}" + ("" if person.signed_in else " (local, no sign-in)"))
    if person.signed_in:
        st.button("Sign out", key="sign_out", icon=":material/logout:", on_click=st.logout)
