"""The readable segment table: rate text with its interval, verdicts, the everyone row first."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from funnel.display.segments import rate_prefixes, readable_deals, readable_segments, total_named

SUFFIXES = ("", "_lo", "_hi", "_p_value", "_q_value", "_significant", "_small_sample")


def performance(by: tuple[str, ...], rows: list[dict], *, stages: tuple[str, ...] = ("mql", "customer")) -> pl.DataFrame:
    """A `segment_performance`-shaped table. Each row gives its segment values (missing = null, the total),
    leads, share and per rate `<prefix>`: (rate, lo, hi, significant, small_sample); the rest is filled in."""
    prefixes = [f"reached_{s}_rate" for s in stages] + ["win_rate"]
    schema: dict[str, pl.DataType] = {d: pl.String for d in by}
    schema |= {"leads": pl.Int64, "share": pl.Float64, "small_sample": pl.Boolean}
    for stage, prefix in zip([*stages, None], prefixes):
        if stage is None:
            schema |= {"closed_deals": pl.Int64, "won_deals": pl.Int64}
        else:
            schema[f"reached_{stage}"] = pl.Int64
        for suffix in SUFFIXES:
            schema[prefix + suffix] = pl.Boolean if suffix in ("_significant", "_small_sample") else pl.Float64
    schema |= {"median_days_to_customer": pl.Int64, "won_amount": pl.Float64}
    records = []
    for row in rows:
        record = {c: None for c in schema}
        record.update({d: row.get(d) for d in by})
        record.update(leads=row["leads"], share=row["share"], small_sample=row["leads"] < 30,
                      median_days_to_customer=row.get("median"), won_amount=row.get("won", 0.0))
        for prefix in prefixes:
            rate, lo, hi, significant, small = row.get(prefix, (None, None, None, None, False))
            record.update({prefix: rate, f"{prefix}_lo": lo, f"{prefix}_hi": hi,
                           f"{prefix}_significant": significant, f"{prefix}_small_sample": small})
        records.append(record)
    return pl.DataFrame(records, schema=schema)


TOTAL = {"leads": 1000, "share": 1.0, "median": 120, "won": 123456.7,
         "reached_mql_rate": (0.265, 0.249, 0.281, None, False),
         "reached_customer_rate": (0.05, 0.038, 0.065, None, False),
         "win_rate": (0.3, 0.2, 0.41, None, False)}
PAID = {"source": "Paid", "leads": 600, "share": 0.6, "median": 90, "won": 100000.4,
        "reached_mql_rate": (0.35, 0.312, 0.39, True, False),
        "reached_customer_rate": (0.05, 0.035, 0.07, False, False),
        "win_rate": (None, None, None, None, True)}
EVENT = {"source": "Event", "leads": 380, "share": 0.38, "median": None, "won": 23456.3,
         "reached_mql_rate": (0.1, 0.074, 0.134, True, False),
         "reached_customer_rate": (0.021, 0.0107, 0.041, True, False),
         "win_rate": (0.25, 0.1, 0.5, False, True)}
PARTNER = {"source": "Partner", "leads": 20, "share": 0.02,
           "reached_mql_rate": (0.9, 0.699, 0.972, True, True),
           "reached_customer_rate": (0.0, 0.0, 0.161, False, True),
           "win_rate": (1.0, 0.207, 1.0, False, True)}


def test_rate_prefixes_in_order():
    table = performance(("source",), [TOTAL], stages=("mql", "sql", "opportunity", "customer"))
    assert rate_prefixes(table) == ["reached_mql_rate", "reached_sql_rate", "reached_opportunity_rate",
                                    "reached_customer_rate", "win_rate"]


def test_rate_prefixes_need_an_interval():
    table = performance(("source",), [TOTAL]).with_columns(pl.lit(0.5).alias("conversion_rate"))
    assert "conversion_rate" not in rate_prefixes(table)


def test_readable_segments_given_expect():
    table = performance(("source",), [TOTAL, EVENT, PAID, PARTNER])
    readable = readable_segments(table, by=("source",))
    assert readable.columns == ["source", "leads", "share", "→ MQL", "→ MQL vs rest", "→ Customer",
                                "→ Customer vs rest", "Win rate", "Win rate vs rest", "median_days_to_customer",
                                "won_amount"]
    assert readable.rows() == [
        ("everyone", 1000, 1.0, "26.5% (24.9–28.1)", "", "5.0% (3.8–6.5)", "", "30.0% (20.0–41.0)", "",
         120, 123457.0),
        ("Event", 380, 0.38, "10.0% (7.4–13.4)", "lower", "2.1% (1.1–4.1)", "lower", "25.0% (10.0–50.0)",
         "small sample", None, 23456.0),
        ("Paid", 600, 0.6, "35.0% (31.2–39.0)", "higher", "5.0% (3.5–7.0)", "", "–", "small sample", 90, 100000.0),
        ("Partner", 20, 0.02, "90.0% (69.9–97.2)", "small sample", "0.0% (0.0–16.1)", "small sample",
         "100.0% (20.7–100.0)", "small sample", None, 0.0),
    ]


def test_two_crossed_dimensions_label_the_total_row_everyone():
    rows = [TOTAL, {**PAID, "industry": "Software"}, {**EVENT, "industry": "Retail"}]
    readable = readable_segments(performance(("source", "industry"), rows), by=("source", "industry"))
    assert readable.select("source", "industry").rows() == [("everyone", ""), ("Paid", "Software"),
                                                            ("Event", "Retail")]


def test_without_a_segment_the_one_row_is_everyone():
    table = performance((), [TOTAL])
    readable = readable_segments(table, by=())
    assert readable.columns[:3] == ["segment", "leads", "share"]
    assert readable.row(0)[:4] == ("everyone", 1000, 1.0, "26.5% (24.9–28.1)")


def test_no_verdict_when_the_overall_rate_is_undefined():
    total = {**TOTAL, "win_rate": (None, None, None, None, False)}
    paid = {**PAID, "win_rate": (0.5, 0.3, 0.7, True, False)}
    readable = readable_segments(performance(("source",), [total, paid]), by=("source",))
    assert readable.select("Win rate", "Win rate vs rest").rows() == [("–", ""), ("50.0% (30.0–70.0)", "")]


def test_a_stage_named_like_win_keeps_its_name():
    table = performance(("source",), [TOTAL], stages=("mql", "winback"))
    readable = readable_segments(table, by=("source",))
    assert [c for c in readable.columns if not c.endswith(" vs rest")][3:6] == ["→ MQL", "→ Winback", "Win rate"]


unit = st.floats(min_value=0, max_value=1, allow_nan=False)


@given(st.lists(st.tuples(unit, unit, unit, st.booleans(), st.booleans()), min_size=1, max_size=6), unit)
def test_text_and_verdict_follow_the_numbers(cases, overall):
    rows = [{**TOTAL, "reached_mql_rate": (overall, overall, overall, None, False)}]
    for i, (a, b, c, significant, small) in enumerate(cases):
        lo, rate, hi = sorted((a, b, c))
        rows.append({"source": f"s{i}", "leads": 100, "share": 0.1,
                     "reached_mql_rate": (rate, lo, hi, significant, small)})
    readable = readable_segments(performance(("source",), rows), by=("source",))
    assert readable.height == len(rows)
    assert readable.get_column("source")[0] == "everyone"
    for (a, b, c, significant, small), text, verdict in zip(
            cases, readable.get_column("→ MQL")[1:], readable.get_column("→ MQL vs rest")[1:]):
        lo, rate, hi = sorted((a, b, c))
        shown, interval = text.split("% (")
        low_text, high_text = interval.removesuffix(")").split("–")
        # one decimal of a percent; a value on the half (1.15 %) may round either way in binary floats
        for text_value, value in zip((shown, low_text, high_text), (rate, lo, hi), strict=True):
            assert abs(float(text_value) - value * 100) <= 0.05 + 1e-9
        if small:
            assert verdict == "small sample"
        elif significant and rate > overall:
            assert verdict == "higher"
        elif significant and rate < overall:
            assert verdict == "lower"
        else:
            assert verdict == ""


def test_readable_deals_names_the_total_row_and_puts_the_win_rate_interval_in_one_text():
    deals = pl.DataFrame({
        "industry": [None, "Retail", "(unknown)", "Media"], "deals": [20, 12, 5, 3], "closed": [10, 8, 2, 0],
        "won": [4, 3, 1, 0], "win_rate": [0.4, 0.375, 0.5, None], "win_rate_lo": [0.168, 0.137, 0.095, None],
        "win_rate_hi": [0.687, 0.694, 0.905, None], "small_sample": [True, True, True, None],
        "median_cycle_days": [40.0, 38.0, None, None], "p80_cycle_days": [60.0, 55.0, None, None],
        "open_deals": [10, 4, 3, 3], "median_open_age_days": [12.0, 10.0, 20.0, 5.0], "won_amount": [900.0, 700.0, 200.0, 0.0]})
    shown = readable_deals(deals, by="industry")
    assert shown.get_column("industry").to_list() == ["everyone", "Retail", "(unknown)", "Media"]
    assert shown.get_column("Win rate (95% interval)").to_list() == [
        "40.0% (16.8–68.7)", "37.5% (13.7–69.4)", "50.0% (9.5–90.5)", "–"]
    assert "win_rate_lo" not in shown.columns and "win_rate_hi" not in shown.columns
    assert shown.drop("industry", "Win rate (95% interval)").equals(
        deals.drop("industry", "win_rate", "win_rate_lo", "win_rate_hi"))


def test_total_named_names_only_the_total_row_and_keeps_rows_and_order():
    frame = pl.DataFrame({"source": [None, "web", None, "ads"], "industry": [None, None, "x", "y"], "leads": [4, 1, 2, 3]})
    named = total_named(frame, ["source", "industry"])
    assert named.get_column("source").to_list() == ["everyone", "web", "everyone", "ads"]
    assert named.get_column("industry").to_list() == ["", "", "x", "y"]
    assert named.get_column("leads").equals(frame.get_column("leads"))
    assert total_named(frame, []).equals(frame)
