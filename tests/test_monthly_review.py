"""The monthly review: hand-computed months (one without leads, a segment present in one month only, a
cohort still mostly open), the mix + rate identity, and the report's figures equal to `funnel metrics`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel.analyses.monthly import (
    change_p_value,
    last_complete_month,
    mix_rate_split,
    month_choices,
    month_end,
    monthly_review,
    parse_month,
    quarter_ends,
    review_months,
)
from funnel.analyses.report import metrics_report
from funnel.charts.monthly import figure_dicts, review_figures
from funnel.config import load_settings
from funnel.display.report import frame_records, review_document, review_html
from funnel.errors import FunnelError
from funnel.filters import Filters
from tests.stores import store

SETTINGS = load_settings(None)
D = date(2025, 7, 10)


def day(text: str) -> datetime:
    return datetime.fromisoformat(text)


def story():
    """L0 (2024): the only lead a year earlier. May 2025: A1–A5 (Web) reach MQL on 5 May; A1, A2 go to SQL,
    A3 and A5 are recycled to lead, A4 is still open at D. June 2025: B1–B5 (Web) and C1, C2 (Event, a
    segment that only exists in June) reach MQL; B1 and C1 go to SQL, C2 is recycled, B2–B5 are still open
    (4 of the 7 June entries). One deal won in June. D = 10 July 2025 (a lead created that day)."""
    leads, events = [], []

    def lead(lead_id: str, created: str, source: str, moves: list[tuple[str, str]]) -> None:
        leads.append({"lead_id": lead_id, "created_at": day(created), "source": source})
        for stage, at in moves:
            events.append({"lead_id": lead_id, "ladder": "lifecycle", "stage": stage, "entered_at": day(at)})

    lead("L0", "2024-05-15", "Web", [("lead", "2024-05-15")])
    lead("A1", "2025-05-05", "Web", [("mql", "2025-05-05"), ("sql", "2025-05-10")])
    lead("A2", "2025-05-05", "Web", [("mql", "2025-05-05"), ("sql", "2025-05-10")])
    lead("A3", "2025-05-05", "Web", [("mql", "2025-05-05"), ("lead", "2025-05-20")])
    lead("A4", "2025-05-05", "Web", [("mql", "2025-05-05")])
    lead("A5", "2025-05-05", "Web", [("mql", "2025-05-05"), ("lead", "2025-05-25")])
    lead("B1", "2025-06-02", "Web", [("mql", "2025-06-02"), ("sql", "2025-06-05")])
    for i in (2, 3, 4, 5):
        lead(f"B{i}", "2025-06-02", "Web", [("mql", f"2025-06-{18 + i:02d}")])
    lead("C1", "2025-06-03", "Event", [("mql", "2025-06-03"), ("sql", "2025-06-04")])
    lead("C2", "2025-06-03", "Event", [("mql", "2025-06-03"), ("lead", "2025-06-10")])
    lead("Z", "2025-07-10", "Web", [])
    deals = [{"deal_id": "d1", "lead_id": "B1", "amount": 1000.0, "created_at": day("2025-06-06"),
              "closed_at": day("2025-06-25"), "won": True},
             {"deal_id": "d2", "lead_id": "A3", "amount": 500.0, "created_at": day("2025-05-06"),
              "closed_at": day("2025-05-20"), "won": False}]
    return store(leads=leads, stage_events=events, deals=deals)


@pytest.fixture(scope="module")
def review():
    con = story()
    return con, monthly_review(con, settings=SETTINGS, as_of=D, by="source")


def test_months_compared_and_the_default_month():
    assert last_complete_month(date(2025, 7, 10)) == date(2025, 6, 1)
    assert last_complete_month(date(2025, 6, 30)) == date(2025, 6, 1)  # D on a month's last day completes it
    assert last_complete_month(date(2025, 1, 5)) == date(2024, 12, 1)
    assert review_months(date(2025, 6, 1), first_day=date(2024, 6, 30)) == {
        "current": date(2025, 6, 1), "previous": date(2025, 5, 1), "year_ago": date(2024, 6, 1)}
    assert "year_ago" not in review_months(date(2025, 6, 1), first_day=date(2024, 7, 1))
    assert review_months(date(2025, 1, 1), first_day=None)["previous"] == date(2024, 12, 1)
    assert parse_month("2025-06") == date(2025, 6, 1)
    with pytest.raises(FunnelError):
        parse_month("June")
    assert month_choices(date(2025, 4, 20), date(2025, 6, 3)) == [date(2025, 6, 1), date(2025, 5, 1), date(2025, 4, 1)]
    assert quarter_ends(date(2025, 7, 10)) == (date(2025, 6, 30), date(2025, 3, 31))
    assert quarter_ends(date(2025, 6, 30)) == (date(2025, 6, 30), date(2025, 3, 31))


def test_headline_numbers_by_hand(review):
    _, r = review
    rows = {row["period"]: row for row in r.headline.iter_rows(named=True)}
    assert r.months == {"current": date(2025, 6, 1), "previous": date(2025, 5, 1), "year_ago": date(2024, 6, 1)}
    assert (rows["current"]["new_leads"], rows["previous"]["new_leads"], rows["year_ago"]["new_leads"]) == (7, 5, 0)
    assert (rows["current"]["entered_mql"], rows["current"]["entered_sql"]) == (7, 2)
    assert (rows["previous"]["entered_mql"], rows["previous"]["entered_sql"]) == (5, 2)
    assert rows["year_ago"]["entered_mql"] == 0  # a month with no leads
    assert (rows["current"]["won_deals"], rows["current"]["won_amount"]) == (1, 1000.0)
    assert (rows["previous"]["won_deals"], rows["previous"]["won_amount"]) == (0, 0.0)


def test_distribution_at_each_month_end_by_hand(review):
    _, r = review
    counts = {(row["period"], row["stage"]): row["leads"] for row in r.distribution.iter_rows(named=True)}
    assert [counts[("current", s)] for s in ("lead", "mql", "sql")] == [4, 5, 4]
    assert [counts[("previous", s)] for s in ("lead", "mql", "sql")] == [3, 1, 2]
    assert counts[("year_ago", "lead")] == 1 and counts[("year_ago", "mql")] == 0


def test_a_young_cohort_is_shown_open_never_as_a_drop(review):
    _, r = review
    step = {row["period"]: row for row in r.conversion.filter(pl.col("from_stage") == "mql").iter_rows(named=True)}
    june, may, year_ago = step["current"], step["previous"], step["year_ago"]
    assert (june["entered"], june["advanced"], june["lost"], june["expired"], june["open"]) == (7, 2, 1, 0, 4)
    assert june["rate"] == pytest.approx(2 / 3)
    assert (may["entered"], may["advanced"], may["lost"], may["open"]) == (5, 2, 2, 1)
    assert may["rate"] == pytest.approx(1 / 2)
    assert year_ago["entered"] == 0 and year_ago["rate"] is None  # no leads: no rate, not 0 %


def test_segment_health_mix_and_rate_by_hand(review):
    _, r = review
    mql = r.segment_health.filter(pl.col("from_stage") == "mql")
    total = mql.filter(pl.col("source").is_null()).row(0, named=True)
    web = mql.filter(pl.col("source") == "Web").row(0, named=True)
    event = mql.filter(pl.col("source") == "Event").row(0, named=True)
    # May: Web 2 of 4 decided (r = 1/2, w = 1). June: Web 1 of 1 (w = 1/3), Event 1 of 2 (w = 2/3, r = 1/2).
    assert total["change"] == pytest.approx(2 / 3 - 1 / 2)
    assert (web["share_prev"], web["share_cur"], web["rate_cur"]) == (pytest.approx(1.0), pytest.approx(1 / 3), 1.0)
    # Event exists only in June: share 0 then, no rate then; it takes May's overall rate (1/2) as r_prev.
    assert event["share_prev"] == 0.0 and event["rate_prev"] is None and event["decided_prev"] == 0
    assert web["mix_part"] == pytest.approx((1 / 3 - 1) * 1 / 2)
    assert event["mix_part"] == pytest.approx(2 / 3 * 1 / 2)
    assert web["rate_part"] == pytest.approx(1 / 3 * (1 - 1 / 2))
    assert event["rate_part"] == pytest.approx(0.0)
    assert total["mix_part"] == pytest.approx(0.0)
    assert total["rate_part"] == pytest.approx(1 / 6)


def test_handoff_months_by_hand(review):
    _, r = review
    rows = {row["period"]: row for row in r.handoff.iter_rows(named=True)}
    assert (rows["current"]["accepted"], rows["current"]["recycled"], rows["current"]["pending"]) == (2, 1, 4)
    assert (rows["previous"]["accepted"], rows["previous"]["recycled"], rows["previous"]["pending"]) == (2, 2, 1)


def test_deals_closed_in_each_month_by_hand(review):
    _, r = review
    rows = {(row["period"], row["source"]): row for row in r.deals.iter_rows(named=True)}
    june, may = rows[("current", None)], rows[("previous", None)]
    assert (june["closed"], june["won"], june["win_rate"], june["won_amount"]) == (1, 1, 1.0, 1000.0)
    assert (may["closed"], may["won"], may["win_rate"]) == (1, 0, 0.0)  # the lost deal closed in May
    assert rows[("current", "Web")]["closed"] == 1 and ("current", "Event") not in rows
    assert rows[("year_ago", None)]["closed"] == 0 and rows[("year_ago", None)]["win_rate"] is None


def test_no_highlight_without_a_change_beyond_chance(review):
    _, r = review
    assert r.highlights.is_empty()  # 2/3 against 1/2 on a handful of leads is chance
    assert r.changes.filter(pl.col("p_value").is_not_null()).height >= 2


def test_the_report_figures_equal_funnel_metrics_at_the_month_ends(review):
    con, r = review
    document = review_document(r, invest=None, provenance={"files": [], "rows": 0, "newest_timestamp": None,
                                                           "settings": "defaults"})
    document = json.loads(json.dumps(document))
    for label, month in r.months.items():
        end = month_end(month)
        metrics = metrics_report(con, Filters(as_of=end), settings=SETTINGS)
        shown = [{k: row[k] for k in ("stage", "leads", "share")} for row in document["distribution"]
                 if row["period"] == label]
        assert shown == [{k: row[k] for k in ("stage", "leads", "share")} for row in metrics["distribution"]]
        aging = [{k: row[k] for k in ("stage", "leads", "over_sla")} for row in document["aging"]
                 if row["period"] == label]
        assert aging == [{k: row[k] for k in ("stage", "leads", "over_sla")} for row in metrics["aging"]]
        cohort = metrics_report(con, Filters(as_of=D, period_start=month, period_end=end), settings=SETTINGS)
        keys = ("from_stage", "to_stage", "entered", "advanced", "lost", "expired", "open", "rate", "rate_lo",
                "rate_hi")
        assert [{k: row[k] for k in keys} for row in document["conversion"] if row["period"] == label] == \
            [{k: row[k] for k in keys} for row in cohort["conversion"]]


def test_the_html_report_is_self_contained_and_shows_data_as_text(review):
    _, r = review
    hostile = replace(r, notes=("<script>alert(1)</script>",))
    document = review_document(hostile, invest=None, provenance={
        "files": [{"file_name": "<img src=x>.csv", "table_name": "leads", "rows": 13, "imported_at": "2025-07-10"}],
        "rows": 13, "newest_timestamp": "2025-07-10", "settings": "defaults"})
    page = review_html(document, figure_dicts(review_figures(hostile)))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x>" not in page
    assert "<script src" not in page and "<link" not in page
    assert "Monthly review: 2025-06" in page and "Plotly.newPlot" in page


def test_the_html_names_the_segment_health_total_row_everyone_and_the_json_keeps_it_empty(review):
    _, r = review
    document = review_document(r, invest=None, provenance={"files": [], "rows": 13, "newest_timestamp": "2025-07-10",
                                                           "settings": "defaults"})
    assert any(record["source"] is None for record in document["segment_health"])
    section = review_html(document, figure_dicts(review_figures(r))).split("<h2>Segment health</h2>", 1)[1]
    assert "<td class='text'>everyone</td>" in section.split("<h2>", 1)[0]


def test_frame_records_are_json_ready():
    frame = pl.DataFrame({"d": [date(2025, 1, 1)], "x": [float("nan")], "s": ["a"]})
    assert frame_records(frame) == [{"d": "2025-01-01", "x": None, "s": "a"}]


def test_change_p_value_uses_the_exact_test_on_small_counts():
    assert change_p_value(2, 3, 2, 4) == pytest.approx(1.0)
    assert change_p_value(0, 0, 2, 4) is None


shares = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)),
                  min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(shares)
def test_mix_plus_rate_is_the_change(segments):
    """Per segment (advanced, decided) in each month → w, r; mix + rate = R_cur − R_prev exactly."""
    rows = [(min(a, n), n, min(b, m), m) for a, n, b, m in segments]
    prev_total, cur_total = sum(r[1] for r in rows), sum(r[3] for r in rows)
    frame = pl.DataFrame({
        "w_prev": [n / prev_total if prev_total else 0.0 for _, n, _, _ in rows],
        "r_prev": [a / n if n else None for a, n, _, _ in rows],
        "w_cur": [m / cur_total if cur_total else 0.0 for _, _, _, m in rows],
        "r_cur": [b / m if m else None for _, _, b, m in rows],
    }, schema={"w_prev": pl.Float64, "r_prev": pl.Float64, "w_cur": pl.Float64, "r_cur": pl.Float64})
    change, mix, rate = mix_rate_split(frame)
    if not prev_total or not cur_total:
        assert change is None
        return
    expected = sum(r[2] for r in rows) / cur_total - sum(r[0] for r in rows) / prev_total
    assert change == pytest.approx(expected, abs=1e-12)
    assert mix + rate == pytest.approx(change, abs=1e-12)


# --- the page under AppTest ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory):
    from tests.apptest import copied

    return copied(bundled_sample, tmp_path_factory.mktemp("monthly") / "sample.duckdb")


def test_the_review_page_changes_month_and_dimension(sample_db, monkeypatch):
    from tests.apptest import app

    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/monthly_review.py").run()
    assert not at.exception
    month = at.selectbox(key="review_month")
    assert month.value == "2026-10"  # the sample ends on 31 Oct 2026: October is complete
    assert [s.value for s in at.subheader][:2] == ["Highlights", "Headline numbers"]
    month.set_value("2026-08").run()
    assert not at.exception
    at.selectbox(key="review_by").set_value("industry").run()
    assert not at.exception
    assert any(s.value == "Segment health by Industry" for s in at.subheader)
    at.toggle(key="review_invest").set_value(True).run()
    assert not at.exception
    ranking = [d.value for d in at.dataframe if {"industry", "verdict", "rate_lo"} <= set(d.value.columns)]
    assert ranking and len(ranking[0]) > 0


def test_the_downloaded_review_reads_its_provenance_where_it_was_computed_and_names_a_draft(review):
    """The dashboard's download takes the files and settings from what the figures were computed on (the key's
    own connection: the database, or the Spark dataset), and says when that was this person's unsaved draft."""
    from contextlib import contextmanager

    from pages.ui.review import DRAFT_SOURCE, _document

    con, r = review

    class Key:
        def __init__(self, on_draft: bool):
            self.on_draft = on_draft

        @contextmanager
        def opened(self):
            yield con

    saved, draft = _document(Key(False), r, None), _document(Key(True), r, None)
    assert saved["data"]["settings"] == "the packaged defaults" and draft["data"]["settings"] == DRAFT_SOURCE
    assert saved["data"]["newest_timestamp"] is not None  # read from the review's own store
