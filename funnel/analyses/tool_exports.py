"""Segments back to the tools: any set of routed leads (a segment, queue or track) in the import
format of the tool that acts on it. Files are written by `funnel.export.csv_bytes`, the one
formula-neutralising path. Column names each tool expects are listed in the README.

- **hubspot**: a contact import that updates existing records: "Record ID" (the lead id from the
  HubSpot export) and "Email" identify the contact; the other columns set contact properties
  (create them in HubSpot with these labels first).
- **salesforce**: a Data Loader *Update* file for the Lead object: "Id" (the 18-character record
  id, the lead id of a Salesforce export) and custom fields named `<Field>__c`.
- **klaviyo**: a list/profile import: "Email", "First Name", "Last Name", then custom properties.
- **mailchimp**: an audience import: "Email Address", "First Name", "Last Name", "Tags" (comma
  separated: funnel stage, quadrant, nurture track).

Leads without an e-mail address cannot go to the e-mail tools (klaviyo, mailchimp) and are left
out there; `tool_export` says how many.
"""

from __future__ import annotations

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.errors import FunnelError
from funnel.model import routing, stages
from funnel.store.db import frame

__all__ = ["SEGMENT_COLUMNS", "TOOLS", "lead_names", "segment_of", "tool_export"]

TOOLS = ("hubspot", "salesforce", "klaviyo", "mailchimp")
EMAIL_TOOLS = ("klaviyo", "mailchimp")


def lead_names(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per lead: lead_id, email, first_name, last_name (the name split at its first space
    when the export has no separate fields)."""
    names = frame(con, "SELECT lead_id, email, first_name, last_name, name FROM leads WHERE lead_id IS NOT NULL")
    whole = pl.col(sc.NAME).str.strip_chars()
    return names.select(
        sc.LEAD_ID, pl.col(sc.EMAIL).str.strip_chars(),
        pl.coalesce(pl.col(sc.FIRST_NAME), whole.str.split(" ").list.first()).alias(sc.FIRST_NAME),
        pl.coalesce(pl.col(sc.LAST_NAME),
                    pl.when(whole.str.contains(" ")).then(whole.str.splitn(" ", 2).struct.field("field_1")))
        .alias(sc.LAST_NAME)).unique(sc.LEAD_ID, keep="first")


SEGMENT_COLUMNS = (routing.ROUTE_RULE, routing.TEAM, routing.NEXT_OWNER, routing.TRACK, stages.FUNNEL_STAGE,
                   "quadrant", "icp")


def segment_of(leads: pl.DataFrame, chosen: dict[str, str | None]) -> pl.DataFrame:
    """The leads whose value equals the chosen one in every column of `chosen` (a segment, queue or
    track: route_rule, team, next_owner, track, funnel_stage, quadrant, icp); None = any."""
    for column, value in chosen.items():
        if column not in SEGMENT_COLUMNS:
            raise FunnelError(f"leads cannot be chosen by {column!r}", value=column,
                              hint=f"Use one of: {', '.join(SEGMENT_COLUMNS)}")
        if value is not None:
            leads = leads.filter(pl.col(column) == value)
    return leads


def _due_text() -> pl.Expr:
    return pl.col(routing.NEXT_ACTION_DUE).dt.to_string("%Y-%m-%d")


def tool_export(leads: pl.DataFrame, names: pl.DataFrame, *, tool: str) -> tuple[pl.DataFrame, int]:
    """The rows of `leads` (routed lead scores: lead_id, funnel_stage, fit_score, intent_score,
    quadrant, icp, next_owner, next_action, next_action_due, route_rule, track) in `tool`'s import
    columns, and how many leads were left out for having no e-mail address."""
    if tool not in TOOLS:
        raise FunnelError(f"there is no export format for {tool!r}", value=tool, hint=f"Use one of: {', '.join(TOOLS)}")
    rows = leads.join(names, on=sc.LEAD_ID, how="left")
    left_out = 0
    if tool in EMAIL_TOOLS:
        has_email = pl.col(sc.EMAIL).is_not_null() & (pl.col(sc.EMAIL) != "")
        left_out = rows.filter(~has_email).height
        rows = rows.filter(has_email)
    intent = pl.col("intent_score").round(1)
    if tool == "hubspot":
        out = rows.select(pl.col(sc.LEAD_ID).alias("Record ID"), pl.col(sc.EMAIL).alias("Email"),
                          pl.col(stages.FUNNEL_STAGE).alias("Funnel Stage"), pl.col("fit_score").alias("Fit Score"),
                          intent.alias("Intent Score"), pl.col("quadrant").alias("Fit Intent Quadrant"),
                          pl.col("icp").alias("ICP"), pl.col(routing.NEXT_OWNER).alias("Next Owner"),
                          pl.col(routing.NEXT_ACTION).alias("Next Action"), _due_text().alias("Next Action Date"),
                          pl.col(routing.ROUTE_RULE).alias("Routing Rule"))
    elif tool == "salesforce":
        out = rows.select(pl.col(sc.LEAD_ID).alias("Id"), pl.col(stages.FUNNEL_STAGE).alias("Funnel_Stage__c"),
                          pl.col("fit_score").alias("Fit_Score__c"), intent.alias("Intent_Score__c"),
                          pl.col("quadrant").alias("Fit_Intent_Quadrant__c"), pl.col("icp").alias("ICP__c"),
                          pl.col(routing.NEXT_OWNER).alias("Next_Owner__c"),
                          pl.col(routing.NEXT_ACTION).alias("Next_Action__c"),
                          _due_text().alias("Next_Action_Date__c"), pl.col(routing.ROUTE_RULE).alias("Routing_Rule__c"))
    elif tool == "klaviyo":
        out = rows.select(pl.col(sc.EMAIL).alias("Email"), pl.col(sc.FIRST_NAME).alias("First Name"),
                          pl.col(sc.LAST_NAME).alias("Last Name"), pl.col(stages.FUNNEL_STAGE).alias("Funnel Stage"),
                          pl.col("quadrant").alias("Fit Intent Quadrant"), pl.col("icp").alias("ICP"),
                          pl.col(routing.TRACK).alias("Nurture Track"))
    else:
        tags = pl.concat_list(pl.col(stages.FUNNEL_STAGE), pl.col("quadrant"),
                              pl.col(routing.TRACK).str.replace_all(",", "")).list.drop_nulls()
        out = rows.select(pl.col(sc.EMAIL).alias("Email Address"), pl.col(sc.FIRST_NAME).alias("First Name"),
                          pl.col(sc.LAST_NAME).alias("Last Name"), tags.list.join(",").alias("Tags"))
    return out, left_out
