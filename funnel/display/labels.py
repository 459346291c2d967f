"""The one label table: every column, stage, quadrant, outcome and metric name a person reads, in their words,
with how each column is shown (its kind: a count, a rate, a date, …) and what an empty cell means.

Pages, tables and charts take their words from here. The tables are data (plain dicts); the functions only
look them up: `column_label`/`column_kind` for headers, `value_label`/`stage_label` for coded values, and
`readable_frame` for the cells of a table as shown (coded values named, timestamps at midnight as dates, and
every empty cell written as what it means: "not reached", "—", never "None").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from funnel.model.matrix import QUADRANT_LABELS

__all__ = [
    "COLUMNS",
    "KINDS",
    "STAGES",
    "VALUES",
    "ColumnSpec",
    "column_kind",
    "column_label",
    "column_spec",
    "is_raw_name",
    "readable_frame",
    "stage_label",
    "stage_labels",
    "step_label",
    "value_label",
]

# The stages of both default ladders (configured stages not named here read as their name, spaces for '_').
STAGES: dict[str, str] = {
    "subscriber": "Subscriber", "lead": "Lead", "mql": "MQL", "sql": "SQL", "opportunity": "Opportunity",
    "customer": "Customer", "former_customer": "Former customer", "awareness": "Awareness", "interest": "Interest",
    "consideration": "Consideration", "intent": "Intent", "reactivation": "Reactivation",
    "(no stage yet)": "(no stage yet)", "(no stage)": "(no stage yet)",
}

# Coded values other than stages: fit × intent quadrants, conversion and handoff outcomes, flow directions,
# review periods.
VALUES: dict[str, str] = {
    **QUADRANT_LABELS,
    "advanced": "Advanced", "lost": "Recycled or lost", "expired": "Expired", "open": "Still open",
    "accepted": "Accepted", "recycled": "Sent back", "pending": "Pending", "bounced": "Bounced",
    "breached": "Over the MQL SLA", "untouched": "Never touched",
    "up": "Up the ladder", "down": "Down (recycled)", "side": "To a side state", "back": "Back from a side state",
    "start": "New lead",
    "current": "This month", "previous": "Last month", "year_ago": "A year earlier",
}

# Kinds of column and how each is shown. `text` and `long_text` are plain; `code` and `stage` have their
# values named from VALUES/STAGES; numbers are formatted by kind.
KINDS = ("text", "long_text", "code", "stage", "count", "rate", "ratio", "number", "points", "score", "days", "hours",
         "money", "p_value", "date", "datetime", "month", "flag")


@dataclass(frozen=True)
class ColumnSpec:
    """A column as shown: its header, its kind and the text of an empty cell."""

    label: str
    kind: str = "text"
    missing: str = "—"


def _spec(label: str, kind: str = "text", missing: str = "—") -> ColumnSpec:
    return ColumnSpec(label, kind, missing)


# column name → header, kind, text of an empty cell. Names not listed are read by pattern (see column_spec).
COLUMNS: dict[str, ColumnSpec] = {
    # who and what
    "lead_id": _spec("Lead"), "name": _spec("Name"), "email": _spec("E-mail"), "company": _spec("Company"),
    "title": _spec("Job title"), "owner": _spec("Owner"), "source": _spec("Source"), "industry": _spec("Industry"),
    "size_band": _spec("Company size"), "seniority": _spec("Seniority"), "tags": _spec("Tags"), "country": _spec("Country"), "region": _spec("Region"),
    "icp": _spec("Ideal customer profile", missing="no profile"), "tag": _spec("Tag"), "segment": _spec("Segment"),
    "account_id": _spec("Account"), "deal_id": _spec("Deal"), "product": _spec("Product"),
    "pipeline": _spec("Pipeline"), "lead_status": _spec("Lead status"), "activity_type": _spec("Activity type", "code"),
    "activity_id": _spec("Activity"), "url": _spec("Page"), "campaign": _spec("Campaign"),
    "channel": _spec("Channel"), "reason": _spec("Reason", "long_text"), "basis": _spec("Counted from"),
    # stages and codes
    "stage": _spec("Stage", "stage", "(no stage yet)"), "from_stage": _spec("From stage", "stage"),
    "to_stage": _spec("To stage", "stage"), "lifecycle_stage": _spec("Lifecycle stage", "stage"),
    "funnel_stage": _spec("Funnel stage", "stage"), "returned_from": _spec("Sent back from", "stage"),
    "quadrant": _spec("Fit × intent", "code"), "outcome": _spec("Outcome", "code"),
    "direction": _spec("Direction", "code"), "period": _spec("Period", "code"), "bucket": _spec("Aging bucket"),
    "label": _spec("Cell"), "kind": _spec("Kind"), "ladder": _spec("Ladder"),
    # counts
    "leads": _spec("Leads", "count"), "leads_before": _spec("Leads 30 days earlier", "count"),
    "change": _spec("Change", "number"), "dated": _spec("With an entry date", "count"),
    "stays": _spec("Stays in stage", "count"), "entered": _spec("Entered", "count"),
    "advanced": _spec("Advanced", "count"), "lost": _spec("Recycled or lost", "count"),
    "expired": _spec("Expired", "count"), "open": _spec("Still open", "count"),
    "excluded": _spec("Left out (strict)", "count"), "implied": _spec("Implied (skipped)", "count"),
    "converted": _spec("Converted", "count"), "decided": _spec("Decided", "count"), "cohort": _spec("Cohort", "count"),
    "mqls": _spec("MQLs", "count"), "accepted": _spec("Accepted", "count"), "recycled": _spec("Sent back", "count"),
    "pending": _spec("Pending", "count"), "touched": _spec("Touched", "count"),
    "untouched": _spec("Never touched", "count"), "sla_breaches": _spec("SLA breaches", "count"),
    "bounced": _spec("Bounced", "count"), "recycled_after_acceptance": _spec("Recycled after acceptance", "count"),
    "deals": _spec("Deals", "count"), "closed": _spec("Closed", "count"), "won": _spec("Won", "count"),
    "open_deals": _spec("Open deals", "count"), "new_leads": _spec("New leads", "count"),
    "won_deals": _spec("Won deals", "count"), "over_sla": _spec("Over SLA", "count"), "moves": _spec("Moves", "count"),
    "rows": _spec("Rows", "count"), "added": _spec("Added", "count"), "updated": _spec("Updated", "count"),
    "unchanged": _spec("Unchanged", "count"), "matches": _spec("Matches", "count"), "wins": _spec("Wins", "count"),
    "loses": _spec("Loses", "count"), "verdicts": _spec("Verdicts", "count"),
    "judged_right": _spec("Judged right", "count"), "reviewers": _spec("Reviewers", "count"),
    "filled": _spec("Filled", "count"), "lacking": _spec("Lacking it", "count"), "viewers": _spec("Viewed", "count"),
    "submitters": _spec("Submitted", "count"), "viewed_then_submitted": _spec("Viewed, then submitted", "count"),
    "leads_with": _spec("Leads with", "count"), "converted_with": _spec("Converted with", "count"),
    "leads_without": _spec("Leads without", "count"), "converted_without": _spec("Converted without", "count"),
    "now": _spec("Now", "count"), "month_before": _spec("A month before", "count"), "have": _spec("Has", "count"),
    "filled_first": _spec("Filled at first import", "count"), "filled_later": _spec("Filled later", "count"),
    "need": _spec("Needs", "count"), "position": _spec("Order", "count"), "criterion": _spec("Criterion", "count"),
    "import_id": _spec("Import", "count"), "verdict_id": _spec("Verdict", "count"),
    # rates, shares, ratios
    "share": _spec("Share", "rate"), "rate": _spec("Rate", "rate"), "rate_lo": _spec("95% low", "rate"),
    "rate_hi": _spec("95% high", "rate"), "rate_interval": _spec("95% interval"), "low": _spec("95% low", "rate"),
    "high": _spec("95% high", "rate"),
    "win_rate": _spec("Win rate", "rate"), "acceptance_rate": _spec("Acceptance", "rate"),
    "fill_rate": _spec("Fill rate", "rate"), "completion": _spec("Completion", "rate"),
    "fill_first": _spec("Fill rate at first import", "rate"), "fill_later": _spec("Fill rate later", "rate"),
    "fill_change": _spec("Change in fill rate", "rate"),
    "share_right": _spec("Share judged right", "rate"), "share_low": _spec("95% low", "rate"),
    "share_high": _spec("95% high", "rate"), "rate_with": _spec("Rate with", "rate"),
    "with_rate": _spec("Rate with", "rate"), "with_low": _spec("With: 95% low", "rate"),
    "with_high": _spec("With: 95% high", "rate"), "rate_without": _spec("Rate without", "rate"),
    "without_rate": _spec("Rate without", "rate"), "without_low": _spec("Without: 95% low", "rate"),
    "without_high": _spec("Without: 95% high", "rate"), "mix_part": _spec("Mix part", "rate"),
    "rate_part": _spec("Rate part", "rate"), "rate_before": _spec("Rate, previous period", "rate"),
    "entered_before": _spec("Entered, previous period", "count"), "change_pts": _spec("Change (points)", "points"), "lift": _spec("Lift", "ratio"), "lift_low": _spec("Lift 95% low", "ratio"),
    "lift_high": _spec("Lift 95% high", "ratio"), "match_probability": _spec("Match probability", "rate"),
    # durations
    "median_days": _spec("Median days", "days", "not reached"), "p80_days": _spec("p80 days", "days", "not reached"),
    "p90_days": _spec("p90 days", "days", "not reached"),
    "median_days_to_customer": _spec("Median days to customer", "days", "not reached"),
    "median_cycle_days": _spec("Median cycle (days)", "days", "not reached"),
    "p80_cycle_days": _spec("p80 cycle (days)", "days", "not reached"),
    "median_open_age_days": _spec("Median age of open deals (days)", "days", "no open deal"),
    "days_in_stage": _spec("Days in stage", "days"), "sla_days": _spec("SLA (days)", "days", "no SLA"),
    "days_at_mql": _spec("Days at MQL", "days"), "age_days": _spec("Age (days)", "days"),
    "window_days": _spec("Window (days)", "days"),
    "hours_to_touch": _spec("Hours to touch", "hours", "not touched"),
    "speed_to_lead_median_hours": _spec("Median hours to touch", "hours", "not reached"),
    "speed_to_lead_p90_hours": _spec("p90 hours to touch", "hours", "not reached"),
    # money and scores
    "won_amount": _spec("Won amount", "money"), "amount": _spec("Amount", "money"),
    "fit_score": _spec("Fit", "score"), "intent_score": _spec("Intent", "score"), "points": _spec("Points", "score"),
    "counted": _spec("Counted", "score"), "weight": _spec("Weight", "score"), "decay": _spec("Decay", "score"),
    "match_weight": _spec("Match weight", "score"), "p_value": _spec("p-value", "p_value"),
    "q_value": _spec("q-value", "p_value"),
    # dates
    "created_at": _spec("Created", "datetime"), "entered_at": _spec("Entered", "datetime"),
    "occurred_at": _spec("When", "datetime"), "at": _spec("When", "datetime"),
    "mql_at": _spec("MQL at", "datetime"), "decided_at": _spec("Decided", "datetime", "not decided"),
    "first_touch_at": _spec("First sales touch", "datetime", "not touched"),
    "returned_at": _spec("Back to nurture", "datetime", "not sent back"),
    "next_action_at": _spec("Next action date", "datetime", "none set"),
    "next_action_due": _spec("Next action due", "date", "none"), "imported_at": _spec("Imported", "datetime"),
    "removed_at": _spec("Removed", "datetime", "active"), "recorded_at": _spec("Recorded", "datetime"),
    "first": _spec("First", "date"), "last": _spec("Last", "date"), "month": _spec("Month", "month"),
    "month_end": _spec("Month end", "date"), "cutoff": _spec("Scores taken", "date"), "as_of": _spec("As of", "date"),
    "cohort_month": _spec("Entry month", "month"), "last_engagement_at": _spec("Last engagement", "datetime"),
    # flags
    "small_sample": _spec("Small sample", "flag"), "over_sla_flag": _spec("Over SLA", "flag"),
    "sla_breached": _spec("SLA breached", "flag"), "below_target": _spec("Below target", "flag"),
    "best": _spec("Best profile", "flag"), "matched": _spec("Matched", "flag"),
    "significant": _spec("Beyond chance", "flag"),
    "with_small_sample": _spec("With: small sample", "flag"),
    "without_small_sample": _spec("Without: small sample", "flag"),
    # words of other tables
    "description": _spec("Check", "long_text"), "what_to_do": _spec("What to do", "long_text"),
    "check": _spec("Check", "code"), "detail": _spec("Detail", "long_text"), "note": _spec("Note", "long_text"),
    "action": _spec("Action", "long_text"), "next_action": _spec("Next action", "long_text"),
    "next_owner": _spec("Next owner"), "evidence": _spec("Evidence", "long_text"),
    "sentence": _spec("What changed", "long_text"), "text": _spec("What is missing", "long_text"),
    "rule": _spec("Rule"), "field": _spec("Field"), "value": _spec("Value"), "setting": _spec("Setting"),
    "finding": _spec("Finding"), "question": _spec("Question"),
    "reviewer": _spec("Reviewer"), "table": _spec("Table"), "table_name": _spec("Table"),
    "file_name": _spec("File"), "format": _spec("Format"), "derived": _spec("Derived"),
    "mapping": _spec("Mapping"), "id": _spec("Record"), "id_l": _spec("Record"), "id_r": _spec("Same as"),
    "cluster": _spec("Group"), "survivor": _spec("Kept"), "merged": _spec("Merged into it"),
    "current": _spec("Current value"), "suggested": _spec("Suggested value"), "from_id": _spec("Taken from"),
    "caused": _spec("Caused"), "row_id": _spec("Row"), "what": _spec("What"), "team": _spec("Team"),
    "assign": _spec("Assigns to"), "subject": _spec("Subject"), "track": _spec("Track"), "content": _spec("Content"),
    "alert": _spec("Alert"), "route_rule": _spec("Routing rule"), "age": _spec("Lead age"), "form": _spec("Form"),
    "by": _spec("By"), "verdict": _spec("Verdict"), "sha256": _spec("Checksum"),
    # identity across tools
    "key": _spec("Key"), "candidates": _spec("Candidate leads"), "chosen": _spec("Given to"),
    "anonymous": _spec("Anonymous", "flag"), "person_id": _spec("Person id"), "by_email": _spec("By e-mail"),
}

_SUFFIXES = (  # name ending → (header suffix, kind or None for the base's kind, missing)
    ("_small_sample", ": small sample", "flag"),
    ("_significant", ": beyond chance", "flag"),
    ("_lo", " 95% low", None), ("_hi", " 95% high", None),
    ("_p", ": p-value", "p_value"), ("_q", ": q-value", "p_value"),
)
_PERIOD_SUFFIXES = (("_cur", "this month"), ("_prev", "last month"))
_SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


def is_raw_name(text: str) -> bool:
    """True for a snake_case identifier (two or more lower-case words joined by '_'): never a header."""
    return bool(_SNAKE.match(text))


def _humanised(name: str) -> str:
    """An unknown snake_case name as words ("lead_score" → "Lead score"); other names as they are."""
    if not is_raw_name(name):
        return name
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def stage_label(stage: object) -> str:
    """A stage id as people say it ("mql" → "MQL", "former_customer" → "Former customer")."""
    if stage is None:
        return STAGES["(no stage yet)"]
    text = str(stage)
    return STAGES.get(text, _humanised(text) if "_" in text else text[:1].upper() + text[1:])


def stage_labels(stages: Iterable[object]) -> list[str]:
    """`stage_label` of each stage."""
    return [stage_label(s) for s in stages]


def step_label(from_stage: object, to_stage: object) -> str:
    """A conversion step as people say it ("MQL → SQL")."""
    return f"{stage_label(from_stage)} → {stage_label(to_stage)}"


def value_label(value: object) -> str:
    """A coded value (quadrant, outcome, direction, period, activity type) as people say it: from VALUES,
    else its words when it is a snake_case id ("case_study_view" → "Case study view"), else as it is."""
    text = "" if value is None else str(value)
    return VALUES.get(text, _humanised(text))


def column_spec(name: str) -> ColumnSpec:
    """How column `name` is shown: from COLUMNS, else by its pattern (reached_<stage>_rate, entered_<stage>,
    <rate>_lo, <column>_cur, …), else its words with the kind guessed from the name's ending."""
    if name in COLUMNS:
        return COLUMNS[name]
    for suffix, period in _PERIOD_SUFFIXES:
        if name.endswith(suffix):
            base = column_spec(name.removesuffix(suffix))
            return ColumnSpec(f"{base.label} {period}", base.kind, base.missing)
    for suffix, words, kind in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            base = column_spec(name.removesuffix(suffix))
            return ColumnSpec(base.label + words, kind or base.kind, base.missing)
    for prefix, word in (("reached_", "Reached"), ("entered_", "Entered")):
        if name.startswith(prefix):
            stage = name.removeprefix(prefix)
            if stage.endswith("_rate"):
                return ColumnSpec(f"→ {stage_label(stage.removesuffix('_rate'))}", "rate")
            return ColumnSpec(f"{word} {stage_label(stage)}", "count")
    kind = ("rate" if name.endswith(("_rate", "_share")) else "datetime" if name.endswith("_at")
            else "days" if name.endswith("_days") else "text")
    return ColumnSpec(_humanised(name), kind)


def column_label(name: str) -> str:
    """The header of column `name`."""
    return column_spec(name).label


def column_kind(name: str) -> str:
    """The kind of column `name` (one of KINDS)."""
    return column_spec(name).kind


def _number_text(value: object, kind: str) -> str:
    """One number as text in the format its kind is shown in (a column with empty cells is shown as text)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d}" if kind == "date" or value.time() == datetime.min.time() else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return f"{value:%Y-%m}" if kind == "month" else f"{value:%Y-%m-%d}"
    if not isinstance(value, int | float):
        return str(value)
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "ratio":
        return f"{value:.2f}×"
    if kind == "p_value":
        return f"{value:.3g}"
    if kind in ("count", "money"):
        return f"{value:,.0f}"
    if kind == "points":
        return f"{value:+.1f}"
    if kind in ("days", "hours", "score", "number"):
        return f"{value:,.1f}".removesuffix(".0")
    return f"{value:,}"


def _midnight_only(column: pl.Series) -> bool:
    values = column.drop_nulls()
    return values.len() > 0 and bool((values.dt.truncate("1d") == values).all())


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Enum | pl.Categorical)


def _named(values: pl.Series, name_of) -> pl.Expr:
    """The column with each distinct value replaced by `name_of(value)` (computed once per value)."""
    distinct = values.cast(pl.String).unique().drop_nulls().to_list()
    return pl.col(values.name).cast(pl.String).replace({v: name_of(v) for v in distinct})


def _readable_column(values: pl.Series) -> pl.Expr:
    """One column as a table shows it (see `readable_frame`)."""
    spec, dtype = column_spec(values.name), values.dtype
    column = pl.col(values.name)
    kind = spec.kind
    if kind == "stage" and _is_text(dtype):
        column = _named(values, stage_label)
    elif kind == "code" and _is_text(dtype):
        column = _named(values, value_label)
    elif isinstance(dtype, pl.Enum | pl.Categorical):
        column = column.cast(pl.String)
    elif isinstance(dtype, pl.Datetime) and (kind in ("date", "month") or _midnight_only(values)):
        column = column.dt.date()
        kind = kind if kind == "month" else "date"
    if dtype == pl.Null:
        return column.cast(pl.String).fill_null(spec.missing)
    if values.null_count() == 0:
        return column
    if dtype.is_numeric() or dtype in (pl.Boolean, pl.Date) or isinstance(dtype, pl.Datetime):
        column = column.map_elements(lambda v: _number_text(v, kind), return_dtype=pl.String, skip_nulls=True)
    return column.cast(pl.String).fill_null(spec.missing)


def readable_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` as a table shows it, same columns and rows in the same order: stage and coded values named
    (STAGES, VALUES), timestamps that are all at midnight as dates, and every column holding an empty cell
    written as text in its kind's format with the column's `missing` text in the empty cells (so no cell
    reads "None"). Columns without empty cells keep their type, for the table's own number formats."""
    if not frame.width:
        return frame
    return frame.select([_readable_column(frame.get_column(name)).alias(name) for name in frame.columns])
