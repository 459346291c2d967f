"""The handoff review sample: stratified quotas by hand, a reproducible draw, verdicts with history,
the share judged right with intervals, where reviewers disagree with the rules, and the page."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from funnel.analyses.review_sample import (
    record_verdict,
    review_disagreements,
    review_sample,
    sample_id,
    sample_with_verdicts,
    stratum_quotas,
    verdict_history,
    verdict_summary,
    verdicts,
)
from funnel.config import load_settings
from funnel.errors import FunnelError
from funnel.stats import wilson_interval
from tests.stores import store

SETTINGS = load_settings(None)
D = date(2025, 7, 10)


def test_quotas_by_hand():
    # 10 leads in three strata, 5 drawn: one each first, then the 2 left go by the remaining sizes 5, 2, 0.
    quotas = stratum_quotas({("mql", "ana"): 6, ("mql", "ben"): 3, ("sql", "ana"): 1}, 5)
    # exact shares of the 2 left: 2·5/7 = 1.43 and 2·2/7 = 0.57 → floors 1 and 0; the larger remainder (.57) gets the last
    assert quotas == {("mql", "ana"): 2, ("mql", "ben"): 2, ("sql", "ana"): 1}
    assert sum(stratum_quotas({("a", "x"): 4, ("b", "y"): 4}, 3).values()) == 3
    assert stratum_quotas({("a", "x"): 4, ("b", "y"): 1}, 10) == {("a", "x"): 4, ("b", "y"): 1}  # everyone
    assert stratum_quotas({("a", "x"): 4, ("b", "y"): 2, ("c", "z"): 1}, 2) == {("a", "x"): 1, ("b", "y"): 1,
                                                                                ("c", "z"): 0}


def story():
    leads, events = [], []
    for i in range(12):
        owner = "sdr.ana" if i < 8 else "sdr.ben"
        leads.append({"lead_id": f"M{i:02d}", "created_at": datetime(2025, 6, 1), "owner": owner, "source": "Web",
                      "name": f"Person {i}"})
        events.append({"lead_id": f"M{i:02d}", "ladder": "lifecycle", "stage": "mql",
                       "entered_at": datetime(2025, 6, 2 + i)})
    for i in range(4):
        leads.append({"lead_id": f"S{i}", "created_at": datetime(2025, 5, 1), "owner": "ae.kim", "source": "Event"})
        events.append({"lead_id": f"S{i}", "ladder": "lifecycle", "stage": "sql",
                       "entered_at": datetime(2025, 6, 20)})
    leads.append({"lead_id": "OLD", "created_at": datetime(2025, 3, 1), "owner": "sdr.ana"})
    events.append({"lead_id": "OLD", "ladder": "lifecycle", "stage": "mql", "entered_at": datetime(2025, 3, 2)})
    leads.append({"lead_id": "Z", "created_at": datetime(2025, 7, 10)})
    return store(leads=leads, stage_events=events)


def test_the_sample_is_stratified_reproducible_and_of_the_period():
    con = story()
    one = review_sample(con, settings=SETTINGS, as_of=D, start=date(2025, 6, 1), end=date(2025, 6, 30), size=8, seed=7)
    again = review_sample(con, settings=SETTINGS, as_of=D, start=date(2025, 6, 1), end=date(2025, 6, 30), size=8,
                          seed=7)
    other = review_sample(con, settings=SETTINGS, as_of=D, start=date(2025, 6, 1), end=date(2025, 6, 30), size=8,
                          seed=8)
    assert one.equals(again)
    assert set(one.get_column("lead_id")) != set(other.get_column("lead_id"))
    assert "OLD" not in one.get_column("lead_id").to_list()  # entered MQL in March: outside the period
    # 16 candidates: mql/ana 8, mql/ben 4, sql/kim 4 → 8 drawn: 1 each, then 5 by remaining 7, 3, 3 (of 13):
    # 2.69, 1.15, 1.15 → floors 2, 1, 1, the largest remainder (.69) gets the last → 4, 2, 2.
    strata = one.group_by("stage", "owner").len().sort("stage", "owner").rows()
    assert strata == [("mql", "sdr.ana", 4), ("mql", "sdr.ben", 2), ("sql", "ae.kim", 2)]
    with pytest.raises(FunnelError):
        review_sample(con, settings=SETTINGS, as_of=D, start=date(2025, 6, 30), end=date(2025, 6, 1))


def test_verdicts_keep_history_and_several_reviewers():
    con = story()
    name = sample_id(date(2025, 6, 1), date(2025, 6, 30), size=8, seed=7)
    sample = review_sample(con, settings=SETTINGS, as_of=D, start=date(2025, 6, 1), end=date(2025, 6, 30), size=8,
                           seed=7)
    ids = sample.get_column("lead_id").to_list()
    for i, lead in enumerate(ids[:5]):
        record_verdict(con, sample=name, lead_id=lead, question="stage", right=i >= 3,
                       reason="student" if i < 3 else None, reviewer="ana", now=datetime(2025, 7, 11, 9, i))
    record_verdict(con, sample=name, lead_id=ids[0], question="stage", right=True, reason="", reviewer="ana",
                   now=datetime(2025, 7, 11, 10))  # changed her mind
    record_verdict(con, sample=name, lead_id=ids[0], question="stage", right=False, reason="student", reviewer="ben",
                   now=datetime(2025, 7, 11, 11))
    with pytest.raises(FunnelError):
        record_verdict(con, sample=name, lead_id=ids[0], question="stage", right=True, reason=None, reviewer="  ",
                       now=datetime(2025, 7, 11, 12))
    current = verdicts(con, sample=name)
    assert current.height == 6  # 5 leads by ana (her latest), 1 by ben
    first = current.filter((pl.col("lead_id") == ids[0]) & (pl.col("reviewer") == "ana")).row(0, named=True)
    assert first["judged_right"] is True and first["changes"] == 2
    assert verdict_history(con, sample=name).height == 7
    summary = verdict_summary(current).row(0, named=True)
    # right: ana on ids[0], ids[3], ids[4] = 3 of 6
    assert (summary["verdicts"], summary["judged_right"], summary["reviewers"]) == (6, 3, 2)
    assert (summary["share_low"], summary["share_high"]) == pytest.approx(wilson_interval(3, 6))
    assert verdict_summary(current).row(1, named=True)["share_right"] is None  # nobody judged the owner
    disagreements = review_disagreements(sample, current)
    top = disagreements.row(0, named=True)
    assert (top["judged_wrong"], top["top_reason"], top["top_reason_count"]) == (3, "student", 3)
    assert "judged wrong on the stage" in top["sentence"]
    exported = sample_with_verdicts(sample, current)
    assert exported.height == sample.height + 1  # ids[0] has two reviewers
    assert {"stage_right", "owner_right", "next_action_reason"} <= set(exported.columns)


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory):
    from tests.apptest import copied

    return copied(bundled_sample, tmp_path_factory.mktemp("review") / "sample.duckdb")


def test_the_review_page_saves_and_changes_a_verdict(sample_db, monkeypatch):
    from tests.apptest import app

    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/handoff_review.py").run()
    assert not at.exception
    from funnel.access import local_user

    assert at.text_input(key="hr_reviewer").value == local_user()  # no sign-in: the computer's user
    at.radio(key="hr_stage").set_value("wrong")
    at.text_input(key="hr_stage_reason").set_value("student")
    at.button(key="hr_save").click().run()
    assert not at.exception
    assert any("Saved 1 verdict" in s.value for s in at.success)
    at.text_input(key="hr_reviewer").set_value("Ben")
    at.radio(key="hr_stage").set_value("right")
    at.button(key="hr_save").click().run()
    assert not at.exception
    summary = next(d.value for d in at.dataframe if "share_right" in d.value.columns)
    assert summary.loc[0, "verdicts"] == 2 and summary.loc[0, "reviewers"] == 2
    assert any("judged wrong on the stage" in t.value for t in at.text)
