"""Settings: funnel.toml loaded into frozen dataclasses, with a clear error for every bad value.

The default file ships inside the package and documents every setting. A user's file only
needs what it changes: it is merged over the defaults (tables merge key by key; lists and
arrays of tables replace the default whole).
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import tomli_w

from funnel.errors import ConfigError
from funnel.schema import PASSIVE_ACTIVITY_TYPES

DEFAULT_PATH = Path(__file__).with_name("funnel.toml")
MAX_SETTINGS_CHARS = 256 * 1024
MAX_SETTINGS_DEPTH = 12  # tables and lists; the packaged settings nest 7 deep
MAX_WINDOW_DAYS = 3650  # the longest conversion window, in settings and on the command line
QUADRANTS = ("high_fit_high_intent", "high_fit_low_intent", "low_fit_high_intent", "low_fit_low_intent")
SKIPPED_POLICIES = ("implicit", "strict")
REGRESSION_POLICIES = ("reactivation_or_recycle",)


def range_labels(bounds: tuple[int, ...], *, first: int, open_from: int) -> tuple[str, ...]:
    """Labels of consecutive ranges up to each bound ('0–7', '8–30', …), then the open-ended 'N+'."""
    labels, low = [], first
    for high in bounds:
        labels.append(f"{low}–{high}")
        low = high + 1
    return (*labels, f"{open_from}+")


@dataclass(frozen=True)
class Ladders:
    lifecycle: tuple[str, ...]
    lifecycle_side: tuple[str, ...]
    funnel: tuple[str, ...]
    funnel_side: tuple[str, ...]

    def stages(self, ladder: str) -> tuple[str, ...]:
        """The ordered main stages of `ladder`."""
        return {"lifecycle": self.lifecycle, "funnel": self.funnel}[ladder]

    def side(self, ladder: str) -> tuple[str, ...]:
        return {"lifecycle": self.lifecycle_side, "funnel": self.funnel_side}[ladder]


@dataclass(frozen=True)
class EvidenceRule:
    stage: str
    activity_types: tuple[str, ...]
    min_count: int = 1
    within_days: int = 0  # 0 = no window


@dataclass(frozen=True)
class FunnelRules:
    evidence: tuple[EvidenceRule, ...]
    reactivation_after_days: int = 90
    not_meaningful: tuple[str, ...] = PASSIVE_ACTIVITY_TYPES
    recycle_stage: str = "consideration"
    regression: str = "reactivation_or_recycle"
    opportunity_lifecycle: tuple[str, ...] = ("sql", "opportunity")
    customer_lifecycle: tuple[str, ...] = ("customer",)


@dataclass(frozen=True)
class Conversion:
    window_days: int = 90
    skipped_stages: str = "implicit"


@dataclass(frozen=True)
class Aging:
    buckets: tuple[int, ...] = (7, 30, 90)
    sla_days: dict[str, int] = field(default_factory=dict)

    def bucket_labels(self) -> tuple[str, ...]:
        """'0–7', '8–30', '31–90', '90+' for the default bounds (DOMAIN's labels)."""
        return range_labels(self.buckets, first=0, open_from=self.buckets[-1])


@dataclass(frozen=True)
class Criterion:
    field: str
    points: int = 0
    values: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        """The rule in words, e.g. "industry is Software or SaaS"."""
        parts = []
        if self.values:
            parts.append(f"{self.field} is {' or '.join(self.values)}")
        if self.contains:
            parts.append(f"{self.field} contains {' or '.join(self.contains)}")
        if self.min is not None and self.max is not None:
            parts.append(f"{self.field} between {self.min:g} and {self.max:g}")
        elif self.min is not None:
            parts.append(f"{self.field} at least {self.min:g}")
        elif self.max is not None:
            parts.append(f"{self.field} at most {self.max:g}")
        return "; ".join(parts) or f"{self.field} present"


@dataclass(frozen=True)
class Icp:
    name: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class Fit:
    icps: tuple[Icp, ...]
    high_threshold: float = 60


@dataclass(frozen=True)
class Intent:
    weights: dict[str, float]
    type_caps: dict[str, float] = field(default_factory=dict)
    high_threshold: float = 40
    half_life_days: float = 30
    lookback_days: int = 180
    cap: float = 100
    account_surge_points: float = 15


@dataclass(frozen=True)
class Tag:
    name: str
    rule: Criterion


@dataclass(frozen=True)
class Owner:
    name: str
    team: str
    capacity: int = 0  # 0 = no limit


@dataclass(frozen=True)
class Territory:
    name: str
    field: str
    values: tuple[str, ...]
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingRule:
    name: str
    team: str
    action: str
    assign: str = "team"
    due_business_days: int | None = None
    owners: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    quadrants: tuple[str, ...] = ()
    icps: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    lifecycle: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    size_bands: tuple[str, ...] = ()
    recycled: bool | None = None
    when: tuple[Criterion, ...] = ()


@dataclass(frozen=True)
class NurtureTrack:
    name: str
    content: str
    stages: tuple[str, ...] = ()
    quadrants: tuple[str, ...] = ()
    icps: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertRule:
    name: str
    kind: str
    activity_types: tuple[str, ...] = ()
    high_fit_only: bool = False
    teams: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routing:
    owners: tuple[Owner, ...] = ()
    territories: tuple[Territory, ...] = ()
    rules: tuple[RoutingRule, ...] = ()
    tracks: tuple[NurtureTrack, ...] = ()
    alerts: tuple[AlertRule, ...] = ()
    holidays: tuple[str, ...] = ()
    content_types: tuple[str, ...] = ()

    def criteria(self) -> tuple[Criterion, ...]:
        """Every criterion the routing reads a lead field for: the rules' `when` and the territories."""
        return (*(c for r in self.rules for c in r.when),
                *(Criterion(field=t.field, values=t.values) for t in self.territories))


@dataclass(frozen=True)
class Segments:
    size_bands: tuple[int, ...] = (50, 200, 1000, 5000)
    min_sample: int = 30
    alpha: float = 0.05
    seniority: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def size_band_labels(self) -> tuple[str, ...]:
        """'1–50', '51–200', …, '5001+'."""
        return range_labels(self.size_bands, first=1, open_from=self.size_bands[-1] + 1)


FREE_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com", "msn.com",
    "aol.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de",
    "web.de", "mail.com", "yandex.com", "yandex.ru", "qq.com", "163.com", "zoho.com")
JUNK_EMAILS: tuple[str, ...] = ("n/a", "na", "none", "null", "unknown", "-", "test@test", "test@test.com",
                                "noreply@example.com", "no-reply@example.com", "example@example.com")
CONFLICT_RULES = ("first_created", "last_created")


@dataclass(frozen=True)
class Identity:
    """How rows from several tools are joined to one lead (funnel.model.identity)."""

    conflict_rule: str = "first_created"  # one key naming two leads: the first (or last) created lead gets it
    enrichment_wins: bool = False  # an enrichment value replaces the CRM's (default: the CRM's value stays)
    enrichment_sources: tuple[str, ...] = ("Clearbit", "ZoomInfo", "Apollo")  # mapping names of enrichment
    free_mail_domains: tuple[str, ...] = FREE_MAIL_DOMAINS  # never join an account by these e-mail domains
    junk_emails: tuple[str, ...] = JUNK_EMAILS  # never join people by these values
    surge_score: float = 60  # an intent row without a surge flag surges at this vendor score (Bombora: 60)


@dataclass(frozen=True)
class Settings:
    ladders: Ladders
    lifecycle_values: dict[str, str]
    conversion: Conversion
    funnel_rules: FunnelRules
    aging: Aging
    fit: Fit
    intent: Intent
    segments: Segments
    tags: tuple[Tag, ...]
    content: dict[str, str]
    source: str = "defaults"
    routing: Routing = field(default_factory=Routing)
    identity: Identity = field(default_factory=Identity)

    def lifecycle_stage(self, raw: str | None) -> str | None:
        """A CRM lifecycle value on the ladder's names, or None when it maps to no stage."""
        if raw is None:
            return None
        key = " ".join(raw.strip().lower().replace("_", " ").split())
        known = self.ladders.lifecycle + self.ladders.lifecycle_side
        compact = key.replace(" ", "_")
        if compact in known:
            return compact
        if key.replace(" ", "") in known:
            return key.replace(" ", "")
        return self.lifecycle_values.get(key) or self.lifecycle_values.get(key.replace(" ", ""))


def default_settings() -> Settings:
    return load_settings(None)


def configured_toml(path: Path | str | None = None) -> tuple[dict, str]:
    """The packaged defaults with `path` (or FUNNEL_CONFIG) merged over them, and where they come from."""
    chosen = path if path is not None else os.environ.get("FUNNEL_CONFIG")
    if not chosen:
        return toml_file(DEFAULT_PATH), "defaults"
    return merged(toml_file(DEFAULT_PATH), toml_file(Path(chosen))), str(chosen)


def load_settings(path: Path | str | None = None) -> Settings:
    """Settings from `path` (or FUNNEL_CONFIG) merged over the packaged defaults."""
    raw, source = configured_toml(path)
    return settings_from(raw, source=source)


def settings_from_text(text: str, *, source: str = "editor") -> Settings:
    """Settings from TOML text (the Rules page), merged over the defaults."""
    return settings_from(merged(toml_file(DEFAULT_PATH), bounded_toml(text, source=source, what="the settings")),
                         source=source)


def toml_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("the settings file does not exist", file=str(path),
                          hint="Pass the path of a funnel.toml") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the settings file is not valid TOML: {exc}", file=str(path),
                          hint="Check quotes, brackets and '=' signs") from None
    return bounded_toml(text, source=str(path), what="the settings file")


def bounded_toml(text: str, *, source: str, what: str) -> dict[str, Any]:
    """TOML text parsed, refused with a ConfigError when it is too large, nests too deeply or is invalid
    (a deeply nested value would otherwise end in RecursionError)."""
    if len(text) > MAX_SETTINGS_CHARS:
        raise ConfigError(f"{what}: more than {MAX_SETTINGS_CHARS // 1024} KiB of text", file=source,
                          hint="Settings are a few hundred lines; remove what is not a setting")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what}: not valid TOML: {exc}", file=source,
                          hint="Check quotes, brackets and '=' signs") from None
    except RecursionError:
        raise ConfigError(f"{what}: tables and lists nest deeper than {MAX_SETTINGS_DEPTH} levels", file=source,
                          hint="Settings are tables of values and lists; remove the nesting") from None
    if nesting_depth(data) > MAX_SETTINGS_DEPTH:
        raise ConfigError(f"{what}: tables and lists nest deeper than {MAX_SETTINGS_DEPTH} levels", file=source,
                          hint="Settings are tables of values and lists; remove the nesting")
    return data


def nesting_depth(value: Any) -> int:
    """How deeply tables and lists nest in a parsed TOML value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`: tables merge key by key, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = merged(base[key], value)
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------------------------- validation


class Reader:
    """Typed access to one TOML table, with errors that name the setting."""

    def __init__(self, data: Any, where: str, source: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a table", file=source, value=repr(data))
        self.data, self.where, self.source = data, where, source
        self.used: set[str] = set()

    def fail(self, key: str, problem: str, value: Any = None) -> ConfigError:
        return ConfigError(f"setting {self.path(key)} {problem}", file=self.source,
                           value=None if value is None else repr(value),
                           hint="Fix it in the settings file or on the Rules page")

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is missing")
            return default
        return self.data[key]

    def integer(self, key: str, default: Any = ..., *, low: int = 0, high: int | None = None) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be a whole number", value)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(key, f"must be {bound}", value)
        return value

    def number(self, key: str, default: Any = ..., *, low: float = 0.0, high: float | None = None,
               optional: bool = False) -> float | None:
        value = self.get(key, default)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, "must be a number", value)
        if not math.isfinite(value):
            raise self.fail(key, "must be a finite number (not nan or inf)", value)
        if value < low or (high is not None and value > high):
            bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            raise self.fail(key, f"must be {bound}", value)
        return float(value)

    def text(self, key: str, default: Any = ..., *, choices: tuple[str, ...] | None = None) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be non-empty text", value)
        if choices is not None and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}", value)
        return value

    def texts(self, key: str, default: Any = ..., *, choices: tuple[str, ...] | None = None,
              nonempty: bool = False) -> tuple[str, ...]:
        value = self.get(key, default)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "must be a list of non-empty texts", value)
        if nonempty and not value:
            raise self.fail(key, "must not be empty")
        if choices is not None:
            bad = [v for v in value if v not in choices]
            if bad:
                raise self.fail(key, f"has unknown value(s) {', '.join(bad)}; allowed: {', '.join(choices)}")
        if len(set(value)) != len(value):
            raise self.fail(key, "lists a value twice", value)
        return tuple(value)

    def table(self, key: str, default: Any = ...) -> Reader:
        return Reader(self.get(key, default), self.path(key), self.source)

    def tables(self, key: str, default: Any = ...) -> list[Reader]:
        value = self.get(key, default)
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of tables ([[...]])", value)
        return [Reader(item, f"{self.path(key)}[{i + 1}]", self.source) for i, item in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting (misspelt?)")


def settings_from(raw: dict[str, Any], *, source: str) -> Settings:
    """Validated settings from parsed TOML; the first invalid value raises ConfigError."""
    top = Reader(raw, "", source)
    ladders = ladders_from(top.table("ladders"))
    lifecycle_all = ladders.lifecycle + ladders.lifecycle_side
    funnel_all = ladders.funnel + ladders.funnel_side

    values = top.table("lifecycle_values", {})
    lifecycle_values = {}
    for key in values.data:
        lifecycle_values[" ".join(key.strip().lower().split())] = values.text(key, choices=lifecycle_all)
    values.done()

    conv = top.table("conversion")
    conversion = Conversion(window_days=conv.integer("window_days", 90, low=1, high=MAX_WINDOW_DAYS),
                            skipped_stages=conv.text("skipped_stages", "implicit", choices=SKIPPED_POLICIES))
    conv.done()

    fr = top.table("funnel_rules")
    evidence = []
    for rule in fr.tables("evidence"):
        evidence.append(EvidenceRule(stage=rule.text("stage", choices=ladders.funnel),
                                     activity_types=rule.texts("activity_types", nonempty=True),
                                     min_count=rule.integer("min_count", 1, low=1, high=1000),
                                     within_days=rule.integer("within_days", 0, low=0, high=3650)))
        rule.done()
    funnel_rules = FunnelRules(
        evidence=tuple(evidence),
        reactivation_after_days=fr.integer("reactivation_after_days", 90, low=1, high=3650),
        not_meaningful=fr.texts("not_meaningful", PASSIVE_ACTIVITY_TYPES),
        recycle_stage=fr.text("recycle_stage", "consideration", choices=ladders.funnel),
        regression=fr.text("regression", "reactivation_or_recycle", choices=REGRESSION_POLICIES),
        opportunity_lifecycle=fr.texts("opportunity_lifecycle", ("sql", "opportunity"), choices=lifecycle_all),
        customer_lifecycle=fr.texts("customer_lifecycle", ("customer",), choices=lifecycle_all),
    )
    fr.done()

    ag = top.table("aging")
    buckets = tuple(ag.get("buckets", [7, 30, 90]))
    if not buckets or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in buckets) \
            or list(buckets) != sorted(set(buckets)):
        raise ag.fail("buckets", "must be increasing whole numbers of days", list(buckets))
    sla = ag.table("sla_days", {})
    sla_days = {}
    for stage in sla.data:
        if stage not in lifecycle_all + funnel_all:
            raise sla.fail(stage, "is not a stage of either ladder")
        sla_days[stage] = sla.integer(stage, low=0, high=3650)
    sla.done()
    ag.done()
    aging = Aging(buckets=buckets, sla_days=sla_days)

    ft = top.table("fit")
    icps = []
    for icp in ft.tables("icp"):
        criteria = tuple(criterion_from(c, with_points=True) for c in icp.tables("criteria"))
        if not criteria:
            raise icp.fail("criteria", "must list at least one criterion")
        icps.append(Icp(name=icp.text("name"), criteria=criteria))
        icp.done()
    if not 2 <= len(icps) <= 4:
        raise ft.fail("icp", f"must define 2 to 4 ideal customer profiles, not {len(icps)}")
    if len({i.name for i in icps}) != len(icps):
        raise ft.fail("icp", "has two profiles with the same name")
    fit = Fit(icps=tuple(icps), high_threshold=ft.number("high_threshold", 60, low=0, high=100))
    ft.done()

    it = top.table("intent")
    weights_r = it.table("weights")
    weights = {k: weights_r.number(k, low=0, high=1000) for k in weights_r.data}
    weights_r.done()
    caps_r = it.table("type_caps", {})
    type_caps = {k: caps_r.number(k, low=0, high=1000) for k in caps_r.data}
    caps_r.done()
    intent = Intent(weights=weights, type_caps=type_caps,
                    high_threshold=it.number("high_threshold", 40, low=0, high=100),
                    half_life_days=it.number("half_life_days", 30, low=0.5, high=3650),
                    lookback_days=it.integer("lookback_days", 180, low=1, high=3650),
                    cap=it.number("cap", 100, low=1, high=100),
                    account_surge_points=it.number("account_surge_points", 15, low=0, high=100))
    it.done()

    sg = top.table("segments")
    bands = tuple(sg.get("size_bands", [50, 200, 1000, 5000]))
    if not bands or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in bands) \
            or list(bands) != sorted(set(bands)):
        raise sg.fail("size_bands", "must be increasing whole numbers of employees", list(bands))
    sen = sg.table("seniority", {})
    seniority = {level: sen.texts(level) for level in sen.data}
    sen.done()
    segments = Segments(size_bands=bands, min_sample=sg.integer("min_sample", 30, low=1, high=100000),
                        alpha=sg.number("alpha", 0.05, low=0.0001, high=0.5), seniority=seniority)
    sg.done()

    tags = []
    for tag in top.tables("tags", []):
        tags.append(Tag(name=tag.text("name"), rule=criterion_from(tag, with_points=False)))
    if "actions" in top.data:
        raise top.fail("actions", "was replaced by [[routing.rules]]: move each next-action rule there")
    ct = top.table("content", {})
    content = {}
    for stage in ct.data:
        if stage not in funnel_all:
            raise ct.fail(stage, "is not a funnel stage")
        content[stage] = ct.text(stage)
    ct.done()
    routing = routing_from(top.table("routing", {}), ladders=ladders, fit=fit, tags=tuple(tags), segments=segments)
    identity = identity_from(top.table("identity", {}))
    top.done()
    return Settings(ladders=ladders, lifecycle_values=lifecycle_values, conversion=conversion,
                    funnel_rules=funnel_rules, aging=aging, fit=fit, intent=intent, segments=segments,
                    tags=tuple(tags), content=content, source=source, routing=routing,
                    identity=identity)


ASSIGN_METHODS = ("team", "round_robin", "territory")
ALERT_KINDS = ("activity", "over_sla")


def _flag(r: Reader, key: str) -> bool | None:
    value = r.get(key, None)
    if value is not None and not isinstance(value, bool):
        raise r.fail(key, "must be true or false", value)
    return value


def routing_from(r: Reader, *, ladders: Ladders, fit: Fit, tags: tuple[Tag, ...], segments: Segments) -> Routing:
    """The [routing] section: owners, territories, ordered rules, nurture tracks and alert rules."""
    funnel_all = ladders.funnel + ladders.funnel_side
    lifecycle_all = ladders.lifecycle + ladders.lifecycle_side
    owners = []
    for o in r.tables("owners", []):
        owners.append(Owner(name=o.text("name"), team=o.text("team"), capacity=o.integer("capacity", 0, low=0)))
        o.done()
    names = [o.name for o in owners]
    if len(set(names)) != len(names):
        raise r.fail("owners", "names an owner twice")
    territories = []
    for t in r.tables("territories", []):
        territories.append(Territory(name=t.text("name"), field=t.text("field"), values=t.texts("values", nonempty=True),
                                     owners=t.texts("owners", (), choices=tuple(names))))
        t.done()
    territory_names = tuple(t.name for t in territories)
    if len(set(territory_names)) != len(territory_names):
        raise r.fail("territories", "names a territory twice")
    rules = []
    for rule in r.tables("rules", []):
        when = tuple(criterion_from(c, with_points=False) for c in rule.tables("when", []))
        assign = rule.text("assign", "team", choices=ASSIGN_METHODS)
        rules.append(RoutingRule(
            name=rule.text("name"), team=rule.text("team"), action=rule.text("action"), assign=assign,
            due_business_days=rule.integer("due_business_days", low=0, high=260)
            if "due_business_days" in rule.data else None,
            owners=rule.texts("owners", (), choices=tuple(names)),
            stages=rule.texts("stages", (), choices=funnel_all),
            quadrants=rule.texts("quadrants", (), choices=QUADRANTS),
            icps=rule.texts("icps", (), choices=tuple(i.name for i in fit.icps)),
            tags=rule.texts("tags", (), choices=tuple(t.name for t in tags)),
            sources=rule.texts("sources", ()),
            lifecycle=rule.texts("lifecycle", (), choices=lifecycle_all),
            territories=rule.texts("territories", (), choices=territory_names),
            size_bands=rule.texts("size_bands", (), choices=segments.size_band_labels()),
            recycled=_flag(rule, "recycled"), when=when))
        rule.done()
    rule_names = [x.name for x in rules]
    if len(set(rule_names)) != len(rule_names):
        raise r.fail("rules", "names a rule twice")
    tracks = []
    for t in r.tables("tracks", []):
        tracks.append(NurtureTrack(name=t.text("name"), content=t.text("content"),
                                   stages=t.texts("stages", (), choices=funnel_all),
                                   quadrants=t.texts("quadrants", (), choices=QUADRANTS),
                                   icps=t.texts("icps", (), choices=tuple(i.name for i in fit.icps))))
        t.done()
    alerts = []
    for a in r.tables("alerts", []):
        alerts.append(AlertRule(name=a.text("name"), kind=a.text("kind", choices=ALERT_KINDS),
                                activity_types=a.texts("activity_types", ()), high_fit_only=bool(_flag(a, "high_fit_only")),
                                teams=a.texts("teams", ()), stages=a.texts("stages", (), choices=funnel_all)))
        a.done()
    holidays = r.texts("holidays", ())
    for day in holidays:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise r.fail("holidays", "must list dates as YYYY-MM-DD", day) from None
    routing = Routing(owners=tuple(owners), territories=tuple(territories), rules=tuple(rules), tracks=tuple(tracks),
                      alerts=tuple(alerts), holidays=holidays, content_types=r.texts("content_types", ()))
    r.done()
    return routing


def identity_from(r: Reader) -> Identity:
    """The [identity] settings, validated."""
    wins = r.get("enrichment_wins", False)
    if not isinstance(wins, bool):
        raise r.fail("enrichment_wins", "must be true or false", wins)
    identity = Identity(
        conflict_rule=r.text("conflict_rule", "first_created", choices=CONFLICT_RULES), enrichment_wins=wins,
        enrichment_sources=r.texts("enrichment_sources", Identity.enrichment_sources),
        free_mail_domains=tuple(d.strip().lower() for d in r.texts("free_mail_domains", FREE_MAIL_DOMAINS)),
        junk_emails=tuple(e.strip().lower() for e in r.texts("junk_emails", JUNK_EMAILS)),
        surge_score=r.number("surge_score", 60, low=0, high=100))
    r.done()
    return identity


def ladders_from(r: Reader) -> Ladders:
    ladders = Ladders(lifecycle=r.texts("lifecycle", nonempty=True), lifecycle_side=r.texts("lifecycle_side", ()),
                      funnel=r.texts("funnel", nonempty=True), funnel_side=r.texts("funnel_side", ()))
    r.done()
    for name, stages in (("lifecycle", ladders.lifecycle + ladders.lifecycle_side),
                         ("funnel", ladders.funnel + ladders.funnel_side)):
        if len(set(stages)) != len(stages):
            raise r.fail(name, "names a stage twice (main and side stages must differ)")
        if len(stages) < 2:
            raise r.fail(name, "needs at least two stages")
    if ladders.funnel[-2:] != ("opportunity", "customer"):
        raise r.fail("funnel", "must end with opportunity, customer (the stages deals prove)")
    return ladders


def criterion_from(r: Reader, *, with_points: bool) -> Criterion:
    crit = Criterion(field=r.text("field"),
                     points=r.integer("points", low=0, high=100) if with_points else 0,
                     values=r.texts("values", ()), contains=r.texts("contains", ()),
                     min=r.number("min", None, low=-1e18, optional=True),
                     max=r.number("max", None, low=-1e18, optional=True))
    if with_points:
        r.done()
    else:
        r.used.add("name")
        r.done()
    if not (crit.values or crit.contains or crit.min is not None or crit.max is not None):
        raise r.fail("field", "needs values, contains, min or max to match on")
    if crit.min is not None and crit.max is not None and crit.min > crit.max:
        raise r.fail("min", "is greater than max", crit.min)
    return crit


def documented_keys(path: Path = DEFAULT_PATH) -> set[str]:
    """Every setting key that appears in the default file (used by the docs test)."""
    keys: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                keys.add(f"{prefix}{k}")
                walk(v, f"{prefix}{k}.")
        elif isinstance(node, list):
            for item in node:
                walk(item, prefix)

    walk(toml_file(path), "")
    return keys


ROUTING_HEADER = "[routing]"


def default_routing_text() -> str:
    """The `[routing]` part of the packaged defaults, as written, comments and all."""
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    return text[text.index("\n" + ROUTING_HEADER) + 1:]


def routing_text_in_force(text: str = "") -> str:
    """The [routing] table in force under the settings `text` (the Rules page's newest version, or a draft; empty:
    the packaged file and FUNNEL_CONFIG, as `load_settings` reads them), as the TOML text the Routing page starts
    its edit from: the packaged text, comments and all, while that routing is the packaged one; else the table as
    merged over the defaults, written out."""
    settings = settings_from_text(text, source="saved settings") if text else load_settings()
    packaged = default_routing_text()
    if with_routing_text(settings, packaged) == settings:
        return packaged
    raw = (merged(toml_file(DEFAULT_PATH), bounded_toml(text, source="saved settings", what="the settings")) if text
           else configured_toml()[0])
    return tomli_w.dumps({"routing": raw["routing"]})


def with_routing_text(settings: Settings, text: str, *, source: str = "routing edit") -> Settings:
    """`settings` with the routing of `text` (TOML holding only a [routing] table) in place of its own."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the routing edit is not valid TOML: {exc}", file=source,
                          hint="Check quotes, brackets and '=' signs") from None
    others = sorted(set(raw) - {"routing"})
    if others:
        raise ConfigError(f"the routing edit may only hold [routing], not [{others[0]}]", file=source,
                          value=others[0], hint="Edit other settings on the Rules page")
    top = Reader(raw, "", source)
    routing = routing_from(top.table("routing", {}), ladders=settings.ladders, fit=settings.fit, tags=settings.tags,
                           segments=settings.segments)
    return replace(settings, routing=routing)
