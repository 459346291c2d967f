"""Fit, intent, tags, quadrant, next owner and action, explanations that add up, score validation,
the rules backtest and `funnel leads`: given a few hand-written rows, expect the numbers."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.config import default_settings, settings_from_text
from funnel.errors import ConfigError, FunnelError
from funnel.model import scoring, stages
from tests.test_stages import store

SETTINGS = default_settings()  # half-life 30, lookback 180, cap 100, surge 15, fit ≥ 60, intent ≥ 40
AS_OF = date(2026, 10, 31)


def ago(days: int, hour: int = 10) -> datetime:
    return datetime.combine(AS_OF - timedelta(days=days), time(hour))


def lead(lead_id: str = "L1", *, title: str | None = None, account: str | None = None, created: int = 400,
         **extra) -> dict:
    return {sc.LEAD_ID: lead_id, sc.TITLE: title, sc.ACCOUNT_ID: account, sc.CREATED_AT: ago(created), **extra}


def account(account_id: str, industry: str | None = None, employees: int | None = None, country: str | None = None,
            domain: str | None = None) -> dict:
    return {sc.ACCOUNT_ID: account_id, sc.INDUSTRY: industry, sc.EMPLOYEES: employees, sc.COUNTRY: country,
            sc.DOMAIN: domain}


_n = iter(range(10**9))


def act(kind: str, days_ago: int, lead_id: str = "L1", url: str | None = None) -> dict:
    return {sc.ACTIVITY_ID: f"A{next(_n):05d}", sc.LEAD_ID: lead_id, sc.ACTIVITY_TYPE: kind,
            sc.OCCURRED_AT: ago(days_ago), sc.URL: url}


def scores(con, settings=SETTINGS, as_of=AS_OF) -> dict[str, dict]:
    return {r[sc.LEAD_ID]: r for r in scoring.lead_scores(con, settings=settings, as_of=as_of).iter_rows(named=True)}


# ------------------------------------------------------------------------------------- intent


def test_decay_halves_the_weight_every_half_life():
    con = store(leads=[lead()], activities=[act("pricing_page_view", 30)])  # weight 20, age 30, half-life 30
    assert scores(con)["L1"][scoring.INTENT_SCORE] == pytest.approx(10.0)
    con = store(leads=[lead()], activities=[act("pricing_page_view", 0), act("demo_request", 60)])
    assert scores(con)["L1"][scoring.INTENT_SCORE] == pytest.approx(20 + 35 / 4)


def test_only_the_lookback_window_counts():
    con = store(leads=[lead()], activities=[act("demo_request", 180), act("demo_request", 181)])
    assert scores(con)["L1"][scoring.INTENT_SCORE] == pytest.approx(35 * 0.5 ** 6)


def test_type_caps_and_the_overall_cap():
    con = store(leads=[lead()], activities=[act("pricing_page_view", 0) for _ in range(5)])  # 5 × 20, cap 40
    assert scores(con)["L1"][scoring.INTENT_SCORE] == pytest.approx(40.0)
    con = store(leads=[lead()], activities=[act(k, 0) for k in ("meeting_booked", "demo_request", "contact_form")])
    assert scores(con)["L1"][scoring.INTENT_SCORE] == pytest.approx(100.0)  # 105 capped


def test_an_account_surge_adds_its_points_once_by_account_id_or_domain():
    signals = [{sc.ACCOUNT_ID: "C1", sc.SURGE: True, sc.OBSERVED_AT: ago(10), sc.TOPIC: "crm"},
               {sc.ACCOUNT_ID: "C1", sc.SURGE: True, sc.OBSERVED_AT: ago(20), sc.TOPIC: "funnel"},
               {sc.ACCOUNT_ID: "Beta.example", sc.SURGE: True, sc.OBSERVED_AT: ago(5), sc.TOPIC: "crm"},
               {sc.ACCOUNT_ID: "C3", sc.SURGE: True, sc.OBSERVED_AT: ago(200), sc.TOPIC: "crm"},
               {sc.ACCOUNT_ID: "C4", sc.SURGE: False, sc.OBSERVED_AT: ago(1), sc.TOPIC: "crm"}]
    con = store(leads=[lead("L1", account="C1"), lead("L2", account="C2"), lead("L3", account="C3"),
                       lead("L4", account="C4")],
                accounts=[account("C1"), account("C2", domain="beta.example"), account("C3"), account("C4")],
                intent_signals=signals)
    got = {k: v[scoring.INTENT_SCORE] for k, v in scores(con).items()}
    assert got == {"L1": 15.0, "L2": 15.0, "L3": 0.0, "L4": 0.0}


# ---------------------------------------------------------------------------------------- fit


@pytest.mark.parametrize(("title", "level"), [
    ("Director of Marketing", "director"),  # not "executive" for the "cto" inside "Director"
    ("Chief Marketing Officer", "executive"), ("VP Sales", "vp"), ("Head of Growth", "vp"),
    ("Team Lead, Support", "manager"), ("Marketing Intern", "entry"), ("Data Analyst", "individual"),
    ("Astronaut", None), (None, None)])
def test_seniority_is_the_first_level_with_a_whole_word_keyword(title, level):
    got = pl.DataFrame({"t": [title]}, schema={"t": pl.String}).select(
        scoring.seniority_of(pl.col("t"), SETTINGS)).item()
    assert got == level


def test_fit_is_the_best_profiles_points_and_the_account_value_wins():
    con = store(leads=[lead("L1", title="VP Sales", account="C1", industry="Retail"),
                       lead("L2", title="Analyst", industry="Banking", employees=5000),
                       lead("L3", title="Intern")],
                accounts=[account("C1", industry="Software", employees=200, country="US")])
    got = scores(con)
    assert (got["L1"][scoring.FIT_SCORE], got["L1"][scoring.ICP]) == (100, "Mid-market software")
    assert (got["L2"][scoring.FIT_SCORE], got["L2"][scoring.ICP]) == (70, "Enterprise financial services")
    assert (got["L3"][scoring.FIT_SCORE], got["L3"][scoring.ICP]) == (0, None)


CUSTOM = settings_from_text("""
[[fit.icp]]
name = "Plan buyers"
[[fit.icp.criteria]]
field = "attr:plan"
values = ["enterprise"]
points = 70
[[fit.icp.criteria]]
field = "title"
contains = ["revenue"]
points = 60
[[fit.icp]]
name = "Big"
[[fit.icp.criteria]]
field = "employees"
min = 1000
points = 50

[[tags]]
name = "Enterprise plan"
field = "attr:plan"
values = ["Enterprise"]
""", source="custom")


def with_attributes(con, lead_id: str, attrs: dict[str, str]) -> None:
    con.execute("UPDATE leads SET attributes = MAP($k, $v) WHERE lead_id = $id",
                {"k": list(attrs), "v": list(attrs.values()), "id": lead_id}).fetchall()


def test_attribute_criteria_the_cap_at_100_and_an_explanation_that_adds_up():
    con = store(leads=[lead("L1", title="VP Revenue")])
    with_attributes(con, "L1", {"plan": "Enterprise"})
    got = scores(con, CUSTOM)["L1"]
    assert (got[scoring.FIT_SCORE], got[scoring.ICP], got[scoring.TAGS]) == (100, "Plan buyers", ["Enterprise plan"])
    explained = scoring.fit_explanation(con, "L1", settings=CUSTOM)
    assert explained.get_column("counted").sum() == 100
    cap = explained.row(-1, named=True)
    assert cap["counted"] == -30 and "capped at 100" in cap["rule"]
    assert explained.filter(pl.col("best") & pl.col("matched")).get_column("points").sum() == 130


def test_a_criterion_on_an_unknown_field_is_a_config_error():
    typo = settings_from_text('[[tags]]\nname = "X"\nfield = "industy"\nvalues = ["a"]\n')
    with pytest.raises(ConfigError, match="industy"):
        scoring.lead_scores(store(leads=[lead()]), settings=typo, as_of=AS_OF)


def test_tags_in_settings_order():
    con = store(leads=[lead("L1", title="Chief Financial Officer", account="C1")],
                accounts=[account("C1", industry="Banking", employees=1000)])
    assert scores(con)["L1"][scoring.TAGS] == ["Enterprise", "Financial Services", "Executive level"]


# -------------------------------------------------------------------------- matrix and routing


def test_quadrant_thresholds_are_inclusive():
    frame = pl.DataFrame({"f": [60, 59, 60, 0], "i": [40.0, 40.0, 39.9, 0.0]})
    got = frame.select(scoring.quadrant_of(pl.col("f"), pl.col("i"), SETTINGS)).to_series().to_list()
    assert got == ["high_fit_high_intent", "low_fit_high_intent", "high_fit_low_intent", "low_fit_low_intent"]


def test_lead_scores_has_one_row_per_lead_created_by_the_date():
    con = store(leads=[lead("L1"), lead("L2", created=-3)], activities=[act("demo_request", 1)],
                stage_events=[{sc.LEAD_ID: "L1", sc.LADDER: "lifecycle", sc.STAGE: "mql", sc.ENTERED_AT: ago(1)}])
    got = scoring.lead_scores(con, settings=SETTINGS, as_of=AS_OF)
    assert dict(got.schema) == scoring.SCORE_SCHEMA
    row = got.row(0, named=True)
    assert got.height == 1 and row[stages.FUNNEL_STAGE] == "intent" and row[sc.LIFECYCLE_STAGE] == "mql"


# ------------------------------------------------------------------------------- explanations


def test_intent_explanation_adds_up_and_shows_the_type_cap_cut():
    con = store(leads=[lead()], activities=[act("pricing_page_view", d, url="/pricing") for d in (0, 1, 2)]
                + [act("page_view", 3), act("email_open", 4), act("demo_request", 200)])
    explained = scoring.intent_explanation(con, "L1", settings=SETTINGS, as_of=AS_OF)
    score = scores(con)["L1"][scoring.INTENT_SCORE]
    assert explained.get_column("counted").sum() == pytest.approx(score)
    pricing = explained.filter(pl.col(sc.ACTIVITY_TYPE) == "pricing_page_view")
    assert pricing.get_column("counted").sum() == pytest.approx(40.0)  # type cap
    cut = pricing.filter(pl.col("note").is_not_null()).row(0, named=True)
    assert cut["counted"] < cut["points"] and "type cap 40" in cut["note"]
    assert explained.filter(pl.col(sc.ACTIVITY_TYPE) == "demo_request").is_empty()  # outside the lookback


def test_intent_explanation_shows_the_surge_and_the_overall_cap():
    con = store(leads=[lead(account="C1")], accounts=[account("C1")],
                activities=[act(k, 0) for k in ("meeting_booked", "demo_request", "contact_form")],
                intent_signals=[{sc.ACCOUNT_ID: "C1", sc.SURGE: True, sc.OBSERVED_AT: ago(3)}])
    explained = scoring.intent_explanation(con, "L1", settings=SETTINGS, as_of=AS_OF)
    assert explained.get_column("kind").to_list()[-2:] == ["account surge", "cap"]
    assert explained.row(-1, named=True)["counted"] == pytest.approx(100 - 120)
    assert explained.get_column("counted").sum() == pytest.approx(100.0)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(acts=st.lists(st.tuples(st.sampled_from(sorted(SETTINGS.intent.weights)), st.integers(0, 200)), max_size=25),
       surge=st.booleans())
def test_explanations_always_add_up_to_scores_in_range(acts, surge):
    con = store(leads=[lead(account="C1", title="Director of IT")], accounts=[account("C1", "Software", 300, "US")],
                activities=[act(k, a) for k, a in acts],
                intent_signals=[{sc.ACCOUNT_ID: "C1", sc.SURGE: surge, sc.OBSERVED_AT: ago(2)}])
    got = scores(con)["L1"]
    assert 0 <= got[scoring.INTENT_SCORE] <= SETTINGS.intent.cap and 0 <= got[scoring.FIT_SCORE] <= 100
    intent = scoring.intent_explanation(con, "L1", settings=SETTINGS, as_of=AS_OF)
    assert intent.get_column("counted").sum() == pytest.approx(got[scoring.INTENT_SCORE], abs=1e-9)
    fit = scoring.fit_explanation(con, "L1", settings=SETTINGS)
    assert fit.get_column("counted").sum() == got[scoring.FIT_SCORE]


# ------------------------------------------------------------------------------ validation


def converting_store():
    """40 good-fit leads (Software, 200 staff, VP) of which 30 reach opportunity after the cutoff,
    and 40 poor-fit leads of which 4 do; plus 5 leads that were already opportunities."""
    leads, deals, activities = [], [], []
    accounts = [account("GOOD", "Software", 200, "US"), account("POOR", "Retail", 10, "BR")]
    for i in range(85):
        good = i < 40 or i >= 80
        lid = f"L{i:02d}"
        leads.append(lead(lid, title="VP Sales" if good else "Intern", account="GOOD" if good else "POOR", created=300))
        if i < 30 or 40 <= i < 44:
            deals.append({sc.DEAL_ID: f"D{i}", sc.LEAD_ID: lid, sc.CREATED_AT: ago(30)})
        if i >= 80:
            deals.append({sc.DEAL_ID: f"D{i}", sc.LEAD_ID: lid, sc.CREATED_AT: ago(200)})
        if i % 2 == 0:
            activities.append(act("pricing_page_view", 120, lid))
    return store(leads=leads, accounts=accounts, deals=deals, activities=activities)


def test_score_validation_compares_scores_at_a_cutoff_with_later_conversion():
    frames = scoring.score_validation(converting_store(), settings=SETTINGS, as_of=AS_OF)
    summary = frames["summary"].row(0, named=True)
    assert summary["cutoff"] == AS_OF - timedelta(days=90)
    assert (summary["leads"], summary["converted"]) == (80, 34)  # the 5 earlier opportunities are left out
    for name in ("fit_deciles", "intent_deciles"):
        deciles = frames[name]
        assert deciles.get_column("leads").sum() == 80 and deciles.get_column("converted").sum() == 34
        assert deciles.get_column("decile").is_sorted() and deciles.get_column("decile").is_between(1, 10).all()
        assert ((deciles["low"] <= deciles["rate"]) & (deciles["rate"] <= deciles["high"])).all()
    fit = frames["fit_deciles"]  # two scores (0 and 100): equal scores share a decile
    assert fit.select("decile", "leads", "converted").rows() == [(1, 40, 4), (6, 40, 30)]
    industry = frames["criteria"].filter((pl.col("icp") == "Mid-market software") & (pl.col("field") == "industry"))
    row = industry.row(0, named=True)
    assert (row["leads_with"], row["converted_with"], row["leads_without"], row["converted_without"]) == (40, 30, 40, 4)
    assert row["lift"] == pytest.approx(7.5) and row["lift_low"] > 1
    types = frames["activity_types"].row(0, named=True)
    assert types[sc.ACTIVITY_TYPE] == "pricing_page_view" and types["leads_with"] == 40
    with pytest.raises(FunnelError):
        scoring.score_validation(converting_store(), settings=SETTINGS, as_of=AS_OF, outcome="awareness")


def test_lift_interval_stays_honest_at_the_edges():
    lift, low, high = scoring._lift(30, 40, 4, 40)
    assert lift == pytest.approx(7.5) and 1 < low < 7.5 < high
    lift, low, high = scoring._lift(11, 11, 8000, 1_000_000)  # 11 of 11: a wide interval, not a narrow one
    assert lift == pytest.approx(125) and low < 100 < high  # the Wilson bounds of 11/11 are (0.74, 1)
    lift, low, high = scoring._lift(3, 3, 0, 5)  # nobody converted without it: no ratio, a lower bound
    assert lift is None and low > 0 and high is None
    assert scoring._lift(0, 10, 5, 10)[:2] == (0.0, 0.0)
    assert scoring._lift(1, 0, 1, 4) == (None, None, None) and scoring._lift(0, 5, 0, 5) == (None, None, None)


# -------------------------------------------------------------------------------- backtest


def test_month_ends():
    assert scoring.month_ends(date(2026, 10, 31), 3) == [date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31)]
    assert scoring.month_ends(date(2026, 3, 15), 2) == [date(2026, 1, 31), date(2026, 2, 28)]


def test_rules_backtest_replays_both_settings_at_each_month_end():
    from funnel.ingest.sample import sample_tables

    tables = sample_tables(leads=400, seed=11)
    con = store(**{name: frame.to_dicts() for name, frame in tables.items()})
    proposed = settings_from_text("[funnel_rules]\nreactivation_after_days = 30\n[intent]\nhigh_threshold = 10\n")
    result = scoring.rules_backtest(con, current=SETTINGS, proposed=proposed, as_of=date(2026, 10, 31), months=3)
    assert set(result.get_column("month_end").unique()) == {date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31)}
    assert set(result.get_column("settings").unique()) == {"current", "proposed"}
    assert set(result.get_column("measure").unique()) == {"stage", "quadrant", "routing", "entered_intent", "conversion"}
    leads = tables["leads"]
    for (end, label), part in result.partition_by("month_end", "settings", as_dict=True).items():
        created = leads.filter(pl.col(sc.CREATED_AT) < stages.until(end)).height
        for measure in ("stage", "quadrant", "routing"):
            assert part.filter(pl.col("measure") == measure).get_column("value").sum() == created
    stage = result.filter((pl.col("measure") == "stage") & (pl.col("category") == "reactivation"))
    by = dict(stage.group_by("settings").agg(pl.col("value").sum()).iter_rows())
    assert by["proposed"] > by["current"]  # going cold after 30 days instead of 90
    quadrants = result.filter((pl.col("measure") == "quadrant") & pl.col("category").str.contains("high_intent"))
    by = dict(quadrants.group_by("settings").agg(pl.col("value").sum()).iter_rows())
    assert by["proposed"] > by["current"]  # a lower intent threshold
    conversion = result.filter(pl.col("measure") == "conversion").drop_nulls("value")
    assert ((conversion["value"] >= 0) & (conversion["value"] <= 1)).all()


# ------------------------------------------------------------------------------------- CLI


def test_funnel_leads_cli_csv_and_json(tmp_path, capsysbinary):
    from funnel.cli.main import main
    from funnel.ingest.sample import sample_tables
    from funnel.store.db import connect

    path = tmp_path / "store.duckdb"
    con = connect(path)
    for name, frame in sample_tables(leads=150, seed=5).items():
        con.register("incoming", frame.to_arrow())
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming").fetchall()
        con.unregister("incoming")
    con.close()
    assert main(["leads", "--db", str(path), "--format", "csv"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"\xef\xbb\xbf") and b"\r\n" in out
    header = out[3:].split(b"\r\n")[0].decode()
    assert header == ('"lead_id","funnel_stage","lifecycle_stage","stage_entered_at","fit_score","intent_score",'
                      '"quadrant","icp","tags","next_owner","next_action","next_action_due","team","route_rule",'
                      '"evidence"')
    assert out.count(b"\r\n") == 151
    assert main(["leads", "--db", str(path), "--format", "json", "--as-of", "2026-06-30"]) == 0
    rows = json.loads(capsysbinary.readouterr().out)
    assert isinstance(rows, list) and rows and set(rows[0]) == set(header.replace('"', "").split(","))
    assert all(r["stage_entered_at"] is None or r["stage_entered_at"] < "2026-07-01" for r in rows)
    assert all(isinstance(r["tags"], list) for r in rows) and not math.isnan(rows[0]["intent_score"])
