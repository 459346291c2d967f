"""Meaningful engagement per DOMAIN: any activity type except the passive ones (e-mail opens, sends,
deliveries, bounces and unsubscribes), including types the rules do not name (a podcast listen)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from funnel import schema as sc
from funnel.config import default_settings
from funnel.model import stages
from tests.stores import store

DAY0 = date(2026, 1, 1)
SETTINGS = default_settings()


def t(day: int) -> datetime:
    return datetime.combine(DAY0 + timedelta(days=day), time(10))


def d(day: int) -> date:
    return DAY0 + timedelta(days=day)


def activities(*pairs: tuple[str, int]) -> list[dict]:
    return [{sc.ACTIVITY_ID: f"A{i}", sc.LEAD_ID: "L1", sc.ACTIVITY_TYPE: kind, sc.OCCURRED_AT: t(day)}
            for i, (kind, day) in enumerate(pairs)]


def funnel_stage(con, as_of: date) -> str:
    history = stages.funnel_history(con, settings=SETTINGS, as_of=as_of)
    current = stages.current_funnel_stage(history, as_of=as_of, settings=SETTINGS)
    return current.get_column(stages.FUNNEL_STAGE)[0]


def test_the_passive_email_events_are_the_default_not_meaningful_types():
    assert set(SETTINGS.funnel_rules.not_meaningful) == {"email_open", "email_sent", "email_delivered",
                                                         "email_bounced", "email_unsubscribe"}


def test_a_type_the_rules_do_not_name_keeps_a_lead_warm():
    # Interest on day 0 (form fill); a podcast listen on day 60. At day 120 the last meaningful engagement is
    # 60 days old (≤ 90): still interest. At day 151 it is 91 days old: reactivation.
    con = store(leads=[{sc.LEAD_ID: "L1", sc.CREATED_AT: t(0)}],
                activities=activities(("form_fill", 0), ("podcast_listen", 60)))
    assert funnel_stage(con, d(120)) == "interest"
    assert funnel_stage(con, d(151)) == "reactivation"


@pytest.mark.parametrize("passive", ["email_open", "email_sent", "email_delivered", "email_bounced",
                                     "email_unsubscribe"])
def test_a_passive_email_event_does_not_keep_a_lead_warm(passive):
    # Interest on day 0; only a passive e-mail event on day 60. At day 91 the last meaningful engagement (day 0)
    # is 91 days old: reactivation.
    con = store(leads=[{sc.LEAD_ID: "L1", sc.CREATED_AT: t(0)}],
                activities=activities(("form_fill", 0), (passive, 60)))
    assert funnel_stage(con, d(90)) == "interest"
    assert funnel_stage(con, d(91)) == "reactivation"
