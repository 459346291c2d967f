"""Charts fit for reading: crossed segments as a heatmap (rate as colour, leads as text, small samples
grey), fit × intent coloured by later conversion, deciles pooled and intervals cut honestly, Sankey labels
outside the links, aging on a log axis. Given/expect on hand-made frames."""

from __future__ import annotations

import polars as pl

from funnel.charts import ladder as charts
from funnel.charts import matrix as charts_matrix


def crossed() -> pl.DataFrame:
    rate = "reached_customer_rate"
    return pl.DataFrame({
        "source": [None, "Event", "Event", "Paid"], "industry": [None, "Retail", "Software", "Retail"],
        "leads": [300, 150, 20, 130], rate: [0.1, 0.2, 0.5, 0.05], f"{rate}_lo": [0.08, 0.15, 0.3, 0.02],
        f"{rate}_hi": [0.12, 0.27, 0.7, 0.1], f"{rate}_small_sample": [False, False, True, False]})


def test_two_dimensions_draw_a_heatmap_with_small_samples_grey():
    figure = charts.segment_rates_chart(crossed(), by=["source", "industry"])
    grey, rates = figure.data
    assert grey.type == rates.type == "heatmap"
    assert list(rates.y) == ["Event", "Paid"] and list(rates.x) == ["Retail", "Software"]
    assert [list(r) for r in rates.z] == [[0.2, None], [0.05, None]]     # the small cell is not coloured by rate
    assert [list(r) for r in grey.z] == [[None, 1], [None, None]]        # it is grey instead
    assert rates.text[0][0] == "20%<br>150 leads" and rates.text[0][1] == "50%<br>20 leads"
    assert rates.text[1][1] == ""                                         # no such segment


def test_one_dimension_draws_horizontal_bars_best_on_top():
    one = crossed().filter(pl.col("industry").is_null() | (pl.col("industry") == "Retail")).drop("industry")
    figure = charts.segment_rates_chart(one, by=["source"])
    bars = figure.data[0]
    assert bars.orientation == "h" and list(bars.y) == ["Paid", "Event"]   # Plotly draws bottom-up


def test_the_matrix_colour_is_the_later_conversion_not_the_count():
    cells = pl.DataFrame({"quadrant": ["high_fit_high_intent", "high_fit_low_intent", "low_fit_high_intent",
                                       "low_fit_low_intent"],
                          "leads": [71, 1710, 28, 0], "rate": [0.29, 0.01, 0.2, None],
                          "small_sample": [True, False, True, False]})
    heat = charts_matrix.matrix_chart(cells).data[0]
    assert heat.z[1][1] == 0.29 and heat.z[1][0] == 0.01 and heat.z[0][0] is None
    assert heat.zmax == 0.29
    assert "1,710 leads" in heat.text[1][0] and "later conversion 29% (small sample)" in heat.text[1][1]
    assert heat.text[0][0].endswith("0 leads")                           # no rate for an empty cell
    low = cells.with_columns(pl.lit(0.01).alias("rate"))
    assert charts_matrix.matrix_chart(low).data[0].zmax == charts_matrix.MIN_TOP_RATE  # 1% is never dark


def test_deciles_left_empty_by_ties_are_pooled_and_intervals_cut_with_their_end_written():
    deciles = pl.DataFrame({"decile": [1, 5, 10], "leads": [400, 500, 9], "score_min": [0.0, 12.4, 80.0],
                            "score_max": [0.0, 60.2, 95.0], "rate": [0.01, 0.03, 0.2], "low": [0.0, 0.02, 0.05],
                            "high": [0.02, 0.045, 0.55], "small_sample": [False, False, True]})
    figure = charts_matrix.decile_chart(deciles, score="Fit")
    bars = figure.data[0]
    assert list(bars.x) == ["1–4", "5–9", "10"]
    assert [c[3] for c in bars.customdata] == ["0", "12–60", "80–95"]
    top = 0.2 * 1.8
    assert abs(bars.error_y.array[2] - (top - 0.2)) < 1e-9               # cut at the axis top…
    assert [a.text for a in figure.layout.annotations] == ["↑ to 55%"]   # …with its true end written
    assert figure.layout.yaxis.range[1] >= top


def test_sankey_names_sit_outside_the_links():
    flows = pl.DataFrame({"from_stage": [None, "lead", "mql"], "to_stage": ["lead", "mql", "lead"],
                          "moves": [100, 40, 5], "direction": ["start", "up", "down"]})
    figure = charts.stage_flow_sankey(flows)
    assert set(figure.data[0].node.label) == {""}
    texts = {a.text: (a.x, a.xanchor) for a in figure.layout.annotations}
    assert texts["New leads 100"] == (0, "right") and texts["Lead 40"] == (0, "right")
    assert texts["Lead 105"] == (1, "left") and texts["MQL 40"] == (1, "left")


def test_aging_uses_a_log_axis_with_counts_written():
    buckets = pl.DataFrame({"stage": ["mql", "mql", "sql"], "bucket": ["0–7", "90+", "90+"], "leads": [3, 7000, 0]})
    figure = charts.aging_histogram(buckets)
    assert figure.layout.yaxis.type == "log"
    assert [t.name for t in figure.data] == ["MQL"] and list(figure.data[0].text) == ["3", "7,000"]
