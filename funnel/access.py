"""Who may do what on a shared dashboard: the team's roles, what each role may do, who a signed-in
e-mail is on the team, and whether a server may listen beyond this machine without sign-in.

The team is data (the `[team]` table of the server's secrets, or any mapping of the same shape):

    [team]
    admin = ["ana@example.com"]
    analyst = ["bo@example.com"]
    viewer = ["example.com"]            # an entry without "@" is a whole e-mail domain

An exact e-mail outranks its domain; an e-mail or domain may be listed under one role only.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from funnel.errors import ConfigError


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


class Action(StrEnum):
    """Everything beyond reading. Reading is every team member's right."""

    EXPORT = "download exports"
    DRAFT_RULES = "draft rule changes"
    REVIEW = "give handoff review verdicts"
    IMPORT = "import files and save mappings"
    REMOVE = "remove imports"
    SAVE_RULES = "save settings versions"
    MANAGE_DATABASES = "create databases"
    BUILD_MODEL = "build the lead model"


ANALYST_ACTIONS = frozenset({Action.EXPORT, Action.DRAFT_RULES, Action.REVIEW})
ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset(),
    Role.ANALYST: ANALYST_ACTIONS,
    Role.ADMIN: frozenset(Action),
}
LOCAL_ADDRESSES = frozenset({"localhost", "127.0.0.1", "::1"})
CLI_USER = "cli"
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class Person:
    """Someone using the dashboard: who they are and the role they have."""

    name: str
    email: str | None
    role: Role
    signed_in: bool = True

    @property
    def label(self) -> str:
        """How the store records this person as the author of a write: the e-mail, else the name."""
        return self.email or self.name

    def may(self, action: Action) -> bool:
        return may(self.role, action)


@dataclass(frozen=True)
class Team:
    """E-mails and domains (lower-case) with their role."""

    emails: Mapping[str, Role]
    domains: Mapping[str, Role]

    @property
    def is_empty(self) -> bool:
        return not self.emails and not self.domains


def may(role: Role, action: Action) -> bool:
    """Whether `role` may take `action`."""
    return action in ALLOWED[role]


def local_user() -> str:
    """The operating-system user running a local dashboard or the CLI, else "cli"."""
    try:
        return getpass.getuser() or CLI_USER
    except (KeyError, OSError):
        return CLI_USER


def local_person() -> Person:
    """The single user of a dashboard served on this machine without sign-in: an admin."""
    return Person(name=local_user(), email=None, role=Role.ADMIN, signed_in=False)


def team_from_config(section: Mapping | None) -> Team:
    """The `[team]` table read into a Team; a ConfigError names the entry that is wrong."""
    emails: dict[str, Role] = {}
    domains: dict[str, Role] = {}
    for key, entries in (section or {}).items():
        try:
            role = Role(str(key).strip().lower())
        except ValueError:
            raise ConfigError(f"unknown role {key!r} in [team]", hint="Use admin, analyst or viewer") from None
        if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
            raise ConfigError(f"[team] {role} must be a list of e-mails and domains", hint='e.g. ["ana@example.com"]')
        for raw in entries:
            entry = str(raw).strip().lower()
            target = emails if "@" in entry else domains
            if not (email_parts(entry) if "@" in entry else DOMAIN.match(entry)):
                raise ConfigError(f"[team] {role} lists {entry!r}, which is neither an e-mail nor a domain",
                                  hint="Write ana@example.com or example.com")
            if entry in target and target[entry] != role:
                raise ConfigError(f"[team] lists {entry!r} as both {target[entry]} and {role}",
                                  hint="Keep it under one role")
            target[entry] = role
    return Team(emails=emails, domains=domains)


def email_parts(email: str) -> tuple[str, str] | None:
    """(local part, domain) of a plausible e-mail address, else None."""
    local, at, domain = email.strip().lower().rpartition("@")
    if not at or not local or "@" in local or not DOMAIN.match(domain):
        return None
    return local, domain


def role_of(email: str | None, team: Team) -> Role | None:
    """The role of a signed-in e-mail: its own entry, else its domain's, else None (not on the team)."""
    parts = email_parts(email or "")
    if parts is None:
        return None
    address = f"{parts[0]}@{parts[1]}"
    return team.emails.get(address) or team.domains.get(parts[1])


def person_from_claims(claims: Mapping, team: Team) -> Person | None:
    """The team member behind an identity provider's claims, or None when the e-mail is missing, not
    verified by the provider, or not on the team."""
    email = str(claims.get("email") or "").strip().lower()
    if claims.get("email_verified") is False:
        return None
    role = role_of(email, team)
    if role is None:
        return None
    name = str(claims.get("name") or "").strip() or email
    return Person(name=name, email=email, role=role)


def serving_refusal(address: str | None, *, auth_configured: bool) -> str | None:
    """Why a server must not serve the dashboard at `address` (None when it may): without sign-in it
    serves only this machine."""
    if auth_configured:
        return None
    where = (address or "").strip().strip("[]").lower()
    if where in LOCAL_ADDRESSES:
        return None
    shown = repr(address) if address else "every network interface (server.address is not set)"
    return (f"This server listens on {shown} but sign-in is not configured, so anyone who reaches the port "
            "would see every lead's personal data. Serve it on localhost only (server.address = \"localhost\" "
            "in .streamlit/config.toml), or configure sign-in: an [auth] and a [team] section in "
            ".streamlit/secrets.toml (see \"Share it with your team\" in the README).")
