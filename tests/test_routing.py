"""Routing: given/expect per rule kind (territory, round robin, capacity, business days, first match),
the seeds' defaults, the rule lint on hand-made rule sets, and every lead getting exactly one owner."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from funnel.analyses.routing import routing_lint
from funnel.config import QUADRANTS, default_settings, with_routing_text
from funnel.errors import ConfigError
from funnel.model import routing

BASE = default_settings()
AS_OF = date(2026, 10, 31)  # a Saturday
START = datetime(2026, 1, 1)
LEAD_SCHEMA = {"lead_id": pl.String, "created_at": pl.Datetime("us"), "funnel_stage": pl.String,
               "lifecycle_stage": pl.String, "quadrant": pl.String, "icp": pl.String, "tags": pl.List(pl.String),
               "source": pl.String, "country": pl.String, "employees": pl.Int64, "recycle_reason": pl.String}
OWNERS = """
[[routing.owners]]
name = "A"
team = "SDR"
[[routing.owners]]
name = "B"
team = "SDR"
[[routing.owners]]
name = "C"
team = "SDR"
"""


def rules(text: str, base=BASE):
    return with_routing_text(base, "[routing]\n" + text)


def leads(*rows: dict) -> pl.DataFrame:
    """Leads created one hour apart in the order given unless `created_at` is set."""
    full = []
    for i, row in enumerate(rows):
        full.append({"created_at": START + timedelta(hours=i), "funnel_stage": "interest", "lifecycle_stage": "lead",
                     "quadrant": "low_fit_low_intent", "tags": [], **row})
    return pl.DataFrame(full, schema=LEAD_SCHEMA)


def routed(frame: pl.DataFrame, settings, as_of: date = AS_OF) -> dict[str, dict]:
    out = routing.routed_leads(frame, settings=settings, as_of=as_of)
    return {r["lead_id"]: r for r in out.iter_rows(named=True)}


def owners(frame: pl.DataFrame, settings) -> dict[str, str]:
    return {k: v["next_owner"] for k, v in routed(frame, settings).items()}


# --------------------------------------------------------------------------------- rule kinds


def test_territory_owners_take_turns_and_a_territory_without_one_falls_back_to_the_team():
    settings = rules(OWNERS + """
[[routing.territories]]
name = "NA"
field = "country"
values = ["US"]
owners = ["A", "B"]
[[routing.territories]]
name = "EMEA"
field = "country"
values = ["GB"]
owners = ["C"]
[[routing.territories]]
name = "APAC"
field = "country"
values = ["AU"]
[[routing.rules]]
name = "by territory"
team = "SDR"
assign = "territory"
action = "call"
""")
    got = routed(leads({"lead_id": "us1", "country": "US"}, {"lead_id": "gb1", "country": "gb "},
                       {"lead_id": "us2", "country": "US"}, {"lead_id": "us3", "country": "US"},
                       {"lead_id": "au1", "country": "AU"}, {"lead_id": "none"}), settings)
    assert {k: (v["territory"], v["next_owner"]) for k, v in got.items()} == {
        "us1": ("NA", "A"), "us2": ("NA", "B"), "us3": ("NA", "A"), "gb1": ("EMEA", "C"),
        "au1": ("APAC", "A"), "none": (None, "A")}
    assert {v["route_rule"] for v in got.values()} == {"by territory"}


ROUND_ROBIN = OWNERS + """
[[routing.rules]]
name = "rr"
team = "SDR"
assign = "round_robin"
owners = ["C", "A"]
action = "call"
"""


def test_round_robin_follows_creation_order_from_the_first_listed_owner_and_is_deterministic():
    rows = [{"lead_id": f"L{i}", "created_at": START + timedelta(days=i)} for i in range(5)]
    expected = {"L0": "C", "L1": "A", "L2": "C", "L3": "A", "L4": "C"}
    assert owners(leads(*rows), rules(ROUND_ROBIN)) == expected
    for seed in range(3):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert owners(leads(*shuffled), rules(ROUND_ROBIN)) == expected


def test_a_full_owner_is_skipped_and_overflow_waits_in_the_team_queue():
    settings = rules("""
[[routing.owners]]
name = "X"
team = "SDR"
capacity = 1
[[routing.owners]]
name = "Y"
team = "SDR"
capacity = 2
[[routing.rules]]
name = "rr"
team = "SDR"
assign = "round_robin"
action = "call"
""")
    got = owners(leads(*[{"lead_id": f"L{i}"} for i in range(5)]), settings)
    assert got == {"L0": "X", "L1": "Y", "L2": "Y", "L3": "SDR queue", "L4": "SDR queue"}


def test_capacity_counts_leads_from_earlier_rules():
    settings = rules("""
[[routing.owners]]
name = "X"
team = "SDR"
capacity = 1
[[routing.owners]]
name = "Y"
team = "SDR"
[[routing.rules]]
name = "first"
stages = ["intent"]
team = "SDR"
assign = "round_robin"
owners = ["X"]
action = "call"
[[routing.rules]]
name = "second"
team = "SDR"
assign = "round_robin"
action = "qualify"
""")
    got = owners(leads({"lead_id": "hot", "funnel_stage": "intent"}, {"lead_id": "a"}, {"lead_id": "b"}), settings)
    assert got == {"hot": "X", "a": "Y", "b": "Y"}


@pytest.mark.parametrize("as_of, days, holidays, due", [
    (date(2026, 10, 30), 0, (), date(2026, 10, 30)),    # Friday, due today
    (date(2026, 10, 30), 1, (), date(2026, 11, 2)),     # Friday + 1 → Monday
    (date(2026, 10, 31), 0, (), date(2026, 11, 2)),     # Saturday rolls to Monday
    (date(2026, 10, 31), 1, (), date(2026, 11, 3)),
    (date(2026, 10, 31), 1, ("2026-11-02",), date(2026, 11, 4)),  # Monday a holiday
    (date(2026, 10, 28), 5, (), date(2026, 11, 4)),     # a whole week
])
def test_due_dates_count_business_days(as_of, days, holidays, due):
    assert routing.business_days_after(as_of, days, holidays=holidays) == due
    holiday_line = f"holidays = {list(holidays)!r}\n".replace("'", '"')
    settings = rules(holiday_line + f'[[routing.rules]]\nname = "r"\nteam = "Marketing"\naction = "a"\n'
                                    f'due_business_days = {days}\n')
    assert routed(leads({"lead_id": "L"}), settings, as_of)["L"]["next_action_due"] == due


def test_first_match_wins_and_no_match_gets_no_owner():
    settings = rules("""
[[routing.rules]]
name = "intent first"
stages = ["intent"]
team = "Marketing"
action = "first"
[[routing.rules]]
name = "high fit"
quadrants = ["high_fit_high_intent"]
team = "AE"
action = "second"
due_business_days = 2
""")
    got = routed(leads({"lead_id": "both", "funnel_stage": "intent", "quadrant": "high_fit_high_intent"},
                       {"lead_id": "second", "quadrant": "high_fit_high_intent"},
                       {"lead_id": "none"}), settings)
    assert (got["both"]["route_rule"], got["both"]["next_action"]) == ("intent first", "first")
    assert (got["second"]["route_rule"], got["second"]["next_owner"], got["second"]["next_action_due"]) == (
        "high fit", "AE", date(2026, 11, 4))
    assert (got["none"]["route_rule"], got["none"]["next_owner"], got["none"]["team"], got["none"]["next_action"],
            got["none"]["next_action_due"]) == (None, "No active owner", "None", routing.NO_RULE_ACTION, None)


def test_rules_match_on_tags_sources_size_bands_and_any_field():
    settings = rules("""
[[routing.rules]]
name = "enterprise fs"
tags = ["Financial Services"]
sources = ["paid search"]
size_bands = ["1001–5000"]
team = "AE"
action = "a"
[[routing.rules.when]]
field = "title"
contains = ["head"]
""")
    base = {"tags": ["Financial Services"], "source": "Paid Search", "employees": 2000, "title": "Head of Ops"}
    frame = pl.DataFrame([{**base, "lead_id": "yes"}, {**base, "lead_id": "small", "employees": 40},
                          {**base, "lead_id": "title", "title": "Analyst"},
                          {**base, "lead_id": "tag", "tags": ["Enterprise"]}]).with_columns(
        pl.lit("interest").alias("funnel_stage"), pl.lit("lead").alias("lifecycle_stage"),
        pl.lit("low_fit_low_intent").alias("quadrant"), pl.lit(None, dtype=pl.String).alias("icp"),
        pl.lit(START).alias("created_at"), pl.lit(None, dtype=pl.String).alias("country"))
    got = routed(frame, settings)
    assert {k: v["route_rule"] for k, v in got.items()} == {"yes": "enterprise fs", "small": None, "title": None,
                                                            "tag": None}


def test_the_defaults_implement_both_seeds():
    got = routed(leads(
        {"lead_id": "sdr", "funnel_stage": "intent", "quadrant": "high_fit_low_intent", "country": "US"},
        {"lead_id": "deal", "funnel_stage": "opportunity", "quadrant": "low_fit_low_intent", "country": "GB"},
        {"lead_id": "won", "funnel_stage": "customer", "lifecycle_stage": "customer"},
        {"lead_id": "gone", "funnel_stage": "customer", "lifecycle_stage": "former_customer"},
        {"lead_id": "nurture", "quadrant": "high_fit_low_intent"},
        {"lead_id": "qualify", "funnel_stage": "intent", "quadrant": "low_fit_high_intent"},
        {"lead_id": "cold", "funnel_stage": "awareness"},
        {"lead_id": "back", "funnel_stage": "reactivation", "quadrant": "high_fit_low_intent"},
        {"lead_id": "lost", "funnel_stage": "consideration", "quadrant": "high_fit_high_intent",
         "recycle_reason": "Price"},
    ), BASE)
    summary = {k: (v["team"], v["route_rule"]) for k, v in got.items()}
    assert summary == {
        "sdr": ("SDR", "SDR task: high fit at intent"), "deal": ("AE", "Open opportunity"),
        "won": ("Customer success", "Customer"), "gone": ("None", "Former customer"),
        "nurture": ("Marketing", "High fit, low intent: nurture"),
        "qualify": ("SDR", "Low fit, high intent: qualify"), "cold": ("Marketing", "Low fit, low intent: newsletter"),
        "back": ("Marketing", "Reactivation track"), "lost": ("Marketing", "Lost deal: recycle")}
    assert got["sdr"]["next_owner"] == "sdr.ana@acme.test"  # North America's first SDR
    assert got["sdr"]["next_action_due"] == date(2026, 11, 3)  # one business day after Saturday D
    assert got["deal"]["next_owner"] == "ae.carla@acme.test"  # EMEA's first AE
    assert got["gone"]["next_owner"] == "No active owner" and got["gone"]["next_action_due"] is None
    assert got["lost"]["next_action"] == "Recycle to nurture (lost: Price); re-qualify on new intent"
    assert got["back"]["track"] == "Reactivation: re-engagement"
    assert got["cold"]["track"] == "Awareness: education"


# ------------------------------------------------------------------------------------- lint


LINT_RULES = """
[[routing.owners]]
name = "X"
team = "SDR"
capacity = 1
[[routing.territories]]
name = "APAC"
field = "country"
values = ["AU"]
[[routing.rules]]
name = "R1 intent"
stages = ["intent"]
team = "SDR"
assign = "territory"
action = "call"
[[routing.rules]]
name = "R2 hot"
quadrants = ["high_fit_high_intent"]
team = "Marketing"
action = "nurture"
[[routing.rules]]
name = "R3 customers"
stages = ["customer"]
team = "Customer success"
action = "check in"
[[routing.rules]]
name = "R4 intent again"
stages = ["intent"]
team = "Marketing"
action = "never"
"""


def test_lint_finds_uncovered_overlaps_dead_rules_capacity_and_ownerless_territories():
    settings = rules(LINT_RULES)
    frame = leads({"lead_id": "a", "funnel_stage": "intent", "quadrant": "high_fit_high_intent", "country": "AU"},
                  {"lead_id": "b", "funnel_stage": "intent"},
                  {"lead_id": "c", "quadrant": "high_fit_high_intent"},
                  {"lead_id": "d", "funnel_stage": "awareness"})
    lint = routing_lint(routing.routed_leads(frame, settings=settings, as_of=AS_OF), settings=settings)
    assert lint["rules"].select("rule", "matches", "wins", "loses").rows() == [
        ("R1 intent", 2, 2, 0), ("R2 hot", 2, 1, 1), ("R3 customers", 0, 0, 0), ("R4 intent again", 2, 0, 2)]
    findings = {(f["kind"], f["subject"]): f["leads"] for f in lint["findings"].iter_rows(named=True)}
    assert findings == {
        ("no rule covers", "—"): 1,
        ("claimed by two rules", "R1 intent ▸ R2 hot"): 1,
        ("claimed by two rules", "R1 intent ▸ R4 intent again"): 2,
        ("rule matches nothing", "R3 customers"): 0,
        ("rule never wins", "R4 intent again"): 2,
        ("owner at capacity", "X"): 1,
        ("territory without owner", "APAC · SDR"): 1,
        ("outside every territory", "—"): 1,
    }
    behind = lint["finding_leads"]

    def ids(kind: str, subject: str) -> list[str]:
        return sorted(behind.filter((pl.col("kind") == kind) & (pl.col("subject") == subject))["lead_id"])

    assert ids("no rule covers", "—") == ["d"]
    assert ids("claimed by two rules", "R1 intent ▸ R4 intent again") == ["a", "b"]
    assert ids("owner at capacity", "X") == ["b"]  # a (created first) got X; b waits in the SDR queue
    assert ids("territory without owner", "APAC · SDR") == ["a"]


def test_a_clean_rule_set_has_no_findings():
    settings = rules("""
[[routing.rules]]
name = "intent"
stages = ["intent"]
team = "SDR"
action = "call"
[[routing.rules]]
name = "rest"
team = "Marketing"
action = "nurture"
""")
    frame = leads({"lead_id": "a", "funnel_stage": "intent"}, {"lead_id": "b"})
    lint = routing_lint(routing.routed_leads(frame, settings=settings, as_of=AS_OF), settings=settings)
    # "rest" matches a too, so one overlap remains: first match wins, and the lint says so.
    assert lint["findings"].select("kind", "subject").rows() == [("claimed by two rules", "intent ▸ rest")]


# --------------------------------------------------------------------------------- settings


@pytest.mark.parametrize("text, problem", [
    ('[[routing.rules]]\nname = "r"\nteam = "SDR"\naction = "a"\nassign = "lottery"\n', "routing.rules[1].assign"),
    ('[[routing.rules]]\nname = "r"\nteam = "SDR"\n', "routing.rules[1].action"),
    ('[[routing.rules]]\nname = "r"\nteam = "SDR"\naction = "a"\nstages = ["limbo"]\n', "routing.rules[1].stages"),
    ('[[routing.territories]]\nname = "t"\nfield = "country"\nvalues = ["US"]\nowners = ["nobody"]\n',
     "routing.territories[1].owners"),
    ('[[routing.owners]]\nname = "x"\nteam = "SDR"\ncapacity = -1\n', "routing.owners[1].capacity"),
    ('holidays = ["tomorrow"]\n', "routing.holidays"),
    ('[[routing.alerts]]\nname = "a"\nkind = "pager"\n', "routing.alerts[1].kind"),
])
def test_bad_routing_settings_name_the_setting(text, problem):
    with pytest.raises(ConfigError) as caught:
        rules(text)
    assert problem in caught.value.message()


def test_a_routing_edit_may_not_change_other_settings():
    with pytest.raises(ConfigError) as caught:
        with_routing_text(BASE, "[conversion]\nwindow_days = 30\n")
    assert "Rules page" in caught.value.message()


# --------------------------------------------------------------------------------- property

STAGES = list(BASE.ladders.funnel + BASE.ladders.funnel_side)
LIFECYCLE = list(BASE.ladders.lifecycle + BASE.ladders.lifecycle_side)

lead_rows = st.lists(st.fixed_dictionaries({
    "funnel_stage": st.sampled_from(STAGES), "lifecycle_stage": st.sampled_from([*LIFECYCLE, None]),
    "quadrant": st.sampled_from(QUADRANTS), "country": st.sampled_from(["US", "GB", "AU", "BR", "ZZ", None]),
    "recycle_reason": st.sampled_from([None, "Price"]), "hours": st.integers(0, 1000),
}), min_size=0, max_size=60)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=lead_rows, keep=st.lists(st.booleans(), min_size=len(BASE.routing.rules),
                                     max_size=len(BASE.routing.rules)),
       capacity=st.integers(0, 3))
def test_every_lead_gets_exactly_one_owner_and_action(rows, keep, capacity):
    chosen = tuple(r for r, k in zip(BASE.routing.rules, keep) if k)
    owners_ = tuple(dataclasses.replace(o, capacity=capacity) for o in BASE.routing.owners)
    settings = dataclasses.replace(BASE, routing=dataclasses.replace(BASE.routing, rules=chosen, owners=owners_))
    frame = leads(*[{"lead_id": f"L{i}", "created_at": START + timedelta(hours=r.pop("hours")), **r}
                    for i, r in enumerate(rows)])
    out = routing.routed_leads(frame, settings=settings, as_of=AS_OF)
    assert out.height == frame.height
    assert out["lead_id"].to_list() == frame["lead_id"].to_list()
    for column in ("team", "next_owner", "next_action"):
        assert out[column].null_count() == 0
    unrouted = out.filter(pl.col("route_rule").is_null())
    assert (unrouted["next_action"] == routing.NO_RULE_ACTION).all()
    if capacity:
        load = out.group_by("next_owner").len()
        named = {o.name for o in owners_}
        assert (load.filter(pl.col("next_owner").is_in(named))["len"].max() or 0) <= capacity


# ------------------------------------------------------------------------------------------ alerts


def test_alerts_list_what_newly_meets_a_rule_since_a_moment():
    from funnel.analyses.routing import import_alerts
    from funnel.schema import ACTIVITY_ID, ACTIVITY_TYPE, CREATED_AT, LEAD_ID, OCCURRED_AT
    from tests.stores import store

    def ago(days: int) -> datetime:
        return datetime(2026, 10, 31, 10) - timedelta(days=days)

    fit = {"industry": "Software", "employees": 200, "title": "VP Sales", "country": "US"}
    con = store(leads=[{LEAD_ID: "H", CREATED_AT: ago(100), **fit}, {LEAD_ID: "S", CREATED_AT: ago(100), **fit},
                       {LEAD_ID: "L", CREATED_AT: ago(100), "industry": "Retail"}],
                activities=[{ACTIVITY_ID: "a1", LEAD_ID: "H", ACTIVITY_TYPE: "demo_request", OCCURRED_AT: ago(1)},
                            {ACTIVITY_ID: "a2", LEAD_ID: "L", ACTIVITY_TYPE: "pricing_page_view", OCCURRED_AT: ago(1)},
                            {ACTIVITY_ID: "a3", LEAD_ID: "S", ACTIVITY_TYPE: "demo_request", OCCURRED_AT: ago(10)}])

    def alerts(since):
        got = import_alerts(con, settings=BASE, as_of=AS_OF, since=since)
        return {(r["alert"], r["lead_id"]) for r in got.iter_rows(named=True)}

    icp, sla = "ICP lead asked for a demo or saw pricing", "SDR task over its SLA"
    # S entered intent 10 days ago: past the 2-day SLA from day 3 after entry (7 days ago).
    assert alerts(ago(3)) == {(icp, "H")}
    assert alerts(ago(8)) == {(icp, "H"), (sla, "S")}
    assert alerts(None) == {(icp, "H"), (icp, "S"), (sla, "S")}
    owners = import_alerts(con, settings=BASE, as_of=AS_OF, since=None)
    assert set(owners["team"]) == {"SDR"} and set(owners["owner"]) <= {"sdr.ana@acme.test", "sdr.ben@acme.test"}


@pytest.mark.parametrize("as_of", [date(2026, 6, 30), date(2026, 10, 31)])
def test_alerts_from_the_leads_the_routing_check_routed_are_the_alerts_computed_alone(bundled_sample, tmp_path,
                                                                                      as_of):
    """The Routing page hands the alerts the leads its check of the rules in force already scored and routed: on
    the sample, the same rows as the alerts computing their own scores (as the Overview does)."""
    from funnel.analyses.routing import import_alerts, routing_inputs, since_last_import
    from funnel.store.db import connect
    from tests.apptest import copied

    con = connect(copied(bundled_sample, tmp_path / "sample.duckdb"), read_only=True)
    since = since_last_import(con)
    alone = import_alerts(con, settings=BASE, as_of=as_of, since=since)
    routed = routing_inputs(con, settings=BASE, as_of=as_of)
    assert alone.height and import_alerts(con, settings=BASE, as_of=as_of, since=since, routed=routed).equals(alone)
