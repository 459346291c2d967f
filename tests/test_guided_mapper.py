"""The guided mapper asks: a file recognised with columns left over that could fill what analyses need (a
stage or outcome, dates, an owner) opens the mapper instead of importing half-mapped; stage values are mapped
onto the lifecycle ladder and saved as the mapping's value map.

The AppTest flow uses tests/fixtures/x_education_leads.csv: 24 made-up rows with the header of X Education's
Leads.csv (Prospect ID, Lead Origin, Converted 0/1, …, a trailing comma), 8 converted: 4 of 4 API, 4 of 16
Landing Page Submission, 0 of 4 Lead Add Form."""

from __future__ import annotations

from datetime import date

import polars as pl

from funnel.analyses.segments import segment_performance
from funnel.config import default_settings
from funnel.filters import Filters
from funnel.ingest import upload
from funnel.ingest.mapping import mapping_from_text
from funnel.ingest.mapping_guess import (
    completed_columns,
    distinct_values,
    fillable_gaps,
    is_flag,
    mapping_text,
    proposed_columns,
    proposed_stage_values,
    stage_counts,
)
from pages.ui.store import opened
from tests.apptest import ROOT, app

XED = ROOT / "tests" / "fixtures" / "x_education_leads.csv"
RECOGNISED = {"lead_id": "Prospect ID", "source": "Lead Source", "country": "Country"}


def xed_like() -> pl.DataFrame:
    return pl.DataFrame({"Prospect ID": ["a", "b", "c"], "Lead Origin": ["API", "API", "Lead Add Form"],
                         "Lead Source": ["Google", "Olark Chat", ""], "Converted": ["0", "1", "0"],
                         "Country": ["India", "", "India"], "TotalVisits": ["0", "5", "2"]})


def test_a_recognised_file_with_a_converted_flag_left_as_an_attribute_is_half_mapped():
    assert fillable_gaps(xed_like(), "leads", RECOGNISED) == {"lifecycle_stage": "Converted"}
    completed = completed_columns(xed_like(), "leads", RECOGNISED)
    assert {k: v for k, v in completed.items() if v} == RECOGNISED | {"lifecycle_stage": "Converted"}


def test_nothing_is_half_mapped_once_the_gap_is_filled_or_no_column_could_fill_it():
    assert fillable_gaps(xed_like(), "leads", RECOGNISED | {"lifecycle_stage": "Converted"}) == {}
    no_flag = xed_like().drop("Converted")
    assert fillable_gaps(no_flag, "leads", RECOGNISED) == {}
    canonical = pl.DataFrame({"lead_id": ["L1"], "created_at": ["2026-01-02"], "owner": ["ana"],
                              "lifecycle_stage": ["lead"], "plan": ["pro"]})
    assert fillable_gaps(canonical, "leads", {c: c for c in canonical.columns if c != "plan"}) == {}
    assert fillable_gaps(xed_like(), "activities", {"lead_id": "Prospect ID"}) == {}  # no stage/date needs listed


def test_dates_owners_and_stage_columns_left_over_are_proposed():
    sample = pl.DataFrame({"Id": ["1", "2"], "Lead Stage": ["Open", "Won"], "Lead Owner": ["Ana", "Bo"],
                           "Created Date": ["2026-01-02", "2026-02-03"]})
    assert fillable_gaps(sample, "leads", {"lead_id": "Id"}) == {
        "lifecycle_stage": "Lead Stage", "created_at": "Created Date", "owner": "Lead Owner"}


def test_a_deal_outcome_from_its_stage_is_not_a_gap_and_only_a_flag_proposes_won():
    deals = pl.DataFrame({"Deal ID": ["D1", "D2"], "Deal Stage": ["Closed Won", "Closed Lost"],
                          "Closed Won Reason": ["price", ""], "Won": ["true", "false"], "Close Date": ["2026-01-02", ""],
                          "Deal Owner": ["ana", "bo"]})
    mapped = {"deal_id": "Deal ID", "closed_at": "Close Date", "owner": "Deal Owner"}
    assert fillable_gaps(deals, "deals", mapped | {"stage": "Deal Stage"}) == {}
    assert fillable_gaps(deals, "deals", mapped) == {"won": "Won", "stage": "Deal Stage"}
    assert fillable_gaps(deals.drop("Won"), "deals", mapped) == {"stage": "Deal Stage"}  # not "Closed Won Reason"


def test_a_flag_is_only_yes_no_like_values():
    assert is_flag(pl.Series(["0", "1", None, ""]))
    assert is_flag(pl.Series(["Yes", "no"]))
    assert not is_flag(pl.Series(["0", "1", "2"]))
    assert not is_flag(pl.Series([None, ""], dtype=pl.String))
    assert proposed_columns(pl.DataFrame({"Visits": ["0", "1"]}), "leads")["lifecycle_stage"] is None


def test_stage_values_are_proposed_from_the_settings_and_obvious_yes_no():
    settings = default_settings()
    got = proposed_stage_values(["1", "0", "True", "no", "Marketing Qualified Lead", "Customer", "Ringing"], settings)
    assert got["1"] == "customer" and got["True"] == "customer"
    assert got["0"] == "lead" and got["no"] == "lead"
    assert got["Customer"] == "customer"
    assert got["Marketing Qualified Lead"] == settings.lifecycle_stage("Marketing Qualified Lead")
    assert got["Ringing"] is None


def test_distinct_values_most_frequent_first_without_empties():
    sample = pl.DataFrame({"Converted": ["0", "1", "0", "", None, " 0 "]})
    assert distinct_values(sample, "Converted") == ["0", "1"]


def test_the_mapping_text_writes_the_value_map_and_re_applies_it():
    columns = RECOGNISED | {"lifecycle_stage": "Converted", "owner": None}
    text = mapping_text("X Education", table="leads", columns=columns,
                        values={"lifecycle_stage": {"1": "customer", "0": "lead"}, "owner": {"a": "b"}})
    assert '[file.values.lifecycle_stage]\n"1" = "customer"\n"0" = "lead"\n' in text
    assert "file.values.owner" not in text  # a value map for an unmapped column is left out
    section = mapping_from_text(text, source="test").files[0]
    assert section.values == {"lifecycle_stage": {"1": "customer", "0": "lead"}}
    assert section.columns["converted"] == "lifecycle_stage"


def test_stage_counts_say_how_many_rows_land_in_each_stage():
    frame = pl.DataFrame({"lifecycle_stage": ["lead", "customer", "lead", None]})
    assert stage_counts(frame).to_dicts() == [{"lifecycle stage": "lead", "leads": 2},
                                              {"lifecycle stage": "customer", "leads": 1},
                                              {"lifecycle stage": "(none)", "leads": 1}]


def upload_xed(tmp_path, monkeypatch):
    at = app(tmp_path / "xed.duckdb", monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="export_files_0").upload("Leads.csv", XED.read_bytes(), "text/csv")
    at.run()
    assert not at.exception
    return at


def texts(at) -> list[str]:
    return [t.value for t in at.text]


def test_a_half_mapped_upload_opens_the_mapper_and_is_not_imported_without_a_choice(tmp_path, monkeypatch):
    at = upload_xed(tmp_path, monkeypatch)
    assert at.selectbox(key="map_0_leads_lifecycle_stage").value == "Converted", "the mapper proposes Converted"
    at.selectbox(key="map_0_leads_lifecycle_stage").select("(none)").run()
    assert any("lifecycle_stage (the file's column Converted could supply it)" in t for t in texts(at))
    assert not [b for b in at.button if b.key == "import_button"], "nothing to import while half-mapped"
    at.checkbox(key="map_anyway_0").check().run()
    assert at.button(key="import_button").label == "Import 1 file(s)"


def test_x_education_maps_converted_to_customer_imports_and_shows_conversion(tmp_path, monkeypatch):
    at = upload_xed(tmp_path, monkeypatch)
    assert any("as recognised, no lifecycle_stage: no a current stage for the distribution" in t for t in texts(at))
    assert at.selectbox(key="map_0_leads_lifecycle_stage").value == "Converted"
    stages = {at.selectbox(key=f"map_stage_0_Converted_{i}").value for i in range(2)}
    assert stages == {"lead", "customer"}
    preview = next(d.value for d in at.dataframe if "lifecycle stage" in d.value.columns)  # AppTest: no df keys
    assert dict(zip(preview["lifecycle stage"], preview["leads"], strict=True)) == {"lead": 16, "customer": 8}
    at.button(key="import_button").click().run()
    assert not at.exception
    inventory = at.dataframe[0].value
    assert int(inventory.loc[inventory["table"] == "leads", "rows"].iloc[0]) == 24
    # Conversion by Lead Origin, read with the funnel function the Segments page calls on the store the page's
    # import wrote (the pages on this undated store: tests/test_undated_store.py).
    with opened(str(tmp_path / "xed.duckdb")) as con:
        table = segment_performance(con, Filters(as_of=date(2026, 12, 5)), settings=default_settings(),
                                    by="attr:Lead Origin")
    rates = {r["attr:Lead Origin"]: (r["leads"], r["reached_customer_rate"]) for r in table.iter_rows(named=True)}
    assert rates == {None: (24, 8 / 24), "API": (4, 1.0), "Landing Page Submission": (16, 4 / 16),
                     "Lead Add Form": (4, 0.0)}


def test_a_saved_mapping_with_the_value_map_imports_the_file_in_one_step():
    columns = RECOGNISED | {"lifecycle_stage": "Converted"}
    text = mapping_text("X Education", table="leads", columns=columns,
                        values={"lifecycle_stage": {"1": "customer", "0": "lead"}})
    item = upload.checked_upload(XED.read_bytes(), "Leads.csv", mapping_text="", table=None,
                                 settings=default_settings(), saved_texts=(("X Education", text),))
    assert item.mapping_name == "X Education"
    assert item.stages.to_dicts() == [{"lifecycle stage": "lead", "leads": 16},
                                      {"lifecycle stage": "customer", "leads": 8}]


# ------------------------------------------------------------------ the preview of what each analysis will show
def preview_of(frame: pl.DataFrame, derived: dict | None = None) -> dict[str, tuple[str, str]]:
    from funnel.ingest.mapping_guess import analysis_preview

    table = analysis_preview(frame, "leads", derived=derived or {}, settings=default_settings())
    assert table.columns == ["analysis", "after this mapping", "still missing"]
    return {a: (shown, missing) for a, shown, missing in table.iter_rows()}


def prepared_leads(**columns) -> pl.DataFrame:
    """A prepared leads frame (every canonical column, typed) with the given columns filled."""
    from funnel.schema import TABLES, Kind

    n = len(next(iter(columns.values())))
    dtypes = {Kind.TIMESTAMP: pl.Datetime("us"), Kind.INTEGER: pl.Int64, Kind.NUMBER: pl.Float64}
    frame = pl.DataFrame({c.name: pl.Series(c.name, columns.get(c.name, [None] * n), dtype=dtypes.get(c.kind, pl.String))
                          for c in TABLES["leads"].columns})
    attributes = pl.Series("attributes", [[{"key": "Lead Origin", "value": v}] for v in ("API", "API", "Form")])
    return frame.with_columns(attributes) if n == 3 else frame


def test_the_preview_counts_stages_dates_and_segments_of_the_file_as_mapped():
    from datetime import datetime

    frame = prepared_leads(lead_id=["a", "b", "c"], lifecycle_stage=["customer", "lead", "Ringing"],
                           created_at=[datetime(2018, 1, 5), None, datetime(2018, 3, 2)],
                           source=["Google", "Google", None], owner=[None, None, None],
                           email=["a@x.io", None, None])
    got = preview_of(frame)
    assert got["Distribution, lifecycle ladder"] == ("2 of 3 leads get a stage; 1 show as no stage yet", "")
    assert got["Distribution, funnel ladder"][0].startswith("2 of 3 leads are dated")
    assert got["Conversion"] == ("2 dated leads, from 05 Jan 2018 to 02 Mar 2018", "")
    assert got["Trends by month"] == ("from 05 Jan 2018 to 02 Mar 2018", "")
    assert got["Routing, owners and handoff"] == ("no owners", "owner")
    assert got["Duplicate checks"] == ("1 leads with an e-mail", "")
    assert got["Fit (ICP)"][0] == "not computed"
    assert got["Segments"] == ("by source, Lead Origin", "")  # ids and columns of unique values left out
    frame = frame.with_columns(pl.Series("lifecycle_stage", ["lead", "lead", "customer"]))
    assert preview_of(frame)["Segments"] == ("by source, lifecycle stage, Lead Origin", "")  # the schema's order


def test_an_undated_file_says_what_needs_dates_and_a_stage_entry_file_counts_its_entries():
    from datetime import datetime

    undated = prepared_leads(lead_id=["a", "b", "c"], lifecycle_stage=[None, None, None])
    got = preview_of(undated)
    assert got["Distribution, lifecycle ladder"] == ("0 of 3 leads get a stage; 3 show as no stage yet",
                                                     "a stage or outcome column (lifecycle_stage)")
    for analysis in ("Conversion", "Aging", "Trends by month"):
        assert got[analysis] == ("nothing: no dates", "dates: map created_at (or stage date columns)")
    entries = pl.DataFrame({"lead_id": ["a", "b"], "ladder": ["lifecycle", "lifecycle"], "stage": ["mql", "mql"],
                            "entered_at": [datetime(2018, 2, 1), datetime(2018, 2, 3)]})
    got = preview_of(undated, {"stage_events": entries})
    assert got["Distribution, lifecycle ladder"][0] == "2 of 3 leads get a stage; 1 show as no stage yet"


# ------------------------------------------------------------------ a preset's other settings survive a correction
HUBSPOT_CONTACTS = ("Record ID,First Name,Last Name,Email,Create Date,Became a Lead Date,Became a Customer Date,Is Customer\n"
                    "101,Ana,Lee,ana@x.io,2026-01-05 10:00,2026-01-05 10:00,2026-02-01 09:00,yes\n"
                    "102,Bo,Kim,bo@x.io,2026-01-06 11:00,2026-01-06 11:00,,no\n"
                    "103,Cy,Ng,cy@x.io,2026-01-07 12:00,,,no\n")


def test_a_correction_keeps_the_presets_stage_dates_value_maps_and_date_formats():
    from funnel.ingest.mapping_guess import corrected_mapping_text
    from funnel.ingest.presets import preset_for

    hubspot = preset_for("hubspot")
    headers = HUBSPOT_CONTACTS.splitlines()[0].split(",")
    section = hubspot.section_for(headers, table="leads")
    columns = {"lead_id": "Record ID", "email": "Email", "created_at": "Create Date", "lifecycle_stage": "Is Customer"}
    text = corrected_mapping_text("HubSpot corrected", base=hubspot, headers=headers, table="leads", columns=columns,
                                  values={"lifecycle_stage": {"yes": "customer", "no": "lead"}})
    again = mapping_from_text(text, source="test")
    corrected = again.files[0]
    assert corrected.stage_dates == section.stage_dates
    assert corrected.date_formats == section.date_formats
    assert corrected.person_keys == section.person_keys
    assert corrected.values["lifecycle_stage"] == {"yes": "customer", "no": "lead"}
    assert corrected.columns == {"record_id": "lead_id", "email": "email", "create_date": "created_at",
                                 "is_customer": "lifecycle_stage"}
    item = upload.checked_upload(HUBSPOT_CONTACTS.encode(), "contacts.csv", mapping_text=text, table="leads",
                                 settings=default_settings())
    assert item.derived_rows["stage_events"] == 3  # the 'Became a … Date' columns still become stage entries
    assert item.stages.to_dicts() == [{"lifecycle stage": "lead", "leads": 2},
                                      {"lifecycle stage": "customer", "leads": 1}]


def test_the_mapper_keeps_the_preset_when_the_user_corrects_a_column_and_previews_each_analysis(tmp_path, monkeypatch):
    at = app(tmp_path / "hs.duckdb", monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="export_files_0").upload("contacts.csv", HUBSPOT_CONTACTS.encode(), "text/csv")
    at.run()
    assert not at.exception
    assert any(t.startswith("Recognised as leads by HubSpot") for t in texts(at))
    assert at.selectbox(key="map_0_leads_lifecycle_stage").value == "Is Customer"
    preview = at.table[0].value
    rows = dict(zip(preview["Analysis"], preview["After this mapping"], strict=True))
    assert rows["Distribution, lifecycle ladder"] == "3 of 3 leads get a stage"
    assert rows["Conversion"] == "3 dated leads and 3 dated stage entries, from 05 Jan 2026 to 01 Feb 2026"
    assert any(t == "Also derived: 3 rows for stage_events" for t in texts(at)), "the preset's stage dates are kept"
    at.selectbox(key="map_0_leads_owner").select("(none)").run()  # a correction elsewhere keeps them too
    assert any(t == "Also derived: 3 rows for stage_events" for t in texts(at))
