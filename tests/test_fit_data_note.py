"""Fit without firmographics: the Fit × intent page, the Lead page and `funnel leads` say when fit cannot be
computed, or rests on few leads."""

from __future__ import annotations

from datetime import date

from tests.test_metrics_support import SETTINGS, store

AS_OF = date(2026, 3, 31)


# ------------------------------------------------------------------------------------ fit without firmographics


def test_fit_without_any_firmographic_is_said_to_be_uncomputable():
    from funnel.model.matrix import fit_data_note

    bare = store(leads=[{"lead_id": f"L{i}", "created_at": "2026-01-01", "source": "web"} for i in range(4)])
    note = fit_data_note(bare, settings=SETTINGS, as_of=AS_OF)
    assert note.startswith("Fit cannot be computed: none of the 4 leads")
    few = store(leads=[{"lead_id": "L0", "created_at": "2026-01-01", "industry": "Software"},
                       *({"lead_id": f"L{i}", "created_at": "2026-01-01"} for i in range(1, 4))])
    assert fit_data_note(few, settings=SETTINGS, as_of=AS_OF).startswith("Fit rests on few leads: only 1 of 4")
    half = store(leads=[{"lead_id": "L0", "created_at": "2026-01-01", "country": "US"},
                        {"lead_id": "L1", "created_at": "2026-01-01", "title": "VP Sales"},
                        *({"lead_id": f"L{i}", "created_at": "2026-01-01"} for i in range(2, 4))])
    assert fit_data_note(half, settings=SETTINGS, as_of=AS_OF) is None
