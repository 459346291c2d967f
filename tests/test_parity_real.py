"""Issue 12's real-data details on the public datasets: Olist's customers now (841) and reached (842), told
apart, with the only-wins caveat; X Education imported without a mapping still gets `funnel metrics` by "Lead Origin";
Maven's deals by an account attribute. Skipped, with the path, when the datasets are absent."""

from __future__ import annotations

import json
from datetime import date

import polars as pl

from funnel.analyses.deals import deal_dimension_named, deal_performance
from funnel.analyses.distribution import stage_distribution_of
from funnel.analyses.inputs import analysis_inputs
from funnel.analyses.report import UNDATED_NOTE, metrics_report
from funnel.analyses.segments import lead_deals, segment_performance_of
from funnel.cli.main import main
from funnel.config import default_settings
from funnel.filters import Filters
from funnel.model.history import UNKNOWN
from funnel.model.matrix import fit_data_note
from tests.test_real_data import MAVEN_FILES, OLIST_FILES, XED_FILES, maven, needs, olist  # noqa: F401

SETTINGS = default_settings()
OLIST_DAY = date(2018, 11, 14)


@needs(OLIST_FILES)
def test_olist_customers_now_and_reached_differ_by_the_one_impossible_sequence_and_the_deals_are_only_wins(
        olist):  # noqa: F811
    con = olist[0]
    inputs = analysis_inputs(con, Filters(as_of=OLIST_DAY), settings=SETTINGS)
    now = stage_distribution_of(inputs).filter(pl.col("stage") == "customer").get_column("leads").sum()
    reached = segment_performance_of(inputs, lead_deals(con, as_of=OLIST_DAY)).get_column("reached_customer")[0]
    assert (now, reached) == (841, 842)  # one lead's CRM recorded a first contact two days after the win
    report = metrics_report(con, Filters(as_of=OLIST_DAY), settings=SETTINGS, by="source")
    assert any(n.startswith("All 842 closed deals are won") for n in report["notes"])
    sources = [r["segment"] for r in report["segments"] if r["segment"] is not None]
    assert "unknown" not in sources and "" not in sources and sources.count(UNKNOWN) == 1
    unknown = next(r["leads"] for r in report["segments"] if r["segment"] == UNKNOWN)
    assert unknown == 60 + 1099  # empty origin and "unknown" origin: one segment
    assert fit_data_note(con, settings=SETTINGS, as_of=OLIST_DAY).startswith(
        "Fit cannot be computed: none of the 8,000 leads")


@needs(MAVEN_FILES)
def test_maven_deals_by_an_account_attribute(maven):  # noqa: F811
    con = maven[0]
    by = deal_dimension_named(con, "Year Established")
    assert by == "attr:year_established"
    table = deal_performance(con, settings=SETTINGS, as_of=date(2017, 12, 31), by=by)
    everyone = table.row(0, named=True)
    assert everyone[by] is None and everyone["won"] == 4238
    assert table.filter(pl.col(by).is_not_null()).get_column("deals").sum() == everyone["deals"]


@needs(XED_FILES)
def test_x_education_without_a_mapping_gets_the_undated_metrics_by_lead_origin(tmp_path, capsys):
    db = tmp_path / "xed.duckdb"
    assert main(["import", "--db", str(db), str(XED_FILES[0])]) == 0
    capsys.readouterr()
    assert main(["metrics", "--db", str(db), "--by", "Lead Origin"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["as_of"] is None and UNDATED_NOTE in report["notes"]
    leads = {r["segment"]: r["leads"] for r in report["segments"]}
    assert leads == {None: 9240, "API": 3580, "Landing Page Submission": 4886, "Lead Add Form": 718,
                     "Lead Import": 55, "Quick Add Form": 1}
