"""The canonical data model: every table and column the product reads, and both stage ladders.

This is the one place column names are spelled. Everything else refers to them through the
constants here, so a rename is one edit and a typo is an AttributeError, not a silent null.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import polars as pl


class Kind(StrEnum):
    """How a column's text is parsed on import."""

    TEXT = "text"  # kept verbatim (ids, names, codes: leading zeros survive)
    TIMESTAMP = "timestamp"  # parsed with an explicit list of formats
    NUMBER = "number"  # amounts and counts; currency symbols and separators understood
    INTEGER = "integer"
    BOOLEAN = "boolean"


POLARS_TYPE: dict[Kind, pl.DataType] = {
    Kind.TEXT: pl.String(),
    Kind.TIMESTAMP: pl.Datetime("us"),
    Kind.NUMBER: pl.Float64(),
    Kind.INTEGER: pl.Int64(),
    Kind.BOOLEAN: pl.Boolean(),
}

DUCKDB_TYPE: dict[Kind, str] = {
    Kind.TEXT: "VARCHAR",
    Kind.TIMESTAMP: "TIMESTAMP",
    Kind.NUMBER: "DOUBLE",
    Kind.INTEGER: "BIGINT",
    Kind.BOOLEAN: "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    doc: str = ""
    aliases: tuple[str, ...] = ()  # other spellings recognised in a canonical-looking export

    @property
    def dtype(self) -> pl.DataType:
        return POLARS_TYPE[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}


# Column names, spelled once.
LEAD_ID = "lead_id"
ACCOUNT_ID = "account_id"
DEAL_ID = "deal_id"
ACTIVITY_ID = "activity_id"
EMAIL = "email"
NAME = "name"
FIRST_NAME = "first_name"
LAST_NAME = "last_name"
TITLE = "title"
PHONE = "phone"
COMPANY = "company"
CREATED_AT = "created_at"
SOURCE = "source"
OWNER = "owner"
LIFECYCLE_STAGE = "lifecycle_stage"
LEAD_STATUS = "lead_status"
LAST_ENGAGEMENT_AT = "last_engagement_at"
NEXT_ACTION_AT = "next_action_at"
INDUSTRY = "industry"
EMPLOYEES = "employees"
ANNUAL_REVENUE = "annual_revenue"
COUNTRY = "country"
DOMAIN = "domain"
LADDER = "ladder"
STAGE = "stage"
ENTERED_AT = "entered_at"
REASON = "reason"
ACTIVITY_TYPE = "activity_type"
SOURCE_TYPE = "source_type"
OCCURRED_AT = "occurred_at"
URL = "url"
CAMPAIGN = "campaign"
CHANNEL = "channel"
AMOUNT = "amount"
CLOSED_AT = "closed_at"
WON = "won"
LOST_REASON = "lost_reason"
PIPELINE = "pipeline"
PRODUCT = "product"
TOPIC = "topic"
SCORE = "score"
SURGE = "surge"
OBSERVED_AT = "observed_at"
ATTRIBUTES = "attributes"

# Bookkeeping columns the store adds to every canonical table.
IMPORT_ID = "_import_id"
ROW_HASH = "_row_hash"
SOURCE_ROW = "_source_row"


LEADS = Table(
    name="leads",
    grain="one row per person",
    key=(LEAD_ID,),
    columns=(
        Column(LEAD_ID, required=True, doc="the lead's id in the source system",
               aliases=("contact_id", "record_id", "prospect_id", "id")),
        Column(EMAIL, doc="e-mail address, stored as exported", aliases=("e-mail", "email_address")),
        Column(NAME, doc="full name; built from first and last name when only those exist",
               aliases=("full_name", "contact_name")),
        Column(FIRST_NAME, doc="given name"),
        Column(LAST_NAME, doc="family name"),
        Column(TITLE, doc="job title", aliases=("job_title",)),
        Column(PHONE, doc="phone number, kept as text"),
        Column(ACCOUNT_ID, doc="the company's id, joining to accounts", aliases=("company_id",)),
        Column(COMPANY, doc="company name when there is no account id", aliases=("company_name",)),
        Column(CREATED_AT, Kind.TIMESTAMP, doc="when the lead was created", aliases=("create_date",)),
        Column(SOURCE, doc="lead source (original source, origin)", aliases=("lead_source", "origin")),
        Column(OWNER, doc="the lead's owner", aliases=("lead_owner", "contact_owner")),
        Column(LIFECYCLE_STAGE, doc="the CRM's current lifecycle stage", aliases=("lifecyclestage",)),
        Column(LEAD_STATUS, doc="the CRM's lead status", aliases=("status",)),
        Column(LAST_ENGAGEMENT_AT, Kind.TIMESTAMP, doc="last meaningful engagement"),
        Column(NEXT_ACTION_AT, Kind.TIMESTAMP, doc="when the next action is due"),
        Column(INDUSTRY, doc="industry, when the lead carries firmographics itself"),
        Column(EMPLOYEES, Kind.INTEGER, doc="company head count, when on the lead itself"),
        Column(COUNTRY, doc="country"),
    ),
)

ACCOUNTS = Table(
    name="accounts",
    grain="one row per company",
    key=(ACCOUNT_ID,),
    columns=(
        Column(ACCOUNT_ID, required=True, doc="the company's id", aliases=("company_id",)),
        Column(NAME, doc="company name", aliases=("company_name", "account_name", "company")),
        Column(DOMAIN, doc="web domain", aliases=("website", "company_domain_name")),
        Column(INDUSTRY, doc="industry or sector", aliases=("sector",)),
        Column(EMPLOYEES, Kind.INTEGER, doc="head count", aliases=("number_of_employees",)),
        Column(ANNUAL_REVENUE, Kind.NUMBER, doc="annual revenue", aliases=("revenue",)),
        Column(COUNTRY, doc="country"),
        Column(OWNER, doc="account owner"),
    ),
)

STAGE_EVENTS = Table(
    name="stage_events",
    grain="one row per stage entry",
    key=(LEAD_ID, LADDER, STAGE, ENTERED_AT),
    columns=(
        Column(LEAD_ID, required=True, doc="the lead that entered the stage"),
        Column(LADDER, doc="lifecycle or funnel (default lifecycle)"),
        Column(STAGE, required=True, doc="the stage entered, in the ladder's canonical names"),
        Column(ENTERED_AT, Kind.TIMESTAMP, required=True, doc="when the stage was entered",
               aliases=("changed_at", "date")),
        Column(REASON, doc="why (recycle reason, lost reason, evidence)"),
    ),
)

ACTIVITIES = Table(
    name="activities",
    grain="one row per touch",
    key=(ACTIVITY_ID,),
    columns=(
        Column(ACTIVITY_ID, doc="the touch's id; derived from its content when the export has none",
               aliases=("event_id",)),
        Column(LEAD_ID, required=True, doc="who did it"),
        Column(ACTIVITY_TYPE, required=True, doc="a canonical activity type (or an unmapped one, kept)",
               aliases=("type", "event_type")),
        Column(OCCURRED_AT, Kind.TIMESTAMP, required=True, doc="when", aliases=("timestamp", "occurred")),
        Column(SOURCE_TYPE, doc="the tool's own event name, before mapping"),
        Column(URL, doc="page or asset URL"),
        Column(CAMPAIGN, doc="campaign"),
        Column(CHANNEL, doc="channel"),
    ),
)

DEALS = Table(
    name="deals",
    grain="one row per opportunity",
    key=(DEAL_ID,),
    columns=(
        Column(DEAL_ID, required=True, doc="the deal's id", aliases=("opportunity_id",)),
        Column(LEAD_ID, doc="the lead it came from"),
        Column(ACCOUNT_ID, doc="the account it belongs to"),
        Column(NAME, doc="deal name", aliases=("deal_name",)),
        Column(STAGE, doc="the deal's stage", aliases=("deal_stage",)),
        Column(AMOUNT, Kind.NUMBER, doc="deal value", aliases=("close_value", "value")),
        Column(CREATED_AT, Kind.TIMESTAMP, doc="when the deal was created"),
        Column(CLOSED_AT, Kind.TIMESTAMP, doc="when it was won or lost", aliases=("close_date",)),
        Column(WON, Kind.BOOLEAN, doc="true when won, false when lost, empty while open"),
        Column(LOST_REASON, doc="why it was lost"),
        Column(OWNER, doc="deal owner", aliases=("deal_owner", "sales_agent")),
        Column(PIPELINE, doc="pipeline"),
        Column(PRODUCT, doc="product"),
    ),
)

INTENT_SIGNALS = Table(
    name="intent_signals",
    grain="one row per account, topic and observation",
    key=(ACCOUNT_ID, TOPIC, OBSERVED_AT),
    columns=(
        Column(ACCOUNT_ID, required=True, doc="the account the signal is about (id or domain)"),
        Column(TOPIC, doc="the researched topic"),
        Column(SCORE, Kind.NUMBER, doc="the vendor's intent score, 0–100"),
        Column(SURGE, Kind.BOOLEAN, doc="whether the vendor flags a surge"),
        Column(OBSERVED_AT, Kind.TIMESTAMP, required=True, doc="when the signal was observed"),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (LEADS, ACCOUNTS, STAGE_EVENTS, ACTIVITIES, DEALS, INTENT_SIGNALS)}


# The two ladders. Order is meaning: a later stage is further down the funnel.
LIFECYCLE = "lifecycle"
FUNNEL = "funnel"
LADDERS = (LIFECYCLE, FUNNEL)

LIFECYCLE_STAGES: tuple[str, ...] = ("subscriber", "lead", "mql", "sql", "opportunity", "customer")
LIFECYCLE_SIDE_STAGES: tuple[str, ...] = ("former_customer",)
FUNNEL_STAGES: tuple[str, ...] = ("awareness", "interest", "consideration", "intent", "opportunity", "customer")
FUNNEL_SIDE_STAGES: tuple[str, ...] = ("reactivation",)

LifecycleStage = pl.Enum(list(LIFECYCLE_STAGES + LIFECYCLE_SIDE_STAGES))
FunnelStage = pl.Enum(list(FUNNEL_STAGES + FUNNEL_SIDE_STAGES))

CANONICAL_ACTIVITY_TYPES: tuple[str, ...] = (
    "page_view", "content_view", "newsletter_signup", "social_engagement", "form_fill",
    "content_download", "webinar_registration", "webinar_attended", "email_open", "email_click",
    "case_study_view", "comparison_page_view", "product_page_view", "integration_page_view",
    "pricing_page_view", "demo_request", "trial_signup", "trial_activity", "contact_form",
    "implementation_page_view", "meeting_booked", "sales_touch",
)
# Passive e-mail events the presets map exports onto: no engagement by the lead (DOMAIN: "meaningful
# engagement = any activity type except passive ones"), the default of funnel_rules.not_meaningful.
PASSIVE_ACTIVITY_TYPES: tuple[str, ...] = ("email_open", "email_sent", "email_delivered", "email_bounced",
                                           "email_unsubscribe")
# The activity types that submit a form, and those that view a page (the capture audit's form funnels).
FORM_TYPES: tuple[str, ...] = ("form_fill", "demo_request", "contact_form", "trial_signup", "newsletter_signup",
                               "webinar_registration", "content_download")
VIEW_TYPES: tuple[str, ...] = ("page_view", "content_view", "pricing_page_view", "product_page_view",
                               "case_study_view", "comparison_page_view", "integration_page_view",
                               "implementation_page_view")

# Identity rows: how a tool names a person (kept beside the canonical tables, never activities).
TOOL_ID = "tool_id"
KEY_KIND = "key_kind"
KEY_VALUE = "key_value"
SEEN_AT = "seen_at"
# email; device (ids seen on it are one person; an id only seen on devices is anonymous); person (a
# tool's own person key shared by several of its ids, e.g. PostHog person_id); user (the identified id
# the row names); alias (another id of the same person, e.g. a CRM id); anonymous_id (an anonymous id
# the person used before identifying); name (a full name: CRMs that export lookups by name, e.g. Zoho's
# "Contact Name"; joins only a lead with that unique name); anonymous (set by the importer: a device only).
IDENTITY_KINDS: tuple[str, ...] = ("email", "device", "person", "user", "alias", "anonymous_id", "name",
                                   "anonymous")

IDENTITY_LINKS = Table(
    name="identity_links",
    grain="one row per tool id and person key it was seen with",
    key=(TOOL_ID, KEY_KIND, KEY_VALUE),
    columns=(
        Column(TOOL_ID, required=True, doc="the id the tool's rows carry in lead_id (profile, distinct or CRM id)"),
        Column(KEY_KIND, required=True, doc="one of IDENTITY_KINDS"),
        Column(KEY_VALUE, required=True, doc="the e-mail, device id, user id or other id, as exported"),
        Column(SEEN_AT, Kind.TIMESTAMP, doc="when the tool first recorded the link"),
    ),
)

# Where the store keeps the imported rows as written; the canonical names in `main` hold the rows
# resolved to leads by the identity model (funnel.model.identity).
RAW_SCHEMA = "raw"

# Extra tables the store keeps for itself.
IMPORTS = "imports"
HISTORY_SUFFIX = "__history"
SETTINGS_VERSIONS = "settings_versions"
SAVED_MAPPINGS = "saved_mappings"
REVIEW_VERDICTS = "review_verdicts"  # handoff review sample: one row per verdict given (history kept)
SETTINGS_DRAFTS = "settings_drafts"  # one unsaved rules edit per person, until an admin saves it as a version
# The lead model kept in the file (funnel.model.materialised): what each built part was built for, and the parts.
MODEL_STATE = "model_state"
MODEL_FUNNEL_ENTRIES = "model_funnel_entries"
MODEL_LIFECYCLE_ENTRIES = "model_lifecycle_entries"
MODEL_SCORING_FACTS = "model_scoring_facts"
MODEL_INTENT_DAYS = "model_intent_days"
MODEL_SURGE_DAYS = "model_surge_days"
MODEL_TABLE_SPANS = "model_table_spans"
MODEL_FIRST_TOUCHES = "model_first_touches"
MODEL_PERSON_RECORDS = "model_person_records"
MODEL_COMPANY_RECORDS = "model_company_records"
MODEL_LEAD_FINDINGS = "model_lead_findings"
MODEL_ACCOUNT_FINDINGS = "model_account_findings"
MODEL_FORM_TOUCHES = "model_form_touches"
MODEL_CONTENT_VIEWS = "model_content_views"
MODEL_ENGAGEMENT_DAYS = "model_engagement_days"
# The columns of a funnel entry that name the row behind it (type, id, time): shown on explanations, never counted.
EVIDENCE_COLUMNS = ("evidence_type", "evidence_id", "evidence_at")
# The parts of the lead model, as model_state names them.
IDENTITY_PART = "identity"  # the resolved tables in main (funnel.model.identity), built for the [identity] rules
FUNNEL_PART = "funnel_entries"
LIFECYCLE_PART = "lifecycle_entries"
SCORING_FACTS_PART = "scoring_facts"
INTENT_INPUTS_PART = "intent_inputs"
TABLE_SPANS_PART = "table_spans"  # rows, date span and newest timestamp of each canonical table
FIRST_TOUCHES_PART = "first_touches"  # each lead's first campaign and first page (the capture audit's entry points)
FORM_TOUCHES_PART = "form_touches"  # each lead's first submission and first view of each form (form funnels)
CONTENT_VIEWS_PART = "content_views"  # each funnel stay's first view of each content type (content → next stage)
ENGAGEMENT_PART = "engagement_days"  # each lead's days with a meaningful activity (hygiene: no engagement)
AUDIT_RECORDS_PART = "audit_records"  # each lead's and account's match keys, each value not in standard form (CRM audit)
# The tables each part is kept in (the identity part is the resolved canonical tables themselves): a copy of
# the store (funnel export-tables) carries a part only with its tables.
MODEL_PART_TABLES = {FUNNEL_PART: (MODEL_FUNNEL_ENTRIES,), LIFECYCLE_PART: (MODEL_LIFECYCLE_ENTRIES,),
                     SCORING_FACTS_PART: (MODEL_SCORING_FACTS,), INTENT_INPUTS_PART: (MODEL_INTENT_DAYS, MODEL_SURGE_DAYS),
                     TABLE_SPANS_PART: (MODEL_TABLE_SPANS,), FIRST_TOUCHES_PART: (MODEL_FIRST_TOUCHES,),
                     AUDIT_RECORDS_PART: (MODEL_PERSON_RECORDS, MODEL_COMPANY_RECORDS, MODEL_LEAD_FINDINGS,
                                          MODEL_ACCOUNT_FINDINGS),
                     FORM_TOUCHES_PART: (MODEL_FORM_TOUCHES,), CONTENT_VIEWS_PART: (MODEL_CONTENT_VIEWS,),
                     ENGAGEMENT_PART: (MODEL_ENGAGEMENT_DAYS,)}


@lru_cache(maxsize=1024)  # recognising a file normalises each header once per preset tried
def normalise_name(raw: str) -> str:
    """A header as a canonical-looking name: trimmed, lower-case, words joined by underscores."""
    out = []
    prev_sep = True
    for ch in raw.strip().lower():
        if ch.isalnum():
            out.append(ch)
            prev_sep = False
        elif not prev_sep:
            out.append("_")
            prev_sep = True
    return "".join(out).strip("_")


def stages_of(ladder: str) -> tuple[str, ...]:
    """The ordered main stages of a ladder (side states excluded)."""
    if ladder == LIFECYCLE:
        return LIFECYCLE_STAGES
    if ladder == FUNNEL:
        return FUNNEL_STAGES
    raise ValueError(f"unknown ladder {ladder!r}; expected one of {', '.join(LADDERS)}")
