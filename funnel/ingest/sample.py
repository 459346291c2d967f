"""A deterministic, realistic generator of canonical exports (leads, accounts, activities, stages, deals).

The sample exists so the product has something true to reveal: conversion that differs by source,
industry, company size and seniority; seasonal, growing lead volume; MQLs that are slow to be touched,
recycled with a reason, or never accepted; leads that go cold and some that come back; skipped
stages; open opportunities that age; churned customers; and a little dirt for the hygiene report
(duplicate e-mails, missing owners and next actions, vague statuses, deals closed before the lead
existed).

Everything is derived from ``seed`` alone (never the clock): the same arguments give the same frames
and byte-identical files. Generation is vectorised (numpy arrays per step of the journey, polars for
strings and files), so a million leads with ten million activities take seconds, not minutes.

Quick check::

    python -c "from pathlib import Path; from funnel.ingest.sample import write_sample; \\
        print(write_sample(Path('/tmp/funnel-sample'), leads=5000))"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from funnel import schema as sc

__all__ = ["SAMPLE_TABLES", "sample_tables", "write_sample"]

SAMPLE_TABLES: tuple[str, ...] = (sc.LEADS.name, sc.ACCOUNTS.name, sc.ACTIVITIES.name,
                                  sc.STAGE_EVENTS.name, sc.DEALS.name)

DAY = 86_400  # internal times are whole seconds since the epoch (naive, export-local)
HISTORY_DAYS = 730

# --------------------------------------------------------------------------------------------------
# Catalogues. Lifts are log-odds added to a lead's propensity score at every step of the journey.
# --------------------------------------------------------------------------------------------------
SOURCES = ("Paid search", "Organic search", "Referral", "Outbound", "Event", "Partner", "Direct")
SOURCE_SHARE = np.array([0.30, 0.22, 0.07, 0.14, 0.09, 0.06, 0.12])
SOURCE_LIFT = np.array([-0.60, 0.00, 1.00, -0.30, 0.30, 0.80, 0.20])
SOURCE_SUBSCRIBER = np.array([0.15, 0.35, 0.05, 0.00, 0.05, 0.05, 0.30])  # start as newsletter subscriber
SOURCE_SKIP_MQL = np.array([0.03, 0.03, 0.10, 0.50, 0.20, 0.10, 0.03])  # lead -> sql directly
OUTBOUND = SOURCES.index("Outbound")

INDUSTRIES = ("Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Education",
              "Professional Services", "Media", "Logistics")
INDUSTRY_SHARE = np.array([0.22, 0.12, 0.11, 0.13, 0.10, 0.08, 0.12, 0.06, 0.06])
INDUSTRY_LIFT = np.array([0.40, 0.30, 0.00, -0.10, -0.30, -0.45, 0.15, -0.15, -0.05])
INDUSTRY_REV_PER_EMP = np.array([250e3, 400e3, 180e3, 220e3, 150e3, 90e3, 160e3, 200e3, 210e3])

SIZE_EDGES = np.array([50, 200, 1000, 5000])  # bands: 1-50, 51-200, 201-1000, 1001-5000, 5000+
SIZE_LIFT = np.array([-0.50, 0.10, 0.40, 0.30, 0.00])
SIZE_DEAL = np.array([6_000.0, 18_000.0, 45_000.0, 90_000.0, 180_000.0])
SIZE_PRODUCT = np.array([0, 1, 1, 2, 2])
PRODUCTS = ("Starter", "Growth", "Enterprise", "Analytics add-on")

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "AU", "CA", "NL", "ES")
COUNTRY_SHARE = np.array([0.42, 0.11, 0.09, 0.06, 0.08, 0.06, 0.05, 0.06, 0.04, 0.03])
COUNTRY_LIFT = np.array([0.10, 0.05, 0.00, -0.05, -0.35, -0.25, 0.05, 0.10, 0.05, -0.10])
COUNTRY_TLD = (".com", ".co.uk", ".de", ".fr", ".in", ".com.br", ".com.au", ".ca", ".nl", ".es")

SENIORITY_SHARE = np.array([0.03, 0.12, 0.20, 0.28, 0.18, 0.12, 0.07])
SENIORITY_LIFT = np.array([-1.00, -0.40, -0.20, 0.20, 0.40, 0.30, 0.10])
FUNCTIONS = ("Marketing", "Sales", "Operations", "IT", "Finance", "Engineering", "People", "Product")
CHIEFS = ("Chief Marketing Officer", "Chief Revenue Officer", "Chief Operating Officer",
          "Chief Information Officer", "Chief Financial Officer", "Chief Technology Officer",
          "Chief People Officer", "Chief Product Officer")
TITLES = tuple(
    t
    for f, chief in zip(FUNCTIONS, CHIEFS)
    for t in (f"{f} Intern", f"{f} Coordinator", f"{f} Analyst", f"{f} Manager", f"Director of {f}",
              f"VP {f}", chief)
)  # index = function * 7 + seniority

FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Diego", "Emma", "Farid", "Grace", "Hiro", "Isabel", "Jonas", "Kavya", "Liam",
    "Maria", "Noah", "Olivia", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wei", "Ximena",
    "Yusuf", "Zoe", "Aisha", "Bruno", "Camille", "Daniel", "Elena", "Felix", "Gabriel", "Hannah", "Ivan",
    "Julia", "Karim", "Laura", "Mateo", "Nina", "Oscar", "Priya", "Rahul", "Sofia", "Thomas", "Ursula",
    "Victor", "Wendy", "Yara", "Zain", "Amelia", "Arjun", "Beatriz", "Carlos", "Chen", "David", "Emily",
    "Fatima", "George", "Helena", "Ines", "James", "Jin", "Kenji", "Lea", "Lucas", "Maya", "Mohammed",
    "Nora", "Paul", "Rafael", "Sara", "Sophie", "Tom", "Valentina", "William", "Ahmed", "Alice",
    "Andrea", "Anna", "Charlotte", "Clara", "Ethan", "Hugo", "Isla", "Jack", "Leon", "Lina", "Marco",
    "Mia", "Oliver", "Pablo", "Ravi", "Ruth", "Simon", "Stella", "Theo", "Vikram", "Yuki", "Zara",
)
LAST_NAMES = (
    "Silva", "Smith", "Johnson", "Garcia", "Muller", "Martin", "Patel", "Kumar", "Nguyen", "Kim", "Chen",
    "Rossi", "Dubois", "Schmidt", "Fischer", "Weber", "Brown", "Jones", "Miller", "Davis", "Lopez",
    "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "White", "Harris", "Clark",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams",
    "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner",
    "Torres", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan",
    "Peterson", "Cooper", "Reed", "Bailey", "Bell", "Gomez", "Kelly", "Howard", "Ward", "Cox", "Diaz",
    "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Reyes", "Cruz", "Hughes",
    "Price", "Myers", "Long", "Foster", "Sanders", "Ross", "Morales", "Powell", "Sullivan", "Russell",
    "Ortiz", "Jenkins", "Gutierrez", "Perry", "Butler", "Barnes", "Fisher", "Henderson", "Coleman",
    "Simmons", "Patterson", "Jordan", "Reynolds", "Hamilton", "Graham", "Kowalski", "Novak", "Jansen",
    "Bakker", "Sato", "Suzuki", "Tanaka", "Singh", "Sharma", "Gupta", "Ferreira", "Santos", "Oliveira",
    "Costa", "Moreau", "Laurent", "Bernard", "Petit", "Richter", "Wagner", "Becker", "Hoffmann", "Olsen",
)
COMPANY_ADJ = (
    "Blue", "Bright", "North", "Silver", "Red", "Green", "Swift", "Clear", "Prime", "Bold", "Summit",
    "Golden", "Iron", "Open", "Quiet", "Rapid", "True", "Urban", "Vivid", "Wild", "Amber", "Atlas",
    "Cedar", "Coral", "Crystal", "Delta", "Echo", "Falcon", "Granite", "Ivory", "Lunar", "Maple",
    "Nova", "Oak", "Orbit", "Pine", "Polar", "Quantum", "River", "Sage", "Solar", "Stone", "Terra",
    "Vector", "West", "Zenith", "Aspen", "Beacon", "Copper", "Horizon",
)
COMPANY_NOUN = (
    "Harbor", "Peak", "Bridge", "Forge", "Field", "Works", "Path", "Point", "Wave", "Leaf", "Stack",
    "Signal", "Line", "Gate", "Mill", "Nest", "Rock", "Spark", "Vale", "Yard", "Cloud", "Craft", "Data",
    "Flow", "Grid", "Hub", "Logic", "Metrics", "Pixel", "Scale", "Shift", "Sphere", "Square", "Trail",
    "Vista", "Wing", "Anchor", "Arc", "Bay", "Crest", "Dock", "Frame", "Lane", "Loop", "Mesh", "Pulse",
    "Ridge", "Root", "Track", "Well", "Core", "Link", "Port", "Star", "Tide", "Labs", "Mint", "Beam",
    "Haven", "Crown",
)
COMPANY_SUFFIX = ("Inc", "Ltd", "GmbH", "Group", "Systems", "Solutions", "Partners", "Health",
                  "Bank", "Logistics", "Retail", "Industries", "Analytics", "Media", "Academy", "Co")

SDRS = tuple(f"sdr.{n}@acme.test" for n in ("ana", "ben", "chloe", "diego", "emma", "farid", "grace", "hiro"))
SDR_SPEED_DAYS = np.array([0.2, 0.5, 0.8, 1.0, 1.5, 2.5, 4.5, 0.6])  # median MQL -> first touch
SDR_SHARE = np.array([0.15, 0.14, 0.13, 0.13, 0.12, 0.12, 0.11, 0.10])
AES = tuple(f"ae.{n}@acme.test" for n in ("carla", "david", "elena", "felix", "hana", "ivan"))

MQL_REJECT_REASONS = ("Not sales-ready", "Unresponsive", "Not a fit")
SQL_RECYCLE_REASONS = ("No budget", "Bad timing", "No decision process", "No confirmed need")
SQL_RECYCLE_SHARE = np.array([0.32, 0.30, 0.22, 0.16])
LOST_REASONS = ("Price", "Chose competitor", "No decision", "No budget", "Bad timing", "Missing feature")
LOST_SHARE = np.array([0.22, 0.25, 0.20, 0.12, 0.11, 0.10])
REASONS = MQL_REJECT_REASONS + SQL_RECYCLE_REASONS + LOST_REASONS + ("Churned",)
R_MQL = 0
R_SQL = R_MQL + len(MQL_REJECT_REASONS)
R_LOST = R_SQL + len(SQL_RECYCLE_REASONS)
R_CHURN = len(REASONS) - 1

STAGES = sc.LIFECYCLE_STAGES + sc.LIFECYCLE_SIDE_STAGES
SUB, LEAD, MQL, SQL, OPP, CUST = (STAGES.index(x) for x in sc.LIFECYCLE_STAGES)
FORMER = STAGES.index(sc.LIFECYCLE_SIDE_STAGES[0])

OPEN_DEAL_STAGES = ("Discovery", "Proposal", "Negotiation")
PIPELINES = ("New business", "Expansion")
VAGUE_STATUSES = ("Working", "Other", "", "TBD", "see notes")

# Activity catalogue: per type, the URLs, campaigns and channels it can carry.
ACT = {name: i for i, name in enumerate(sc.CANONICAL_ACTIVITY_TYPES)}
MEANINGLESS = ACT["email_open"]  # email opens alone are not meaningful engagement
_BLOG = ("/blog/what-is-a-sales-funnel", "/blog/lead-scoring-101", "/blog/mql-vs-sql",
         "/blog/funnel-metrics-that-matter", "/blog/speed-to-lead", "/blog/b2b-buyer-journey")
_WEB = ("Organic search", "Paid search", "Direct", "Referral", "Social")
_WEBINARS = ("/webinars/fixing-the-mql-handoff", "/webinars/pipeline-reviews-that-work", "/webinars/product-tour")
_WEBINAR_CAMPAIGNS = ("Webinar - MQL handoff", "Webinar - Pipeline reviews", "Webinar - Product tour")
_EMAILS = ("Newsletter", "Nurture - Getting started", "Nurture - ROI", "Product update", "Webinar invite")
_CATALOGUE: dict[str, tuple[tuple[str | None, ...], tuple[str | None, ...], tuple[str | None, ...]]] = {
    # type: (urls, campaigns, channels)
    "page_view": (("/", "/product", "/about", "/careers", "/solutions/software",
                   "/solutions/financial-services", "/solutions/healthcare") + _BLOG,
                  (None, None, None, None, "Paid search - Generic", "Paid search - Brand", "LinkedIn ABM"),
                  _WEB),
    "content_view": (_BLOG + ("/guides/funnel-benchmarks", "/guides/icp-template"), (None,), _WEB),
    "newsletter_signup": (("/newsletter",), ("Newsletter",), ("Web",)),
    "social_engagement": ((None,), (None, "LinkedIn ABM", "Brand social"), ("LinkedIn", "X", "YouTube")),
    "form_fill": (("/lp/funnel-benchmarks-2026", "/lp/lead-scoring-guide", "/lp/roi-calculator"),
                  ("Ebook - Funnel benchmarks 2026", "Guide - Lead scoring", "ROI calculator"),
                  ("Paid search", "Organic search", "Social", "Email")),
    "content_download": (("/resources/ebook-funnel-benchmarks-2026.pdf", "/resources/lead-handoff-checklist.pdf",
                          "/resources/icp-workbook.xlsx"),
                         ("Ebook - Funnel benchmarks 2026", "Checklist - Lead handoff", "Workbook - ICP"),
                         ("Paid search", "Organic search", "Email")),
    "webinar_registration": (_WEBINARS, _WEBINAR_CAMPAIGNS, ("Webinar",)),
    "webinar_attended": (_WEBINARS, _WEBINAR_CAMPAIGNS, ("Webinar",)),
    "email_open": ((None,), _EMAILS, ("Email",)),
    "email_click": (("/blog/mql-vs-sql", "/case-studies/northwind-logistics", "/webinars/product-tour",
                     "/blog/speed-to-lead", "/pricing"), _EMAILS, ("Email",)),
    "case_study_view": (("/case-studies/northwind-logistics", "/case-studies/contoso-health",
                         "/case-studies/fabrikam-bank", "/case-studies/tailspin-retail"), (None,), ("Web",)),
    "comparison_page_view": (("/compare/hubspot", "/compare/salesforce", "/compare/spreadsheets"),
                             (None, "Paid search - Competitor"), ("Web", "Paid search")),
    "product_page_view": (("/product/segmentation", "/product/scoring", "/product/handoff", "/product/reporting"),
                          (None,), ("Web",)),
    "integration_page_view": (("/integrations/salesforce", "/integrations/hubspot", "/integrations/pipedrive",
                               "/integrations/snowflake", "/integrations/slack"), (None,), ("Web",)),
    "pricing_page_view": (("/pricing",), (None,), ("Web",)),
    "demo_request": (("/demo",), (None, "Paid search - Brand"), ("Web",)),
    "trial_signup": (("/signup",), (None,), ("Product",)),
    "trial_activity": (("/app/onboarding", "/app/import", "/app/segments", "/app/reports"), (None,), ("Product",)),
    "contact_form": (("/contact",), (None,), ("Web",)),
    "implementation_page_view": (("/docs/implementation",), (None,), ("Web",)),
    "meeting_booked": ((None,), (None,), ("Sales",)),
    "sales_touch": ((None,), (None, "Outbound sequence"), ("Phone", "Email", "Meeting")),  # by source
}


def _mix(**weights: float) -> tuple[np.ndarray, np.ndarray]:
    """(activity type codes, probabilities) from type=weight keywords."""
    codes = np.array([ACT[k] for k in weights], dtype=np.int8)
    p = np.array(list(weights.values()), dtype=float)
    return codes, p / p.sum()


MIX_INTEREST = _mix(form_fill=0.45, content_download=0.35, webinar_registration=0.20)
MIX_CONSIDERATION = _mix(case_study_view=0.24, comparison_page_view=0.14, product_page_view=0.24,
                         integration_page_view=0.10, webinar_attended=0.10, email_click=0.18)
MIX_MQL_TRIGGER = _mix(pricing_page_view=0.55, demo_request=0.30, contact_form=0.15)
MIX_INTENT = _mix(pricing_page_view=0.28, demo_request=0.22, meeting_booked=0.25, contact_form=0.05,
                  trial_signup=0.12, implementation_page_view=0.08)
MIX_OPPORTUNITY = _mix(meeting_booked=0.35, implementation_page_view=0.20, pricing_page_view=0.12,
                       trial_activity=0.23, integration_page_view=0.10)
MIX_CUSTOMER = _mix(implementation_page_view=0.50, trial_activity=0.30, meeting_booked=0.20)
MIX_HIDDEN_INTENT = _mix(pricing_page_view=0.70, demo_request=0.10, implementation_page_view=0.10,
                         trial_signup=0.10)
MIX_REACTIVATION = _mix(page_view=0.30, content_view=0.15, case_study_view=0.15, pricing_page_view=0.15,
                        webinar_attended=0.05, email_click=0.10, demo_request=0.05, comparison_page_view=0.05)
MIX_BACKGROUND = _mix(page_view=0.58, content_view=0.20, social_engagement=0.07, email_click=0.05,
                      content_download=0.025, webinar_registration=0.02, product_page_view=0.025,
                      integration_page_view=0.01, case_study_view=0.01, comparison_page_view=0.01)
MIX_SALES = _mix(sales_touch=1.0)


# --------------------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------------------
def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _lag(rng: np.random.Generator, n: int, median_days: float | np.ndarray, sigma: float,
         min_seconds: int = 3600) -> np.ndarray:
    """Log-normal delays in whole seconds (at least an hour, so stage entries never tie)."""
    days = median_days * np.exp(sigma * rng.standard_normal(n))
    return np.maximum((days * DAY).astype(np.int64), min_seconds)


def _pick(rng: np.random.Generator, n: int, p: np.ndarray) -> np.ndarray:
    """n draws of an index with probabilities p (vectorised inverse CDF)."""
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(p) - 1)


def _between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Uniform whole-second times in [lo, hi]."""
    span = np.maximum(hi - lo, 0)
    return lo + (rng.random(len(lo)) * (span + 1)).astype(np.int64).clip(max=span)


def _ids(prefix: str, n: int, width: int) -> pl.Series:
    width = max(width, len(str(n)))
    return pl.select(
        pl.concat_str(pl.lit(prefix), pl.int_range(1, n + 1, dtype=pl.Int64).cast(pl.String).str.zfill(width))
    ).to_series()


def _strings(values: tuple[str | None, ...], idx: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(pl.Series(idx, dtype=pl.UInt32))


def _ts(seconds: np.ndarray, name: str) -> pl.Series:
    """Whole seconds (negative for missing) as a canonical pl.Datetime("us") column."""
    s = pl.Series(name, seconds.astype(np.int64) * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us"))
    missing = seconds < 0
    return s.set(pl.Series(missing), None) if missing.any() else s


@dataclass
class _Rows:
    """Column chunks appended step by step, concatenated once."""

    cols: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **arrays: np.ndarray) -> None:
        for k, v in arrays.items():
            self.cols.setdefault(k, []).append(v)

    def get(self, name: str, dtype: type | str) -> np.ndarray:
        chunks = self.cols.get(name, [])
        return np.concatenate(chunks).astype(dtype) if chunks else np.zeros(0, dtype=dtype)


# --------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------
class _Generator:
    def __init__(self, leads: int, seed: int, activities_per_lead: float, end: date) -> None:
        if leads < 1:
            raise ValueError(f"leads must be at least 1, got {leads}")
        if activities_per_lead < 0:
            raise ValueError(f"activities_per_lead must be >= 0, got {activities_per_lead}")
        self.n = leads
        self.rng = np.random.default_rng(seed)
        self.activities_per_lead = activities_per_lead
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        end_midnight = datetime.combine(end, time(), tzinfo=UTC)
        self.horizon = int((end_midnight - epoch).total_seconds()) + DAY - 1  # last second of `end`
        self.first_day = end - timedelta(days=HISTORY_DAYS - 1)
        self.first_day_s = int((datetime.combine(self.first_day, time(), tzinfo=UTC) - epoch)
                               .total_seconds())

    # ---- accounts --------------------------------------------------------------------------------
    def accounts(self) -> pl.DataFrame:
        rng, m = self.rng, max(1, round(self.n / 4))
        self.m = m
        ind = _pick(rng, m, INDUSTRY_SHARE)
        emp = np.exp(np.log(60.0) + 2.0 * rng.standard_normal(m)).clip(1, 250_000).astype(np.int64)
        band = np.searchsorted(SIZE_EDGES, emp, side="left")
        country = _pick(rng, m, COUNTRY_SHARE)
        revenue = np.round(emp * INDUSTRY_REV_PER_EMP[ind] * np.exp(0.45 * rng.standard_normal(m)), -3)
        revenue_missing = rng.random(m) < 0.12
        adj = rng.integers(0, len(COMPANY_ADJ), m)
        noun = rng.integers(0, len(COMPANY_NOUN), m)
        suffix = rng.integers(0, len(COMPANY_SUFFIX), m)
        owner = np.where(rng.random(m) < 0.55, rng.integers(0, len(AES), m), len(AES))
        self.acc_industry, self.acc_band, self.acc_country = ind, band, country
        # Bigger companies produce more leads; some accounts have none yet.
        weight = (np.log10(emp) + 1.0) ** 1.5 * np.exp(0.5 * rng.standard_normal(m))
        self.acc_weight = weight / weight.sum()

        frame = pl.DataFrame({
            "adj": _strings(COMPANY_ADJ, adj), "noun": _strings(COMPANY_NOUN, noun),
            "suffix": _strings(COMPANY_SUFFIX, suffix), "tld": _strings(COUNTRY_TLD, country),
        })
        frame = frame.with_columns(
            pl.concat_str("adj", "noun", separator="").str.to_lowercase().alias("slug"),
            pl.concat_str("adj", "noun", "suffix", separator=" ").alias(sc.NAME),
        ).with_columns(pl.int_range(pl.len()).over("slug", "tld").alias("dup"))
        domain = frame.select(
            pl.concat_str("slug", pl.when(pl.col("dup") > 0).then(pl.col("dup").cast(pl.String)).otherwise(pl.lit("")),
                          "tld").alias(sc.DOMAIN)
        ).to_series()
        self.acc_name, self.acc_domain = frame[sc.NAME], domain
        return pl.DataFrame([
            _ids("C", m, 7).alias(sc.ACCOUNT_ID),
            frame[sc.NAME],
            domain,
            _strings(INDUSTRIES, ind).alias(sc.INDUSTRY),
            pl.Series(sc.EMPLOYEES, emp, dtype=pl.Int64),
            pl.Series(sc.ANNUAL_REVENUE, revenue, dtype=pl.Float64).set(pl.Series(revenue_missing), None),
            _strings(COUNTRIES, country).alias(sc.COUNTRY),
            _strings(AES + (None,), owner).alias(sc.OWNER),
        ])

    # ---- leads: who they are ---------------------------------------------------------------------
    def people(self) -> None:
        rng, n = self.rng, self.n
        # Creation day: growth over two years, seasonality (Q4 and January up, summer down), weekdays.
        days = np.arange(HISTORY_DAYS)
        dates = np.array([self.first_day + timedelta(days=int(d)) for d in days])
        month = np.array([d.month for d in dates]) - 1
        weekday = np.array([d.weekday() for d in dates])
        season = np.array([1.30, 1.10, 1.05, 1.00, 0.95, 0.78, 0.70, 0.72, 1.00, 1.15, 1.25, 0.90])
        w = (1.0 + 0.9 * days / (HISTORY_DAYS - 1)) * season[month] * np.where(weekday >= 5, 0.35, 1.0)
        day = np.sort(_pick(rng, n, w / w.sum()))
        busy = rng.random(n) < 0.8
        clock = np.where(busy, (13.5 * 3600 + 3.0 * 3600 * rng.standard_normal(n)), rng.random(n) * DAY)
        self.created = self.first_day_s + day.astype(np.int64) * DAY + clock.clip(0, DAY - 1).astype(np.int64)

        self.account = _pick(rng, n, self.acc_weight)
        self.source = _pick(rng, n, SOURCE_SHARE)
        self.seniority = _pick(rng, n, SENIORITY_SHARE)
        function = rng.integers(0, len(FUNCTIONS), n)
        self.title = function * 7 + self.seniority
        self.first = rng.integers(0, len(FIRST_NAMES), n)
        self.last = rng.integers(0, len(LAST_NAMES), n)
        self.sdr = _pick(rng, n, SDR_SHARE)
        self.ae = rng.integers(0, len(AES), n)

        # ~1% are the same person entered again later (different case/whitespace, or f.last@).
        n_dup = round(0.01 * n) if n > 1 else 0
        dup = np.sort(rng.choice(np.arange(1, n), size=n_dup, replace=False)) if n_dup else np.zeros(0, np.int64)
        orig = (rng.random(n_dup) * dup).astype(np.int64)
        for arr in (self.account, self.first, self.last, self.title, self.seniority):
            arr[dup] = arr[orig]
        self.dup, self.dup_orig = dup, orig
        self.dup_variant = rng.integers(0, 5, n_dup)

        acc_ind, acc_band, acc_country = (self.acc_industry[self.account], self.acc_band[self.account],
                                          self.acc_country[self.account])
        self.country = np.where(rng.random(n) < 0.05, _pick(rng, n, COUNTRY_SHARE), acc_country)
        self.score = (SOURCE_LIFT[self.source] + INDUSTRY_LIFT[acc_ind] + SIZE_LIFT[acc_band]
                      + SENIORITY_LIFT[self.seniority] + COUNTRY_LIFT[acc_country]
                      + 0.5 * rng.standard_normal(n))

    # ---- the lifecycle journey -------------------------------------------------------------------
    def journey(self) -> None:
        rng, n = self.rng, self.n
        self.ev, self.deals = _Rows(), _Rows()
        everyone = np.arange(n)
        start_sub = rng.random(n) < SOURCE_SUBSCRIBER[self.source]
        self.ev.add(lead=everyone, stage=np.where(start_sub, SUB, LEAD), t=self.created,
                    reason=np.full(n, -1), touch=np.full(n, -1))
        subs = np.flatnonzero(start_sub)
        up = subs[rng.random(len(subs)) < _sig(-0.3 + 0.4 * self.score[subs])]
        t_up = self.created[up] + _lag(rng, len(up), 25, 1.0)
        self._stage(up, LEAD, t_up)
        in_play = np.concatenate([np.flatnonzero(~start_sub), up])
        t_in = np.concatenate([self.created[~start_sub], t_up])
        rec_idx, rec_t = self._cycle(in_play, t_in, mql_logit=-0.85, mql_lag=12.0, allow_skip=True)
        # Recycled leads: some come back to MQL months later and try again (their recycles are final).
        self._cycle(rec_idx, rec_t, mql_logit=-1.3, mql_lag=80.0, allow_skip=False)

    def _stage(self, idx: np.ndarray, stage: int, t: np.ndarray, reason: np.ndarray | None = None,
               touch: np.ndarray | None = None) -> None:
        k = len(idx)
        self.ev.add(lead=idx, stage=np.full(k, stage), t=t,
                    reason=np.full(k, -1) if reason is None else reason,
                    touch=np.full(k, -1) if touch is None else touch)

    def _cycle(self, idx: np.ndarray, t0: np.ndarray, *, mql_logit: float, mql_lag: float,
               allow_skip: bool) -> tuple[np.ndarray, np.ndarray]:
        """Leads at `lead` from t0 try lead -> mql -> sql -> opportunity -> customer once."""
        rng = self.rng
        reach = rng.random(len(idx)) < _sig(mql_logit + 0.8 * self.score[idx])
        idx = idx[reach]
        k = len(idx)
        t = t0[reach] + _lag(rng, k, mql_lag, 0.9)
        s = self.score[idx]
        skip = (rng.random(k) < SOURCE_SKIP_MQL[self.source[idx]]) if allow_skip else np.zeros(k, bool)
        touched = skip | (rng.random(k) < 0.92)
        touch_t = np.where(skip, t, t + _lag(rng, k, SDR_SPEED_DAYS[self.sdr[idx]], 0.8, min_seconds=300))
        mql = ~skip
        self._stage(idx[mql], MQL, t[mql], touch=np.where(touched, touch_t, -1)[mql])
        accept = touched & (rng.random(k) < _sig(0.0 + 0.6 * s))
        recycled: list[tuple[np.ndarray, np.ndarray]] = []

        # MQLs sales did not accept: some go back to nurture, the rest sit at MQL.
        rej = mql & ~accept & (rng.random(k) < 0.4)
        t_rej = np.where(touched, touch_t, t) + _lag(rng, k, 10, 0.7)
        self._stage(idx[rej], LEAD, t_rej[rej], reason=R_MQL + rng.integers(0, len(MQL_REJECT_REASONS), rej.sum()))
        recycled.append((idx[rej], t_rej[rej]))

        idx, s = idx[accept], s[accept]
        k = len(idx)
        t_sql = touch_t[accept] + _lag(rng, k, 2.5, 0.8)
        opp = rng.random(k) < _sig(0.4 + 0.5 * s)
        skip_sql = opp & (rng.random(k) < 0.06)
        self._stage(idx[~skip_sql], SQL, t_sql[~skip_sql])
        # SQLs that do not become opportunities: most are recycled with a reason.
        rec = ~opp & (rng.random(k) < 0.75)
        t_rec = t_sql + _lag(rng, k, 14, 0.8)
        self._stage(idx[rec], LEAD, t_rec[rec], reason=R_SQL + _pick(rng, rec.sum(), SQL_RECYCLE_SHARE))
        recycled.append((idx[rec], t_rec[rec]))

        idx, s = idx[opp], s[opp]
        k = len(idx)
        t_opp = t_sql[opp] + _lag(rng, k, 8, 0.8)
        self._stage(idx, OPP, t_opp)
        stalled = rng.random(k) < 0.12
        t_close = t_opp + _lag(rng, k, 45, 0.5) * np.where(stalled, 4, 1)
        won = rng.random(k) < _sig(-0.85 + 0.6 * s)
        lost_reason = _pick(rng, k, LOST_SHARE)
        self.deals.add(lead=idx, created=t_opp, closed=t_close, won=won, lost=np.where(won, -1, lost_reason),
                       pipeline=np.zeros(k), amount_factor=np.ones(k))
        self._stage(idx[won], CUST, t_close[won])
        t_lost = t_close + _lag(rng, k, 1.5, 0.5)
        self._stage(idx[~won], LEAD, t_lost[~won], reason=R_LOST + lost_reason[~won])
        recycled.append((idx[~won], t_lost[~won]))

        churn = won & (rng.random(k) < 0.07)
        self._stage(idx[churn], FORMER, t_close[churn] + _lag(rng, churn.sum(), 300, 0.35),
                    reason=np.full(churn.sum(), R_CHURN))
        expand = won & ~churn & (rng.random(k) < 0.15)
        e = expand.sum()
        t_exp = t_close[expand] + _lag(rng, e, 150, 0.5)
        self.deals.add(lead=idx[expand], created=t_exp, closed=t_exp + _lag(rng, e, 40, 0.5),
                       won=rng.random(e) < 0.65, lost=_pick(rng, e, LOST_SHARE),
                       pipeline=np.ones(e), amount_factor=np.full(e, 0.3))
        return (np.concatenate([r[0] for r in recycled]), np.concatenate([r[1] for r in recycled]))

    def stage_frame(self) -> None:
        """The events at or before the horizon, ordered by lead and time, with neighbours' times."""
        ev = self.ev
        lead, t = ev.get("lead", np.int64), ev.get("t", np.int64)
        stage, reason, touch = ev.get("stage", np.int8), ev.get("reason", np.int16), ev.get("touch", np.int64)
        keep = t <= self.horizon
        lead, t, stage, reason, touch = lead[keep], t[keep], stage[keep], reason[keep], touch[keep]
        order = np.lexsort((t, lead))
        self.e_lead, self.e_t, self.e_stage = lead[order], t[order], stage[order]
        self.e_reason, self.e_touch = reason[order], touch[order]
        same_prev = np.r_[False, self.e_lead[1:] == self.e_lead[:-1]]
        same_next = np.r_[self.e_lead[1:] == self.e_lead[:-1], False]
        self.e_prev_t = np.where(same_prev, np.r_[0, self.e_t[:-1]], self.created[self.e_lead])
        self.e_next_t = np.where(same_next, np.r_[self.e_t[1:], 0], self.horizon)
        last = ~same_next
        self.final_stage = np.empty(self.n, np.int8)
        self.final_stage[self.e_lead[last]] = self.e_stage[last]
        self.final_t = np.empty(self.n, np.int64)
        self.final_t[self.e_lead[last]] = self.e_t[last]
        self.final_reason = np.full(self.n, -1, np.int16)
        self.final_reason[self.e_lead[last]] = self.e_reason[last]
        self.max_stage = np.zeros(self.n, np.int8)
        np.maximum.at(self.max_stage, self.e_lead, np.where(self.e_stage == FORMER, CUST, self.e_stage))

    # ---- activities ------------------------------------------------------------------------------
    def activities(self) -> pl.DataFrame:
        rng, n, H = self.rng, self.n, self.horizon
        acts = _Rows()

        def emit(lead: np.ndarray, lo: np.ndarray, hi: np.ndarray, mix: tuple[np.ndarray, np.ndarray],
                 base: int, extra: float, at_lo_first: bool = False) -> None:
            """base + Poisson(extra) activities per row, uniform in [lo, hi], types from mix."""
            if len(lead) == 0:
                return
            count = base + rng.poisson(extra, len(lead))
            rep = np.repeat(np.arange(len(lead)), count)
            t = _between(rng, lo[rep], hi[rep])
            if at_lo_first:  # the first of each burst happens right at lo
                first = np.r_[0, np.cumsum(count)[:-1]][count > 0]
                t[first] = lo[rep][first]
            acts.add(lead=lead[rep], t=t, type=mix[0][_pick(rng, len(rep), mix[1])])

        everyone = np.arange(n)
        created = self.created
        # The creation touch: what made the lead (form, download, badge scan, outbound call, newsletter).
        sub0 = (self.e_stage == SUB) & (self.e_t == created[self.e_lead])
        starts_sub = np.zeros(n, bool)
        starts_sub[self.e_lead[sub0]] = True
        src = self.source
        first_type = np.select(
            [starts_sub, src == OUTBOUND, src == SOURCES.index("Event"),
             np.isin(src, [SOURCES.index("Referral"), SOURCES.index("Partner")])],
            [ACT["newsletter_signup"], ACT["sales_touch"], ACT["webinar_registration"], ACT["contact_form"]],
            default=-1,
        )
        inbound = MIX_INTEREST[0][_pick(rng, n, np.array([0.55, 0.30, 0.05]) / 0.9)]
        first_type = np.where(first_type < 0, np.where(rng.random(n) < 0.06, ACT["trial_signup"], inbound),
                              first_type)
        acts.add(lead=everyone, t=created, type=first_type.astype(np.int8))
        ob = np.flatnonzero(src == OUTBOUND)
        emit(ob, created[ob], np.minimum(created[ob] + 14 * DAY, H), MIX_SALES, 0, 1.5)

        # Evidence before each stage entry, inside the time since the previous entry.
        e_lead, e_t, e_stage, e_prev = self.e_lead, self.e_t, self.e_stage, self.e_prev_t
        e_next = self.e_next_t

        def before(mask: np.ndarray, days: float, mix: tuple[np.ndarray, np.ndarray], base: int,
                   extra: float) -> None:
            i = np.flatnonzero(mask)
            emit(e_lead[i], np.maximum(e_prev[i], e_t[i] - int(days * DAY)), e_t[i], mix, base, extra)

        before((e_stage == LEAD) & (self.e_reason < 0) & (e_t > created[e_lead]), 10, MIX_INTEREST, 1, 0.5)
        before(e_stage == MQL, 21, MIX_CONSIDERATION, 2, 1.5)
        mql_i = np.flatnonzero(e_stage == MQL)
        trig = mql_i[rng.random(len(mql_i)) < 0.45]
        emit(e_lead[trig], np.maximum(e_t[trig] - 2 * DAY, e_prev[trig]), e_t[trig], MIX_MQL_TRIGGER, 1, 0.0)
        before(e_stage == SQL, 10, MIX_INTENT, 1, 1.0)
        before(e_stage == OPP, 14, MIX_OPPORTUNITY, 1, 1.5)
        before(e_stage == CUST, 45, MIX_CUSTOMER, 1, 1.0)

        # Sales touches: the SDR's first touch after MQL (speed-to-lead), follow-ups, AE and CS work.
        tm = np.flatnonzero((e_stage == MQL) & (self.e_touch >= 0) & (self.e_touch <= H))
        acts.add(lead=e_lead[tm], t=self.e_touch[tm], type=np.full(len(tm), ACT["sales_touch"], np.int8))
        emit(e_lead[tm], self.e_touch[tm], np.maximum(self.e_touch[tm], np.minimum(self.e_touch[tm] + 21 * DAY,
                                                                                      e_next[tm])),
             MIX_SALES, 0, 1.2)
        for stage, days, base, extra in ((SQL, 21, 1, 1.0), (OPP, 90, 1, 2.5), (CUST, 120, 0, 1.0)):
            i = np.flatnonzero(e_stage == stage)
            emit(e_lead[i], e_t[i], np.minimum(e_t[i] + days * DAY, e_next[i]), MIX_SALES, base, extra)

        # Hidden demand: some leads never reach MQL yet research the product, a few the pricing page.
        never = np.flatnonzero(self.max_stage <= LEAD)
        p = _sig(-2.6 + 0.7 * self.score[never])
        hid = never[rng.random(len(never)) < p]
        hid_hi = np.minimum(created[hid] + 90 * DAY, H)
        emit(hid, created[hid], hid_hi, MIX_CONSIDERATION, 1, 1.0)
        hid2 = hid[rng.random(len(hid)) < 0.4]
        emit(hid2, created[hid2], np.minimum(created[hid2] + 90 * DAY, H), MIX_HIDDEN_INTENT, 1, 0.3)

        # How long each lead stays engaged; customers and open opportunities stay engaged to the end.
        lead_so_far, t_so_far = acts.get("lead", np.int64), acts.get("t", np.int64)
        last_meaningful = created.copy()
        np.maximum.at(last_meaningful, lead_so_far, np.minimum(t_so_far, H))
        engage_end = np.maximum(created + _lag(rng, n, 40, 1.0, min_seconds=DAY), last_meaningful)
        engage_end = np.where(np.isin(self.final_stage, [OPP, CUST]), H, np.minimum(engage_end, H))

        # Gone cold, then back: a burst of meaningful activity more than 90 days after the last one.
        gap = H - engage_end
        cold = np.flatnonzero(np.isin(self.final_stage, [SUB, LEAD, MQL]) & (gap > 100 * DAY))
        back = cold[rng.random(len(cold)) < 0.3]
        t_back = engage_end[back] + 91 * DAY + (rng.random(len(back)) * (gap[back] - 91 * DAY)).astype(np.int64)
        emit(back, t_back, np.minimum(t_back + 14 * DAY, H), MIX_REACTIVATION, 2, 1.5, at_lo_first=True)

        # Background to reach the requested volume: e-mail opens all along, browsing while engaged.
        so_far = sum(len(c) for c in acts.cols["lead"])
        rest = max(0.0, self.activities_per_lead * n - so_far)
        nurtured = rng.random(n) < 0.8
        w_open = np.where(nurtured, (H - created) / DAY + 1.0, 0.0)
        w_bg = np.sqrt((engage_end - created) / DAY + 7.0) * np.exp(0.3 * self.score)
        for share, w, hi, mix in ((0.35, w_open, np.full(n, H), _mix(email_open=1.0)),
                                  (0.65, w_bg, engage_end, MIX_BACKGROUND)):
            lam = share * rest * w / max(w.sum(), 1e-9)
            count = rng.poisson(lam)
            rep = np.repeat(everyone, count)
            acts.add(lead=rep, t=_between(rng, created[rep], hi[rep]),
                     type=mix[0][_pick(rng, len(rep), mix[1])])

        lead, t, typ = acts.get("lead", np.int32), acts.get("t", np.int64), acts.get("type", np.int8)
        ok = (t <= H) & (t >= created[lead])
        lead, t, typ = lead[ok], t[ok], typ[ok]

        meaningful = typ != MEANINGLESS
        self.last_engagement = np.full(n, -1, np.int64)
        np.maximum.at(self.last_engagement, lead[meaningful], t[meaningful])

        # Order like an event export: by time, then by lead.
        order = pl.DataFrame({"t": t, "lead": lead}).with_row_index("i").sort(
            ["t", "lead"], maintain_order=True)["i"].to_numpy()
        lead, t, typ = lead[order], t[order], typ[order]
        return self._activity_frame(lead, t, typ)

    def _activity_frame(self, lead: np.ndarray, t: np.ndarray, typ: np.ndarray) -> pl.DataFrame:
        rng, k = self.rng, len(lead)
        u_asset, u_channel = rng.random(k), rng.random(k)
        # Only outbound leads' sales touches belong to the outbound sequence.
        u_asset = np.where(typ == ACT["sales_touch"], np.where(self.source[lead] == OUTBOUND, 0.75, 0.25), u_asset)
        columns = []
        for slot, u in ((0, u_asset), (1, u_asset), (2, u_channel)):  # url, campaign (matching its asset), channel
            values: list[str | None] = []
            offset, count = np.zeros(len(ACT), np.int64), np.zeros(len(ACT), np.int64)
            for name, code in ACT.items():
                options = _CATALOGUE[name][slot]
                offset[code], count[code] = len(values), len(options)
                values.extend(options)
            idx = offset[typ] + (u * count[typ]).astype(np.int64)
            columns.append(_strings(tuple(values), idx))
        return pl.DataFrame([
            _ids("E", k, 9).alias(sc.ACTIVITY_ID),
            self.lead_ids.gather(pl.Series(lead, dtype=pl.UInt32)).alias(sc.LEAD_ID),
            _strings(sc.CANONICAL_ACTIVITY_TYPES, typ).alias(sc.ACTIVITY_TYPE),
            _ts(t, sc.OCCURRED_AT),
            columns[0].alias(sc.URL),
            columns[1].alias(sc.CAMPAIGN),
            columns[2].alias(sc.CHANNEL),
        ])

    # ---- tables ----------------------------------------------------------------------------------
    def stage_events(self) -> pl.DataFrame:
        k = len(self.e_lead)
        reason = _strings(REASONS + (None,), np.where(self.e_reason < 0, len(REASONS), self.e_reason))
        return pl.DataFrame([
            self.lead_ids.gather(pl.Series(self.e_lead, dtype=pl.UInt32)).alias(sc.LEAD_ID),
            pl.select(pl.repeat(sc.LIFECYCLE, k, dtype=pl.String).alias(sc.LADDER)).to_series(),
            _strings(STAGES, self.e_stage).alias(sc.STAGE),
            _ts(self.e_t, sc.ENTERED_AT),
            reason.alias(sc.REASON),
        ])

    def deal_frame(self) -> pl.DataFrame:
        rng, H, d = self.rng, self.horizon, self.deals
        lead, created, closed = d.get("lead", np.int64), d.get("created", np.int64), d.get("closed", np.int64)
        won, lost, pipeline = d.get("won", bool), d.get("lost", np.int64), d.get("pipeline", np.int64)
        factor = d.get("amount_factor", float)
        keep = created <= H
        lead, created, closed, won, lost, pipeline, factor = (a[keep] for a in (lead, created, closed, won, lost,
                                                                                  pipeline, factor))
        order = np.lexsort((lead, created))
        lead, created, closed, won, lost, pipeline, factor = (a[order] for a in (lead, created, closed, won, lost,
                                                                                   pipeline, factor))
        k = len(lead)
        is_closed = closed <= H
        # A few impossible sequences for the hygiene report: closed before the lead was even created.
        closed_i = np.flatnonzero(is_closed)
        bad = (rng.choice(closed_i, size=max(1, round(0.001 * len(closed_i))), replace=False) if len(closed_i)
               else np.zeros(0, np.int64))
        closed = closed.copy()
        closed[bad] = self.created[lead[bad]] - _lag(rng, len(bad), 30, 0.8, min_seconds=DAY)
        account = self.account[lead]
        band = self.acc_band[account]
        amount = np.round(SIZE_DEAL[band] * factor * np.exp(0.4 * rng.standard_normal(k)), -2)
        product = np.where(pipeline == 1, 3, SIZE_PRODUCT[band])
        age = (H - created) // DAY
        open_stage = np.searchsorted(np.array([21, 60]), age, side="right")  # Discovery, Proposal, Negotiation
        stage_names = OPEN_DEAL_STAGES + ("Closed Won", "Closed Lost")
        stage = np.where(is_closed, np.where(won, 3, 4), open_stage)
        won_s = pl.Series(sc.WON, won, dtype=pl.Boolean).set(pl.Series(~is_closed), None)
        names = pl.DataFrame({"c": self.acc_name.gather(pl.Series(account, dtype=pl.UInt32)),
                              "p": _strings(PRODUCTS, product)}).select(
            pl.concat_str("c", "p", separator=" - ").alias(sc.NAME)).to_series()
        return pl.DataFrame([
            _ids("D", k, 7).alias(sc.DEAL_ID),
            self.lead_ids.gather(pl.Series(lead, dtype=pl.UInt32)).alias(sc.LEAD_ID),
            self.account_ids.gather(pl.Series(account, dtype=pl.UInt32)).alias(sc.ACCOUNT_ID),
            names,
            _strings(stage_names, stage).alias(sc.STAGE),
            pl.Series(sc.AMOUNT, amount, dtype=pl.Float64),
            _ts(created, sc.CREATED_AT),
            _ts(np.where(is_closed, closed, -1), sc.CLOSED_AT),
            won_s,
            _strings(LOST_REASONS + (None,), np.where(is_closed & ~won, lost, len(LOST_REASONS))).alias(sc.LOST_REASON),
            _strings(AES, self.ae[lead]).alias(sc.OWNER),
            _strings(PIPELINES, pipeline).alias(sc.PIPELINE),
            _strings(PRODUCTS, product).alias(sc.PRODUCT),
        ])

    def lead_frame(self) -> pl.DataFrame:
        rng, n, H = self.rng, self.n, self.horizon
        fs = self.final_stage
        was_mql = self.max_stage >= MQL
        # Owner: marketing keeps subscribers and fresh leads (a few get an SDR by territory), SDRs own
        # MQLs and recycled leads, AEs own SQL and beyond; ~3% of MQL-or-later leads lost their owner.
        sdr_owned = (fs == MQL) | ((fs == LEAD) & (was_mql | (self.source == OUTBOUND) | (rng.random(n) < 0.25)))
        ae_owned = fs >= SQL
        owner = np.where(ae_owned, len(SDRS) + self.ae, np.where(sdr_owned, self.sdr, len(SDRS) + len(AES)))
        lost_owner = (self.max_stage >= MQL) & (rng.random(n) < 0.03)
        owner = np.where(lost_owner, len(SDRS) + len(AES), owner)
        owned = owner < len(SDRS) + len(AES)

        recycled = (fs == LEAD) & (self.final_reason >= 0)
        status_values = ("New", "Open", "Attempted to contact", "In progress", "Connected", "Open deal",
                         "Customer", "Churned", "Recycled", "Nurture", "Unqualified", None)
        u = rng.random(n)
        st = np.select(
            [fs == SUB, (fs == LEAD) & ~recycled, recycled, fs == MQL, fs == SQL, fs == OPP, fs == CUST],
            [np.full(n, 11), np.where(u < 0.6, 0, 1), 8 + (u * 3).astype(int),
             np.where(u < 0.3, 1, np.where(u < 0.7, 2, 3)), np.where(u < 0.5, 4, 3), np.full(n, 5),
             np.full(n, 6)],
            default=7,
        )
        vague = rng.random(n) < 0.035
        status = _strings(status_values + VAGUE_STATUSES,
                          np.where(vague, len(status_values) + rng.integers(0, len(VAGUE_STATUSES), n), st))

        # Next action: owned, active leads usually have one (overdue or upcoming); some do not.
        active = owned & np.isin(fs, [LEAD, MQL, SQL, OPP])
        has_next = active & (rng.random(n) < 0.85)
        anchor = np.maximum(self.final_t, self.last_engagement)
        next_at = np.where(has_next, anchor + _lag(rng, n, 5, 0.8, min_seconds=4 * 3600), -1)
        next_at = np.where(has_next & (next_at < H - 120 * DAY), H - (rng.random(n) * 60 * DAY).astype(np.int64),
                           next_at)

        # E-mails: first.last@domain (numbered when taken); duplicates re-typed by hand.
        first = _strings(FIRST_NAMES, self.first)
        last = _strings(LAST_NAMES, self.last)
        domain = self.acc_domain.gather(pl.Series(self.account, dtype=pl.UInt32))
        people = pl.DataFrame({"first": first, "last": last, "domain": domain, "i": np.arange(n)})
        people = people.with_columns(
            pl.concat_str(pl.col("first").str.to_lowercase(), pl.lit("."), pl.col("last").str.to_lowercase())
            .alias("local"))
        people = people.with_columns(pl.int_range(pl.len()).over("local", "domain").alias("k"))
        email = people.select(
            pl.concat_str("local", pl.when(pl.col("k") > 0).then((pl.col("k") + 1).cast(pl.String))
                          .otherwise(pl.lit("")), pl.lit("@"), "domain").alias(sc.EMAIL)).to_series()
        if len(self.dup):
            orig = email.gather(pl.Series(self.dup_orig, dtype=pl.UInt32))
            v = pl.Series(self.dup_variant)
            f_initial = people["first"].gather(pl.Series(self.dup_orig, dtype=pl.UInt32)).str.slice(0, 1)
            initial = pl.DataFrame({"o": orig, "f": f_initial}).select(
                pl.concat_str(pl.col("f").str.to_lowercase(), pl.lit("."), pl.col("o").str.split(".").list.get(1)
                              .str.split("@").list.first(), pl.lit("@"), pl.col("o").str.split("@").list.last())
            ).to_series()
            variant = pl.DataFrame({"o": orig, "v": v, "ini": initial}).select(
                pl.when(pl.col("v") == 0).then(pl.col("o").str.to_uppercase())
                .when(pl.col("v") == 1).then(pl.col("o").str.to_titlecase())
                .when(pl.col("v") == 2).then(pl.concat_str(pl.lit(" "), pl.col("o"), pl.lit(" ")))
                .when(pl.col("v") == 3).then(pl.concat_str(pl.col("o").str.to_titlecase(), pl.lit(" ")))
                .otherwise(pl.col("ini"))
            ).to_series()
            email = email.scatter(pl.Series(self.dup, dtype=pl.UInt32), variant)
        name = pl.DataFrame({"f": first, "l": last}).select(pl.concat_str("f", "l", separator=" ")).to_series()
        country_missing = rng.random(n) < 0.03
        return pl.DataFrame([
            self.lead_ids.alias(sc.LEAD_ID),
            email.alias(sc.EMAIL),
            name.alias(sc.NAME),
            first.alias(sc.FIRST_NAME),
            last.alias(sc.LAST_NAME),
            _strings(TITLES, self.title).alias(sc.TITLE),
            self.account_ids.gather(pl.Series(self.account, dtype=pl.UInt32)).alias(sc.ACCOUNT_ID),
            self.acc_name.gather(pl.Series(self.account, dtype=pl.UInt32)).alias(sc.COMPANY),
            _ts(self.created, sc.CREATED_AT),
            _strings(SOURCES, self.source).alias(sc.SOURCE),
            _strings(SDRS + AES + (None,), owner).alias(sc.OWNER),
            _strings(STAGES, fs).alias(sc.LIFECYCLE_STAGE),
            status.alias(sc.LEAD_STATUS),
            _ts(self.last_engagement, sc.LAST_ENGAGEMENT_AT),
            _ts(next_at, sc.NEXT_ACTION_AT),
            pl.select(pl.repeat(None, n, dtype=pl.String).alias(sc.INDUSTRY)).to_series(),
            pl.select(pl.repeat(None, n, dtype=pl.Int64).alias(sc.EMPLOYEES)).to_series(),
            _strings(COUNTRIES + (None,), np.where(country_missing, len(COUNTRIES), self.country)).alias(sc.COUNTRY),
        ])

    def run(self) -> dict[str, pl.DataFrame]:
        accounts = self.accounts()
        self.account_ids = accounts[sc.ACCOUNT_ID]
        self.people()
        self.lead_ids = _ids("L", self.n, 7)
        self.journey()
        self.stage_frame()
        activities = self.activities()
        stage_events = self.stage_events()
        deals = self.deal_frame()
        leads = self.lead_frame()
        return {sc.LEADS.name: leads, sc.ACCOUNTS.name: accounts, sc.ACTIVITIES.name: activities,
                sc.STAGE_EVENTS.name: stage_events, sc.DEALS.name: deals}


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def sample_tables(*, leads: int, seed: int = 7, activities_per_lead: float = 10.0,
                  end: date = date(2026, 10, 31)) -> dict[str, pl.DataFrame]:
    """Canonical frames (leads, accounts, activities, stage_events, deals) for `leads` leads.

    About two years of history ending on `end` (nothing is dated after it, except next-action due
    dates, which may lie in the near future); about `activities_per_lead` activities per lead on
    average. Deterministic in its arguments: no clock, no global random state.
    """
    return _Generator(leads, seed, activities_per_lead, end).run()


def write_sample(out_dir: Path, *, leads: int, seed: int = 7, fmt: str = "csv") -> dict[str, Path]:
    """Write one `<table>.csv` (or `.parquet`) per sample table into `out_dir`; return the paths."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = sample_tables(leads=leads, seed=seed)
    paths: dict[str, Path] = {}
    for table, frame in frames.items():
        path = out_dir / f"{table}.{fmt}"
        if fmt == "csv":
            frame.write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S")
        else:
            frame.write_parquet(path, statistics=True)
        paths[table] = path
    return paths


def planted_duplicate_pairs(*, leads: int, seed: int = 7, activities_per_lead: float = 10.0,
                            end: date = date(2026, 10, 31)) -> pl.DataFrame:
    """The duplicates `sample_tables` plants with the same arguments: one row per pair, `lead_id`
    (the later record, the same person entered again) and `original_id` (the record it repeats)."""
    gen = _Generator(leads, seed, activities_per_lead, end)
    gen.accounts()
    gen.people()
    ids = _ids("L", leads, 7)
    return pl.DataFrame({sc.LEAD_ID: ids.gather(pl.Series(gen.dup, dtype=pl.UInt32)),
                         "original_id": ids.gather(pl.Series(gen.dup_orig, dtype=pl.UInt32))})
