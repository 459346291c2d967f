"""The funnel-stage engine: given a few hand-written rows, expect each evidence rule and policy to
place the lead exactly; and properties checked against an independent, event-by-event reference."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime, time, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.config import default_settings, settings_from_text
from funnel.errors import ConfigError
from funnel.model import stages
from funnel.store.db import memory_connection
from tests.stores import store

SETTINGS = default_settings()  # R = 90; 3 page_view within 30 days; 2 email_click within 30 days
DAY0 = date(2026, 1, 1)


def t(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """`day` days after 2026-01-01, at hour:minute."""
    return datetime.combine(DAY0 + timedelta(days=day), time(hour, minute))


def d(day: int) -> date:
    return DAY0 + timedelta(days=day)




def lead(lead_id: str = "L1", created: datetime | None = None, **extra) -> dict:
    return {sc.LEAD_ID: lead_id, sc.CREATED_AT: created if created is not None else t(0, 9), **extra}


_ids = iter(range(1, 10**9))


def act(kind: str, at: datetime, lead_id: str = "L1", url: str | None = None) -> dict:
    return {sc.ACTIVITY_ID: f"A{next(_ids):06d}", sc.LEAD_ID: lead_id, sc.ACTIVITY_TYPE: kind,
            sc.OCCURRED_AT: at, sc.URL: url}


def deal(deal_id: str, created: datetime | None, closed: datetime | None = None, won: bool | None = None,
         lead_id: str = "L1", lost_reason: str | None = None) -> dict:
    return {sc.DEAL_ID: deal_id, sc.LEAD_ID: lead_id, sc.CREATED_AT: created, sc.CLOSED_AT: closed, sc.WON: won,
            sc.LOST_REASON: lost_reason}


def life(stage: str, at: datetime, lead_id: str = "L1", reason: str | None = None) -> dict:
    return {sc.LEAD_ID: lead_id, sc.LADDER: sc.LIFECYCLE, sc.STAGE: stage, sc.ENTERED_AT: at, sc.REASON: reason}


def entries(con, as_of: date, settings=SETTINGS, lead_id: str = "L1") -> list[tuple[str, datetime]]:
    """The lead's (stage, entered_at) in the order they apply."""
    h = stages.funnel_history(con, settings=settings, as_of=as_of)
    return [(r[sc.STAGE], r[sc.ENTERED_AT]) for r in h.filter(pl.col(sc.LEAD_ID) == lead_id).iter_rows(named=True)]


def stage_names(con, as_of: date, settings=SETTINGS, lead_id: str = "L1") -> list[str]:
    return [s for s, _ in entries(con, as_of, settings, lead_id)]


def current(con, as_of: date, settings=SETTINGS) -> dict[str, str]:
    h = stages.funnel_history(con, settings=settings, as_of=as_of)
    cur = stages.current_funnel_stage(h, as_of=as_of, settings=settings)
    return dict(cur.select(sc.LEAD_ID, stages.FUNNEL_STAGE).iter_rows())


# ------------------------------------------------------------------------------- the contract


def test_history_has_the_contract_columns_and_types():
    con = store(leads=[lead()], activities=[act("form_fill", t(1))])
    h = stages.funnel_history(con, settings=SETTINGS, as_of=d(10))
    assert dict(h.schema) == stages.HISTORY_SCHEMA
    first = h.row(0, named=True)
    assert first[sc.STAGE] == "awareness" and first[stages.EVIDENCE_TYPE] == "created"
    assert first[stages.EVIDENCE_ID] is None and first[stages.ENTRY_ORDER] == 1


def test_empty_store_gives_an_empty_history():
    h = stages.funnel_history(memory_connection(), settings=SETTINGS, as_of=d(10))
    assert h.is_empty() and dict(h.schema) == stages.HISTORY_SCHEMA
    cur = stages.current_funnel_stage(h, as_of=d(10), settings=SETTINGS)
    assert cur.is_empty()


# ----------------------------------------------------------------------------- evidence rules


def test_awareness_on_creation_or_an_earlier_awareness_activity():
    con = store(leads=[lead(created=t(5))], activities=[act("page_view", t(2))])
    assert entries(con, d(10)) == [("awareness", t(2))]
    con = store(leads=[lead(created=t(5))])
    assert entries(con, d(10)) == [("awareness", t(5))]
    assert entries(con, d(4)) == []  # not created yet at day 4


def test_interest_on_a_form_fill():
    con = store(leads=[lead()], activities=[act("form_fill", t(3))])
    assert entries(con, d(10)) == [("awareness", t(0, 9)), ("interest", t(3))]


@pytest.mark.parametrize(("third_day", "expect"), [(30, [("interest", 30)]), (31, [])])
def test_three_page_views_within_30_days_both_sides_of_the_boundary(third_day, expect):
    con = store(leads=[lead()], activities=[act("page_view", t(0)), act("page_view", t(10)),
                                            act("page_view", t(third_day, 23))])
    got = [(s, (e.date() - DAY0).days) for s, e in entries(con, d(60)) if s != "awareness"]
    assert got == expect


def test_the_window_counts_the_latest_three_so_a_fourth_view_can_complete_it():
    # days 0, 10, 31: no run of 3 within 30 days; day 35 completes 10, 31, 35 (25 days)
    con = store(leads=[lead()], activities=[act("page_view", t(x)) for x in (0, 10, 31, 35)])
    assert entries(con, d(60))[-1] == ("interest", t(35))


def test_two_email_clicks_within_30_days_give_consideration():
    con = store(leads=[lead()], activities=[act("email_click", t(0)), act("email_click", t(30))])
    assert stage_names(con, d(40)) == ["awareness", "consideration"]
    con = store(leads=[lead()], activities=[act("email_click", t(0)), act("email_click", t(31))])
    assert stage_names(con, d(40)) == ["awareness"]


def test_skipped_stages_are_recorded_as_they_happened():
    con = store(leads=[lead()], activities=[act("pricing_page_view", t(4))])
    assert entries(con, d(10)) == [("awareness", t(0, 9)), ("intent", t(4))]


def test_the_stage_never_drops_on_weaker_evidence():
    con = store(leads=[lead()], activities=[act("demo_request", t(1)), act("form_fill", t(2)),
                                            act("case_study_view", t(3))])
    assert stage_names(con, d(10)) == ["awareness", "intent"]


def test_opportunity_needs_human_validation_never_activity_alone():
    busy = [act(k, t(i)) for i, k in enumerate(["demo_request", "meeting_booked", "trial_signup", "pricing_page_view",
                                                "contact_form", "implementation_page_view"] * 3)]
    con = store(leads=[lead()], activities=busy)
    assert max(stage_names(con, d(40)), key=SETTINGS.ladders.funnel.index) == "intent"
    con = store(leads=[lead()], activities=busy, deals=[deal("D1", t(20))])
    assert entries(con, d(40))[-1] == ("opportunity", t(20))
    con = store(leads=[lead()], activities=busy, stage_events=[life("sql", t(21))])
    assert entries(con, d(40))[-1] == ("opportunity", t(21))


def test_an_evidence_rule_at_opportunity_is_refused():
    bad = settings_from_text('[[funnel_rules.evidence]]\nstage = "opportunity"\nactivity_types = ["meeting_booked"]\n')
    with pytest.raises(ConfigError, match="human validation"):
        stages.funnel_history(store(leads=[lead()]), settings=bad, as_of=d(10))


def test_customer_on_a_won_deal_at_its_close_or_lifecycle_customer():
    con = store(leads=[lead()], deals=[deal("D1", t(5), t(40), won=True)])
    assert entries(con, d(60))[-2:] == [("opportunity", t(5)), ("customer", t(40))]
    assert entries(con, d(39))[-1] == ("opportunity", t(5))  # not closed yet at day 39
    con = store(leads=[lead()], stage_events=[life("customer", t(7))])
    assert entries(con, d(60))[-1] == ("customer", t(7))


# ----------------------------------------------------------------------------------- recycle


def test_a_lost_deal_recycles_the_lead_with_its_reason():
    con = store(leads=[lead()], activities=[act("demo_request", t(2))],
                deals=[deal("D1", t(5), t(30), won=False, lost_reason="Bad timing")])
    h = stages.funnel_history(con, settings=SETTINGS, as_of=d(60))
    last = h.row(-1, named=True)
    assert (last[sc.STAGE], last[sc.ENTERED_AT], last[sc.REASON]) == ("consideration", t(30), "Bad timing")
    assert (last[stages.EVIDENCE_TYPE], last[stages.EVIDENCE_ID]) == ("deal", "D1")
    assert current(con, d(60)) == {"L1": "consideration"}


def test_a_lost_deal_does_not_recycle_while_another_deal_is_open():
    con = store(leads=[lead()], deals=[deal("D1", t(5), t(30), won=False), deal("D2", t(10))])
    assert current(con, d(60)) == {"L1": "opportunity"}
    con = store(leads=[lead()], deals=[deal("D1", t(5), t(30), won=False), deal("D2", t(10), t(20), won=False)])
    assert stage_names(con, d(60)) == ["awareness", "opportunity", "consideration"]  # D2's loss: D1 still open


def test_a_lifecycle_move_back_from_sql_recycles_with_the_logged_reason():
    con = store(leads=[lead()], stage_events=[life("mql", t(1)), life("sql", t(3)), life("lead", t(9), reason="No budget")])
    h = stages.funnel_history(con, settings=SETTINGS, as_of=d(30))
    assert [(r[sc.STAGE], r[sc.REASON]) for r in h.iter_rows(named=True)] == [
        ("awareness", None), ("opportunity", None), ("consideration", "No budget")]
    con = store(leads=[lead()], stage_events=[life("sql", t(3)), life("mql", t(9))])
    assert entries(con, d(30))[-1][0] == "consideration"


def test_an_mql_rejected_back_to_lead_is_not_a_recycle():
    con = store(leads=[lead()], activities=[act("pricing_page_view", t(1))],
                stage_events=[life("mql", t(1)), life("lead", t(9), reason="Not sales-ready")])
    assert stage_names(con, d(30)) == ["awareness", "intent"]


def test_a_customer_is_not_recycled_by_a_lost_expansion_deal():
    con = store(leads=[lead()], deals=[deal("D1", t(5), t(20), won=True), deal("D2", t(40), t(60), won=False)])
    assert current(con, d(90)) == {"L1": "customer"}


def test_a_deal_created_and_lost_at_the_same_moment_ends_recycled():
    con = store(leads=[lead()], deals=[deal("D1", t(5), t(5), won=False, lost_reason="No need")])
    assert entries(con, d(30))[-2:] == [("opportunity", t(5)), ("consideration", t(5))]
    assert current(con, d(30)) == {"L1": "consideration"}  # same timestamp: the engine's order wins


# ------------------------------------------------------------------------------- reactivation


def test_reactivation_after_more_than_90_days_without_meaningful_engagement():
    con = store(leads=[lead()], activities=[act("form_fill", t(0)), act("email_open", t(60)), act("email_open", t(91))])
    assert current(con, d(90)) == {"L1": "interest"}  # 90 days: still warm
    assert current(con, d(91)) == {"L1": "reactivation"}
    cold = entries(con, d(91))[-1]
    assert cold == ("reactivation", datetime.combine(d(91), time()))
    h = stages.funnel_history(con, settings=SETTINGS, as_of=d(91))
    row = h.row(-1, named=True)
    assert row[stages.IS_SIDE] and row[stages.STAGE_RANK] == len(SETTINGS.ladders.funnel)
    assert row[stages.EVIDENCE_TYPE] == "form_fill" and row[stages.EVIDENCE_AT] == t(0)
    assert "more than 90 days" in row[sc.REASON]


@pytest.mark.parametrize(("back", "expect"), [
    (90, ["awareness", "interest"]),                # 89 quiet days
    (91, ["awareness", "interest"]),                # 90 quiet days: never cold at the end of any day
    (92, ["awareness", "interest", "reactivation", "awareness"]),  # 91 quiet days: cold on day 91, back on day 92
])
def test_coming_back_after_90_vs_91_quiet_days(back, expect):
    con = store(leads=[lead()], activities=[act("form_fill", t(0)), act("page_view", t(back))])
    assert stage_names(con, d(100)) == expect


def test_after_reactivation_fresh_evidence_decides_the_stage():
    acts = [act("pricing_page_view", t(0)), act("page_view", t(200)), act("case_study_view", t(205)),
            act("demo_request", t(210))]
    con = store(leads=[lead()], activities=acts)
    assert entries(con, d(220)) == [
        ("awareness", t(0, 9)), ("intent", t(0)), ("reactivation", datetime.combine(d(91), time())),
        ("awareness", t(200)), ("consideration", t(205)), ("intent", t(210))]


def test_evidence_before_going_cold_does_not_count_after_it():
    # 2 page views before going cold, 1 after: not 3 fresh views, so no interest on day 95
    acts = [act("form_fill", t(0)), act("page_view", t(1)), act("page_view", t(2)), act("page_view", t(95))]
    con = store(leads=[lead()], activities=acts)
    assert stage_names(con, d(100))[-2:] == ["reactivation", "awareness"]
    # an any-time rule ("2 webinar_attended") cannot straddle the cold point either
    tight = settings_from_text(
        '[[funnel_rules.evidence]]\nstage = "awareness"\nactivity_types = ["page_view"]\n'
        '[[funnel_rules.evidence]]\nstage = "interest"\nactivity_types = ["form_fill"]\n'
        '[[funnel_rules.evidence]]\nstage = "intent"\nactivity_types = ["webinar_attended"]\nmin_count = 2\n')
    acts = [act("form_fill", t(0)), act("webinar_attended", t(1)), act("webinar_attended", t(150)),
            act("webinar_attended", t(151))]
    con = store(leads=[lead()], activities=acts)
    assert entries(con, d(160), tight)[-2:] == [("reactivation", datetime.combine(d(92), time())), ("intent", t(151))]


def test_awareness_and_open_opportunities_never_go_cold():
    con = store(leads=[lead()], activities=[act("page_view", t(0))])
    assert current(con, d(300)) == {"L1": "awareness"}
    con = store(leads=[lead()], activities=[act("demo_request", t(0))], deals=[deal("D1", t(1))])
    assert current(con, d(300)) == {"L1": "opportunity"}  # a stalled deal is aging, not reactivation


def test_a_recycle_restarts_the_reactivation_clock():
    con = store(leads=[lead()], activities=[act("demo_request", t(0))],
                deals=[deal("D1", t(1), t(150), won=False, lost_reason="Price")])
    assert current(con, d(240)) == {"L1": "consideration"}
    assert entries(con, d(241))[-1] == ("reactivation", datetime.combine(d(241), time()))


def test_deals_still_count_while_cold():
    con = store(leads=[lead()], activities=[act("form_fill", t(0))], deals=[deal("D1", t(200))])
    assert stage_names(con, d(210)) == ["awareness", "interest", "reactivation", "opportunity"]


# ------------------------------------------------------------------------------- as-of dates


def test_only_data_up_to_the_end_of_the_as_of_day_counts():
    con = store(leads=[lead()], activities=[act("form_fill", t(5, 23, 59)), act("demo_request", t(6, 0, 0))])
    assert stage_names(con, d(5)) == ["awareness", "interest"]
    assert stage_names(con, d(6)) == ["awareness", "interest", "intent"]


def test_a_later_history_cut_at_an_earlier_day_is_that_days_history():
    con = store(leads=[lead(), lead("L2")], activities=[act("form_fill", t(0)), act("page_view", t(150)),
                                                        act("pricing_page_view", t(3), "L2")],
                deals=[deal("D9", t(20), t(40), won=False, lead_id="L2")])
    late = stages.funnel_history(con, settings=SETTINGS, as_of=d(300))
    for day in (0, 50, 90, 91, 149, 150, 200):
        early = stages.funnel_history(con, settings=SETTINGS, as_of=d(day))
        assert late.filter(pl.col(sc.ENTERED_AT) < stages.until(d(day))).equals(early), day


# --------------------------------------------------------------------------- explanations


def test_stage_explanation_names_the_row_and_rule_behind_each_entry():
    acts = [act("page_view", t(0), url="/a"), act("page_view", t(5), url="/b"), act("page_view", t(9), url="/c")]
    con = store(leads=[lead()], activities=acts)
    timeline = stages.stage_explanation(con, "L1", settings=SETTINGS, as_of=d(20))
    caused = timeline.filter(pl.col("caused").is_not_null())
    third = caused.filter(pl.col("row_id") == acts[2][sc.ACTIVITY_ID]).row(0, named=True)
    assert third["caused"] == "→ interest"
    assert third["rule"] == "3 × page_view within 30 days, counted from 2026-01-01"
    assert timeline.filter(pl.col("kind") == "stage").get_column(sc.STAGE).to_list() == ["awareness", "interest"]
    assert timeline.get_column("at").is_sorted()


def test_next_stage_gap_says_what_is_missing():
    acts = [act("page_view", t(0)), act("page_view", t(10))]
    con = store(leads=[lead()], activities=acts)
    gaps = stages.next_stage_gap(con, "L1", settings=SETTINGS, as_of=d(12))
    texts = [g["text"] for g in gaps]
    assert "a form_fill or content_download or webinar_registration" in texts
    assert "1 more page_view within 30 days (by 2026-01-31)" in texts
    con = store(leads=[lead()], activities=[act("demo_request", t(0))])
    (gap,) = stages.next_stage_gap(con, "L1", settings=SETTINGS, as_of=d(12))
    assert gap["stage"] == "opportunity" and gap["text"].startswith("a deal (sales acceptance)")
    con = store(leads=[lead()], deals=[deal("D1", t(1), t(2), won=True)])
    assert stages.next_stage_gap(con, "L1", settings=SETTINGS, as_of=d(12)) == []


def test_evidence_text_reads_like_the_contract_example():
    text = stages.evidence_text("intent", "pricing_page_view", datetime(2026, 10, 3, 9), detail="/pricing")
    assert text == "intent: pricing_page_view on 2026-10-03 (/pricing)"
    assert stages.evidence_text("consideration", "deal", datetime(2026, 9, 20), reason="Price",
                                evidence_id="D1") == "consideration: deal D1 lost on 2026-09-20 (Price)"


# ------------------------------------------------------------------ properties and a reference

TYPES = ("page_view", "content_view", "form_fill", "email_click", "case_study_view", "webinar_attended",
         "pricing_page_view", "demo_request", "email_open", "sales_touch")
TIGHT = settings_from_text("""
[funnel_rules]
reactivation_after_days = 20
[[funnel_rules.evidence]]
stage = "awareness"
activity_types = ["page_view", "content_view"]
[[funnel_rules.evidence]]
stage = "interest"
activity_types = ["form_fill"]
[[funnel_rules.evidence]]
stage = "interest"
activity_types = ["page_view"]
min_count = 3
within_days = 10
[[funnel_rules.evidence]]
stage = "consideration"
activity_types = ["case_study_view"]
[[funnel_rules.evidence]]
stage = "consideration"
activity_types = ["email_click", "webinar_attended"]
min_count = 2
[[funnel_rules.evidence]]
stage = "intent"
activity_types = ["pricing_page_view", "demo_request"]
""", source="tight")


def reference(rows: dict[str, list[dict]], settings, as_of: date) -> dict[str, list[tuple[int, datetime]]]:
    """The DOMAIN rules applied event by event, one lead at a time, in plain Python."""
    fr = settings.funnel_rules
    funnel, lifecycle = settings.ladders.funnel, settings.ladders.lifecycle
    opp, cust = len(funnel) - 2, len(funnel) - 1
    recycle_rank, R = funnel.index(fr.recycle_stage), fr.reactivation_after_days
    react = len(funnel)
    end = stages.until(as_of)
    first_opp = min(lifecycle.index(s) for s in fr.opportunity_lifecycle)
    ids = {r[sc.LEAD_ID] for rs in rows.values() for r in rs}
    result = {}
    for lid in ids:
        acts = sorted((r for r in rows.get("activities", []) if r[sc.LEAD_ID] == lid and r[sc.OCCURRED_AT] < end),
                      key=lambda r: (r[sc.OCCURRED_AT], r[sc.ACTIVITY_TYPE], r[sc.ACTIVITY_ID]))
        deals = [r for r in rows.get("deals", []) if r[sc.LEAD_ID] == lid]
        events = sorted((r for r in rows.get("stage_events", []) if r[sc.LEAD_ID] == lid and r[sc.ENTERED_AT] < end),
                        key=lambda r: (r[sc.ENTERED_AT], lifecycle.index(r[sc.STAGE]), r[sc.STAGE]))
        cands = []  # (t, rank, window_start)
        milestone_times = []  # sales milestones (creation, deals, lifecycle stages) are engagement too
        for r in rows.get("leads", []):
            if r[sc.LEAD_ID] == lid and r[sc.CREATED_AT] is not None and r[sc.CREATED_AT] < end:
                cands.append((r[sc.CREATED_AT], 0, r[sc.CREATED_AT]))
                milestone_times.append(r[sc.CREATED_AT])
        for dl in deals:
            if dl[sc.CREATED_AT] is not None and dl[sc.CREATED_AT] < end:
                cands.append((dl[sc.CREATED_AT], opp, dl[sc.CREATED_AT]))
                milestone_times.append(dl[sc.CREATED_AT])
            if dl[sc.WON] and dl[sc.CLOSED_AT] is not None and dl[sc.CLOSED_AT] < end:
                cands.append((dl[sc.CLOSED_AT], cust, dl[sc.CLOSED_AT]))
                milestone_times.append(dl[sc.CLOSED_AT])
        for e in events:
            if e[sc.STAGE] in fr.customer_lifecycle:
                cands.append((e[sc.ENTERED_AT], cust, e[sc.ENTERED_AT]))
                milestone_times.append(e[sc.ENTERED_AT])
            elif e[sc.STAGE] in fr.opportunity_lifecycle:
                cands.append((e[sc.ENTERED_AT], opp, e[sc.ENTERED_AT]))
                milestone_times.append(e[sc.ENTERED_AT])
        for rule in fr.evidence:
            rank = funnel.index(rule.stage)
            mine = [a[sc.OCCURRED_AT] for a in acts if a[sc.ACTIVITY_TYPE] in rule.activity_types]
            for i, at in enumerate(mine):
                if i + 1 < rule.min_count:
                    continue
                start = mine[i - rule.min_count + 1]
                if rule.within_days == 0 or (at.date() - start.date()).days <= rule.within_days:
                    cands.append((at, rank, start))
        recycles = {}
        for dl in deals:
            if dl[sc.WON] is False and dl[sc.CLOSED_AT] is not None and dl[sc.CLOSED_AT] < end:
                closed = dl[sc.CLOSED_AT]
                if not any(o is not dl and o[sc.CREATED_AT] is not None and o[sc.CREATED_AT] <= closed
                           and (o[sc.CLOSED_AT] is None or o[sc.CLOSED_AT] > closed) for o in deals):
                    recycles.setdefault(closed, True)
        for prev, e in itertools.pairwise(events):
            if prev[sc.STAGE] in fr.opportunity_lifecycle and lifecycle.index(e[sc.STAGE]) < first_opp:
                recycles.setdefault(e[sc.ENTERED_AT], True)
        engaged = sorted([a[sc.OCCURRED_AT] for a in acts if a[sc.ACTIVITY_TYPE] not in fr.not_meaningful]
                         + list(recycles) + milestone_times)
        colds = []
        for i, e in enumerate(engaged):
            nxt = engaged[i + 1].date() if i + 1 < len(engaged) else as_of + timedelta(days=1)
            if (nxt - e.date()).days > R + 1:
                colds.append(datetime.combine(e.date() + timedelta(days=R + 1), time()))
        timeline = ([(c, 0, 0, None) for c in colds] + [(at, 1, rank, start) for at, rank, start in cands]
                    + [(r, 2, 0, None) for r in recycles])
        stage, fresh_from, out = -2, None, []
        for at, kind, rank, start in sorted(timeline, key=lambda x: (x[0], x[1], x[2])):
            if kind == 0 and 1 <= stage < opp:
                stage, fresh_from = -1, at
                out.append((react, at))
            elif kind == 1 and rank > stage and (fresh_from is None or start >= fresh_from):
                stage = rank
                out.append((rank, at))
            elif kind == 2 and recycle_rank < stage < cust:
                stage = recycle_rank
                out.append((recycle_rank, at))
        if out:
            result[lid] = out
    return result


@st.composite
def stores(draw):
    leads = draw(st.integers(1, 3))
    rows: dict[str, list[dict]] = {"leads": [], "activities": [], "deals": [], "stage_events": []}
    hours = st.sampled_from([0, 0, 9, 17])
    for n in range(leads):
        lid = f"L{n}"
        rows["leads"].append({sc.LEAD_ID: lid, sc.CREATED_AT: t(draw(st.integers(0, 40)), draw(hours))})
        for _ in range(draw(st.integers(0, 14))):
            rows["activities"].append({sc.ACTIVITY_ID: f"A{len(rows['activities']):04d}", sc.LEAD_ID: lid,
                                       sc.ACTIVITY_TYPE: draw(st.sampled_from(TYPES)),
                                       sc.OCCURRED_AT: t(draw(st.integers(0, 400)), draw(hours))})
        for k in range(draw(st.integers(0, 2))):
            created = draw(st.integers(0, 380))
            closed = draw(st.one_of(st.none(), st.integers(created, 400)))
            won = None if closed is None else draw(st.booleans())
            rows["deals"].append({sc.DEAL_ID: f"D{n}{k}", sc.LEAD_ID: lid, sc.CREATED_AT: t(created, draw(hours)),
                                  sc.CLOSED_AT: None if closed is None else t(closed, draw(hours)), sc.WON: won,
                                  sc.LOST_REASON: "Price" if won is False else None})
        for _ in range(draw(st.integers(0, 4))):
            rows["stage_events"].append({sc.LEAD_ID: lid, sc.LADDER: sc.LIFECYCLE,
                                         sc.STAGE: draw(st.sampled_from(SETTINGS.ladders.lifecycle)),
                                         sc.ENTERED_AT: t(draw(st.integers(0, 400)), draw(hours)), sc.REASON: None})
    return rows


def load(rows: dict[str, list[dict]]):
    return store(**{k: v for k, v in rows.items() if v})


def sequences(history: pl.DataFrame) -> dict[str, list[tuple[int, datetime]]]:
    out: dict[str, list] = {}
    for r in history.iter_rows(named=True):
        out.setdefault(r[sc.LEAD_ID], []).append((r[stages.STAGE_RANK], r[sc.ENTERED_AT]))
    return out


def examples(n: int):
    return hsettings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@examples(40)
@given(rows=stores(), tight=st.booleans(), as_of=st.integers(100, 420))
def test_engine_matches_the_event_by_event_reference(rows, tight, as_of):
    settings = TIGHT if tight else SETTINGS
    h = stages.funnel_history(load(rows), settings=settings, as_of=d(as_of))
    assert sequences(h) == reference(rows, settings, d(as_of))


@examples(30)
@given(rows=stores(), tight=st.booleans(), seed=st.integers(0, 10**6))
def test_results_do_not_depend_on_row_order(rows, tight, seed):
    settings = TIGHT if tight else SETTINGS
    shuffled = {k: random.Random(seed).sample(v, len(v)) for k, v in rows.items()}
    a = stages.funnel_history(load(rows), settings=settings, as_of=d(410))
    b = stages.funnel_history(load(shuffled), settings=settings, as_of=d(410))
    assert a.equals(b)


@examples(40)
@given(rows=stores(), tight=st.booleans())
def test_a_stage_drops_only_through_reactivation_or_recycle(rows, tight):
    settings = TIGHT if tight else SETTINGS
    h = stages.funnel_history(load(rows), settings=settings, as_of=d(410))
    recycle = settings.ladders.funnel.index(settings.funnel_rules.recycle_stage)
    for seq in h.partition_by(sc.LEAD_ID):
        previous = None
        for r in seq.iter_rows(named=True):
            if previous is not None and not previous[stages.IS_SIDE] and r[stages.STAGE_RANK] <= previous[stages.STAGE_RANK]:
                assert r[stages.IS_SIDE] or (r[stages.STAGE_RANK] == recycle and r[sc.REASON] is not None), r
            previous = r
        assert seq.get_column(stages.ENTRY_ORDER).to_list() == list(range(1, seq.height + 1))
        assert seq.get_column(sc.ENTERED_AT).is_sorted()


@examples(30)
@given(rows=stores(), kind=st.sampled_from(TYPES), day=st.integers(0, 400), tight=st.booleans())
def test_adding_an_older_activity_never_lowers_the_highest_stage_reached(rows, kind, day, tight):
    # holds when every n-within-d window is at most R days (both settings here: 30 ≤ 90 and 10 ≤ 20)
    settings = SETTINGS if not tight else settings_from_text(
        TIGHT_TEXT_WINDOWED, source="tight, windowed")
    lid = rows["leads"][0][sc.LEAD_ID]
    first = [a[sc.OCCURRED_AT] for a in rows["activities"] if a[sc.LEAD_ID] == lid]
    at = min([t(day)] + [x - timedelta(hours=1) for x in first])
    more = {**rows, "activities": rows["activities"] + [{sc.ACTIVITY_ID: "A-older", sc.LEAD_ID: lid,
                                                         sc.ACTIVITY_TYPE: kind, sc.OCCURRED_AT: at}]}

    def highest(r):
        h = stages.funnel_history(load(r), settings=settings, as_of=d(410))
        main = h.filter((pl.col(sc.LEAD_ID) == lid) & ~pl.col(stages.IS_SIDE))
        return main.get_column(stages.STAGE_RANK).max() if main.height else -1

    assert highest(more) >= highest(rows)


TIGHT_TEXT_WINDOWED = """
[funnel_rules]
reactivation_after_days = 20
[[funnel_rules.evidence]]
stage = "awareness"
activity_types = ["page_view", "content_view"]
[[funnel_rules.evidence]]
stage = "interest"
activity_types = ["page_view"]
min_count = 3
within_days = 10
[[funnel_rules.evidence]]
stage = "consideration"
activity_types = ["email_click", "webinar_attended"]
min_count = 2
within_days = 20
[[funnel_rules.evidence]]
stage = "intent"
activity_types = ["pricing_page_view", "demo_request"]
"""


def test_current_stage_takes_the_latest_entry_and_breaks_ties_by_entry_order():
    history = pl.DataFrame({
        sc.LEAD_ID: ["L1", "L1", "L1"], sc.STAGE: ["awareness", "opportunity", "consideration"],
        stages.STAGE_RANK: [0, 4, 2], sc.ENTERED_AT: [t(0), t(5), t(5)], sc.REASON: [None, None, "Price"],
        stages.IS_SIDE: [False, False, False], stages.EVIDENCE_TYPE: ["created", "deal", "deal"],
        stages.EVIDENCE_ID: [None, "D1", "D1"], stages.EVIDENCE_AT: [t(0), t(5), t(5)],
        stages.ENTRY_ORDER: [1, 2, 3]}, schema=stages.HISTORY_SCHEMA)
    cur = stages.current_funnel_stage(history, as_of=d(10), settings=SETTINGS).row(0, named=True)
    assert (cur[stages.FUNNEL_STAGE], cur[stages.STAGE_ENTERED_AT]) == ("consideration", t(5))
    early = stages.current_funnel_stage(history, as_of=d(4), settings=SETTINGS)
    assert early.get_column(stages.FUNNEL_STAGE).to_list() == ["awareness"]


def test_a_current_lifecycle_value_without_a_log_places_the_lead_at_its_creation():
    con = store(leads=[lead("L1", lifecycle_stage="customer"), lead("L2", lifecycle_stage="sql"),
                       lead("L3", lifecycle_stage="customer")],
                stage_events=[life("lead", t(2), lead_id="L3")])  # L3 has a log: its current value is not used
    h = stages.funnel_history(con, settings=SETTINGS, as_of=d(10))
    last = {r[sc.LEAD_ID]: (r[sc.STAGE], r[sc.ENTERED_AT], r[stages.EVIDENCE_ID]) for r in
            h.group_by(sc.LEAD_ID, maintain_order=True).last().iter_rows(named=True)}
    assert last == {"L1": ("customer", t(0, 9), "current value"), "L2": ("opportunity", t(0, 9), "current value"),
                    "L3": ("awareness", t(0, 9), None)}
    timeline = stages.stage_explanation(con, "L1", settings=SETTINGS, as_of=d(10))
    assert timeline.filter(pl.col("caused") == "→ customer").get_column("what").to_list() == ["lifecycle customer"]


def test_a_deal_on_the_day_a_lead_would_go_cold_keeps_it_warm():
    # date-only exports: the deal is dated at midnight of day 91, exactly when the lead would go cold
    con = store(leads=[lead()], activities=[act("form_fill", t(0))], deals=[deal("D1", t(91, 0))])
    assert stage_names(con, d(100)) == ["awareness", "interest", "opportunity"]
