"""The monthly review on the three public datasets: Olist by origin, Maven by sector (deals closed
per month equal the raw file's), X Education (no dates: the review says what it needs)."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date

import pytest

from funnel.analyses.monthly import monthly_review
from funnel.cli.main import main
from funnel.config import load_settings
from tests.test_real_data import MAPPINGS, MAVEN, MAVEN_FILES, OLIST_FILES, XED_FILES, imported, needs

SETTINGS = load_settings(None)


@needs(OLIST_FILES)
def test_olist_review_by_origin():
    con, _, _ = imported("olist.toml", OLIST_FILES)
    review = monthly_review(con, settings=SETTINGS, as_of=date(2018, 11, 14), month=date(2018, 3, 1), by="source")
    headline = {row["period"]: row for row in review.headline.iter_rows(named=True)}
    assert headline["current"]["entered_mql"] > 0
    assert "year_ago" not in review.months  # the MQLs start in June 2017: March 2017 is before the data
    health = review.segment_health
    assert health.height and "source" in health.columns
    total = health.filter(health["source"].is_null() & health["change"].is_not_null())
    for row in total.iter_rows(named=True):
        assert row["mix_part"] + row["rate_part"] == pytest.approx(row["change"], abs=1e-12)


@needs(MAVEN_FILES)
def test_maven_deals_closed_per_month_by_sector_match_the_raw_file():
    con, _, _ = imported("maven.toml", MAVEN_FILES)
    review = monthly_review(con, settings=SETTINGS, as_of=date(2017, 12, 31), by="industry")
    assert review.months["current"] == date(2017, 12, 1)
    with open(MAVEN / "sales_pipeline.csv", encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["deal_stage"] in ("Won", "Lost")]
    closed = Counter(r["close_date"][:7] for r in rows)
    won = Counter(r["close_date"][:7] for r in rows if r["deal_stage"] == "Won")
    totals = {row["period"]: row for row in review.deals.filter(review.deals["industry"].is_null()).iter_rows(named=True)}
    assert (totals["current"]["closed"], totals["current"]["won"]) == (closed["2017-12"], won["2017-12"])
    assert (totals["previous"]["closed"], totals["previous"]["won"]) == (closed["2017-11"], won["2017-11"])
    segments = review.deals.filter(review.deals["industry"].is_not_null() & (review.deals["period"] == "current"))
    assert int(segments["closed"].sum()) == closed["2017-12"]  # every deal in exactly one sector


@needs(XED_FILES)
def test_x_education_review_says_it_needs_dates(tmp_path, capsys):
    db = tmp_path / "x.duckdb"
    assert main(["import", "--db", str(db), "--mapping", str(MAPPINGS / "x_education.toml"), *map(str, XED_FILES)]) == 0
    capsys.readouterr()
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "dates" in err and "created_at" in err
    assert not (tmp_path / "r.html").exists()
