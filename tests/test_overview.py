"""Overview numbers: headline KPIs and stage changes, given/expect on hand-built frames, plus properties."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from funnel.display.overview import KPIS, headline_kpis, stage_changes

STAGES = ["subscriber", "lead", "mql", "sql", "opportunity", "customer", "former_customer"]
STAGE = pl.Enum(STAGES)
PERFORMANCE_SCHEMA = {"source": pl.String, "leads": pl.Int64, "share": pl.Float64, "reached_mql": pl.Int64,
                      "reached_sql": pl.Int64, "reached_customer": pl.Int64, "reached_customer_rate": pl.Float64,
                      "win_rate": pl.Float64}
KPI_SCHEMA = {"kpi": pl.String, "value": pl.String, "change": pl.String, "delta_color": pl.String,
              "help": pl.String}


def performance(*rows: tuple) -> pl.DataFrame:
    """A `segment_performance`-shaped table by source (total row first, source null)."""
    return pl.DataFrame(list(rows), schema=PERFORMANCE_SCHEMA, orient="row")


def distribution(*rows: tuple) -> pl.DataFrame:
    """A `stage_distribution`-shaped table by source: (source, stage, leads, share)."""
    return pl.DataFrame(list(rows), schema={"source": pl.String, "stage": STAGE, "leads": pl.Int64,
                                            "share": pl.Float64}, orient="row")


def kpi_table(frame: pl.DataFrame) -> list[tuple]:
    return frame.select("kpi", "value", "change").rows()


# ------------------------------------------------------------------------------ headline_kpis


def test_headline_kpis_given_expect():
    now = performance((None, 1200, 1.0, 300, 120, 30, 0.025, 0.25),
                      ("Paid", 200, 1 / 6, 90, 40, 10, 0.05, 0.5))
    before = performance((None, 1000, 1.0, 310, 100, 25, 0.01, 0.2),
                         ("Paid", 100, 0.1, 50, 30, 5, 0.05, 0.4))
    assert kpi_table(headline_kpis(now, before)) == [
        ("Leads", "1,200", "+200"),
        ("Reached MQL", "300", "-10"),
        ("Reached SQL", "120", "+20"),
        ("Reached customer", "30", "+5"),
        ("Customer rate", "2.5%", "+1.5 pts"),   # 2.5% − 1.0%
        ("Win rate", "25.0%", "+5.0 pts"),
    ]


def test_headline_kpis_reads_the_total_row_not_a_segment():
    now = performance((None, 10, 1.0, 5, 4, 2, 0.2, 0.5), ("Paid", 9999, 0.9, 9999, 9999, 9999, 0.9, 0.9))
    before = performance((None, 7, 1.0, 5, 3, 1, 0.1, 0.5), ("Paid", 1, 0.1, 1, 1, 1, 0.1, 0.1))
    assert kpi_table(headline_kpis(now, before)) == [
        ("Leads", "10", "+3"), ("Reached MQL", "5", "+0"), ("Reached SQL", "4", "+1"), ("Reached customer", "2", "+1"),
        ("Customer rate", "20.0%", "+10.0 pts"), ("Win rate", "50.0%", "+0.0 pts")]


def test_a_null_rate_shows_a_dash_and_no_change():
    now = performance((None, 50, 1.0, 0, 0, 0, 0.0, None))          # no closed deals now: win rate undefined
    before = performance((None, 40, 1.0, 0, 0, 0, None, 0.5))       # no leads' rate before
    rows = {kpi: (value, change) for kpi, value, change in kpi_table(headline_kpis(now, before))}
    assert rows["Win rate"] == ("–", None)
    assert rows["Customer rate"] == ("0.0%", None)
    assert rows["Leads"] == ("50", "+10")


def test_no_earlier_table_gives_values_without_changes():
    now = performance((None, 1234567, 1.0, 3, 2, 1, 1 / 3, 0.125))
    frame = headline_kpis(now, performance())
    assert kpi_table(frame) == [("Leads", "1,234,567", None), ("Reached MQL", "3", None), ("Reached SQL", "2", None),
                                ("Reached customer", "1", None), ("Customer rate", "33.3%", None), ("Win rate", "12.5%", None)]


def test_an_empty_table_gives_no_kpis_with_the_schema():
    frame = headline_kpis(performance(), performance())
    assert frame.height == 0 and frame.schema == pl.Schema(KPI_SCHEMA)


def test_kpis_whose_column_is_missing_are_left_out():
    now = performance((None, 10, 1.0, 5, 4, 2, 0.2, 0.5)).drop("win_rate", "reached_sql")
    frame = headline_kpis(now, now)
    assert frame.get_column("kpi").to_list() == ["Leads", "Reached MQL", "Reached customer", "Customer rate"]
    assert frame.schema == pl.Schema(KPI_SCHEMA)


def test_every_kpi_has_help_and_a_normal_delta_color():
    now = performance((None, 10, 1.0, 5, 4, 2, 0.2, 0.5))
    frame = headline_kpis(now, now)
    assert frame.get_column("kpi").to_list() == [label for label, *_ in KPIS]
    assert frame.get_column("help").to_list() == [help_text for *_, help_text in KPIS]
    assert set(frame.get_column("delta_color")) == {"normal"}


counts = st.integers(min_value=0, max_value=10**7)
rates = st.none() | st.floats(min_value=0, max_value=1, allow_nan=False)


@given(now_leads=counts, old_leads=counts, now_rate=rates, old_rate=rates)
def test_change_texts_follow_the_difference(now_leads, old_leads, now_rate, old_rate):
    now = performance((None, now_leads, 1.0, 0, 0, 0, now_rate, now_rate))
    before = performance((None, old_leads, 1.0, 0, 0, 0, old_rate, old_rate))
    rows = {kpi: (value, change) for kpi, value, change in kpi_table(headline_kpis(now, before))}
    value, change = rows["Leads"]
    assert int(value.replace(",", "")) == now_leads
    assert int(change.replace(",", "")) == now_leads - old_leads
    assert change[0] in "+-"
    value, change = rows["Customer rate"]
    if now_rate is None:
        assert (value, change) == ("–", None)
    else:
        assert value == f"{now_rate:.1%}"
        if old_rate is None:
            assert change is None
        else:
            points = float(change.removesuffix(" pts"))
            assert abs(points - (now_rate - old_rate) * 100) <= 0.05 + 1e-9
            # no "-0.0 pts": a change that rounds to nothing is shown as "+0.0 pts", never as a fall
            assert change != "-0.0 pts"


# ------------------------------------------------------------------------------ stage_changes


def test_stage_changes_given_expect():
    now = distribution(
        (None, "subscriber", 10, 0.1), (None, "lead", 60, 0.6), (None, "mql", 20, 0.2), (None, "sql", 0, 0.0),
        (None, "opportunity", 0, 0.0), (None, "customer", 5, 0.05), (None, "former_customer", 0, 0.0),
        (None, None, 5, 0.05),
        ("Paid", "lead", 60, 1.0),  # a segment row: not part of the total
    )
    before = distribution(
        (None, "subscriber", 12, 0.2), (None, "lead", 40, 0.5), (None, "mql", 21, 0.26),
        (None, "customer", 5, 0.06),
        (None, None, 2, 0.03),
        ("Paid", "lead", 40, 1.0),
    )
    changes = stage_changes(now, before)
    assert changes.columns == ["stage", "leads", "share", "leads_before", "change"]
    assert changes.rows() == [
        ("subscriber", 10, 0.1, 12, -2),
        ("lead", 60, 0.6, 40, 20),
        ("mql", 20, 0.2, 21, -1),
        ("sql", 0, 0.0, 0, 0),             # missing earlier: 0 before
        ("opportunity", 0, 0.0, 0, 0),
        ("customer", 5, 0.05, 5, 0),
        ("former_customer", 0, 0.0, 0, 0),
        ("(no stage yet)", 5, 0.05, 2, 3),
    ]


def test_stage_changes_without_segment_columns_keeps_the_ladder_order():
    order = ["customer", "awareness", "intent"]        # not alphabetical: the order of `now` is kept
    now = pl.DataFrame({"stage": pl.Series(order + [None], dtype=pl.Enum(["customer", "awareness", "intent"])),
                        "leads": [1, 2, 3, 4], "share": [0.1, 0.2, 0.3, 0.4]})
    before = now.reverse().with_columns(pl.col("leads") * 2)
    changes = stage_changes(now, before)
    assert changes.get_column("stage").to_list() == order + ["(no stage yet)"]
    assert changes.get_column("leads_before").to_list() == [2, 4, 6, 8]
    assert changes.get_column("change").to_list() == [-1, -2, -3, -4]


def test_stage_changes_against_an_empty_earlier_table():
    now = distribution((None, "lead", 3, 0.75), (None, None, 1, 0.25))
    changes = stage_changes(now, distribution())
    assert changes.rows() == [("lead", 3, 0.75, 0, 3), ("(no stage yet)", 1, 0.25, 0, 1)]


@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=len(STAGES) + 1,
                max_size=len(STAGES) + 1),
       st.lists(st.booleans(), min_size=len(STAGES) + 1, max_size=len(STAGES) + 1))
def test_changes_add_up(pairs, kept_before):
    stages = [*STAGES, None]
    now = distribution(*[(None, s, n, None) for s, (n, _) in zip(stages, pairs)])
    before = distribution(*[(None, s, b, None) for s, (_, b), keep in zip(stages, pairs, kept_before) if keep])
    changes = stage_changes(now, before)
    assert changes.height == now.height
    assert changes.get_column("stage").to_list() == [*STAGES, "(no stage yet)"]
    assert (changes["leads"] - changes["leads_before"] == changes["change"]).all()
    assert changes["change"].sum() == sum(n for n, _ in pairs) - sum(b for (_, b), k in zip(pairs, kept_before) if k)


def test_the_win_rate_gets_a_caveat_only_when_every_closed_deal_is_won():
    from funnel.display.overview import win_rate_note

    def totals(closed: int, won: int) -> pl.DataFrame:
        return pl.DataFrame({"source": [None, "Paid"], "closed_deals": [closed, 99], "won_deals": [won, 99]},
                            schema={"source": pl.String, "closed_deals": pl.Int64, "won_deals": pl.Int64})

    assert "All 842 closed deals are won" in win_rate_note(totals(842, 842))  # Olist: a wins-only export
    assert win_rate_note(totals(10, 7)) is None
    assert win_rate_note(totals(0, 0)) is None  # no closed deal: no rate, no caveat
    assert win_rate_note(totals(10, 7).clear()) is None
