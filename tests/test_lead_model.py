"""The lead model kept in the database file gives exactly the numbers computed from the tables, and is never
read when stale: after an import, a removal or a settings change it is rebuilt or ignored."""

from __future__ import annotations

import contextlib
import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel.analyses.handoff import handoff_leads, handoff_review
from funnel.cli.main import main
from funnel.config import settings_from_text
from funnel.filters import Filters
from funnel.model import history, materialised, records, stages
from funnel.model.build import build_funnel_entries, ensure_model
from funnel.model.identity import rebuild_identity
from funnel.schema import MODEL_STATE
from funnel.store import inventory
from funnel.store.db import connect, frame
from funnel.store.queries import sql_text
from tests.apptest import copied
from tests.test_stages import SETTINGS, TIGHT, d, examples, load, stores, t

DATES = ("2026-01-31", "2026-06-30", "2026-09-30")


@examples(25)
@given(rows=stores(), tight=st.booleans(), days=st.lists(st.integers(-5, 560), min_size=1, max_size=4),
       bucket_rows=st.sampled_from([1, 4, 10**6]))
def test_the_stored_run_cut_at_any_day_is_that_days_run(rows, tight, days, bucket_rows):
    """Built in buckets of leads or in one run, the stored entries cut at D are the run as of D."""
    settings = TIGHT if tight else SETTINGS
    con = load(rows)
    build_funnel_entries(con, settings=settings, rows_per_bucket=bucket_rows)
    for day in days:
        stored = materialised.stored_funnel_history(con, settings=settings, as_of=d(day))
        assert stored is not None
        fresh = stages.computed_funnel_history(con, settings=settings, as_of=d(day))
        assert stages.funnel_history(con, settings=settings, as_of=d(day)).equals(fresh), day
        assert stored.select(fresh.columns).cast(fresh.schema).equals(fresh), day
        current = stages.current_funnel_stage(fresh, as_of=d(day), settings=settings).sort("lead_id")
        at_day = materialised.stored_funnel_stages(con, settings=settings, as_of=d(day))
        assert at_day.sort("lead_id").cast(current.schema).equals(current), day
        for later, after in ((("opportunity", "customer"), d(day - 30)), (("interest",), d(day - 1)),
                             (("consideration", "intent"), None)):
            from_history = stages.funnel_entrants(con, settings=settings, stages=later, after=after, as_of=d(day),
                                                  history=fresh).sort("lead_id")
            stored_entrants = stages.funnel_entrants(con, settings=settings, stages=later, after=after, as_of=d(day))
            assert stored_entrants.sort("lead_id").equals(from_history), (day, later)


@st.composite
def lifecycle_stores(draw):
    """Leads with and without a created date and a current lifecycle stage (on the ladder, a side state, off it,
    or none), and stage log rows on the lifecycle ladder (or with no ladder, or the funnel's) with and without a
    date, repeats, side states and stages off the ladder."""
    stages_drawn = st.sampled_from([*SETTINGS.ladders.lifecycle, *SETTINGS.ladders.lifecycle_side, "prospect", None])
    days = st.one_of(st.none(), st.integers(0, 400))
    rows: dict[str, list[dict]] = {"leads": [], "stage_events": []}
    for n in range(draw(st.integers(1, 4))):
        created = draw(days)
        rows["leads"].append({"lead_id": f"L{n}", "created_at": None if created is None else t(created),
                              "lifecycle_stage": draw(stages_drawn)})
        for _ in range(draw(st.integers(0, 5))):
            at = draw(days)
            rows["stage_events"].append({"lead_id": f"L{n}", "ladder": draw(st.sampled_from(["lifecycle", None,
                                                                                            "funnel"])),
                                         "stage": draw(stages_drawn), "entered_at": None if at is None else t(at),
                                         "reason": draw(st.sampled_from([None, "Bad fit", "Timing"]))})
    return rows


@examples(40)
@given(rows=lifecycle_stores(), days=st.lists(st.integers(-5, 410), min_size=1, max_size=4))
def test_the_stored_lifecycle_ladder_cut_at_any_day_is_that_days_ladder(rows, days):
    """lifecycle_entries.sql run once over all the data and cut at D gives its rows at D (seq and prev_rank
    included), and so the same stage history, handoffs and hygiene stages."""
    con = load(rows)
    assert history.lifecycle_entries_sql(con, SETTINGS) == sql_text("lifecycle_entries")  # nothing stored yet
    materialised.write_lifecycle_entries(con, settings=SETTINGS,
                                         params=history.lifecycle_params(SETTINGS, as_of=materialised.HORIZON))
    assert materialised.lifecycle_is_current(con, SETTINGS)
    order = ["lead_id", "seq"]
    for day in days:
        fresh = frame(con, sql_text("lifecycle_entries"), history.lifecycle_params(SETTINGS, as_of=d(day)))
        stored = history.lifecycle_entries(con, settings=SETTINGS, as_of=d(day))
        assert stored.sort(order).equals(fresh.cast(stored.schema).sort(order)), day


def entry(lead_id: str, stage: str, rank: int, at, order: int) -> dict:
    return {"lead_id": lead_id, "stage": stage, "stage_rank": rank, "entered_at": at, "reason": None,
            "is_side": False, "evidence_type": "activity", "evidence_id": None, "evidence_at": at,
            "entry_order": order}


def test_each_stored_entry_knows_when_the_lead_next_moved():
    """Given entries with two at one moment and one without a time, next_at is the next dated entry's time in
    (time, entry order) order, and the stage at D is the one entry entered by D whose next one is after D."""
    con = load({"leads": [{"lead_id": "L1", "created_at": t(0)}], "activities": [], "deals": [],
                "stage_events": []})
    batch = pl.DataFrame([entry("L1", "awareness", 0, t(0), 0), entry("L1", "interest", 1, t(5), 1),
                          entry("L1", "intent", 3, t(5), 2), entry("L1", "consideration", 2, None, 3),
                          entry("L1", "interest", 1, t(9), 4), entry("L2", "awareness", 0, t(3), 0)],
                         schema_overrides={"entered_at": pl.Datetime("us"), "evidence_at": pl.Datetime("us"),
                                           "reason": pl.String, "evidence_id": pl.String})
    materialised.write_funnel_entries(con, [batch], settings=SETTINGS)
    stored = con.execute("SELECT lead_id, entry_order, next_at FROM model_funnel_entries ORDER BY lead_id, "
                         "entry_order").fetchall()
    assert stored == [("L1", 0, t(5)), ("L1", 1, t(5)), ("L1", 2, t(9)), ("L1", 3, None), ("L1", 4, None),
                      ("L2", 0, None)]
    expected = {-1: {}, 0: {"L1": "awareness"}, 4: {"L1": "awareness", "L2": "awareness"},
                5: {"L1": "intent", "L2": "awareness"}, 9: {"L1": "interest", "L2": "awareness"}}
    for day, stages_then in expected.items():
        at_day = materialised.stored_funnel_stages(con, settings=SETTINGS, as_of=d(day))
        assert dict(at_day.select("lead_id", "funnel_stage").rows()) == stages_then, day


def test_a_build_stopped_midway_leaves_the_funnel_part_absent_never_partly_current():
    """Each batch is committed as it is written (the process never holds the whole run); the part is current
    only once every batch is in."""
    con = load({"leads": [{"lead_id": "L1", "created_at": t(0)}], "activities": [], "deals": [],
                "stage_events": []})
    build_funnel_entries(con, settings=SETTINGS)
    assert materialised.funnel_is_current(con, SETTINGS)
    first = pl.DataFrame([entry("L1", "awareness", 0, t(0), 0)],
                         schema_overrides={"entered_at": pl.Datetime("us"), "evidence_at": pl.Datetime("us"),
                                           "reason": pl.String, "evidence_id": pl.String})

    def batches():
        yield first
        raise MemoryError  # the second bucket never comes

    with pytest.raises(MemoryError):
        materialised.write_funnel_entries(con, batches(), settings=SETTINGS)
    assert not materialised.funnel_is_current(con, SETTINGS)
    assert materialised.stored_funnel_history(con, settings=SETTINGS, as_of=d(10)) is None
    assert ensure_model(con, settings=SETTINGS) and materialised.funnel_is_current(con, SETTINGS)


def test_a_model_stored_in_an_older_layout_is_rebuilt_not_read(monkeypatch):
    con = load({"leads": [{"lead_id": "L1", "created_at": t(0)}], "activities": [], "deals": [],
                "stage_events": []})
    monkeypatch.setattr(materialised, "ENTRIES_LAYOUT", materialised.ENTRIES_LAYOUT - 1)
    build_funnel_entries(con, settings=SETTINGS)
    assert materialised.funnel_is_current(con, SETTINGS)
    monkeypatch.undo()
    assert not materialised.funnel_is_current(con, SETTINGS)
    assert materialised.stored_funnel_stages(con, settings=SETTINGS, as_of=d(10)) is None
    assert ensure_model(con, settings=SETTINGS) and materialised.funnel_is_current(con, SETTINGS)


def test_other_settings_never_read_the_stored_run():
    con = load({"leads": [{"lead_id": "L1", "created_at": t(0)}], "activities": [], "deals": [],
                "stage_events": []})
    build_funnel_entries(con, settings=SETTINGS)
    assert materialised.funnel_is_current(con, SETTINGS)
    assert not materialised.funnel_is_current(con, TIGHT)
    assert materialised.stored_funnel_history(con, settings=TIGHT, as_of=d(10)) is None
    assert ensure_model(con, settings=TIGHT)
    assert materialised.funnel_is_current(con, TIGHT) and not materialised.funnel_is_current(con, SETTINGS)
    assert not ensure_model(con, settings=TIGHT)  # nothing left to build


def test_another_lifecycle_ladder_never_reads_the_stored_lifecycle_entries():
    con = load({"leads": [{"lead_id": "L1", "created_at": t(0), "lifecycle_stage": "lead"}], "activities": [],
                "deals": [], "stage_events": []})
    ensure_model(con, settings=SETTINGS)
    renamed = settings_from_text('[ladders]\nlifecycle = ["subscriber", "lead", "mql", "sql", "opportunity", '
                                 '"customer", "evangelist"]\n')
    assert materialised.lifecycle_is_current(con, SETTINGS) and not materialised.lifecycle_is_current(con, renamed)
    assert history.lifecycle_entries_sql(con, renamed) == sql_text("lifecycle_entries")
    assert materialised.lifecycle_is_current(con, TIGHT)  # the funnel rules do not shape the lifecycle ladder
    assert ensure_model(con, settings=renamed) and materialised.lifecycle_is_current(con, renamed)


def run(*argv: str) -> str:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0, argv
        out.flush()
    return out.buffer.getvalue().decode()


def outputs(db: Path, folder: Path) -> dict[str, bytes]:
    """Every command whose numbers rest on the stage histories, on both ladders at three dates: metrics, leads,
    the routing lint, the handoff review and its lead lists, the capture audit by first campaign and page and its
    form funnels, the CRM audit (hygiene with its files) and the monthly review."""
    texts = {}
    for day in DATES:
        for ladder in ("funnel", "lifecycle"):
            texts[f"metrics-{ladder}-{day}"] = run("metrics", "--db", str(db), "--ladder", ladder, "--as-of", day)
            texts[f"metrics-{ladder}-{day}-source"] = run("metrics", "--db", str(db), "--ladder", ladder,
                                                          "--as-of", day, "--by", "source")
        texts[f"leads-{day}"] = run("leads", "--db", str(db), "--as-of", day, "--format", "csv")
        texts[f"rules-{day}"] = run("rules", "check", "--db", str(db), "--as-of", day, "--format", "csv")
        for entry in ("campaign", "url"):  # the first campaign and page: stored first touches, or the activities
            texts[f"capture-{entry}-{day}"] = run("capture", "--db", str(db), "--as-of", day, "--by", entry)
        texts[f"capture-forms-{day}"] = run("capture", "--db", str(db), "--as-of", day, "--section", "forms")
    con = connect(db, read_only=True)
    try:
        for day in DATES:
            for ladder in ("funnel", "lifecycle"):
                filters = Filters(as_of=date.fromisoformat(day), ladder=ladder)
                texts[f"handoff-{ladder}-{day}"] = handoff_review(
                    con, settings=SETTINGS, filters=filters, by="source").write_csv()
                for kind in ("pending", "recycled", "accepted"):
                    texts[f"handoff-{kind}-{ladder}-{day}"] = handoff_leads(
                        con, settings=SETTINGS, filters=filters, kind=kind).write_csv()
    finally:
        con.close()
    hygiene = folder / "hygiene"
    texts["hygiene"] = run("hygiene", "--db", str(db), "--as-of", DATES[-1], "--out", str(hygiene))
    for written in sorted(hygiene.glob("*.csv")):
        texts[f"hygiene-{written.name}"] = written.read_text()
    report = folder / "report.json"
    run("report", "--db", str(db), "--month", "2026-08", "--ladder", "funnel", "--format", "json", "--out",
        str(report))
    texts["report"] = report.read_text()
    return {name: text.encode() for name, text in texts.items()}


@pytest.fixture(scope="module")
def sample_db(bundled_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the store `funnel load-sample` made (conftest.bundled_sample)."""
    return copied(bundled_sample, tmp_path_factory.mktemp("model") / "funnel.duckdb")


def test_every_command_gives_the_same_figures_from_the_model_and_from_the_tables(sample_db: Path, tmp_path: Path):
    con = connect(sample_db, read_only=True)
    try:
        parts = materialised.model_parts(con)
    finally:
        con.close()
    assert parts.get_column("part").to_list() == [materialised.AUDIT_RECORDS_PART, materialised.CONTENT_VIEWS_PART,
                                                  materialised.ENGAGEMENT_PART, materialised.FIRST_TOUCHES_PART,
                                                  materialised.FORM_TOUCHES_PART,
                                                  materialised.FUNNEL_PART, materialised.IDENTITY_PART,
                                                  materialised.INTENT_INPUTS_PART, materialised.LIFECYCLE_PART,
                                                  materialised.SCORING_FACTS_PART, materialised.TABLE_SPANS_PART]
    con = connect(sample_db, read_only=True)
    try:  # the stored spans are the tables' own, and give the default as-of date
        assert materialised.stored_table_spans(con).cast(inventory.SPAN_SCHEMA).equals(inventory.table_spans(con))
        assert history.newest_day(con) == inventory.newest_timestamp(con).date()
    finally:
        con.close()
    from_model = outputs(sample_db, tmp_path)

    con = connect(sample_db)
    try:
        con.execute(f"DELETE FROM {MODEL_STATE}")  # the same store with no model: every figure from the tables
    finally:
        con.close()
    from_tables = outputs(sample_db, tmp_path)
    assert from_model.keys() == from_tables.keys()
    for name in from_model:
        assert from_model[name] == from_tables[name], name

    con = connect(sample_db)  # leave the module's store as load-sample made it
    try:
        ensure_model(con, settings=SETTINGS)
    finally:
        con.close()


def test_a_rebuild_of_the_data_drops_the_model_until_it_is_built_again(sample_db: Path, tmp_path: Path):
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(sample_db.read_bytes())
    con = connect(copy)
    try:
        assert materialised.funnel_is_current(con, SETTINGS)
        rebuild_identity(con, settings=SETTINGS)  # what every import or removal runs
        assert materialised.model_parts(con).get_column("part").to_list() == [materialised.IDENTITY_PART]
        assert not materialised.funnel_is_current(con, SETTINGS)
        assert not materialised.lifecycle_is_current(con, SETTINGS)
        assert materialised.stored_table_spans(con) is None
        assert not materialised.first_touches_are_current(con)
        assert materialised.stored_audit_records(con) is None
        assert not materialised.form_touches_are_current(con)
        assert not materialised.content_views_are_current(con, SETTINGS)
        assert not materialised.engagement_days_are_current(con, SETTINGS)
        assert materialised.stored_funnel_history(con, settings=SETTINGS, as_of=date(2026, 9, 30)) is None
    finally:
        con.close()


def test_a_saved_settings_version_is_built_when_saved(sample_db: Path, tmp_path: Path):
    """The Rules page saves a version and builds the model for it: the page then reads the new run."""
    from funnel.store import settings_versions

    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(sample_db.read_bytes())
    text = "[funnel_rules]\nreactivation_after_days = 30\n"
    con = connect(copy)
    try:
        settings_versions.save_version(con, text, note="shorter reactivation", author="test")
        tuned = settings_from_text(text, source="saved settings")
        assert not materialised.funnel_is_current(con, tuned)
        assert ensure_model(con, settings=tuned)
        stored = materialised.stored_funnel_history(con, settings=tuned, as_of=date(2026, 9, 30))
        fresh = stages.computed_funnel_history(con, settings=tuned, as_of=date(2026, 9, 30))
        assert stored is not None and stored.cast(fresh.schema).equals(fresh)
        assert stored.filter(pl.col("stage") == "reactivation").height > 0
    finally:
        con.close()


def test_the_model_command_says_what_is_built_and_builds_what_is_missing(sample_db: Path, tmp_path: Path):
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(sample_db.read_bytes())
    assert "funnel_entries: " in run("model", "--db", str(copy))
    con = connect(copy)
    try:
        con.execute(f"DELETE FROM {MODEL_STATE}")
    finally:
        con.close()
    assert "not built for these settings" in run("model", "--db", str(copy))
    built = run("model", "--db", str(copy), "--build")
    assert "funnel_entries: " in built and "not built" not in built


def test_new_identity_rules_rebuild_who_is_who_and_what_rests_on_it(sample_db: Path, tmp_path: Path):
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(sample_db.read_bytes())
    tuned = settings_from_text('[identity]\nconflict_rule = "last_created"\n', source="saved settings")
    con = connect(copy)
    try:
        assert materialised.identity_is_current(con, SETTINGS)
        assert not materialised.identity_is_current(con, tuned)
        assert materialised.funnel_is_current(con, tuned)  # same funnel rules, but built on the old identity:
        assert ensure_model(con, settings=tuned)  # so the identity is rebuilt, and the funnel part after it
        assert materialised.identity_is_current(con, tuned) and materialised.funnel_is_current(con, tuned)
        assert not materialised.identity_is_current(con, SETTINGS)
    finally:
        con.close()


def test_removing_an_import_rebuilds_the_model_from_what_is_left(tmp_path: Path):
    """The Data page's removal (and the CLI's import) run rebuild_model: the stored run then equals a run on the
    data as it now is, and differs from the run before the removal."""
    from funnel.ingest.importer import prepare_import, remove_import, write_import
    from funnel.model.build import rebuild_model
    from funnel.store.inventory import import_history

    con = connect(tmp_path / "store.duckdb")
    try:
        for name in ("accounts.csv", "leads.csv", "deals.csv", "activities.csv"):
            write_import(con, prepare_import(Path(__file__).parents[1] / "sample_data" / name, settings=SETTINGS))
        rebuild_model(con, settings=SETTINGS)
        before = stages.funnel_history(con, settings=SETTINGS, as_of=date(2026, 10, 31))
        deals = import_history(con).filter(pl.col("table_name") == "deals").get_column("import_id")[0]
        remove_import(con, int(deals))
        rebuild_model(con, settings=SETTINGS)
        assert materialised.funnel_is_current(con, SETTINGS)
        after = stages.funnel_history(con, settings=SETTINGS, as_of=date(2026, 10, 31))
        fresh = stages.computed_funnel_history(con, settings=SETTINGS, as_of=date(2026, 10, 31))
        assert after.equals(fresh)
        assert not after.equals(before)
        assert after.filter(pl.col("evidence_type") == "deal").is_empty()  # no deal is evidence any more
    finally:
        con.close()


def test_the_stored_audit_records_are_the_ones_computed_from_the_tables(sample_db: Path):
    """The CRM audit's records read from the model: every lead's and account's match keys and each value not in
    its standard form, the same frames (columns, types and rows; the tables give the rows in no set order, and
    the audit never reads their order) as computed from the tables."""
    con = connect(sample_db, read_only=True)
    try:
        stored = materialised.stored_audit_records(con)
        computed = records.computed_audit_records(con)
    finally:
        con.close()
    assert stored is not None and stored.keys() == computed.keys()
    for name, table in computed.items():
        assert stored[name].schema == table.schema, name
        assert stored[name].sort(table.columns).equals(table.sort(table.columns)), name
    assert computed["people"].height == 3000 and computed["companies"].height == 750
