"""Finding a lead by id, e-mail or name."""

from __future__ import annotations

import duckdb
import polars as pl

from funnel.store.db import frame
from funnel.store.queries import sql_text


def matching_leads(con: duckdb.DuckDBPyConnection, *, query: str, limit: int = 50) -> pl.DataFrame:
    """Up to `limit` leads whose id, e-mail or name contains `query` (any case), exact id first."""
    text = query.strip().lower()
    if not text:
        return pl.DataFrame(schema={"lead_id": pl.String, "name": pl.String, "email": pl.String,
                                    "company": pl.String, "lifecycle_stage": pl.String, "owner": pl.String})
    return frame(con, sql_text("lead_search"), {"q": text, "limit": limit})


CARD_FIELDS = (("funnel stage", "funnel_stage"), ("since", "stage_entered_at"), ("lifecycle stage", "lifecycle_stage"),
               ("fit", "fit_score"), ("ideal customer profile", "icp"), ("intent", "intent_score"),
               ("quadrant", "quadrant"), ("tags", "tags"), ("team", "team"), ("next owner", "next_owner"),
               ("next action", "next_action"), ("due", "next_action_due"), ("routed by rule", "route_rule"),
               ("nurture track", "track"), ("evidence", "evidence"))


def lead_card(report_row: dict) -> pl.DataFrame:
    """One lead's row of `leads_report` as a two-column table of readable text."""
    def text(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.1f}"
        if isinstance(value, (list, tuple)):
            return ", ".join(map(str, value)) or "–"
        return str(value)

    return pl.DataFrame({"": [label for label, _ in CARD_FIELDS],
                         "value": [text(report_row.get(key)) for _, key in CARD_FIELDS]})
