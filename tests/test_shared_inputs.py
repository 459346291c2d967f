"""Work shared between the figures of a page gives the same figures as each computed alone (issue 10): the
handoff rows, the hygiene reports at D and a month before, the CRM audit's D-independent inputs, the matrix's
scores at D and at the cutoff, the alerts' stages and the routing check's lead facts."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from funnel import schema as sc
from funnel.analyses import crm_audit as ca
from funnel.analyses import handoff as ho
from funnel.analyses import hygiene as hy
from funnel.analyses import routing as ra
from funnel.config import load_settings
from funnel.filters import Filters
from funnel.ingest.importer import prepare_import, write_import
from funnel.model import matrix, records, scoring, stages
from funnel.model.identity import rebuild_identity
from funnel.store.db import connect

SETTINGS = load_settings()
DAYS = (date(2026, 10, 31), date(2026, 6, 30))
TABLE_ORDER = ("accounts", "leads", "stage_events", "activities", "deals")


@pytest.fixture(scope="module")
def con(sample_files, tmp_path_factory):
    connection = connect(tmp_path_factory.mktemp("shared") / "shared.duckdb")
    for table in TABLE_ORDER:
        write_import(connection, prepare_import(sample_files[table], settings=SETTINGS))
    rebuild_identity(connection, settings=SETTINGS)
    yield connection
    connection.close()


def same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.schema == b.schema
    assert a.equals(b, null_equal=True)


@pytest.mark.parametrize("day", DAYS)
def test_one_set_of_handoff_rows_serves_the_review_the_reasons_and_every_list(con, day):
    filters = Filters(as_of=day)
    rows = ho.handoff_rows(con, settings=SETTINGS, filters=filters, by="source")
    same(ho.handoff_review(con, settings=SETTINGS, filters=filters, by="source", rows=rows),
         ho.handoff_review(con, settings=SETTINGS, filters=filters, by="source"))
    same(ho.recycle_reasons(con, settings=SETTINGS, filters=filters, rows=rows),
         ho.recycle_reasons(con, settings=SETTINGS, filters=filters))
    for kind in ho.KINDS:  # no segment chosen: the rows of any breakdown list the same handoffs
        same(ho.handoff_leads(con, settings=SETTINGS, filters=filters, kind=kind, by="source", segment=None, rows=rows),
             ho.handoff_leads(con, settings=SETTINGS, filters=filters, kind=kind))


def test_hygiene_reports_and_audit_inputs_passed_in_give_the_same_tables(con):
    day = DAYS[0]
    inputs = records.audit_inputs(con)
    audit, alone = ca.crm_audit(con, as_of=day, inputs=inputs), ca.crm_audit(con, as_of=day)
    for part in ca.CrmAudit.__dataclass_fields__:
        same(getattr(audit, part), getattr(alone, part))
    now = hy.hygiene_report(con, settings=SETTINGS, as_of=day)
    before = hy.hygiene_report(con, settings=SETTINGS, as_of=ca.previous_month_end(day))
    same(ca.audited_hygiene(con, settings=SETTINGS, as_of=day, audit=audit, now=now, before=before),
         ca.audited_hygiene(con, settings=SETTINGS, as_of=day, audit=alone))
    same(ca.hygiene_trend(con, settings=SETTINGS, as_of=day, now=now, before=before),
         ca.hygiene_trend(con, settings=SETTINGS, as_of=day))


def test_the_previous_month_end_is_shared_by_every_day_of_a_month():
    assert {ca.previous_month_end(date(2026, 10, d)) for d in (1, 15, 31)} == {date(2026, 9, 30)}
    assert ca.previous_month_end(date(2026, 3, 1)) == date(2026, 2, 28)


@pytest.mark.parametrize(("day", "fit", "intent"), [(DAYS[0], SETTINGS.fit.high_threshold, SETTINGS.intent.high_threshold),
                                                    (DAYS[1], 40.0, 20.0)])
def test_matrix_scores_passed_in_give_the_same_cells_queues_and_check(con, day, fit, intent):
    cutoff = scoring.validation_cutoff(SETTINGS, day)
    now = matrix.matrix_scores(con, settings=SETTINGS, as_of=day, fit_threshold=fit, intent_threshold=intent)
    then = matrix.matrix_scores(con, settings=SETTINGS, as_of=cutoff, fit_threshold=fit, intent_threshold=intent)
    same(matrix.matrix_cells(con, settings=SETTINGS, as_of=day, fit_threshold=fit, intent_threshold=intent,
                             scores=now, then=then),
         matrix.matrix_cells(con, settings=SETTINGS, as_of=day, fit_threshold=fit, intent_threshold=intent))
    for queue in [*matrix.QUEUES, matrix.REACTIVATION_QUEUE]:
        same(matrix.work_queue(con, settings=SETTINGS, as_of=day, queue=queue, fit_threshold=fit,
                               intent_threshold=intent, scores=now),
             matrix.work_queue(con, settings=SETTINGS, as_of=day, queue=queue, fit_threshold=fit,
                               intent_threshold=intent))
    if (fit, intent) == (SETTINGS.fit.high_threshold, SETTINGS.intent.high_threshold):
        checked = scoring.score_validation(con, settings=SETTINGS, as_of=day, scores=then)
        alone = scoring.score_validation(con, settings=SETTINGS, as_of=day)
        assert set(checked) == set(alone)
        for name, table in checked.items():
            same(table, alone[name])


@pytest.mark.parametrize("day", DAYS)
def test_scores_from_the_stored_stages_or_the_history_are_the_same(con, day):
    history = stages.funnel_history(con, settings=SETTINGS, as_of=day)
    current = stages.funnel_stages_at(con, settings=SETTINGS, as_of=day)
    same(scoring.lead_scores(con, settings=SETTINGS, as_of=day, current=current),
         scoring.lead_scores(con, settings=SETTINGS, as_of=day, history=history))


@pytest.mark.parametrize("day", DAYS)
def test_the_routing_check_reads_the_same_fields_from_the_lead_facts(con, day):
    fields = scoring.lead_fields(con, settings=SETTINGS)
    scored = scoring.lead_scores(con, settings=SETTINGS, as_of=day, fields=fields)
    same(ra.routing_inputs(con, settings=SETTINGS, as_of=day),
         scored.join(fields.drop(scoring.SENIORITY), on=sc.LEAD_ID, how="left"))
