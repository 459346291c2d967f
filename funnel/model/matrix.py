"""The fit × intent matrix: cells with counts, their later conversion with intervals, their action, and
the work queues a team exports from them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import duckdb
import polars as pl

from funnel.config import QUADRANTS, Settings
from funnel.model.scoring import lead_facts, lead_quadrants, lead_scores, quadrant_of, validation_cutoff
from funnel.model.stages import funnel_entrants, funnel_history
from funnel.stats import with_rate

QUADRANT_LABELS = {
    "high_fit_high_intent": "High fit · high intent",
    "high_fit_low_intent": "High fit · low intent",
    "low_fit_high_intent": "Low fit · high intent",
    "low_fit_low_intent": "Low fit · low intent",
}
QUEUES = {
    "SDR queue": "high_fit_high_intent",
    "Nurture list": "high_fit_low_intent",
    "Qualify-carefully list": "low_fit_high_intent",
    "Newsletter only": "low_fit_low_intent",
}
REACTIVATION_QUEUE = "Reactivation list"


def with_thresholds(settings: Settings, *, fit: float, intent: float) -> Settings:
    """The settings with other matrix thresholds (the page's sliders), everything else unchanged."""
    return replace(settings, fit=replace(settings.fit, high_threshold=fit),
                   intent=replace(settings.intent, high_threshold=intent))


def quadrant_action(settings: Settings, quadrant: str) -> str:
    """The routing of a quadrant as team: action: the first routing rule that names the quadrant and
    no stage, else the first that names it; "" when none does."""
    naming = [r for r in settings.routing.rules if quadrant in r.quadrants]
    for rule in [r for r in naming if not r.stages] + naming:
        return f"{rule.team}: {rule.action}"
    return ""


def matrix_scores(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, fit_threshold: float,
                  intent_threshold: float, history: pl.DataFrame | None = None,
                  facts: pl.DataFrame | None = None) -> pl.DataFrame:
    """`lead_scores` at D with the matrix's thresholds (the quadrant and the routing that names quadrants follow
    them): what the cells and the work queues both read. `history` (from `funnel_history` as of D or later) and
    `facts` (`lead_facts` of every lead) may be passed in."""
    tuned = with_thresholds(settings, fit=fit_threshold, intent=intent_threshold)
    return lead_scores(con, settings=tuned, as_of=as_of, history=history, facts=facts).with_columns(
        quadrant_of(pl.col("fit_score"), pl.col("intent_score"), tuned).alias("quadrant"))


def matrix_quadrants(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, fit_threshold: float,
                     intent_threshold: float, history: pl.DataFrame | None = None,
                     facts: pl.DataFrame | None = None) -> pl.DataFrame:
    """`matrix_scores` without the route (`lead_quadrants` with the matrix's thresholds): what the cells' later
    conversion reads at the validation cutoff."""
    tuned = with_thresholds(settings, fit=fit_threshold, intent=intent_threshold)
    return lead_quadrants(con, settings=tuned, as_of=as_of, history=history, facts=facts)


def matrix_cells(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, fit_threshold: float,
                 intent_threshold: float, outcome: str = "opportunity",
                 scores: pl.DataFrame | None = None, then: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per quadrant: quadrant, label, leads, share (of scored leads at D), action; and the cell's
    later conversion measured on history: of the leads in the cell one conversion window (W days)
    before D that had not reached `outcome` yet, the share that entered it (or a later stage) after that
    day and by D (converted, cohort, rate, rate_lo, rate_hi, small_sample; rate null for an empty cohort).
    `scores` and `then` are `matrix_scores` at D and `matrix_quadrants` (or `matrix_scores`) at the cutoff
    (`validation_cutoff`) with these thresholds when the caller has them already.

    Without `scores` or `then`, the funnel history as of D is read once: it gives the stages at D, at the cutoff
    and the later entries; with both, only the leads that entered a later stage are read."""
    tuned = with_thresholds(settings, fit=fit_threshold, intent=intent_threshold)
    history = facts = None
    if scores is None or then is None:
        history = funnel_history(con, settings=tuned, as_of=as_of)
        facts = lead_facts(con, settings=tuned)
    now = scores if scores is not None else matrix_scores(
        con, settings=settings, as_of=as_of, fit_threshold=fit_threshold, intent_threshold=intent_threshold,
        history=history, facts=facts)
    cutoff = validation_cutoff(settings, as_of)
    if then is None:
        then = matrix_quadrants(con, settings=settings, as_of=cutoff, fit_threshold=fit_threshold,
                                intent_threshold=intent_threshold, history=history, facts=facts)
    ladder = settings.ladders.funnel
    later = ladder[ladder.index(outcome):] if outcome in ladder else ()
    reached = funnel_entrants(con, settings=tuned, stages=later, after=cutoff, as_of=as_of,
                              history=history).with_columns(pl.lit(True).alias("converted"))
    cohort = (then.filter(~pl.col("funnel_stage").is_in(later))
              .select("lead_id", "quadrant")
              .join(reached, on="lead_id", how="left")
              .with_columns(pl.col("converted").fill_null(False)))
    counts = now.group_by("quadrant").agg(pl.len().alias("leads"))
    later_rates = cohort.group_by("quadrant").agg(pl.len().alias("cohort"), pl.col("converted").sum())
    rows = []
    total = max(now.height, 1)
    for quadrant in QUADRANTS:
        n = counts.filter(pl.col("quadrant") == quadrant).get_column("leads")
        c = later_rates.filter(pl.col("quadrant") == quadrant)
        leads = int(n[0]) if n.len() else 0
        trials = int(c.get_column("cohort")[0]) if c.height else 0
        successes = int(c.get_column("converted")[0]) if c.height else 0
        rows.append({"quadrant": quadrant, "label": QUADRANT_LABELS[quadrant], "leads": leads,
                     "share": leads / total if now.height else None, "action": quadrant_action(settings, quadrant),
                     "cohort": trials, "converted": successes})
    cells = pl.DataFrame(rows, schema={"quadrant": pl.String, "label": pl.String, "leads": pl.Int64,
                                       "share": pl.Float64, "action": pl.String, "cohort": pl.Int64,
                                       "converted": pl.Int64})
    return with_rate(cells, successes="converted", trials="cohort", name="rate",
                     min_trials=settings.segments.min_sample)


def work_queue(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, queue: str,
               fit_threshold: float, intent_threshold: float, scores: pl.DataFrame | None = None) -> pl.DataFrame:
    """The leads of one work queue, most urgent first: the quadrant's leads (not yet customers), or for
    the reactivation list the leads gone cold; with contact details, scores, owner and next action.
    `scores` is `matrix_scores` at D with these thresholds when the caller has it already."""
    from funnel.store.db import frame

    if scores is None:
        scores = matrix_scores(con, settings=settings, as_of=as_of, fit_threshold=fit_threshold,
                               intent_threshold=intent_threshold)
    if queue == REACTIVATION_QUEUE:
        chosen = scores.filter(pl.col("funnel_stage") == "reactivation")
    else:
        chosen = scores.filter((pl.col("quadrant") == QUEUES[queue])
                               & ~pl.col("funnel_stage").is_in(["customer"]))
    people = frame(con, "SELECT lead_id, name, email, company, title, owner FROM leads")
    return (chosen.join(people, on="lead_id", how="left")
            .sort(["intent_score", "fit_score"], descending=True)
            .select("lead_id", "name", "email", "company", "title", "owner", "funnel_stage", "lifecycle_stage",
                    "fit_score", "icp", "intent_score", "quadrant", "next_owner", "next_action", "next_action_due"))


# Below this share of leads with any firmographic the ideal customer profiles test, fit is said to rest on few leads.
FEW_FIRMOGRAPHICS = 0.5


def firmographics_note(fields: pl.DataFrame, *, settings: Settings) -> str | None:
    """A plain note when fit cannot be computed, or rests on few leads, for lack of firmographics: counted over a
    `lead_fields` frame, the leads with a value in any field the ideal customer profiles test. None when most have."""
    tested = sorted({c.field for icp in settings.fit.icps for c in icp.criteria if c.field in fields.columns})
    if fields.height == 0 or not tested:
        return None
    known = fields.select(pl.any_horizontal([pl.col(f).is_not_null() for f in tested]).sum()).item()
    if known == 0:
        return (f"Fit cannot be computed: none of the {fields.height:,} leads has a value in the fields the ideal "
                f"customer profiles test ({', '.join(tested)}), so every fit is 0 and every lead sits in low fit. "
                "Import accounts (industry, employees, country) or leads with a title to score fit.")
    if known < FEW_FIRMOGRAPHICS * fields.height:
        return (f"Fit rests on few leads: only {known:,} of {fields.height:,} have a value in the fields the ideal "
                f"customer profiles test ({', '.join(tested)}); the others score 0 fit for lack of data, not of "
                "match.")
    return None


def fit_data_note(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> str | None:
    """`firmographics_note` for the leads created by the end of D."""
    return firmographics_note(lead_facts(con, settings=settings, as_of=as_of), settings=settings)
