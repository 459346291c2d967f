"""Shared by the metric tests: a store built from a few rows written out in the test, and the
hand-computed scenario most given/expect tables use. (No tests here.)"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.config import default_settings
from funnel.filters import Filters
from funnel.store.db import memory_connection, quote_ident

SETTINGS = default_settings()


def ts(text: str | None) -> datetime | None:
    """'2026-01-05' or '2026-01-05 10:30' as a naive timestamp (None stays None)."""
    if text is None:
        return None
    return datetime.fromisoformat(text if " " in text else f"{text} 00:00")


def store(con: duckdb.DuckDBPyConnection | None = None, **tables: list[dict]) -> duckdb.DuckDBPyConnection:
    """An in-memory store holding exactly these rows (timestamps given as text). Given a store made
    here, it is emptied and refilled (quicker than a new one), its lead model forgotten with its rows."""
    if con is None:
        con = memory_connection()
    else:
        for name in sc.TABLES:
            con.execute(f"DELETE FROM {quote_ident(name)}")
        con.execute(f"DELETE FROM {quote_ident(sc.MODEL_STATE)}")
    for name, rows in tables.items():
        if not rows:
            continue
        spec = sc.TABLES[name]
        columns = list(dict.fromkeys(c for row in rows for c in row))
        data = {c: [(ts(r.get(c)) if spec.column(c).kind == sc.Kind.TIMESTAMP else r.get(c)) for r in rows]
                for c in columns}
        frame = pl.DataFrame(data, schema={c: spec.column(c).dtype for c in columns})
        con.register("_rows", frame.to_arrow())
        quoted = ", ".join(quote_ident(c) for c in columns)
        con.execute(f"INSERT INTO {quote_ident(name)} ({quoted}) SELECT {quoted} FROM _rows")
        con.unregister("_rows")
    return con


def events(lead: str, *entries: tuple[str, str] | tuple[str, str, str]) -> list[dict]:
    """Lifecycle stage events of one lead: (stage, when[, reason])."""
    return [{"lead_id": lead, "ladder": "lifecycle", "stage": e[0], "entered_at": e[1],
             "reason": e[2] if len(e) > 2 else None} for e in entries]


# The scenario (default settings: W = 90 days, skipped stages implicit), as of D = 2026-04-30.
#   A  subscriber 01-01 → lead 01-10 → mql 01-20 → sql 02-01 → opportunity 02-10 → customer 03-01
#   B  lead 01-01 → mql 01-05 → lead 02-01 (recycled: "Not sales-ready")
#   C  lead 01-01 → sql 01-15 (skips mql)
#   D  no events; current lifecycle stage mql; created 01-01 → placed at mql on 01-01
#   E  no events, no lifecycle stage → no stage yet
#   F  created 05-01, after D → not counted
#   G  no events, no created date, lifecycle stage lead → placed at lead, undated
#   H  lead and mql at the same moment 01-01 10:00 → current mql
#   I  lead 01-01 → mql 04-01: exactly 90 days → advanced within W
#   J  lead 01-01 → mql 04-02: 91 days → expired (D is 119 days after the entry)
AS_OF = date(2026, 4, 30)
SOURCES = {"A": "Web", "B": "Web", "C": "Web", "H": "Event", "I": "Event", "J": "Event"}


def scenario() -> duckdb.DuckDBPyConnection:
    leads = [
        {"lead_id": k, "created_at": created, "lifecycle_stage": stage, "source": SOURCES.get(k)}
        for k, created, stage in (
            ("A", "2026-01-01 09:00", "customer"), ("B", "2026-01-01", "lead"), ("C", "2026-01-01", "sql"),
            ("D", "2026-01-01", "mql"), ("E", "2026-01-01", None), ("F", "2026-05-01", "lead"),
            ("G", None, "lead"), ("H", "2026-01-01", "mql"), ("I", "2026-01-01", "mql"), ("J", "2026-01-01", "mql"),
        )
    ]
    stage_events = (
        events("A", ("subscriber", "2026-01-01 10:00"), ("lead", "2026-01-10"), ("mql", "2026-01-20"),
               ("sql", "2026-02-01"), ("opportunity", "2026-02-10"), ("customer", "2026-03-01"))
        + events("B", ("lead", "2026-01-01"), ("mql", "2026-01-05"), ("lead", "2026-02-01", "Not sales-ready"))
        + events("C", ("lead", "2026-01-01"), ("sql", "2026-01-15"))
        + events("H", ("lead", "2026-01-01 10:00"), ("mql", "2026-01-01 10:00"))
        + events("I", ("lead", "2026-01-01"), ("mql", "2026-04-01"))
        + events("J", ("lead", "2026-01-01"), ("mql", "2026-04-02"))
    )
    deals = [{"deal_id": "d-A", "lead_id": "A", "amount": 1000.0, "created_at": "2026-02-10",
              "closed_at": "2026-03-01", "won": True}]
    return store(leads=leads, stage_events=stage_events, deals=deals)


def filters(**kwargs) -> Filters:
    return Filters(as_of=kwargs.pop("as_of", AS_OF), **kwargs)


def rows(frame: pl.DataFrame, *columns: str) -> list[tuple]:
    """The frame's rows as tuples of the named columns (enums as text), for given/expect tables."""
    return [tuple(r) for r in frame.select([pl.col(c).cast(pl.String) if isinstance(frame.schema[c], pl.Enum)
                                            else pl.col(c) for c in columns]).iter_rows()]
