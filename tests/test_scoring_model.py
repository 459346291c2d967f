"""Scoring read from the lead model's scoring parts (the lead facts, and the inputs of intent per lead, type
and day) and each lead's funnel stage read from the stored entries give exactly what is computed from the
tables, at any as-of date; and the parts are read only when they are current (built on this data, for these
fit, tag and routing settings)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.analyses import hygiene
from funnel.config import settings_from_text
from funnel.model import materialised, matrix, scoring, stages
from funnel.model.build import build_funnel_entries, build_scoring_parts, ensure_model
from funnel.model.identity import rebuild_identity
from tests.stores import store
from tests.test_stages import SETTINGS, d, examples, stores, t

# Other intent settings (shorter lookback and half-life, type caps, a surge worth more), other profiles and
# tags: none of them changes the stored inputs of intent; the profiles and tags change the lead facts' key.
TUNED = settings_from_text("""
[intent]
lookback_days = 45
half_life_days = 7
account_surge_points = 25
[intent.type_caps]
page_view = 2.5
pricing_page_view = 30

[[fit.icp]]
name = "Anyone senior"
[[fit.icp.criteria]]
field = "seniority"
values = ["vp", "executive"]
points = 70
[[fit.icp.criteria]]
field = "country"
values = ["DE"]
points = 40

[[fit.icp]]
name = "Large companies"
[[fit.icp.criteria]]
field = "employees"
min = 1000
points = 60

[[tags]]
name = "Germany"
field = "country"
values = ["DE"]
""", source="test")

ACCOUNTS = [{sc.ACCOUNT_ID: "A", sc.DOMAIN: "a.test", sc.INDUSTRY: "Software", sc.EMPLOYEES: 300},
            {sc.ACCOUNT_ID: "B", sc.DOMAIN: "b.test", sc.INDUSTRY: "Banking", sc.EMPLOYEES: 5000}]


@st.composite
def scored_stores(draw):
    """`stores()` with firmographics, titles and accounts on the leads, and intent-vendor signals (surging
    or not, by account id or by domain, any case)."""
    rows = draw(stores())
    for lead in rows["leads"]:
        lead[sc.TITLE] = draw(st.sampled_from([None, "VP Sales", "Marketing Manager", "Engineer", "CEO"]))
        lead[sc.COUNTRY] = draw(st.sampled_from([None, "DE", "US", "BR"]))
        lead[sc.INDUSTRY] = draw(st.sampled_from([None, "Healthcare", "Software"]))
        lead[sc.EMPLOYEES] = draw(st.sampled_from([None, 20, 700, 2000]))
        lead[sc.ACCOUNT_ID] = draw(st.sampled_from([None, "A", "B", "C"]))
    rows["accounts"] = ACCOUNTS
    rows["intent_signals"] = [
        {sc.ACCOUNT_ID: draw(st.sampled_from(["A", "b", " A.TEST ", "b.test", "C"])), sc.TOPIC: f"topic {n}",
         sc.SURGE: draw(st.booleans()), sc.OBSERVED_AT: t(draw(st.integers(0, 400)), draw(st.sampled_from([0, 17])))}
        for n in range(draw(st.integers(0, 4)))]
    return rows


def both(rows: dict[str, list[dict]], settings):
    """The same store twice: with the lead model built (funnel entries and scoring parts), and without."""
    tables = {k: v for k, v in rows.items() if v}
    modelled, plain = store(**tables), store(**tables)
    build_funnel_entries(modelled, settings=settings)
    assert build_scoring_parts(modelled, settings=settings)
    assert materialised.scoring_facts_is_current(modelled, settings) and materialised.intent_inputs_are_current(modelled)
    assert not materialised.intent_inputs_are_current(plain)
    return modelled, plain


def imported(**tables: list[dict]):
    """A store whose rows are also in the imported (raw) tables, so the identity rebuild that `ensure_model`
    and every import run resolves them again instead of emptying the store."""
    con = store(**tables)
    for name in tables:
        con.execute(f"INSERT INTO raw.{name} SELECT * FROM main.{name}")
    return con


def by_lead(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(sc.LEAD_ID)


@examples(12)
@given(rows=scored_stores(), tuned=st.booleans(), days=st.lists(st.integers(-5, 560), min_size=1, max_size=3))
def test_scores_at_any_day_are_the_same_from_the_model_and_from_the_tables(rows, tuned, days):
    settings = TUNED if tuned else SETTINGS
    modelled, plain = both(rows, settings)
    for day in days:
        as_of = d(day)
        for name, compute in (
            ("intent", lambda con, a=as_of: scoring.intent_scores(con, settings=settings, as_of=a)),
            ("scores", lambda con, a=as_of: scoring.lead_scores(con, settings=settings, as_of=a)),
            ("report", lambda con, a=as_of: scoring.leads_report(con, settings=settings, as_of=a)),
            ("facts", lambda con, a=as_of: scoring.lead_facts(con, settings=settings, as_of=a)),
            ("stages", lambda con, a=as_of: stages.funnel_stages_at(con, settings=settings, as_of=a)),
            ("no owner", lambda con, a=as_of: hygiene.hygiene_leads(con, settings=settings, as_of=a, check="no_owner")),
            ("matrix", lambda con, a=as_of: matrix.matrix_cells(con, settings=settings, as_of=a, fit_threshold=50,
                                                                 intent_threshold=5)),
            ("matrix, scores given", lambda con, a=as_of: matrix.matrix_cells(
                con, settings=settings, as_of=a, fit_threshold=50, intent_threshold=5,
                scores=matrix.matrix_scores(con, settings=settings, as_of=a, fit_threshold=50, intent_threshold=5),
                then=matrix.matrix_scores(con, settings=settings, as_of=scoring.validation_cutoff(settings, a),
                                          fit_threshold=50, intent_threshold=5))),
        ):
            stored, fresh = compute(modelled), compute(plain)
            if sc.LEAD_ID in fresh.columns:
                stored, fresh = by_lead(stored), by_lead(fresh)
            assert stored.schema == fresh.schema, (name, day)
            assert stored.equals(fresh), (name, day)
        cutoff = scoring.validation_cutoff(settings, as_of)
        stored, fresh = (scoring.score_validation(con, settings=settings, as_of=as_of,
                                                  scores=scoring.lead_scores(con, settings=settings, as_of=cutoff))
                         for con in (modelled, plain))
        for table, frame in stored.items():
            assert frame.equals(fresh[table], null_equal=True), ("validation, scores given", table, day)


@examples(12)
@given(rows=scored_stores(), tuned=st.booleans(), day=st.integers(0, 560))
def test_the_stored_inputs_of_intent_are_the_tables_rows_in_the_lookback(rows, tuned, day):
    """Per lead, type and day, the stored activity counts and surge days of D's lookback are those counted
    from the tables."""
    settings = TUNED if tuned else SETTINGS
    modelled, plain = both(rows, settings)
    keys = [sc.LEAD_ID, sc.ACTIVITY_TYPE, "day"]
    stored = scoring.intent_days(modelled, settings=settings, as_of=d(day)).sort(keys)
    fresh = scoring.intent_days(plain, settings=settings, as_of=d(day)).sort(keys)
    assert stored.equals(fresh)
    surges = scoring.surge_days(modelled, settings=settings, as_of=d(day)).sort(sc.LEAD_ID, "day")
    assert surges.equals(scoring.surge_days(plain, settings=settings, as_of=d(day)).sort(sc.LEAD_ID, "day"))
    lookback = settings.intent.lookback_days
    assert surges.filter((pl.col("day") > d(day)) | (pl.col("day") < d(day) - timedelta(days=lookback))).is_empty()
    one_lead = rows["leads"][0][sc.LEAD_ID]
    assert scoring.intent_days(modelled, settings=settings, as_of=d(day), lead_ids=[one_lead]).sort(keys).equals(
        fresh.filter(pl.col(sc.LEAD_ID) == one_lead))


def test_intent_adds_each_days_weighted_decayed_activities_caps_each_type_and_counts_a_surge_once():
    """Given (TUNED: 45-day lookback, half-life 7, page views capped at 2.5, surge 25), for L1 at D: 2 page
    views on D and one 7 days before (half weight), a pricing page view 14 days before (20 × 0.25 = 5), a
    page view 46 days before (outside the lookback), its account surging twice in the lookback (once named
    by id, once by its domain); L2, on the same account, nothing else. Expect L1 = 2.5 (2 + 0.5, at the cap) + 5 + 25 = 32.5, L2 = 25,
    from the model and from the tables."""
    rows = {"leads": [{sc.LEAD_ID: "L1", sc.CREATED_AT: t(0), sc.ACCOUNT_ID: "A"},
                      {sc.LEAD_ID: "L2", sc.CREATED_AT: t(0), sc.ACCOUNT_ID: "A"}],
            "accounts": ACCOUNTS,
            "activities": [{sc.ACTIVITY_ID: f"A{n}", sc.LEAD_ID: "L1", sc.ACTIVITY_TYPE: kind, sc.OCCURRED_AT: t(day, 9)}
                           for n, (kind, day) in enumerate([("page_view", 100), ("page_view", 100), ("page_view", 93),
                                                            ("pricing_page_view", 86), ("page_view", 54)])],
            "intent_signals": [{sc.ACCOUNT_ID: account, sc.TOPIC: "crm", sc.SURGE: True, sc.OBSERVED_AT: t(day)}
                               for account, day in (("A", 90), (" A.TEST ", 99))],
            "stage_events": []}
    for con in both(rows, TUNED):
        scores = scoring.intent_scores(con, settings=TUNED, as_of=d(100)).sort(sc.LEAD_ID)
        assert scores.rows() == [("L1", 32.5, True), ("L2", 25.0, True)]


def test_the_lead_facts_are_read_only_for_the_fit_settings_they_were_built_for():
    rows = {"leads": [{sc.LEAD_ID: "L1", sc.CREATED_AT: t(0), sc.TITLE: "VP Sales", sc.COUNTRY: "DE"}],
            "activities": [{sc.ACTIVITY_ID: "A1", sc.LEAD_ID: "L1", sc.ACTIVITY_TYPE: "page_view",
                            sc.OCCURRED_AT: t(3)}]}
    con = imported(**rows)
    ensure_model(con, settings=SETTINGS)
    assert materialised.scoring_facts_is_current(con, SETTINGS)
    assert not materialised.scoring_facts_is_current(con, TUNED)
    assert materialised.stored_scoring_facts(con, settings=TUNED) is None
    # the matrix's sliders move the thresholds only: the facts still serve them
    assert materialised.scoring_facts_is_current(con, matrix.with_thresholds(SETTINGS, fit=10, intent=90))
    tuned = scoring.lead_scores(con, settings=TUNED, as_of=d(10))  # computed from the tables meanwhile
    assert tuned.row(0, named=True)[scoring.FIT_SCORE] == 100  # 70 + 40, capped at 100
    assert ensure_model(con, settings=TUNED)
    assert materialised.scoring_facts_is_current(con, TUNED) and materialised.intent_inputs_are_current(con)
    assert scoring.lead_scores(con, settings=TUNED, as_of=d(10)).equals(tuned)


def test_a_rebuild_of_the_data_forgets_the_scoring_parts():
    con = imported(leads=[{sc.LEAD_ID: "L1", sc.CREATED_AT: t(0)}])
    ensure_model(con, settings=SETTINGS)
    assert materialised.intent_inputs_are_current(con) and materialised.scoring_facts_is_current(con, SETTINGS)
    con.execute("INSERT INTO raw.activities (activity_id, lead_id, activity_type, occurred_at) "
                "VALUES ('A1', 'L1', 'pricing_page_view', $at)", {"at": t(5)})
    rebuild_identity(con, settings=SETTINGS)  # what every import or removal runs
    assert not materialised.intent_inputs_are_current(con)
    assert not materialised.scoring_facts_is_current(con, SETTINGS)
    assert materialised.stored_surge_days(con, since=d(0), as_of=d(9)) is None
    assert scoring.intent_scores(con, settings=SETTINGS, as_of=d(5)).get_column(scoring.INTENT_SCORE).to_list() == [20.0]
