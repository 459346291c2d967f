"""Import batches: one transaction for the whole batch, and the vectorised CSV pre-scans."""

from __future__ import annotations

import pytest

from funnel.errors import ValidationError
from funnel.ingest.importer import BatchFile, import_batch
from funnel.ingest.readers import Dialect, spreadsheet_rows, unterminated_quote_line
from funnel.store.db import connect


def test_a_failing_later_file_leaves_the_database_as_before_the_first(tmp_path):
    good = tmp_path / "leads.csv"
    good.write_text("lead_id,email,created_at\nL1,a@x.com,2024-01-01\nL2,b@x.com,2024-01-02\n")
    bad = tmp_path / "deals.csv"
    bad.write_text("deal_id,lead_id,stage,amount,created_at\nD1,L1,Won,12k,2024-02-01\n")
    con = connect(tmp_path / "db.duckdb")
    with pytest.raises(ValidationError) as caught:
        import_batch(con, [BatchFile(good), BatchFile(bad)])
    assert (caught.value.file, caught.value.row, caught.value.column, caught.value.value) == (
        "deals.csv", 2, "amount", "12k")
    assert con.execute("SELECT count(*) FROM raw.leads").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
    assert [r.added for r in import_batch(con, [BatchFile(good)])] == [2]


def test_blank_line_rows_and_the_unclosed_quote_line_are_found_without_a_loop():
    body = b'a,b\n1,"x\ny"\n\n2,z\n'
    assert spreadsheet_rows(body, Dialect(",", ["a", "b"], 0, 1)) == [2, 4]
    assert unterminated_quote_line(b'a,b\n1,2\n3,"open\n') == 3
