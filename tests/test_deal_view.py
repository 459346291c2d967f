"""Deals by their account's dimensions: hand-computed win rates, censored cycle lengths, open-deal ages."""

from __future__ import annotations

from datetime import date, datetime

from funnel.analyses.deals import deal_performance
from funnel.config import default_settings
from tests.stores import store

AS_OF = date(2024, 6, 30)


def deals_store():
    return store(
        accounts=[{"account_id": "A", "industry": "Software", "employees": 120},
                  {"account_id": "B", "industry": "Retail", "employees": 8000}],
        deals=[
            {"deal_id": "d1", "account_id": "A", "created_at": datetime(2024, 1, 1), "closed_at": datetime(2024, 1, 11), "won": True, "amount": 100.0},
            {"deal_id": "d2", "account_id": "A", "created_at": datetime(2024, 1, 1), "closed_at": datetime(2024, 1, 31), "won": False, "amount": 50.0},
            {"deal_id": "d3", "account_id": "A", "created_at": datetime(2024, 6, 20), "closed_at": None, "won": None, "amount": 70.0},
            {"deal_id": "d4", "account_id": "B", "created_at": datetime(2024, 3, 1), "closed_at": datetime(2024, 3, 3), "won": True, "amount": 400.0},
            {"deal_id": "d5", "account_id": "B", "created_at": datetime(2024, 3, 1), "closed_at": datetime(2024, 7, 1), "won": True, "amount": 9.0},
            {"deal_id": "d6", "account_id": "B", "created_at": datetime(2024, 7, 5), "closed_at": None, "won": None},
        ])


def test_win_rate_cycle_and_open_age_by_industry():
    table = deal_performance(deals_store(), settings=default_settings(), as_of=AS_OF, by="industry")
    rows = {r["industry"]: r for r in table.iter_rows(named=True)}
    everyone, software, retail = rows[None], rows["Software"], rows["Retail"]
    # d6 does not exist yet at D; d5 closes after D, so it is still open (age 121 days).
    assert (everyone["deals"], everyone["closed"], everyone["won"], everyone["open_deals"]) == (5, 3, 2, 2)
    assert software["win_rate"] == 0.5 and retail["win_rate"] == 1.0
    assert software["won_amount"] == 100.0 and retail["won_amount"] == 400.0
    assert software["median_open_age_days"] == 10 and retail["median_open_age_days"] == 121
    # Software cycles: 10 (closed), 30 (closed), 10 (open, censored at D). Kaplan–Meier: at day 10,
    # 3 at risk, 1 closes → S = 2/3 (the open deal leaves the risk set); at day 30, 1 at risk closes
    # → S = 0. The median is the first day S ≤ 1/2: 30, not the naive 10 of the closed deals alone.
    assert software["median_cycle_days"] == 30
    assert everyone["small_sample"] is True


def test_no_closed_deals_gives_a_null_rate_not_zero():
    table = deal_performance(deals_store(), settings=default_settings(), as_of=date(2024, 1, 5), by="industry")
    assert table.row(0, named=True)["win_rate"] is None


def test_size_bands_come_from_the_account():
    table = deal_performance(deals_store(), settings=default_settings(), as_of=AS_OF, by="size_band")
    assert set(table.get_column("size_band").to_list()) == {None, "51–200", "5001+"}
