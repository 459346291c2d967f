"""The sample generator: canonical shape, integrity, determinism, and the patterns it must show."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import polars as pl
import pytest

from funnel import schema as sc
from funnel.ingest.sample import SAMPLE_TABLES, sample_tables, write_sample

N = 5_000
END = date(2026, 10, 31)
END_OF_DAY = datetime.combine(END, time(23, 59, 59))
TABLES = {t.name: t for t in (sc.LEADS, sc.ACCOUNTS, sc.ACTIVITIES, sc.STAGE_EVENTS, sc.DEALS)}
ACTIVE = ("subscriber", "lead", "mql")


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return sample_tables(leads=N, seed=7)


@pytest.fixture(scope="module")
def meaningful(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    acts = tables[sc.ACTIVITIES.name]
    return acts.filter(pl.col(sc.ACTIVITY_TYPE) != "email_open").select(sc.LEAD_ID, sc.OCCURRED_AT)


def reached(tables: dict[str, pl.DataFrame], stage: str) -> pl.DataFrame:
    """Lead ids that ever entered `stage`, with the first entry time."""
    ev = tables[sc.STAGE_EVENTS.name]
    return ev.filter(pl.col(sc.STAGE) == stage).group_by(sc.LEAD_ID).agg(pl.col(sc.ENTERED_AT).min())


# ---- shape ---------------------------------------------------------------------------------------
def test_returns_the_five_tables_with_canonical_columns_and_dtypes(tables: dict[str, pl.DataFrame]) -> None:
    assert tuple(tables) == SAMPLE_TABLES
    assert set(tables) == set(TABLES)
    for name, frame in tables.items():
        table = TABLES[name]
        assert frame.height > 0, name
        assert sc.ATTRIBUTES not in frame.columns
        for col, dtype in frame.schema.items():
            assert col in table.column_names, f"{name}.{col} is not canonical"
            assert dtype == table.column(col).dtype, f"{name}.{col}: {dtype} != {table.column(col).dtype}"
        assert set(table.required) <= set(frame.columns), name


def test_sizes(tables: dict[str, pl.DataFrame]) -> None:
    assert tables[sc.LEADS.name].height == N
    assert N / 5 <= tables[sc.ACCOUNTS.name].height <= N / 3
    per_lead = tables[sc.ACTIVITIES.name].height / N
    assert 8.5 <= per_lead <= 11.5


def test_keys_are_unique_and_well_formed(tables: dict[str, pl.DataFrame]) -> None:
    leads, accounts = tables[sc.LEADS.name], tables[sc.ACCOUNTS.name]
    assert leads[sc.LEAD_ID].is_unique().all()
    assert leads[sc.LEAD_ID].str.contains(r"^L\d{7}$").all()
    assert leads[sc.LEAD_ID][0] == "L0000001"
    assert accounts[sc.ACCOUNT_ID].is_unique().all()
    assert accounts[sc.DOMAIN].is_unique().all()
    assert tables[sc.DEALS.name][sc.DEAL_ID].str.contains(r"^D\d{7}$").all()
    assert tables[sc.DEALS.name][sc.DEAL_ID].is_unique().all()
    assert tables[sc.ACTIVITIES.name][sc.ACTIVITY_ID].is_unique().all()


def test_vocabularies_are_canonical(tables: dict[str, pl.DataFrame]) -> None:
    acts, ev = tables[sc.ACTIVITIES.name], tables[sc.STAGE_EVENTS.name]
    assert set(acts[sc.ACTIVITY_TYPE].unique()) <= set(sc.CANONICAL_ACTIVITY_TYPES)
    assert set(ev[sc.LADDER].unique()) == {sc.LIFECYCLE}
    stages = set(sc.LIFECYCLE_STAGES + sc.LIFECYCLE_SIDE_STAGES)
    assert set(ev[sc.STAGE].unique()) <= stages
    assert set(tables[sc.LEADS.name][sc.LIFECYCLE_STAGE].unique()) <= stages
    assert {"former_customer", "customer", "opportunity", "sql", "mql", "lead", "subscriber"} <= set(
        ev[sc.STAGE].unique())


def test_firmographics_live_on_accounts(tables: dict[str, pl.DataFrame]) -> None:
    leads, accounts = tables[sc.LEADS.name], tables[sc.ACCOUNTS.name]
    assert leads[sc.INDUSTRY].null_count() == N
    assert leads[sc.EMPLOYEES].null_count() == N
    assert accounts[sc.INDUSTRY].n_unique() >= 7
    employees = accounts[sc.EMPLOYEES]
    for lo, hi in ((1, 50), (51, 200), (201, 1000), (1001, 5000), (5001, 10**9)):
        assert employees.is_between(lo, hi).any(), (lo, hi)
    assert accounts[sc.COUNTRY].n_unique() >= 8


# ---- integrity -----------------------------------------------------------------------------------
def test_referential_integrity(tables: dict[str, pl.DataFrame]) -> None:
    lead_ids = tables[sc.LEADS.name].select(sc.LEAD_ID)
    account_ids = tables[sc.ACCOUNTS.name].select(sc.ACCOUNT_ID)
    for name in (sc.ACTIVITIES.name, sc.STAGE_EVENTS.name, sc.DEALS.name):
        orphans = tables[name].join(lead_ids, on=sc.LEAD_ID, how="anti")
        assert orphans.height == 0, name
    for name in (sc.LEADS.name, sc.DEALS.name):
        orphans = tables[name].join(account_ids, on=sc.ACCOUNT_ID, how="anti")
        assert orphans.height == 0, name
    leads = tables[sc.LEADS.name]
    assert leads[sc.ACCOUNT_ID].null_count() == 0
    deal_accounts = tables[sc.DEALS.name].join(leads.select(sc.LEAD_ID, pl.col(sc.ACCOUNT_ID).alias("lead_acc")),
                                               on=sc.LEAD_ID)
    assert (deal_accounts[sc.ACCOUNT_ID] == deal_accounts["lead_acc"]).all()


def test_lifecycle_stage_is_the_latest_stage_event(tables: dict[str, pl.DataFrame]) -> None:
    ev = tables[sc.STAGE_EVENTS.name]
    assert ev.select(sc.LEAD_ID, sc.ENTERED_AT).is_duplicated().sum() == 0  # no ties within a lead
    latest = ev.sort(sc.LEAD_ID, sc.ENTERED_AT).group_by(sc.LEAD_ID).agg(pl.col(sc.STAGE).last())
    joined = tables[sc.LEADS.name].join(latest, on=sc.LEAD_ID, how="left")
    assert joined[sc.STAGE].null_count() == 0  # every lead has a history
    assert (joined[sc.LIFECYCLE_STAGE] == joined[sc.STAGE]).all()


def test_stage_history_starts_at_creation(tables: dict[str, pl.DataFrame]) -> None:
    ev = tables[sc.STAGE_EVENTS.name]
    first = ev.sort(sc.LEAD_ID, sc.ENTERED_AT).group_by(sc.LEAD_ID).agg(
        pl.col(sc.STAGE).first(), pl.col(sc.ENTERED_AT).first())
    joined = tables[sc.LEADS.name].join(first, on=sc.LEAD_ID)
    assert (joined[sc.ENTERED_AT] == joined[sc.CREATED_AT]).all()
    assert set(joined[sc.STAGE].unique()) == {"subscriber", "lead"}
    assert ev[sc.ENTERED_AT].max() <= END_OF_DAY


def test_activities_are_between_creation_and_end(tables: dict[str, pl.DataFrame]) -> None:
    acts = tables[sc.ACTIVITIES.name].join(
        tables[sc.LEADS.name].select(sc.LEAD_ID, pl.col(sc.CREATED_AT).alias("created")), on=sc.LEAD_ID)
    assert (acts[sc.OCCURRED_AT] >= acts["created"]).all()
    assert acts[sc.OCCURRED_AT].max() <= END_OF_DAY
    leads = tables[sc.LEADS.name]
    assert leads[sc.CREATED_AT].min() >= datetime.combine(END - timedelta(days=730), time())
    assert leads[sc.CREATED_AT].max() <= END_OF_DAY
    assert tables[sc.ACTIVITIES.name][sc.OCCURRED_AT].is_sorted()


def test_last_engagement_is_the_last_meaningful_activity(tables: dict[str, pl.DataFrame],
                                                         meaningful: pl.DataFrame) -> None:
    last = meaningful.group_by(sc.LEAD_ID).agg(pl.col(sc.OCCURRED_AT).max().alias("last"))
    joined = tables[sc.LEADS.name].join(last, on=sc.LEAD_ID, how="left")
    assert (joined[sc.LAST_ENGAGEMENT_AT].eq_missing(joined["last"])).all()


def test_other_end_date_moves_the_whole_history() -> None:
    end = date(2025, 6, 30)
    t = sample_tables(leads=300, seed=3, activities_per_lead=4.0, end=end)
    assert t[sc.ACTIVITIES.name][sc.OCCURRED_AT].max() <= datetime.combine(end, time(23, 59, 59))
    assert t[sc.LEADS.name][sc.CREATED_AT].min() >= datetime.combine(end - timedelta(days=730), time())
    assert 3.0 <= t[sc.ACTIVITIES.name].height / 300 <= 5.0


# ---- determinism ---------------------------------------------------------------------------------
def test_same_seed_same_frames(tables: dict[str, pl.DataFrame]) -> None:
    again = sample_tables(leads=N, seed=7)
    for name, frame in tables.items():
        assert frame.equals(again[name], null_equal=True), name


def test_other_seed_other_frames(tables: dict[str, pl.DataFrame]) -> None:
    other = sample_tables(leads=N, seed=8)
    assert not other[sc.LEADS.name].equals(tables[sc.LEADS.name])


def test_write_sample_is_byte_identical(tmp_path) -> None:
    a = write_sample(tmp_path / "a", leads=400, seed=11)
    b = write_sample(tmp_path / "b", leads=400, seed=11)
    assert sorted(p.name for p in a.values()) == sorted(f"{t}.csv" for t in SAMPLE_TABLES)
    for table, path in a.items():
        assert path.read_bytes() == b[table].read_bytes(), table
    leads = pl.read_csv(a[sc.LEADS.name], infer_schema=False)
    assert leads.height == 400
    assert leads.columns == list(sample_tables(leads=1)[sc.LEADS.name].columns)


def test_write_sample_parquet_round_trips(tmp_path) -> None:
    paths = write_sample(tmp_path, leads=300, seed=5, fmt="parquet")
    frames = sample_tables(leads=300, seed=5)
    for table, path in paths.items():
        assert path.suffix == ".parquet"
        assert pl.read_parquet(path).equals(frames[table], null_equal=True), table


def test_bad_arguments_are_rejected(tmp_path) -> None:
    with pytest.raises(ValueError):
        sample_tables(leads=0)
    with pytest.raises(ValueError):
        write_sample(tmp_path, leads=10, fmt="xlsx")


# ---- the patterns the product exists to reveal ----------------------------------------------------
def test_conversion_differs_by_source(tables: dict[str, pl.DataFrame]) -> None:
    customers = reached(tables, "customer").select(sc.LEAD_ID, pl.lit(True).alias("won"))
    rates = (tables[sc.LEADS.name].join(customers, on=sc.LEAD_ID, how="left")
             .group_by(sc.SOURCE).agg(pl.len(), pl.col("won").fill_null(False).mean().alias("rate")))
    assert rates.height == 7
    by_source = dict(zip(rates[sc.SOURCE], rates["rate"]))
    assert max(by_source.values()) >= 1.5 * min(by_source.values())
    assert by_source["Referral"] > by_source["Paid search"] * 2
    volume = dict(zip(rates[sc.SOURCE], rates["len"]))
    assert volume["Paid search"] == max(volume.values())


def test_conversion_differs_by_company_size(tables: dict[str, pl.DataFrame]) -> None:
    opp = reached(tables, "opportunity").select(sc.LEAD_ID, pl.lit(True).alias("opp"))
    accounts = tables[sc.ACCOUNTS.name].select(sc.ACCOUNT_ID, sc.EMPLOYEES)
    leads = (tables[sc.LEADS.name].drop(sc.EMPLOYEES)  # firmographics live on accounts
             .join(accounts, on=sc.ACCOUNT_ID).join(opp, on=sc.LEAD_ID, how="left"))
    rate = pl.col("opp").fill_null(False).cast(pl.Float64).mean()
    small = leads.filter(pl.col(sc.EMPLOYEES) <= 50).select(rate).item()
    mid = leads.filter(pl.col(sc.EMPLOYEES).is_between(201, 5000)).select(rate).item()
    assert mid >= 1.5 * small


def test_seasonality(tables: dict[str, pl.DataFrame]) -> None:
    months = tables[sc.LEADS.name].group_by(pl.col(sc.CREATED_AT).dt.strftime("%Y-%m").alias("m")).len()
    count = dict(zip(months["m"], months["len"]))
    assert count["2026-01"] > 1.3 * count["2026-07"]
    assert count["2026-10"] > count["2024-11"]  # growth


def test_intent_evidence_precedes_sql(tables: dict[str, pl.DataFrame]) -> None:
    intent = ("pricing_page_view", "demo_request", "trial_signup", "trial_activity", "contact_form",
              "implementation_page_view", "meeting_booked")
    sql = reached(tables, "sql")
    evidence = (tables[sc.ACTIVITIES.name].filter(pl.col(sc.ACTIVITY_TYPE).is_in(intent))
                .join(sql, on=sc.LEAD_ID).filter(pl.col(sc.OCCURRED_AT) <= pl.col(sc.ENTERED_AT))
                .select(sc.LEAD_ID).unique())
    assert evidence.height >= 0.9 * sql.height


def test_speed_to_lead_varies_and_some_handoffs_are_slow(tables: dict[str, pl.DataFrame]) -> None:
    mql = reached(tables, "mql")
    touches = tables[sc.ACTIVITIES.name].filter(pl.col(sc.ACTIVITY_TYPE) == "sales_touch")
    first = (touches.join(mql, on=sc.LEAD_ID).filter(pl.col(sc.OCCURRED_AT) >= pl.col(sc.ENTERED_AT))
             .group_by(sc.LEAD_ID).agg((pl.col(sc.OCCURRED_AT).min() - pl.col(sc.ENTERED_AT).first())
                                       .dt.total_hours().alias("hours")))
    assert first.height >= 0.8 * mql.height
    slow = (first["hours"] > 5 * 24).mean()
    fast = (first["hours"] < 24).mean()
    assert 0.03 <= slow <= 0.4
    assert fast >= 0.3


def test_recycled_leads_carry_a_reason(tables: dict[str, pl.DataFrame]) -> None:
    ev = tables[sc.STAGE_EVENTS.name].sort(sc.LEAD_ID, sc.ENTERED_AT)
    ev = ev.with_columns(pl.col(sc.STAGE).shift(1).over(sc.LEAD_ID).alias("prev"))
    recycled = ev.filter((pl.col(sc.STAGE) == "lead") & pl.col("prev").is_in(["mql", "sql", "opportunity"]))
    assert recycled.height >= 0.02 * N
    assert recycled[sc.REASON].null_count() == 0
    assert {"No budget", "Bad timing", "No decision process"} <= set(recycled[sc.REASON].unique())
    mql_sql_lead = recycled.filter(pl.col("prev") == "sql")
    assert mql_sql_lead.height > 0
    mql_count = (pl.col(sc.STAGE) == "mql").cast(pl.Int64).cum_sum().over(sc.LEAD_ID)
    came_back = ev.filter((pl.col(sc.STAGE) == "mql") & (mql_count == 2))
    assert came_back.height > 0  # recycled leads that became MQL again


def test_skipped_stages(tables: dict[str, pl.DataFrame]) -> None:
    sql = reached(tables, "sql").select(sc.LEAD_ID)
    mql = reached(tables, "mql").select(sc.LEAD_ID)
    assert sql.join(mql, on=sc.LEAD_ID, how="anti").height > 0  # lead -> sql directly


def test_cold_and_reactivated_leads(tables: dict[str, pl.DataFrame], meaningful: pl.DataFrame) -> None:
    last = meaningful.group_by(sc.LEAD_ID).agg(pl.col(sc.OCCURRED_AT).max().alias("last"))
    active = tables[sc.LEADS.name].filter(pl.col(sc.LIFECYCLE_STAGE).is_in(ACTIVE)).join(last, on=sc.LEAD_ID)
    cold = active.filter(pl.col("last") < END_OF_DAY - timedelta(days=90))
    assert cold.height >= 0.1 * N
    gaps = (meaningful.sort(sc.LEAD_ID, sc.OCCURRED_AT)
            .with_columns((pl.col(sc.OCCURRED_AT) - pl.col(sc.OCCURRED_AT).shift(1).over(sc.LEAD_ID)).alias("gap"))
            .filter(pl.col("gap") > timedelta(days=90)))
    assert gaps[sc.LEAD_ID].n_unique() >= 0.02 * N  # went cold, then came back
    opens_while_cold = (tables[sc.ACTIVITIES.name].filter(pl.col(sc.ACTIVITY_TYPE) == "email_open")
                        .join(cold.select(sc.LEAD_ID, "last"), on=sc.LEAD_ID)
                        .filter(pl.col(sc.OCCURRED_AT) > pl.col("last")))
    assert opens_while_cold.height > 0  # opening e-mails is not engagement


def test_hygiene_problems_are_present(tables: dict[str, pl.DataFrame]) -> None:
    leads = tables[sc.LEADS.name]
    normalised = leads[sc.EMAIL].str.strip_chars().str.to_lowercase()
    dupes = normalised.is_duplicated().sum()
    assert 0.004 * N <= dupes <= 0.04 * N
    assert (leads[sc.EMAIL] != normalised).sum() > 0  # some differ only by case or whitespace
    assert leads.select(sc.NAME, sc.ACCOUNT_ID).is_duplicated().sum() > dupes / 2

    late = leads.filter(pl.col(sc.LIFECYCLE_STAGE).is_in(["mql", "sql", "opportunity", "customer"]))
    missing = late[sc.OWNER].null_count() / late.height
    assert 0.005 <= missing <= 0.08

    owned_active = leads.filter(pl.col(sc.OWNER).is_not_null()
                                & pl.col(sc.LIFECYCLE_STAGE).is_in(["mql", "sql", "opportunity"]))
    assert owned_active[sc.NEXT_ACTION_AT].null_count() > 0
    assert owned_active[sc.NEXT_ACTION_AT].null_count() < 0.5 * owned_active.height

    status = leads[sc.LEAD_STATUS]
    assert status.is_in(["Working", "Other", ""]).sum() >= 0.01 * N

    deals = tables[sc.DEALS.name].join(leads.select(sc.LEAD_ID, pl.col(sc.CREATED_AT).alias("lead_created")),
                                       on=sc.LEAD_ID)
    impossible = deals.filter(pl.col(sc.CLOSED_AT) < pl.col("lead_created"))
    assert 1 <= impossible.height <= max(3, 0.01 * deals.height)


def test_deals_are_consistent_with_the_lifecycle(tables: dict[str, pl.DataFrame]) -> None:
    deals, leads = tables[sc.DEALS.name], tables[sc.LEADS.name]
    won = deals.filter(pl.col(sc.WON)).select(sc.LEAD_ID).unique()
    customers = leads.filter(pl.col(sc.LIFECYCLE_STAGE).is_in(["customer", "former_customer"])).select(sc.LEAD_ID)
    assert customers.join(won, on=sc.LEAD_ID, how="anti").height == 0  # every customer has a won deal
    open_ = deals.filter(pl.col(sc.WON).is_null())
    assert open_.height > 0
    assert open_[sc.CLOSED_AT].null_count() == open_.height
    assert set(open_[sc.STAGE].unique()) <= {"Discovery", "Proposal", "Negotiation"}
    assert (open_[sc.CREATED_AT] < END_OF_DAY - timedelta(days=90)).any()  # aging opportunities
    closed = deals.filter(pl.col(sc.WON).is_not_null())
    assert closed[sc.CLOSED_AT].null_count() == 0
    assert set(closed.filter(pl.col(sc.WON))[sc.STAGE].unique()) == {"Closed Won"}
    lost = closed.filter(~pl.col(sc.WON))
    assert set(lost[sc.STAGE].unique()) == {"Closed Lost"}
    assert lost[sc.LOST_REASON].null_count() == 0
    assert (deals[sc.AMOUNT] > 0).all()
    # Bigger companies, bigger deals.
    sized = deals.join(tables[sc.ACCOUNTS.name].select(sc.ACCOUNT_ID, sc.EMPLOYEES), on=sc.ACCOUNT_ID)
    small = sized.filter(pl.col(sc.EMPLOYEES) <= 50)[sc.AMOUNT].median()
    large = sized.filter(pl.col(sc.EMPLOYEES) > 1000)[sc.AMOUNT].median()
    assert large > 5 * small
