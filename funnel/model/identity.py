"""One person across tools: every imported row's person key resolved to one lead.

The imported rows stay as written in the store's raw schema (`raw.<table>`, their own ids); this model
derives, after every import or removal, the tables the analyses read under the canonical names in `main`:
the same columns, `lead_id` resolved to the lead, rows of people who are not leads left out, enrichment
merged into the CRM's accounts and intent signals moved onto the account they name.

A row joins a lead by, in order (DOMAIN.md "One person across tools"): the lead id itself; the normalised
e-mail; an alias the tool recorded (a device that later identified, an anonymous id, a CRM id column).
With a leads table loaded it is the population; without one every identified person is a lead.
Ambiguity is never guessed silently: each conflict is listed with the rule applied.
"""

from __future__ import annotations

import time

import duckdb
import polars as pl

from funnel.config import Settings, default_settings
from funnel.model.materialised import clear_model
from funnel.schema import ACCOUNTS, ACTIVITIES, DEALS, INTENT_SIGNALS, LEADS, STAGE_EVENTS
from funnel.store.db import frame, quote_ident, raw_name, scalar
from funnel.store.queries import sql_text

IDENTITY_MAP = "identity_map"
IDENTITY_CONFLICTS = "identity_conflicts"
IDENTITY_MATCHES = "identity_matches"
MAX_HOPS = 10  # links followed from a joined id (device → anonymous id → …); real chains are 1–3 long
JOIN_KEYS = ("lead_id", "email", "alias", "device", "name")  # how a row can join a lead, in DOMAIN's order


def rebuild_identity(con: duckdb.DuckDBPyConnection, *, settings: Settings | None = None) -> None:
    """The identity map, its conflicts, the per-import match counts and the resolved tables, rebuilt from the
    raw tables in one transaction (run after every import or removal, never on a page view)."""
    settings = settings or default_settings()
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    try:
        identity_work_tables(con, settings=settings)
        con.execute(f"CREATE OR REPLACE TABLE main.{IDENTITY_MAP} AS {sql_text('identity_map')}")
        con.execute(f"CREATE OR REPLACE TABLE main.{IDENTITY_CONFLICTS} AS SELECT * FROM _conflicts "
                    "ORDER BY kind, key")
        resolved_tables(con, settings=settings)
        con.execute(f"CREATE OR REPLACE TABLE main.{IDENTITY_MATCHES} AS {sql_text('identity_matches')}")
        # The rest of the lead model was built from the tables just replaced: funnel.model.build rebuilds it.
        clear_model(con, identity_for=settings, rows=scalar(con, f"SELECT count(*) FROM main.{IDENTITY_MAP}"),
                    seconds=time.perf_counter() - started)
        for temp in WORK_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


WORK_TABLES = ("_nodes", "_edges", "_lead_emails", "_lead_names", "_labels", "_conflicts", "_rank", "_next")


def identity_work_tables(con: duckdb.DuckDBPyConnection, *, settings: Settings) -> None:
    """The build's temp tables: every person id (_nodes) and the links between them (_edges), the leads'
    e-mails and names, each id's lead (_labels), the rank that settles contested keys (_rank) and the
    conflicts (_conflicts)."""
    rules = settings.identity
    newest_first = {"newest_first": rules.conflict_rule == "last_created"}
    leads_loaded = bool(scalar(con, f"SELECT count(*) FROM {raw_name(LEADS.name)}"))
    temp(con, "_nodes", "identity_nodes", {"junk": list(rules.junk_emails)})
    temp(con, "_edges", "identity_edges")
    temp(con, "_lead_emails", "identity_lead_emails", {"junk": list(rules.junk_emails)} | newest_first)
    temp(con, "_lead_names", "identity_lead_names", newest_first)
    rule = {"rule": ("the lead created first gets it" if rules.conflict_rule == "first_created"
                     else "the lead created last gets it") if leads_loaded else "the smallest person id gets it"}
    temp(con, "_conflicts", "identity_anchor_conflicts", rule)
    if leads_loaded:
        temp(con, "_rank", "identity_lead_rank", newest_first)
        temp(con, "_labels", "identity_lead_labels")
    else:
        con.execute("DELETE FROM _conflicts")
        person_labels(con)
    propagated_labels(con, rule=rule)


def temp(con: duckdb.DuckDBPyConnection, name: str, query: str, params: dict | None = None) -> None:
    """A temp table of the identity build, (re)made from one of its SQL files."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql_text(query)}", params or {})


def person_labels(con: duckdb.DuckDBPyConnection) -> None:
    """Without a leads table every identified person is a lead: ids sharing an e-mail, or linked as the same
    user or alias, are one person, named by the smallest of their ids (merged hop by hop)."""
    temp(con, "_labels", "identity_person_labels")
    merges = sql_text("identity_person_merges")
    for _ in range(MAX_HOPS):
        if not scalar(con, f"SELECT count(*) FROM ({merges})"):
            break
        con.execute(f"UPDATE _labels SET label = s.label FROM ({merges}) s WHERE _labels.node = s.node")
    temp(con, "_labels", "identity_person_matched")
    temp(con, "_rank", "identity_person_rank")


def propagated_labels(con: duckdb.DuckDBPyConnection, *, rule: dict[str, str]) -> None:
    """Ids not joined directly take the lead of the ids they are linked to, hop by hop; an id linked to
    several leads is a conflict, settled by the rule (ranked in _rank)."""
    for _ in range(MAX_HOPS):
        temp(con, "_next", "identity_next_labels")
        if not scalar(con, "SELECT count(*) FROM _next"):
            break
        con.execute(f"INSERT INTO _conflicts {sql_text('identity_next_conflicts')}", rule)
        con.execute("INSERT INTO _labels SELECT node, label, matched_by FROM _next")


def resolved_tables(con: duckdb.DuckDBPyConnection, *, settings: Settings) -> None:
    """The canonical tables in `main` as the analyses read them: person rows on their lead, the rows of
    people who are not leads left out, enrichment merged into accounts, intent signals on their account."""
    rules = settings.identity
    con.execute(f"CREATE OR REPLACE TABLE main.{quote_ident(ACCOUNTS.name)} AS {sql_text('identity_accounts')}",
                {"sources": list(rules.enrichment_sources), "enrichment_wins": rules.enrichment_wins})
    con.execute(f"CREATE OR REPLACE TABLE main.{quote_ident(LEADS.name)} AS {sql_text('identity_leads')}",
                {"free_mail": list(rules.free_mail_domains), "junk": list(rules.junk_emails)})
    con.execute(f"CREATE OR REPLACE TABLE main.{quote_ident(STAGE_EVENTS.name)} AS "
                + sql_text("identity_person_rows", fragments={"dedupe": STAGE_ENTRY_ONCE}, source=STAGE_EVENTS.name))
    as_view(con, ACTIVITIES.name, sql_text("identity_person_rows", source=ACTIVITIES.name))
    con.execute(f"CREATE OR REPLACE TABLE main.{quote_ident(DEALS.name)} AS {sql_text('identity_deals')}")
    con.execute(f"CREATE OR REPLACE TABLE main.{quote_ident(INTENT_SIGNALS.name)} AS "
                f"{sql_text('identity_intent_signals')}", {"surge_score": rules.surge_score})


def as_view(con: duckdb.DuckDBPyConnection, name: str, query: str) -> None:
    """`main.<name>` as a view of `query`, replacing the table a fresh store starts with. The activities are
    resolved this way: the largest table is not stored twice, and a scan through the view costs about a
    tenth more than a scan of a copy (a hash join on the identity map)."""
    if scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $t", {"t": name}):
        con.execute(f"DROP TABLE main.{quote_ident(name)}")
    con.execute(f"CREATE OR REPLACE VIEW main.{quote_ident(name)} AS {query}")


# A stage entry two tools both hold for the same lead counts once: the newest import's row.
STAGE_ENTRY_ONCE = ("qualify row_number() over (partition by m.lead_id, r.ladder, r.stage, r.entered_at "
                    "order by r._import_id desc, r._source_row) = 1")


# ------------------------------------------------------------------------------------ what matched


def identity_matches(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per active import of person rows: rows matched by each key, rows and people matching no lead,
    anonymous ids never linked to a person."""
    return frame(con, f"SELECT * FROM main.{IDENTITY_MATCHES} ORDER BY import_id")


def match_summary(row: dict) -> str:
    """One line per import: "klaviyo.csv → activities: 2,380 rows matched (2,380 by e-mail), 150 people match
    no lead" (the per-import report of the CLI and the Data page)."""
    by = ", ".join(f"{row[f'by_{k}']:,} by {k.replace('_', ' ').replace('email', 'e-mail')}"
                   for k in JOIN_KEYS if row[f"by_{k}"])
    text = (f"{row['file_name']} → {row['table_name']}: {row['matched_rows']:,} of {row['rows']:,} rows matched"
            + (f" ({by})" if by else ""))
    if row["unmatched_people"]:
        n = row["unmatched_people"]
        who = "person matches" if n == 1 else "people match"
        text += f"; {n:,} {who} no lead ({counted(row['unmatched_rows'], 'row')})"
    if row["anonymous_ids"]:
        text += (f"; {counted(row['anonymous_ids'], 'anonymous id')} never linked to a person "
                 f"({counted(row['anonymous_rows'], 'row')})")
    return text


def counted(n: int, noun: str) -> str:
    """"1 row", "2 rows": a count with its noun."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def identity_summary(con: duckdb.DuckDBPyConnection) -> str:
    """The `funnel info` section: per import, rows matched by each key and what matched no lead; conflicts."""
    lines = ["people across tools (rows joined to a lead, per import):"]
    matches = identity_matches(con)
    lines += [f"  #{r['import_id']} {match_summary(r)}" for r in matches.iter_rows(named=True)] or ["  (no person rows)"]
    conflicts = identity_conflicts(con)
    lines.append(f"identity conflicts: {conflicts.height}")
    lines += [f"  {r['kind']}: {r['key']} → {', '.join(r['candidates'])}; chose {r['chosen']} ({r['rule']})"
              for r in conflicts.head(20).iter_rows(named=True)]
    return "\n".join(lines)


def unmatched_people(con: duckdb.DuckDBPyConnection, *, import_id: int | None = None) -> pl.DataFrame:
    """The rows behind "match no lead": one row per import and person id that joined no lead (anonymous ids
    included, flagged), with its e-mail, row count and the reason."""
    return frame(con, sql_text("identity_unmatched"), {"import_id": import_id})


def identity_conflicts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per ambiguous key (an e-mail on several leads, a device or id linked to several leads): the
    candidate leads, the one chosen and the rule that chose it."""
    return frame(con, f"SELECT kind, key, candidates, chosen, rule FROM main.{IDENTITY_CONFLICTS} ORDER BY kind, key")


def identity_findings(con: duckdb.DuckDBPyConnection, *, settings: Settings) -> pl.DataFrame:
    """Hygiene rows of the identity model: people known to other tools but missing from the CRM (with their
    intent evidence) and identity conflicts. One row per finding and key: finding, key, detail (the files
    or the candidates and the rule), rows, intent_rows."""
    intent_types = [t for r in settings.funnel_rules.evidence if r.stage == "intent" for t in r.activity_types]
    return frame(con, sql_text("identity_findings"), {"intent_types": intent_types})


def identity_is_built(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the store holds an identity model (a store written before the model has none)."""
    return bool(scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $t",
                       {"t": IDENTITY_MATCHES}))


__all__ = ["IDENTITY_CONFLICTS", "IDENTITY_MAP", "IDENTITY_MATCHES", "JOIN_KEYS", "identity_conflicts",
           "identity_findings", "identity_is_built", "identity_matches", "identity_summary", "match_summary", "rebuild_identity",
           "unmatched_people"]
