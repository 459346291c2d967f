"""The routing commands: `funnel rules check`, `funnel alerts` (with a webhook on a local server) and
`funnel export` in each tool's import columns; `funnel leads` carries the rule."""

from __future__ import annotations

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from funnel.cli.main import main
from funnel.ingest.sample import sample_tables
from funnel.store.db import connect


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("routing_cli") / "store.duckdb"
    con = connect(path)
    for name, frame in sample_tables(leads=150, seed=5).items():
        con.register("incoming", frame.to_arrow())
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming").fetchall()
        con.unregister("incoming")
    con.close()
    return path


def test_rules_check_lists_rules_and_findings(db, capsys):
    code = main(["rules", "check", "--db", str(db)])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "1. Former customer" in out and "SDR task: high fit at intent" in out
    assert main(["rules", "check", "--db", str(db), "--format", "json"]) == code
    report = json.loads(capsys.readouterr().out)
    assert {"rules", "findings", "finding_leads"} <= set(report)
    assert sum(r["wins"] for r in report["rules"]) + sum(
        f["leads"] for f in report["findings"] if f["kind"] == "no rule covers") == 150


class Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_alerts_as_csv_json_per_owner_and_to_a_webhook(db, capsys, tmp_path):
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        assert main(["alerts", "--db", str(db), "--since", "2026-10-01", "--format", "json", "--webhook", url,
                     "--per-owner", str(tmp_path / "owners")]) == 0
    finally:
        server.shutdown()
        server.server_close()
    rows = json.loads(capsys.readouterr().out)
    assert rows and {"alert", "lead_id", "owner", "team", "at", "detail", "route_rule"} == set(rows[0])
    kind, payload = Recorder.received[-1]
    assert kind == "application/json" and payload["since"] == "2026-10-01T00:00:00"
    assert len(payload["alerts"]) == len(rows)
    files = sorted((tmp_path / "owners").glob("alerts_*.csv"))
    assert len(files) == len({r["owner"] for r in rows})
    assert main(["alerts", "--db", str(db), "--since", "2026-10-01"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert len(table) == len(rows)


def test_a_webhook_that_is_not_http_is_refused(db, capsys):
    assert main(["alerts", "--db", str(db), "--webhook", "file:///etc/passwd"]) == 2
    assert "http" in capsys.readouterr().err


@pytest.mark.parametrize("tool, header", [
    ("hubspot", ["Record ID", "Email", "Funnel Stage", "Fit Score", "Intent Score", "Fit Intent Quadrant", "ICP",
                 "Next Owner", "Next Action", "Next Action Date", "Routing Rule"]),
    ("salesforce", ["Id", "Funnel_Stage__c", "Fit_Score__c", "Intent_Score__c", "Fit_Intent_Quadrant__c", "ICP__c",
                    "Next_Owner__c", "Next_Action__c", "Next_Action_Date__c", "Routing_Rule__c"]),
    ("klaviyo", ["Email", "First Name", "Last Name", "Funnel Stage", "Fit Intent Quadrant", "ICP", "Nurture Track"]),
    ("mailchimp", ["Email Address", "First Name", "Last Name", "Tags"]),
])
def test_export_writes_each_tools_columns(db, capsys, tmp_path, tool, header):
    out = tmp_path / f"{tool}.csv"
    assert main(["export", "--db", str(db), "--tool", tool, "--team", "Marketing", "--out", str(out)]) == 0
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert rows[0] == header
    assert len(rows) > 1
    assert f"lead(s) for {tool}" in capsys.readouterr().out


def test_export_cells_are_formula_safe(tmp_path, capsys):
    path = tmp_path / "evil.duckdb"
    con = connect(path)
    tables = sample_tables(leads=20, seed=3)
    leads = tables["leads"].with_columns(first_name=tables["leads"]["first_name"].set(
        tables["leads"]["lead_id"] == tables["leads"]["lead_id"][0], "=HYPERLINK(\"http://x\")"))
    for name, frame in {**tables, "leads": leads}.items():
        con.register("incoming", frame.to_arrow())
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming").fetchall()
        con.unregister("incoming")
    con.close()
    out = tmp_path / "k.csv"
    assert main(["export", "--db", str(path), "--tool", "klaviyo", "--out", str(out)]) == 0
    text = out.read_bytes().decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ',"=HYPERLINK' not in text
