"""The funnel functions the thin pages call instead of computing themselves: the store's version and
counts, uploads, one lead's card, the Overview's comparison date, the segment table's stages and rate
columns, the handoff line and the settings summary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from funnel.analyses import analysis_inputs, lead_deals, reported_stages, segment_performance_of
from funnel.analyses.lead_search import lead_card
from funnel.config import default_settings
from funnel.display.handoff import handoff_details, handoff_segments
from funnel.display.lead import lead_view, readable_card
from funnel.display.overview import COMPARISON_DAYS, comparison_filters, has_no_leads
from funnel.display.rules import settings_summary, version_text
from funnel.display.segments import chartable_rates, percent_columns, segment_label
from funnel.errors import FunnelError
from funnel.filters import Filters
from funnel.ingest.importer import remove_import
from funnel.ingest.upload import HEAD_ROWS, checked_upload, column_sources, load_bundled_sample, mapping_error
from funnel.model.identity import rebuild_identity
from funnel.model.scoring import leads_report
from funnel.store.db import connect
from funnel.store.inventory import import_history
from funnel.store.settings_versions import save_version, saved_versions
from funnel.store.status import active_import_ids, data_version, import_count, saved_settings_text

FILES = ("accounts.csv", "leads.csv", "stage_events.csv", "activities.csv", "deals.csv")


@pytest.fixture(scope="module")
def sample_store(sample_files, tmp_path_factory):
    """The 300-lead sample loaded as the dashboard's first start loads it."""
    con = connect(tmp_path_factory.mktemp("sections") / "funnel.duckdb")
    folder = sample_files["leads"].parent
    load_bundled_sample(con, folder, FILES, settings=default_settings(), label="sample data")
    rebuild_identity(con)
    yield con
    con.close()


def test_the_data_version_moves_with_imports_removals_and_saved_settings(sample_files, tmp_path):
    con = connect(tmp_path / "v.duckdb")
    assert data_version(con) == (0, 0) and import_count(con) == 0 and saved_settings_text(con) == ""
    load_bundled_sample(con, sample_files["leads"].parent, ("leads.csv", "missing.csv"),
                        settings=default_settings(), label="sample data")
    assert data_version(con) == (1, 0)
    assert import_count(con) == 1 and import_count(con, mapping="sample data") == 1
    assert import_count(con, mapping="another") == 0
    save_version(con, "[conversion]\nwindow_days = 45\n", note="shorter")
    assert data_version(con) == (1, 1) and saved_settings_text(con) == "[conversion]\nwindow_days = 45\n"
    remove_import(con, 1)
    assert data_version(con) == (1, 100001)
    assert import_count(con) == 1 and import_count(con, mapping="sample data") == 0
    assert active_import_ids(import_history(con)) == []


def test_an_upload_is_checked_or_says_why_not(sample_files):
    data = sample_files["leads"].read_bytes()
    checked = checked_upload(data, "leads.csv", mapping_text="", table=None, settings=default_settings())
    assert not isinstance(checked, FunnelError)
    assert checked.table == "leads" and checked.rows == 300
    assert checked.head.height == HEAD_ROWS and "attributes" not in checked.head.columns  # the rows stay in the worker
    assert checked.analysis.columns == ["analysis", "after this mapping", "still missing"]
    sources = column_sources(checked)
    assert sources.columns == ["canonical column", "from export column"]
    assert dict(sources.iter_rows())["lead_id"] == "lead_id"
    broken = checked_upload(b"\x00\x01not a table", "x.csv", mapping_text="", table=None, settings=default_settings())
    assert isinstance(broken, FunnelError)
    assert mapping_error("not = [valid", source="m.toml") is not None


def test_one_leads_card_is_its_row_of_the_report_computed_alone(sample_store):
    settings = default_settings()
    for as_of in (date(2026, 10, 31), date(2025, 6, 30)):
        report = leads_report(sample_store, settings=settings, as_of=as_of)
        ids = report.get_column("lead_id").to_list()
        assert ids
        for lead_id in [*ids[:5], *ids[-5:], *ids[::37]]:
            row = report.filter(pl.col("lead_id") == lead_id).row(0, named=True)
            view = lead_view(sample_store, lead_id, settings=settings, as_of=as_of)
            assert view.card.equals(readable_card(row))
            assert view.card.height == lead_card(row).height
            assert view.fit_text.startswith(f"Fit score: {row['fit_score']} ")
            assert view.intent_text.startswith(f"Intent score: {row['intent_score']:.1f} ")
    newest = report.sort("lead_id").get_column("lead_id")[-1]
    assert lead_view(sample_store, "no such lead", settings=settings, as_of=date(2026, 10, 31)) is None
    assert lead_view(sample_store, newest, settings=settings, as_of=date(2020, 1, 1)) is None


def test_the_overview_compares_with_30_days_earlier():
    filters = Filters(as_of=date(2026, 3, 1), ladder="funnel", period_start=date(2026, 1, 1))
    earlier = comparison_filters(filters)
    assert COMPARISON_DAYS == 30
    assert earlier == Filters(as_of=date(2026, 1, 30), ladder="funnel", period_start=date(2026, 1, 1))
    assert has_no_leads(pl.DataFrame({"leads": [0]})) and not has_no_leads(pl.DataFrame({"leads": [3]}))
    assert not has_no_leads(pl.DataFrame({"leads": []}, schema={"leads": pl.Int64}))


@pytest.mark.parametrize("ladder", ["lifecycle", "funnel"])
@pytest.mark.parametrize("by", [(), ("source",), ("source", "industry")])
def test_the_segment_tables_stages_are_the_reported_stages(sample_store, ladder, by):
    inputs = analysis_inputs(sample_store, Filters(as_of=date(2026, 10, 31), ladder=ladder),
                             settings=default_settings(), by=by or None)
    table = segment_performance_of(inputs, lead_deals(sample_store, as_of=date(2026, 10, 31)))
    stages = reported_stages(inputs)
    assert [f"reached_{s}" for s in stages] == [c for c in table.columns if c in {f"reached_{s}" for s in stages}]
    rates, default = chartable_rates(table)
    assert rates[default] == "reached_customer_rate" and "win_rate" in rates
    assert {"share", "reached_customer_rate", "reached_customer_rate_lo", "win_rate_hi"} <= set(percent_columns(table))
    row = table.row(min(1, table.height - 1), named=True)
    assert segment_label(table.row(0, named=True), by) == "all leads"
    assert segment_label(row, by) == (" / ".join(str(row[d]) for d in by) if by else "all leads")


def test_the_handoff_line_and_table_as_shown():
    settings = default_settings()
    total = {"acceptance_rate_lo": 0.5316, "acceptance_rate_hi": 0.601, "small_sample": False,
             "speed_to_lead_p90_hours": 272.84}
    line = handoff_details(total, settings)
    assert line.startswith("acceptance 95% interval: 53%–60%  ·  p90 speed-to-lead: 272.8 hours  ·  ")
    assert f"conversion window: {settings.conversion.window_days} days" in line
    empty = handoff_details({**total, "acceptance_rate_lo": None, "small_sample": True,
                             "speed_to_lead_p90_hours": None}, settings)
    assert empty.startswith("acceptance 95% interval: – (small sample)  ·  p90 speed-to-lead: not reached")
    shown = handoff_segments(pl.DataFrame({"segment": [None, "Event"], "mqls": [3, 1]}))
    assert shown.get_column("segment").to_list() == ["(all MQLs)", "Event"]
    review = pl.DataFrame({"segment": [None, "Event"], "mqls": [8, 1], "acceptance_rate": [0.5, None],
                           "acceptance_rate_lo": [0.2152, None], "acceptance_rate_hi": [0.7848, None]})
    shown = handoff_segments(review)
    assert shown.columns == ["segment", "mqls", "Acceptance (95% interval)"]
    assert shown.get_column("Acceptance (95% interval)").to_list() == ["50.0% (21.5–78.5)", "–"]


def test_the_settings_summary_and_a_saved_versions_text(tmp_path: Path):
    settings = default_settings()
    summary = dict(settings_summary(settings).iter_rows())
    assert summary["conversion window (days)"] == str(settings.conversion.window_days)
    assert summary["lifecycle ladder"] == " → ".join(settings.ladders.lifecycle)
    con = connect(tmp_path / "s.duckdb")
    save_version(con, "[conversion]\nwindow_days = 45\n")
    save_version(con, "[conversion]\nwindow_days = 60\n")
    assert version_text(saved_versions(con), 1) == "[conversion]\nwindow_days = 45\n"


def test_the_sla_line_and_the_rows_stored(sample_store):
    from dataclasses import replace

    from funnel.display.aging import sla_text
    from funnel.store.inventory import data_inventory
    from funnel.store.status import stored_rows

    settings = default_settings()
    assert sla_text(replace(settings, aging=replace(settings.aging, sla_days={}))) is None
    assert sla_text(replace(settings, aging=replace(settings.aging, sla_days={"mql": 5, "sql": 14}))) \
        == "SLAs (days): MQL 5, SQL 14"
    inventory = data_inventory(sample_store)
    assert stored_rows(inventory) == sum(inventory.get_column("rows").to_list()) > 300
