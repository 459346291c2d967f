"""The handoff review sample (the 30-day plan's week 4): a reproducible random sample of a period's
MQLs, SQLs and opportunities, the reviewers' verdicts on each, and what those verdicts say.

Sampled leads: those whose lifecycle stage at D is one of `SAMPLED_STAGES` and who entered it in the
period [start, end]. The sample is stratified by stage and owner: each stratum gets its proportional
share of `size` (largest remainders; every stratum at least one lead while `size` allows), and within
a stratum the leads are taken in the order of sha256(seed:lead_id): the same data, period, size and
seed give the same sample on any machine, and adding leads elsewhere does not reshuffle a stratum.

Verdicts: per lead, each reviewer says whether the stage, the owner and the next action were right,
with a reason. Every verdict is a new row (who, when): a changed verdict keeps the earlier one as
history, and the current verdict is each reviewer's latest. Several reviewers may judge one sample.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.inputs import analysis_inputs
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import Filters
from funnel.model.scoring import lead_scores
from funnel.stats import wilson_interval
from funnel.store.db import frame, scalar
from funnel.store.queries import sql_text

__all__ = [
    "QUESTIONS",
    "SAMPLED_STAGES",
    "record_verdict",
    "review_disagreements",
    "review_sample",
    "sample_id",
    "sample_with_verdicts",
    "stratum_quotas",
    "verdict_history",
    "verdict_summary",
    "verdicts",
]

SAMPLED_STAGES = ("mql", "sql", "opportunity")
QUESTIONS = ("stage", "owner", "next_action")
QUESTION_LABELS = {"stage": "stage right", "owner": "owner right", "next_action": "next action right"}
NO_OWNER = "(no owner)"
NO_REASON = "(no reason given)"


def sample_id(start: date, end: date, *, size: int, seed: int) -> str:
    """The name of a sample: its period, size and seed (which, with the data, define it)."""
    return f"{start.isoformat()}..{end.isoformat()} n={size} seed={seed}"


def stratum_quotas(counts: dict[tuple[str, str], int], size: int) -> dict[tuple[str, str], int]:
    """Leads to draw per stratum: proportional shares of `size` by largest remainder, every stratum
    at least one while `size` allows (largest strata first), never more than a stratum holds."""
    total = sum(counts.values())
    if size >= total:
        return dict(counts)
    ordered = sorted(counts, key=lambda k: (-counts[k], k))
    quotas = dict.fromkeys(counts, 0)
    if size >= len(counts):
        for key in ordered:
            quotas[key] = 1
    else:
        for key in ordered[:size]:
            quotas[key] = 1
        return quotas
    left = size - len(counts)
    rest = {k: counts[k] - 1 for k in counts}
    rest_total = sum(rest.values())
    exact = {k: left * rest[k] / rest_total for k in counts} if rest_total else dict.fromkeys(counts, 0.0)
    for key in counts:
        quotas[key] += math.floor(exact[key])
    short = size - sum(quotas.values())
    for key in sorted(counts, key=lambda k: (-(exact[k] - math.floor(exact[k])), -counts[k], k)):
        if short <= 0:
            break
        if quotas[key] < counts[key]:
            quotas[key] += 1
            short -= 1
    return quotas


def _draw_order(seed: int, lead_id: str) -> str:
    return hashlib.sha256(f"{seed}:{lead_id}".encode()).hexdigest()


def review_sample(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, start: date, end: date,
                  size: int = 30, seed: int = 7, scores: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per sampled lead (by stage, owner, then draw order): lead_id, stage, entered_at, owner,
    name, email, company, title, source, lead_status, next_action_at, next_owner, next_action,
    next_action_due (the rules' routing), funnel_stage, fit_score, icp, quadrant. `scores`: `lead_scores` at D
    with these settings, when the caller has them."""
    if size < 1:
        raise FunnelError("the sample needs at least one lead", value=str(size))
    if start > end:
        raise FunnelError("the period starts after it ends", value=f"{start} – {end}")
    if "mql" not in settings.ladders.lifecycle:
        raise FunnelError("the handoff review needs an 'mql' stage on the lifecycle ladder",
                          hint="Add mql to [ladders] lifecycle in the settings")
    inputs = analysis_inputs(con, Filters(as_of=as_of, ladder=sc.LIFECYCLE), settings=settings)
    ranks = {inputs.rank_of(stage): stage for stage in SAMPLED_STAGES if stage in inputs.stage_names}
    until_end = min(end, as_of)
    candidates = (
        inputs.population.filter(pl.col("stage_rank").is_in(list(ranks)) & pl.col(sc.ENTERED_AT).is_not_null())
        .filter((pl.col(sc.ENTERED_AT).dt.date() >= start) & (pl.col(sc.ENTERED_AT).dt.date() <= until_end))
        .select(sc.LEAD_ID, pl.col("stage_rank").replace_strict(ranks, return_dtype=pl.String).alias("stage"),
                sc.ENTERED_AT)
    )
    details = frame(con, sql_text("review_sample_leads"))
    candidates = candidates.join(details, on=sc.LEAD_ID, how="left").with_columns(
        pl.col(sc.OWNER).fill_null(NO_OWNER))
    empty_columns = ["next_owner", "next_action", "next_action_due", "funnel_stage", "fit_score", "icp", "quadrant"]
    if candidates.is_empty():
        return candidates.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in empty_columns])
    counts = {(r["stage"], r[sc.OWNER]): r["len"] for r in
              candidates.group_by("stage", sc.OWNER).len().iter_rows(named=True)}
    quotas = stratum_quotas(counts, size)
    drawn = (
        candidates.with_columns(pl.col(sc.LEAD_ID).map_elements(lambda v: _draw_order(seed, v),
                                                                return_dtype=pl.String).alias("_draw"))
        .sort("stage", sc.OWNER, "_draw")
        .with_columns(pl.int_range(pl.len()).over("stage", sc.OWNER).alias("_n"))
        .join(pl.DataFrame([{"stage": k[0], sc.OWNER: k[1], "_quota": v} for k, v in quotas.items()]),
              on=["stage", sc.OWNER], how="left")
        .filter(pl.col("_n") < pl.col("_quota"))
    )
    # Every lead is scored and routed (round robin hands owners out across all of them); only the columns the
    # review asks about are kept.
    if scores is None:
        scores = lead_scores(con, settings=settings, as_of=as_of)
    routing = scores.select(sc.LEAD_ID, *empty_columns)
    stage_order = {s: i for i, s in enumerate(SAMPLED_STAGES)}
    return (drawn.join(routing, on=sc.LEAD_ID, how="left")
            .with_columns(pl.col("stage").replace_strict(stage_order, return_dtype=pl.Int32).alias("_stage"))
            .sort("_stage", sc.OWNER, "_draw")
            .select(sc.LEAD_ID, "stage", sc.ENTERED_AT, sc.OWNER, sc.NAME, sc.EMAIL, sc.COMPANY, sc.TITLE, sc.SOURCE,
                    sc.LEAD_STATUS, sc.NEXT_ACTION_AT, *empty_columns))


# ------------------------------------------------------------------------------------- verdicts


def record_verdict(con: duckdb.DuckDBPyConnection, *, sample: str, lead_id: str, question: str, right: bool,
                   reason: str | None, reviewer: str, now: datetime) -> int:
    """Stores one verdict (a change is a new row: the history is kept); returns its id."""
    if question not in QUESTIONS:
        raise FunnelError(f"there is no review question {question!r}", hint=f"Use one of: {', '.join(QUESTIONS)}")
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise FunnelError("a verdict needs a reviewer's name", hint="Enter your name")
    verdict_id = scalar(con, f"SELECT coalesce(max(verdict_id), 0) + 1 FROM {sc.REVIEW_VERDICTS}")
    con.execute(f"INSERT INTO {sc.REVIEW_VERDICTS} VALUES ($id, $sample, $lead, $question, $reviewer, $right, "
                "$reason, $at)",
                {"id": verdict_id, "sample": sample, "lead": str(lead_id), "question": question, "reviewer": reviewer,
                 "right": bool(right), "reason": (reason or "").strip() or None, "at": now})
    return int(verdict_id)


def verdicts(con: duckdb.DuckDBPyConnection, *, sample: str) -> pl.DataFrame:
    """The current verdicts: one row per lead, reviewer and question (each reviewer's latest)."""
    return frame(con, sql_text("review_verdicts_current"), {"sample": sample})


def verdict_history(con: duckdb.DuckDBPyConnection, *, sample: str) -> pl.DataFrame:
    """Every verdict given on the sample, newest first (changed verdicts included)."""
    return frame(con, f"SELECT verdict_id, lead_id, question, reviewer, judged_right, reason, recorded_at "
                      f"FROM {sc.REVIEW_VERDICTS} WHERE sample_id = $sample ORDER BY recorded_at DESC, verdict_id DESC",
                 {"sample": sample})


def verdict_summary(current: pl.DataFrame) -> pl.DataFrame:
    """One row per question: verdicts (lead × reviewer), judged_right, share_right with its Wilson
    95% interval (null when nobody answered), leads judged, reviewers."""
    rows = []
    for question in QUESTIONS:
        given = current.filter(pl.col("question") == question)
        n, right = given.height, int(given.get_column("judged_right").sum()) if given.height else 0
        low, high = wilson_interval(right, n)
        rows.append({"question": QUESTION_LABELS[question], "verdicts": n, "judged_right": right,
                     "share_right": right / n if n else None, "share_low": low, "share_high": high,
                     "leads": given.get_column(sc.LEAD_ID).n_unique() if n else 0,
                     "reviewers": given.get_column("reviewer").n_unique() if n else 0})
    return pl.DataFrame(rows, schema={"question": pl.String, "verdicts": pl.Int64, "judged_right": pl.Int64,
                                      "share_right": pl.Float64, "share_low": pl.Float64, "share_high": pl.Float64,
                                      "leads": pl.Int64, "reviewers": pl.Int64})


def review_disagreements(sample: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Where reviewers disagree with the rules: one row per question and rule group (the stage, or
    the owner the rules route to, or the next action) with at least one verdict "not right": judged,
    judged_wrong, top_reason and how many gave it, and a sentence ("routed to SDR: 7 of 20 judged
    wrong on the owner; 5 said: student"). Most disagreement first."""
    group_of = {"stage": "stage", "owner": "next_owner", "next_action": "next_action"}
    rows = []
    for question in QUESTIONS:
        column = group_of[question]
        given = current.filter(pl.col("question") == question).join(
            sample.select(sc.LEAD_ID, pl.col(column).cast(pl.String).fill_null("(none)").alias("group")),
            on=sc.LEAD_ID, how="inner")
        for (group,), part in given.group_by(["group"], maintain_order=True):
            wrong = part.filter(~pl.col("judged_right"))
            if wrong.is_empty():
                continue
            reasons = (wrong.with_columns(pl.col("reason").fill_null(NO_REASON)).group_by("reason").len()
                       .sort(["len", "reason"], descending=[True, False]))
            top, top_n = reasons.row(0)
            label = {"stage": f"stage {group}", "owner": f"routed to {group}", "next_action": f"next action {group}"}
            rows.append({"question": QUESTION_LABELS[question], "rule": label[question], "judged": part.height,
                         "judged_wrong": wrong.height, "top_reason": top, "top_reason_count": top_n,
                         "sentence": f"{label[question]}: {wrong.height} of {part.height} judged wrong on the "
                                     f"{question.replace('_', ' ')}; {top_n} said: {top}"})
    schema = {"question": pl.String, "rule": pl.String, "judged": pl.Int64, "judged_wrong": pl.Int64,
              "top_reason": pl.String, "top_reason_count": pl.Int64, "sentence": pl.String}
    return pl.DataFrame(rows, schema=schema).sort(["judged_wrong", "rule"], descending=[True, False])


def sample_with_verdicts(sample: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """The sample for export: one row per lead and reviewer (a lead nobody judged yet once, reviewer
    null), with <question>_right and <question>_reason per question."""
    if current.is_empty():
        wide = pl.DataFrame(schema={sc.LEAD_ID: pl.String, "reviewer": pl.String})
    else:
        wide = current.pivot(on="question", index=[sc.LEAD_ID, "reviewer"], values=["judged_right", "reason"])
    columns = []
    for question in QUESTIONS:
        for kind, suffix, dtype in (("judged_right", "right", pl.Boolean), ("reason", "reason", pl.String)):
            name = f"{kind}_{question}"
            columns.append((pl.col(name) if name in wide.columns else pl.lit(None, dtype=dtype))
                           .alias(f"{question}_{suffix}"))
    wide = wide.select(sc.LEAD_ID, "reviewer", *columns)
    return sample.join(wide, on=sc.LEAD_ID, how="left")

