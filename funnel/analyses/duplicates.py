"""Duplicate people and companies, scored pair by pair, and the merges a CRM admin would make.

Matching is Splink's (Fellegi–Sunter record linkage on DuckDB, the same model runs on Spark):
records are compared only within blocks (same e-mail key, same phone, same organisation domain
and last or first name, same company and last name; for companies the same name key, the same
name without spaces, the same domain), never all pairs. The m and u probabilities are fixed
priors written in funnel.model.records (not trained by expectation maximisation, which is fragile on
CRM data), and the prior that two records match is `expected_duplicate_share / (records − 1)`.

Each pair carries its match probability, match weight and the evidence in words (which fields
agree and how). `merge_suggestions` groups pairs above the threshold into clusters (connected
components), picks a survivor by a configurable rule and lists the fields the merge would fill.
The records compared (each lead's and account's fields and match keys), the comparisons and the blocks are
funnel.model.records'. A pair's blocks and each comparison's level and weight depend on its two records alone,
so the candidate pairs are found once per data version (funnel.model.records.audit_inputs); `scored_pairs`
applies the prior of D (from the number of records at D) and the threshold to them, as Splink's prediction would
over the records of D, bit for bit (a property test runs Splink itself to compare).
"""

from __future__ import annotations

import math
from typing import Literal

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.errors import FunnelError
from funnel.model.records import (
    COMPANY_LEVELS,
    PERSON_LEVELS,
    Level,
    company_candidates,
    person_candidates,
)
from funnel.store.db import frame, registered
from funnel.store.queries import sql_text

__all__ = [
    "COMPANY_SURVIVOR_RULES",
    "PAIR_SCHEMA",
    "PERSON_SURVIVOR_RULES",
    "company_duplicate_pairs",
    "merge_suggestions",
    "person_duplicate_pairs",
    "precision_recall",
    "scored_pairs",
    "with_last_activity",
]

PersonSurvivor = Literal["oldest", "most_complete", "most_recent_activity"]
PERSON_SURVIVOR_RULES: tuple[str, ...] = ("oldest", "most_complete", "most_recent_activity")
COMPANY_SURVIVOR_RULES: tuple[str, ...] = ("most_complete", "most_leads")

# The lead and account fields a merge carries over (a survivor's empty field takes a duplicate's value).
PERSON_FIELDS: tuple[str, ...] = (sc.EMAIL, sc.NAME, sc.FIRST_NAME, sc.LAST_NAME, sc.TITLE, sc.PHONE, sc.ACCOUNT_ID,
                                  sc.COMPANY, sc.SOURCE, sc.OWNER, sc.LEAD_STATUS, sc.INDUSTRY, sc.EMPLOYEES,
                                  sc.COUNTRY)
COMPANY_FIELDS: tuple[str, ...] = (sc.NAME, sc.DOMAIN, sc.INDUSTRY, sc.EMPLOYEES, sc.ANNUAL_REVENUE, sc.COUNTRY,
                                   sc.OWNER)

PAIR_SCHEMA: dict[str, pl.DataType] = {
    "id_l": pl.String(), "id_r": pl.String(), "match_probability": pl.Float64(), "match_weight": pl.Float64(),
    "evidence": pl.String(),
}


def with_last_activity(con: duckdb.DuckDBPyConnection, records: pl.DataFrame,
                       lead_ids: pl.Series | None = None) -> pl.DataFrame:
    """`records` (`person_records`) with last_activity_at, the later of the lead's latest activity and its
    last_engagement_at, which the most_recent_activity survivor rule reads: read for `lead_ids` only (the
    leads in duplicate groups; default: every record), null for the others. Reading it for every lead cost
    two thirds of person_records' query at a million leads, for a rule that needs a few thousand."""
    wanted = (records.get_column(sc.LEAD_ID) if lead_ids is None else lead_ids).unique().to_frame(sc.LEAD_ID)
    with registered(con, {"lead_ids": wanted.to_arrow()}) as names:
        found = frame(con, sql_text("hygiene_last_activity", lead_ids=names["lead_ids"], leads=sc.LEADS.name,
                                    activities=sc.ACTIVITIES.name))
    return records.join(found, on=sc.LEAD_ID, how="left", maintain_order="left")


def _prior(records: int, expected_duplicate_share: float) -> float:
    return min(0.5, expected_duplicate_share / max(records - 1, 1))


def _match_weight(probability: float) -> float:
    """log2 of the odds: how Splink turns a probability (the prior, the threshold) into a match weight."""
    return math.log2(probability / (1 - probability)) if probability != 1 else math.inf


def scored_pairs(candidates: pl.DataFrame, *, ids: pl.Series, prior: float, threshold: float,
                 levels: dict[str, tuple[Level, ...]]) -> pl.DataFrame:
    """The candidate pairs (funnel.model.records.candidate_pairs) of two of `ids` whose match probability at
    `prior` is at least `threshold`, as PAIR_SCHEMA rows, computed as Splink's prediction computes them: the
    prior's match weight plus each comparison's, in order; the probability from the total."""
    among = ids.to_frame("id")
    pairs = (candidates.join(among.rename({"id": "id_l"}), on="id_l", how="semi")
             .join(among.rename({"id": "id_r"}), on="id_r", how="semi"))
    weight = pl.lit(_match_weight(prior), dtype=pl.Float64)
    for column in levels:
        weight = weight + pl.col(f"mw_{column}")
    two = pl.lit(2.0, dtype=pl.Float64)
    probability = (pl.when(pl.col("match_weight") >= 0).then(1.0 / (1.0 + two.pow(-pl.col("match_weight"))))
                   .otherwise(two.pow(pl.col("match_weight")) / (1.0 + two.pow(pl.col("match_weight")))))
    evidence = []
    for column, said_by in levels.items():
        gamma = pl.col(f"gamma_{column}")
        top = len(said_by) - 1
        said = pl.lit(None, dtype=pl.String)
        for i, level in enumerate(said_by):  # gamma counts down from the best level; -1 is null
            said = pl.when(gamma == top - i).then(pl.lit(level.words)).otherwise(said)
        evidence.append(said)
    return (pairs.lazy().with_columns(weight.alias("match_weight"))
            .filter(pl.col("match_weight") >= _match_weight(threshold))
            .select("id_l", "id_r", probability.alias("match_probability"), "match_weight",
                    pl.concat_str(evidence, separator="; ", ignore_nulls=True).alias("evidence"))
            .collect().cast(PAIR_SCHEMA).sort(["match_probability", "id_l", "id_r"], descending=[True, False, False]))


def person_duplicate_pairs(records: pl.DataFrame, *, threshold: float = 0.9, expected_duplicate_share: float = 0.05,
                           candidates: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per pair of leads that are probably one person (match probability ≥ threshold):
    id_l < id_r, match_probability, match_weight, evidence. `records` is `person_records(...)` (or some of
    them), `candidates` the candidate pairs of a set of leads holding them (default: found among `records`)."""
    _check_threshold(threshold)
    if candidates is None:
        candidates = person_candidates(records)
    return scored_pairs(candidates, ids=records.get_column(sc.LEAD_ID),
                        prior=_prior(records.height, expected_duplicate_share), threshold=threshold,
                        levels=PERSON_LEVELS)


def company_duplicate_pairs(records: pl.DataFrame, *, threshold: float = 0.9, expected_duplicate_share: float = 0.05,
                            candidates: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per pair of accounts that are probably one company: id_l < id_r, match_probability,
    match_weight, evidence. `records` is `company_records(...)`, `candidates` their candidate pairs (default:
    found among `records`)."""
    _check_threshold(threshold)
    if candidates is None:
        candidates = company_candidates(records)
    return scored_pairs(candidates, ids=records.get_column(sc.ACCOUNT_ID),
                        prior=_prior(records.height, expected_duplicate_share), threshold=threshold,
                        levels=COMPANY_LEVELS)


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise FunnelError(f"the match threshold must be above 0 and at most 1, got {threshold}",
                          hint="Use e.g. 0.9 (probably one record) or 0.5 (worth a look)")


# --------------------------------------------------------------------------------- merges

def duplicate_clusters(pairs: pl.DataFrame) -> pl.DataFrame:
    """One row per record in a duplicate group: id, cluster (the smallest id of its connected
    component over the pairs)."""
    if pairs.is_empty():
        return pl.DataFrame(schema={"id": pl.String(), "cluster": pl.String()})
    edges = pairs.select("id_l", "id_r")
    ids = pl.concat([edges["id_l"], edges["id_r"]]).unique().sort()
    label = dict(zip(ids.to_list(), ids.to_list(), strict=True))
    while True:  # label propagation: each id takes the smallest label among its neighbours
        lab = pl.DataFrame({"id": list(label), "cluster": list(label.values())})
        nxt = (pl.concat([edges.select(pl.col("id_l").alias("id"), pl.col("id_r").alias("other")),
                          edges.select(pl.col("id_r").alias("id"), pl.col("id_l").alias("other"))])
               .join(lab.rename({"id": "other", "cluster": "c"}), on="other")
               .group_by("id").agg(pl.col("c").min())
               .join(lab, on="id").select("id", pl.min_horizontal("c", "cluster").alias("cluster")))
        changed = {r: c for r, c in nxt.iter_rows() if c < label[r]}
        if not changed:
            return lab.sort("id")
        label.update(changed)


def merge_suggestions(records: pl.DataFrame, pairs: pl.DataFrame, *, id_column: str,
                      survivor: str, fields: tuple[str, ...] | None = None) -> pl.DataFrame:
    """One row per duplicate group and field the merge would change: cluster, survivor (the record
    kept, by rule `survivor`), merged (the other ids, "; "-joined), field, current (the survivor's
    value), suggested (the newest-created duplicate's value, or the largest id's), from_id, change
    ("fill" when the survivor's field is empty, else "differs: survivor's value kept"); a group with
    nothing to change has one row with no field.

    Rules: oldest (earliest created_at), most_complete (most filled fields), most_recent_activity
    (latest activity or engagement), most_leads (accounts: most leads); ties go to the smallest id."""
    if id_column == sc.LEAD_ID:
        allowed, fields = PERSON_SURVIVOR_RULES, fields or PERSON_FIELDS
    else:
        allowed, fields = COMPANY_SURVIVOR_RULES, fields or COMPANY_FIELDS
    if survivor not in allowed:
        raise FunnelError(f"there is no survivor rule called {survivor!r}", hint=f"Use one of: {', '.join(allowed)}")
    if survivor == "most_recent_activity" and "last_activity_at" not in records.columns:
        raise FunnelError("the most_recent_activity rule reads each lead's last activity, which these records lack",
                          hint="Add it with with_last_activity(con, records)")
    out_schema = {"cluster": pl.String(), "survivor": pl.String(), "merged": pl.String(), "field": pl.String(),
                  "current": pl.String(), "suggested": pl.String(), "from_id": pl.String(), "change": pl.String()}
    clusters = duplicate_clusters(pairs)
    if clusters.is_empty():
        return pl.DataFrame(schema=out_schema)
    members = records.join(clusters.rename({"id": id_column}), on=id_column, how="inner")
    filled = pl.sum_horizontal([pl.col(f).is_not_null().cast(pl.Int32) for f in fields]).alias("_filled")
    members = members.with_columns(filled)
    order = {
        "oldest": ([sc.CREATED_AT, id_column], [False, False]),
        "most_complete": (["_filled", id_column], [True, False]),
        "most_recent_activity": (["last_activity_at", id_column], [True, False]),
        "most_leads": (["leads", id_column], [True, False]),
    }[survivor]
    ranked = members.sort(order[0], descending=order[1], nulls_last=True).with_columns(
        pl.int_range(pl.len()).over("cluster").alias("_rank"))
    kept = ranked.filter(pl.col("_rank") == 0)
    others = ranked.filter(pl.col("_rank") > 0)
    merged = others.group_by("cluster").agg(pl.col(id_column).sort().str.join("; ").alias("merged"))
    donor_order = [sc.CREATED_AT, id_column] if sc.CREATED_AT in others.columns else [id_column]
    rows = []
    for field in fields:
        donors = (others.filter(pl.col(field).is_not_null())
                  .sort(donor_order, descending=True, nulls_last=True)
                  .group_by("cluster", maintain_order=True).first()
                  .select("cluster", pl.col(field).cast(pl.String).alias("suggested"),
                          pl.col(id_column).alias("from_id")))
        rows.append(kept.select("cluster", pl.col(id_column).alias("survivor"), pl.lit(field).alias("field"),
                                pl.col(field).cast(pl.String).alias("current"))
                    .join(donors, on="cluster", how="inner")
                    .filter(pl.col("current").is_null() | (pl.col("current") != pl.col("suggested")))
                    .with_columns(pl.when(pl.col("current").is_null()).then(pl.lit("fill"))
                                  .otherwise(pl.lit("differs: survivor's value kept")).alias("change")))
    groups = kept.select("cluster", pl.col(id_column).alias("survivor")).join(merged, on="cluster")
    changes = pl.concat(rows) if rows else pl.DataFrame(schema=out_schema)
    # A group with nothing to fill still needs merging: one row with no field says so.
    bare = groups.join(changes.select("cluster").unique(), on="cluster", how="anti").select(
        "cluster", "survivor", "merged", pl.lit(None, dtype=pl.String).alias("field"),
        pl.lit(None, dtype=pl.String).alias("current"), pl.lit(None, dtype=pl.String).alias("suggested"),
        pl.lit(None, dtype=pl.String).alias("from_id"), pl.lit(None, dtype=pl.String).alias("change"))
    full = changes.join(groups.select("cluster", "merged"), on="cluster").select(list(out_schema))
    return pl.concat([full.cast(out_schema), bare.cast(out_schema)]).sort(["cluster", "field"], nulls_last=True)


def _closure(pairs: pl.DataFrame) -> set[tuple[str, str]]:
    """Every pair of ids in one connected component of `pairs` (id_l < id_r)."""
    clusters = duplicate_clusters(pairs)
    both = clusters.join(clusters, on="cluster", suffix="_r").filter(pl.col("id") < pl.col("id_r"))
    return set(zip(both["id"].to_list(), both["id_r"].to_list(), strict=True))


def precision_recall(found: pl.DataFrame, labelled: pl.DataFrame) -> tuple[float | None, float | None]:
    """Pairwise precision and recall of `found` pairs against `labelled` true pairs (both with
    id_l, id_r), each taken transitively (two duplicates of one record are duplicates of each
    other); None when there are no found or no labelled pairs."""
    got, truth = _closure(found), _closure(labelled)
    hit = len(got & truth)
    return (hit / len(got) if got else None), (hit / len(truth) if truth else None)
