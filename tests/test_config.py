"""Tests for funnel.config: the defaults load, every setting is documented, every bad value is named."""

from __future__ import annotations

import dataclasses
import re

import pytest

from funnel import config
from funnel.config import (
    DEFAULT_PATH,
    Aging,
    AlertRule,
    Conversion,
    Criterion,
    EvidenceRule,
    Fit,
    FunnelRules,
    Icp,
    Identity,
    Intent,
    Ladders,
    NurtureTrack,
    Owner,
    Routing,
    RoutingRule,
    Segments,
    Settings,
    Tag,
    Territory,
    default_settings,
    documented_keys,
    load_settings,
    settings_from_text,
)
from funnel.errors import ConfigError
from funnel.schema import CANONICAL_ACTIVITY_TYPES

# ------------------------------------------------------------------------------------------ defaults


def test_defaults_load_with_domains_values():
    s = default_settings()
    assert s.source == "defaults"
    assert (s.conversion.window_days, s.conversion.skipped_stages) == (90, "implicit")
    assert s.funnel_rules.reactivation_after_days == 90
    assert s.funnel_rules.not_meaningful == ("email_open", "email_sent", "email_delivered", "email_bounced",
                                             "email_unsubscribe")
    assert s.funnel_rules.recycle_stage == "consideration"
    assert s.funnel_rules.regression == "reactivation_or_recycle"
    assert s.aging.buckets == (7, 30, 90)
    assert s.aging.bucket_labels() == ("0–7", "8–30", "31–90", "90+")
    assert s.aging.sla_days["intent"] == 2 and s.aging.sla_days["mql"] == 5
    assert 2 <= len(s.fit.icps) <= 4
    assert s.intent.half_life_days == 30
    assert set(s.intent.weights) <= set(CANONICAL_ACTIVITY_TYPES)
    assert {q for r in s.routing.rules for q in r.quadrants} == set(config.QUADRANTS)
    assert set(s.content) == set(s.ladders.funnel + s.ladders.funnel_side)
    assert s.segments.size_band_labels()[0] == "1–50" and s.segments.size_band_labels()[-1] == "5001+"


def test_default_evidence_is_domains():
    """DOMAIN.md, "Default evidence", rule by rule."""
    rules = {(r.stage, frozenset(r.activity_types), r.min_count, r.within_days)
             for r in default_settings().funnel_rules.evidence}
    assert rules == {
        ("awareness", frozenset({"page_view", "content_view", "newsletter_signup", "social_engagement"}), 1, 0),
        ("interest", frozenset({"form_fill", "content_download", "webinar_registration"}), 1, 0),
        ("interest", frozenset({"page_view"}), 3, 30),
        ("consideration", frozenset({"case_study_view", "comparison_page_view", "product_page_view",
                                     "integration_page_view", "webinar_attended"}), 1, 0),
        ("consideration", frozenset({"email_click"}), 2, 30),
        ("intent", frozenset({"pricing_page_view", "demo_request", "trial_signup", "trial_activity", "contact_form",
                              "implementation_page_view", "meeting_booked"}), 1, 0),
    }


def test_lifecycle_values_map_crm_words_onto_the_ladder():
    s = default_settings()
    assert s.lifecycle_stage("Marketing Qualified Lead") == "mql"
    assert s.lifecycle_stage(" marketingqualifiedlead ") == "mql"
    assert s.lifecycle_stage("SQL") == "sql"
    assert s.lifecycle_stage("former customer") == "former_customer"
    assert s.lifecycle_stage("Closed Won") == "customer"
    assert s.lifecycle_stage("something else") is None and s.lifecycle_stage(None) is None


# ----------------------------------------------------------------------------- every key is documented

# Where each settings dataclass lives in funnel.toml, and its fields' TOML names when they differ.
LOCATIONS: dict[type, tuple[str, ...]] = {
    Settings: ("",), Ladders: ("ladders",), Conversion: ("conversion",), FunnelRules: ("funnel_rules",),
    EvidenceRule: ("funnel_rules.evidence",), Aging: ("aging",), Fit: ("fit",), Icp: ("fit.icp",),
    Criterion: ("fit.icp.criteria", "tags"), Intent: ("intent",), Segments: ("segments",), Tag: ("tags",),
    Routing: ("routing",), Owner: ("routing.owners",),
    Territory: ("routing.territories",), RoutingRule: ("routing.rules",), NurtureTrack: ("routing.tracks",),
    AlertRule: ("routing.alerts",), Identity: ("identity",),
}
RENAMED = {(Fit, "icps"): "icp", (Settings, "source"): None, (Tag, "rule"): None}  # None: not a TOML key

HEADER = re.compile(r"^\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
KEY = re.compile(r'^("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=')


def toml_layout() -> tuple[list[str], dict[str, list[int]], dict[str, list[int]], dict[str, str]]:
    """The default file's lines; key path -> line numbers; table path -> header lines; key path -> its table."""
    lines = DEFAULT_PATH.read_text(encoding="utf-8").splitlines()
    keys: dict[str, list[int]] = {}
    tables: dict[str, list[int]] = {}
    table_of: dict[str, str] = {}
    current = ""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if header := HEADER.match(stripped):
            current = header.group(1)
            tables.setdefault(current, []).append(i)
            continue
        if key := KEY.match(stripped):
            path = f"{current}.{key.group(1).strip(chr(34))}" if current else key.group(1).strip('"')
            keys.setdefault(path, []).append(i)
            table_of[path] = current
    return lines, keys, tables, table_of


def is_comment(lines: list[str], i: int) -> bool:
    return 0 <= i < len(lines) and lines[i].strip().startswith("#")


def comment_block(lines: list[str], tables: dict[str, list[int]], table: str) -> str:
    """The comment lines directly above and below the table's first header, and those of its parents."""
    text = []
    parts = table.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name not in tables:
            continue
        first = tables[name][0]
        i = first - 1
        while is_comment(lines, i):
            text.append(lines[i])
            i -= 1
        i = first + 1
        while is_comment(lines, i):
            text.append(lines[i])
            i += 1
    return "\n".join(text)


def test_the_layout_parser_sees_every_documented_key():
    _, keys, tables, _ = toml_layout()
    assert set(keys) | set(tables) == documented_keys()


def test_every_key_in_the_default_file_has_a_comment():
    lines, keys, tables, table_of = toml_layout()
    undocumented = []
    for path in sorted(documented_keys()):
        if path in tables:
            ok = bool(comment_block(lines, tables, path))
        else:
            ok = any(is_comment(lines, i - 1) for i in keys[path]) or bool(
                comment_block(lines, tables, table_of[path]))
        if not ok:
            undocumented.append(path)
    assert not undocumented, f"settings without a comment in funnel.toml: {undocumented}"


def test_every_setting_of_the_dataclasses_is_documented():
    lines, _, tables, _ = toml_layout()
    documented = documented_keys()
    settings_classes = {obj for obj in vars(config).values()
                        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == config.__name__}
    assert settings_classes == set(LOCATIONS), "a settings dataclass has no place in LOCATIONS"
    missing = []
    for cls, places in LOCATIONS.items():
        for f in dataclasses.fields(cls):
            name = RENAMED.get((cls, f.name), f.name)
            if name is None:
                continue
            found = False
            for place in places:
                path = f"{place}.{name}" if place else name
                if path in documented:
                    found = True  # commented: see test_every_key_in_the_default_file_has_a_comment
                elif f"`{name}`" in comment_block(lines, tables, place):
                    found = True  # not set by default, but named in its table's comments
            if not found:
                missing.append(f"{cls.__name__}.{f.name}")
    assert not missing, f"settings missing from funnel.toml: {missing}"


# ------------------------------------------------------------------------------------ invalid settings

ICP = """
[[fit.icp]]
name = "Profile {n}"
[[fit.icp.criteria]]
field = "industry"
values = ["Software"]
points = 40
"""


@pytest.mark.parametrize("text, setting", [
    ("[conversion]\nwindow_days = 0\n", "conversion.window_days"),
    ("[conversion]\nwindow_days = true\n", "conversion.window_days"),
    ('[conversion]\nskipped_stages = "maybe"\n', "conversion.skipped_stages"),
    ("[conversion]\nwindow_dayz = 30\n", "conversion.window_dayz"),
    ("colour = 3\n", "colour"),
    ("".join(ICP.format(n=i) for i in range(5)), "fit.icp"),
    ("[fit]\nicp = []\n", "fit.icp"),
    ('[[fit.icp]]\nname = "A"\n[[fit.icp.criteria]]\nfield = "industry"\npoints = 5\n', "fit.icp[1].criteria[1]"),
    ('[[fit.icp]]\nname = "A"\n[[fit.icp.criteria]]\nfield = "employees"\nmin = 500\nmax = 50\npoints = 5\n',
     "fit.icp[1].criteria[1].min"),
    ('[[fit.icp]]\nname = "A"\n', "fit.icp[1].criteria"),
    ("[aging]\nbuckets = [30, 7, 90]\n", "aging.buckets"),
    ("[aging]\nbuckets = [7, 7, 90]\n", "aging.buckets"),
    ("[aging.sla_days]\nnegotiation = 3\n", "aging.sla_days.negotiation"),
    ('[[funnel_rules.evidence]]\nstage = "hot"\nactivity_types = ["page_view"]\n', "funnel_rules.evidence[1].stage"),
    ('[[funnel_rules.evidence]]\nstage = "intent"\nactivity_types = []\n', "funnel_rules.evidence[1].activity_types"),
    ('[[tags]]\nname = "X"\nfield = "industry"\n', "tags[1]"),
    ('[[actions]]\nquadrant = "hot"\nowner = "SDR"\naction = "Call"\n', "actions"),
    ("[intent.weights]\npage_view = -1\n", "intent.weights.page_view"),
    ('[lifecycle_values]\n"hot lead" = "warm"\n', "lifecycle_values.hot lead"),
    ('[ladders]\nfunnel = ["awareness", "customer", "opportunity"]\n', "ladders.funnel"),
    ("[segments]\nsize_bands = []\n", "segments.size_bands"),
    ('[content]\nnegotiation = "x"\n', "content.negotiation"),
])
def test_invalid_settings_name_the_setting(text, setting):
    with pytest.raises(ConfigError) as caught:
        settings_from_text(text)
    message = str(caught.value)
    assert f"setting {setting}" in message, message
    assert "\n" not in message and caught.value.hint


def test_bad_toml_is_a_config_error_naming_the_line():
    with pytest.raises(ConfigError) as caught:
        settings_from_text("[conversion\nwindow_days = 30\n")
    assert "not valid TOML" in caught.value.reason and "line 1" in caught.value.reason


def test_bad_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "missing.toml")
    assert "does not exist" in caught.value.reason and caught.value.file.endswith("missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_bytes(b"[conversion]\nwindow_days = \xff\n")
    with pytest.raises(ConfigError):
        load_settings(broken)


# ------------------------------------------------------------------------------------------- merging

USER = """
[conversion]
window_days = 30

[aging.sla_days]
intent = 1

[[tags]]
name = "Startup"
field = "employees"
max = 50
"""


def test_a_user_file_merges_over_the_defaults(tmp_path, monkeypatch):
    path = tmp_path / "funnel.toml"
    path.write_text(USER, encoding="utf-8")
    defaults = default_settings()
    for s in (load_settings(path), (monkeypatch.setenv("FUNNEL_CONFIG", str(path)), load_settings())[1]):
        assert s.source == str(path)
        assert s.conversion.window_days == 30
        assert s.conversion.skipped_stages == defaults.conversion.skipped_stages  # tables merge key by key
        assert s.aging.sla_days == {**defaults.aging.sla_days, "intent": 1}
        assert [t.name for t in s.tags] == ["Startup"]  # arrays of tables replace the default whole
        assert s.tags[0].rule.max == 50 and s.tags[0].rule.describe() == "employees at most 50"
        assert s.fit == defaults.fit and s.intent == defaults.intent


def test_settings_text_from_the_rules_page_merges_too():
    s = settings_from_text("[intent]\nhigh_threshold = 55\n", source="rules page")
    assert s.intent.high_threshold == 55 and s.intent.half_life_days == 30 and s.source == "rules page"
    assert dataclasses.replace(settings_from_text(""), source="defaults") == default_settings()


@pytest.mark.parametrize("saved", [
    '[routing]\nholidays = ["2026-12-24"]\n',
    '[[routing.tracks]]\nname = "Only track"\nstages = ["reactivation"]\ncontent = "One sequence"\n',
    ('[routing]\ncontent_types = ["webinar_attended"]\n[[routing.alerts]]\nname = "Demo asked"\nkind = "activity"\n'
     'activity_types = ["demo_request"]\n'),
])
def test_the_routing_in_force_is_written_out_when_saved_settings_change_it(saved):
    """The Routing page's starting edit: the [routing] table the saved text puts in force (merged over the
    defaults), as text that gives back exactly those settings; the packaged text while routing is unchanged."""
    packaged = config.default_routing_text()
    assert config.routing_text_in_force("") == packaged
    assert config.routing_text_in_force("[conversion]\nwindow_days = 40\n") == packaged
    settings = config.settings_from_text(saved)
    text = config.routing_text_in_force(saved)
    assert text != packaged and text.startswith("[routing]")
    assert config.with_routing_text(settings, text) == settings
