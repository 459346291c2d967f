"""DuckDB SQL → Spark SQL: SQLGlot's transpiler plus a small table of rewrites where a plain rename
would change a result, and a refusal for every function without a known-safe translation.

The SQL files stay in DuckDB's dialect. `spark_sql` parses a filled query (its relations quoted, its
fragments in place), rewrites what the table below names, checks that every remaining function is
one whose Spark form means the same, and writes Spark SQL with `:name` parameters in place of
DuckDB's `$name`. A query using anything else is refused with the function named
(`UntranslatableSQL`), never run with a guess.

The Spark session must run with `spark.sql.ansi.enabled=false` (an out-of-range index or a missing
map key gives NULL, as in DuckDB), `spark.sql.legacy.sizeOfNull=false` (size(NULL) is NULL) and
`spark.sql.timestampType=TIMESTAMP_NTZ` (timestamps without a zone, as DuckDB's TIMESTAMP):
`funnel.engine.spark.SESSION_CONF` sets them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.transforms import eliminate_qualify

from funnel.errors import FunnelError

__all__ = ["REWRITES", "SAFE_FUNCTIONS", "UntranslatableSQL", "spark_sql", "untranslatable_functions"]


class _WrittenDuckDB(DuckDB):
    """DuckDB as written: SQLGlot shifts a 1-based subscript to 0-based only where it can prove the
    index is a number, so the same query could come out half shifted; here no subscript is shifted
    and `_subscript` rewrites every one."""

    INDEX_OFFSET = 0


class UntranslatableSQL(FunnelError):
    """A query uses a DuckDB function with no known-safe Spark translation."""


# Functions whose Spark form (as SQLGlot writes it) returns the same values as DuckDB's for every input
# the SQL files give them. Aggregates, windows, casts and logic included; each was checked against
# DuckDB 2.0 and Spark 4.3 (tests/test_engine_translate.py pins the cases that are not renames).
SAFE_FUNCTIONS: frozenset[type[exp.Expression]] = frozenset({
    exp.And, exp.Or, exp.Not, exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Cast, exp.TryCast, exp.Exists,
    exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Median, exp.RowNumber, exp.Lag, exp.Lead,
    exp.Lower, exp.Upper, exp.Trim, exp.Length, exp.ConcatWs, exp.Concat, exp.Contains, exp.SplitPart,
    exp.RegexpExtract, exp.Greatest, exp.Least, exp.Pow, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
    exp.ArrayFilter, exp.ArraySize, exp.Explode, exp.Unnest, exp.MapKeys, exp.Struct, exp.Filter,
    exp.CurrentDate, exp.LogicalOr, exp.LogicalAnd, exp.Anonymous,  # Anonymous: only the names in REWRITES or SAFE_NAMES (checked below)
})
# Functions SQLGlot passes through by name whose Spark built-in of that name matches DuckDB's.
SAFE_NAMES = frozenset({"map_entries"})


@dataclass(frozen=True)
class Rewrite:
    duckdb: str  # the DuckDB form
    spark: str  # what it becomes
    why: str  # the difference a plain rename would miss


def _sub(node: exp.Expression) -> exp.Expression:
    """A child of a rewritten node, itself rewritten (a rewrite's output is not visited again)."""
    return node.transform(_rewritten)


def _anonymous(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() == name


def _position(node: exp.Expression) -> exp.Expression | None:
    """list_position(l, x) → CAST(NULLIF(array_position(l, x), 0) AS INT)."""
    if not (_anonymous(node, "list_position") or _anonymous(node, "list_indexof")
            or isinstance(node, exp.ArrayPosition)):
        return None
    args = node.expressions if isinstance(node, exp.Anonymous) else [node.this, node.expression]
    found = exp.Anonymous(this="array_position", expressions=[_sub(a) for a in args])
    return exp.cast(exp.Nullif(this=found, expression=exp.Literal.number(0)), "int")


_LIST_NODES = (exp.ArrayFilter, exp.Array, exp.Placeholder, exp.Parameter, exp.MapKeys)


def _length(node: exp.Expression) -> exp.Expression | None:
    """len(list) / length(list) → size(list); a string's length stays length."""
    if isinstance(node, exp.Length) and isinstance(node.this, _LIST_NODES):
        return exp.ArraySize(this=_sub(node.this))
    return None


def _map_value(node: exp.Expression) -> exp.Expression | None:
    """map_extract_value(m, k) → m[k] (NULL for a missing key with ANSI off, as DuckDB)."""
    if _anonymous(node, "map_extract_value"):
        m, k = node.expressions
        lookup = exp.Bracket(this=_sub(m), expressions=[_sub(k)])
        lookup.meta["map"] = True
        lookup.set("offset", 0)
        return lookup
    return None


def _list_extract(node: exp.Expression) -> exp.Expression | None:
    """list_extract(l, i) → IF(i = 0, NULL, element_at(l, i)): Spark's element_at fails on 0."""
    if _anonymous(node, "list_extract") or _anonymous(node, "list_element"):
        items, index = node.expressions
        at = exp.Anonymous(this="element_at", expressions=[_sub(items), _sub(index)])
        return exp.If(this=exp.EQ(this=_sub(index), expression=exp.Literal.number(0)),
                      true=exp.Null(), false=at)
    return None


def _subscript(node: exp.Expression) -> exp.Expression | None:
    """list[i] (1-based) → IF(i = 0, NULL, element_at(list, i)); a map's m['key'] stays a lookup."""
    if not isinstance(node, exp.Bracket) or node.args.get("offset") == 0 and node.meta.get("map"):
        return None
    if len(node.expressions) != 1:
        raise UntranslatableSQL("a slice or multi-index subscript has no checked Spark translation")
    index = node.expressions[0]
    if isinstance(index, exp.Literal) and index.is_string:
        lookup = exp.Bracket(this=_sub(node.this), expressions=[index.copy()])
        lookup.meta["map"] = True
        lookup.set("offset", 0)
        return lookup
    if not isinstance(node.this, _LIST_NODES):
        raise UntranslatableSQL("a subscript on a column has no checked Spark translation (list or map?)",
                                hint="Use list_extract(l, i) or map_extract_value(m, k)")
    at = exp.Anonymous(this="element_at", expressions=[_sub(node.this), _sub(index)])
    return exp.If(this=exp.EQ(this=_sub(index), expression=exp.Literal.number(0)), true=exp.Null(), false=at)


def _day_diff(node: exp.Expression) -> exp.Expression | None:
    """date_diff('day', a, b) → datediff(CAST(b AS DATE), CAST(a AS DATE)): DuckDB counts day
    boundaries crossed; Spark's three-argument DATEDIFF(DAY, …) counts whole days elapsed."""
    if not isinstance(node, exp.DateDiff):
        return None
    unit = (node.unit.name if node.unit is not None else "day").lower()
    if unit != "day":
        raise UntranslatableSQL(f"date_diff('{unit}', …) has no checked Spark translation (only 'day' has)",
                                hint="Add a rewrite in funnel/engine/translate.py with a parity test")
    end, start = exp.cast(_sub(node.this), "date"), exp.cast(_sub(node.expression), "date")
    return exp.Anonymous(this="datediff", expressions=[end, start])


def _percentile(node: exp.Expression) -> exp.Expression | None:
    """percentile_cont(q) WITHIN GROUP (ORDER BY x) → percentile(x, q) (exact, interpolated;
    SQLGlot's default would be the approximate percentile_approx)."""
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        order = node.expression.expressions
        if len(order) != 1 or order[0].args.get("desc"):
            raise UntranslatableSQL("percentile_cont with a descending or multi-column order has no checked "
                                    "Spark translation")
        return exp.Anonymous(this="percentile", expressions=[_sub(order[0].this), _sub(node.this.this)])
    if isinstance(node, exp.PercentileCont) and node.expression is not None:  # quantile_cont(x, q)
        return exp.Anonymous(this="percentile", expressions=[_sub(node.this), _sub(node.expression)])
    return None


def _arg_extreme(node: exp.Expression) -> exp.Expression | None:
    """arg_max(a, v) → max_by(a, IF(a IS NULL, NULL, v)): DuckDB skips rows whose a is NULL,
    Spark's max_by would return that NULL."""
    if not isinstance(node, (exp.ArgMax, exp.ArgMin)):
        return None
    arg, value = node.this, node.expression
    if isinstance(value, exp.Tuple):  # a row of values: DuckDB sorts a NULL field last (largest), Spark
        fields = []                    # first; each field is led by its IS NULL flag to sort as DuckDB
        for field in value.expressions:
            fields += [exp.Is(this=_sub(field), expression=exp.Null()), _sub(field)]
        value = exp.Anonymous(this="struct", expressions=fields)
    else:
        value = _sub(value)
    guarded = exp.If(this=exp.Is(this=_sub(arg), expression=exp.Null()), true=exp.Null(), false=value)
    return exp.Anonymous(this="max_by" if isinstance(node, exp.ArgMax) else "min_by",
                         expressions=[_sub(arg), guarded])


def _regexp_replace(node: exp.Expression) -> exp.Expression | None:
    """regexp_replace(s, p, r, 'g') → regexp_replace(s, p, r). Without 'g' DuckDB replaces the first
    match only: safe only when the pattern can match once (anchored at ^, or ending in .*$)."""
    if not isinstance(node, exp.RegexpReplace):
        return None
    modifiers = node.args.get("modifiers")
    pattern = node.expression
    if modifiers is not None and modifiers.name != "g":
        raise UntranslatableSQL(f"regexp_replace with options {modifiers.name!r} has no checked Spark translation")
    if modifiers is None and not (isinstance(pattern, exp.Literal) and (
            pattern.name.startswith("^") or pattern.name.endswith(".*$"))):
        raise UntranslatableSQL("regexp_replace without 'g' replaces only the first match in DuckDB; Spark "
                                "replaces all", hint="Anchor the pattern (^…) or add 'g'")
    return exp.Anonymous(this="regexp_replace", expressions=[_sub(node.this), _sub(pattern),
                                                             _sub(node.args["replacement"])])


def _any_value(node: exp.Expression) -> exp.Expression | None:
    """any_value(x) → any_value(x, true): DuckDB's any_value skips NULLs; Spark's does only when asked."""
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        return exp.Anonymous(this="any_value", expressions=[_sub(node.this.this), exp.true()])
    if isinstance(node, exp.AnyValue):
        return exp.Anonymous(this="any_value", expressions=[_sub(node.this), exp.true()])
    return None


def _list_contains(node: exp.Expression) -> exp.Expression | None:
    """list_contains(l, x) → array_contains(l, x), kept as SQLGlot writes it; a list with a NULL
    element would differ (DuckDB false, Spark NULL) and is refused when it is a literal."""
    if isinstance(node, exp.ArrayContains):
        items = node.this
        if isinstance(items, exp.Array) and any(isinstance(e, exp.Null) for e in items.expressions):
            raise UntranslatableSQL("list_contains on a list literal with NULL: DuckDB false, Spark NULL")
        return node  # safe as written
    return None


def _string_agg(node: exp.Expression) -> exp.Expression | None:
    """string_agg(DISTINCT x, sep ORDER BY x) → the sorted set joined (NULL for no values), the one
    ordered form with a deterministic Spark equivalent; other orders are refused."""
    if not isinstance(node, exp.GroupConcat):
        return None
    order, separator = node.this, node.args.get("separator")
    distinct = isinstance(order, exp.Order) and isinstance(order.this, exp.Distinct)
    value = (order.this.expressions[0] if distinct and len(order.this.expressions) == 1
             else order.this if isinstance(order, exp.Order) else None)
    if not (value is not None and len(order.expressions) == 1 and not order.expressions[0].args.get("desc")
            and order.expressions[0].this == value and separator is not None):
        raise UntranslatableSQL("string_agg is translated only as string_agg([DISTINCT] x, sep ORDER BY x)")
    values = exp.Anonymous(this="array_sort", expressions=[
        exp.Anonymous(this="collect_set" if distinct else "collect_list", expressions=[_sub(value)])])
    joined = exp.Anonymous(this="array_join", expressions=[values, _sub(separator)])
    empty = exp.EQ(this=exp.ArraySize(this=values.copy()), expression=exp.Literal.number(0))
    return exp.If(this=empty, true=exp.Null(), false=joined)


def _unordered_row_number(node: exp.Expression) -> exp.Expression | None:
    """row_number() OVER (PARTITION BY k) → … ORDER BY k: Spark requires an order; both engines then
    number the rows of one key in no defined order (the files use it only on unique keys)."""
    if isinstance(node, exp.Window) and isinstance(node.this, exp.RowNumber) and not node.args.get("order") \
            and node.args.get("partition_by"):
        window = node.copy()
        window.set("order", exp.Order(expressions=[exp.Ordered(this=k.copy()) for k in node.args["partition_by"]]))
        return window
    return None


def _distinct_window_count(node: exp.Expression) -> exp.Expression | None:
    """count(DISTINCT x) OVER w → size(collect_set(x) OVER w): Spark has no DISTINCT in a window;
    both skip NULLs."""
    if isinstance(node, exp.Window) and isinstance(node.this, exp.Count) and isinstance(node.this.this, exp.Distinct):
        values = node.this.this.expressions
        if len(values) != 1:
            raise UntranslatableSQL("count(DISTINCT a, b) OVER … has no checked Spark translation")
        window = node.copy()
        window.set("this", exp.Anonymous(this="collect_set", expressions=[_sub(values[0])]))
        return exp.ArraySize(this=window)
    return None


def _array_to_string(node: exp.Expression) -> exp.Expression | None:
    """array_to_string(l, sep) → array_join(l, sep) (both skip NULL elements)."""
    if isinstance(node, exp.ArrayToString) and node.expression is not None and not node.args.get("null"):
        return exp.Anonymous(this="array_join", expressions=[_sub(node.this), _sub(node.expression)])
    return None


def _full_match(node: exp.Expression) -> exp.Expression | None:
    r"""regexp_full_match(s, 'p') → s RLIKE '\A(?:p)\z' (Spark's RLIKE finds; Java's $ would also match
    before a final newline, \z does not)."""
    if not isinstance(node, exp.RegexpFullMatch):
        return None
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string) or node.args.get("options"):
        raise UntranslatableSQL("regexp_full_match is translated only with a literal pattern and no options")
    return exp.RegexpLike(this=_sub(node.this), expression=exp.Literal.string(f"\\A(?:{pattern.name})\\z"))


def _epoch_us(node: exp.Expression) -> exp.Expression | None:
    """epoch_us(ts) → unix_micros(CAST(ts AS TIMESTAMP_LTZ)) (the session is UTC, as DuckDB's naive time)."""
    if _anonymous(node, "epoch_us") and len(node.expressions) == 1:
        return exp.Anonymous(this="unix_micros", expressions=[exp.cast(_sub(node.expressions[0]), "timestamp_ltz")])
    return None


def _list_aggregate(node: exp.Expression) -> exp.Expression | None:
    """list(x) OVER (… ORDER BY …) → transform(collect_list(named_struct('v', x)) OVER …, e -> e.v): the
    order of the window, NULL elements kept as DuckDB keeps them; list(DISTINCT x ORDER BY x) → the
    sorted set, with NULL appended last when there was one. Other forms are refused."""
    if isinstance(node, exp.Window) and isinstance(node.this, exp.ArrayAgg):
        if not node.args.get("order") or isinstance(node.this.this, (exp.Order, exp.Distinct)):
            raise UntranslatableSQL("list(…) OVER a window is translated only as list(x) over an ordered window")
        window = node.copy()
        boxed = exp.Anonymous(this="named_struct", expressions=[exp.Literal.string("v"), _sub(node.this.this)])
        window.set("this", exp.Anonymous(this="collect_list", expressions=[boxed]))
        unbox = exp.Lambda(this=exp.Dot(this=exp.column("e"), expression=exp.to_identifier("v")),
                           expressions=[exp.to_identifier("e")])
        return exp.Anonymous(this="transform", expressions=[window, unbox])
    if isinstance(node, exp.ArrayAgg) and not isinstance(node.parent, exp.Window):
        order = node.this
        if not (isinstance(order, exp.Order) and isinstance(order.this, exp.Distinct)
                and len(order.this.expressions) == 1 and len(order.expressions) == 1
                and not order.expressions[0].args.get("desc") and order.expressions[0].this == order.this.expressions[0]):
            raise UntranslatableSQL("list(…) is translated only as list(DISTINCT x ORDER BY x) or over an ordered window")
        value = order.this.expressions[0]
        values = exp.Anonymous(this="array_sort", expressions=[
            exp.Anonymous(this="collect_set", expressions=[_sub(value)])])
        had_null = exp.LogicalOr(this=exp.Is(this=_sub(value), expression=exp.Null()))
        with_null = exp.Anonymous(this="array_append", expressions=[values.copy(), exp.Null()])
        return exp.If(this=had_null, true=with_null, false=values)
    return None


def _materialized(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.CTE) and node.args.get("materialized"):
        plain = node.copy()
        plain.set("materialized", None)
        return plain
    return None


RewriteFn = Callable[[exp.Expression], exp.Expression | None]
# The table of rewrites: each DuckDB form, its Spark form, and why a rename is not enough.
REWRITES: dict[str, tuple[Rewrite, RewriteFn]] = {
    "list_position": (Rewrite("list_position(l, x)", "CAST(NULLIF(array_position(l, x), 0) AS INT)",
                              "Spark returns 0 (BIGINT) where DuckDB returns NULL (INTEGER)"), _position),
    "len": (Rewrite("len(list)", "size(list)", "Spark's length() is for text only"), _length),
    "map_extract_value": (Rewrite("map_extract_value(m, k)", "m[k]", "no such Spark function"), _map_value),
    "list_extract": (Rewrite("list_extract(l, i)", "IF(i = 0, NULL, element_at(l, i))",
                             "Spark has no list_extract; element_at fails on index 0"), _list_extract),
    "list[i]": (Rewrite("list[i]", "IF(i = 0, NULL, element_at(list, i))",
                        "Spark subscripts are 0-based; SQLGlot shifts only indexes it can type"), _subscript),
    "date_diff": (Rewrite("date_diff('day', a, b)", "datediff(CAST(b AS DATE), CAST(a AS DATE))",
                          "DATEDIFF(DAY, …) counts whole days, DuckDB counts day boundaries"), _day_diff),
    "percentile_cont": (Rewrite("percentile_cont(q) WITHIN GROUP (ORDER BY x)", "percentile(x, q)",
                                "SQLGlot writes the approximate percentile_approx"), _percentile),
    "arg_max": (Rewrite("arg_max(a, v) / arg_min(a, v)", "max_by(a, IF(a IS NULL, NULL, v)) / min_by",
                        "DuckDB skips rows whose a is NULL"), _arg_extreme),
    "regexp_replace": (Rewrite("regexp_replace(s, p, r, 'g')", "regexp_replace(s, p, r)",
                               "without 'g' DuckDB replaces one match, Spark all"), _regexp_replace),
    "any_value": (Rewrite("any_value(x)", "any_value(x, true)", "DuckDB skips NULLs"), _any_value),
    "row_number": (Rewrite("row_number() OVER (PARTITION BY k)", "row_number() OVER (PARTITION BY k ORDER BY k)",
                           "Spark refuses a row_number without an order"), _unordered_row_number),
    "qualify": (Rewrite("SELECT * … QUALIFY w", "SELECT * EXCEPT (_w) FROM (SELECT *, w AS _w …) WHERE _w",
                        "SQLGlot's QUALIFY rewrite would leak its _w column into SELECT *"), lambda node: None),
    "count_distinct_over": (Rewrite("count(DISTINCT x) OVER w", "size(collect_set(x) OVER w)",
                                    "Spark has no DISTINCT in window functions"), _distinct_window_count),
    "array_to_string": (Rewrite("array_to_string(l, sep)", "array_join(l, sep)", "no such Spark function"),
                        _array_to_string),
    "regexp_full_match": (Rewrite("regexp_full_match(s, 'p')", "s RLIKE '\\A(?:p)\\z'",
                                  "RLIKE finds a match anywhere"), _full_match),
    "epoch_us": (Rewrite("epoch_us(ts)", "unix_micros(CAST(ts AS TIMESTAMP_LTZ))", "no such Spark function"),
                 _epoch_us),
    "list": (Rewrite("list(x) OVER (… ORDER BY …) / list(DISTINCT x ORDER BY x)",
                     "transform(collect_list(named_struct('v', x)) OVER …, e -> e.v) / array_sort(collect_set(x))",
                     "collect_list/collect_set drop NULLs, which DuckDB's list keeps"), _list_aggregate),
    "string_agg": (Rewrite("string_agg([DISTINCT] x, sep ORDER BY x)",
                           "IF(size(s) = 0, NULL, array_join(array_sort(collect_set|collect_list(x)), sep))",
                           "Spark's string_agg order is not guaranteed the same way"), _string_agg),
    "list_contains": (Rewrite("list_contains(l, x)", "array_contains(l, x)",
                              "differs only on a list holding NULL"), _list_contains),
    "materialized": (Rewrite("WITH c AS MATERIALIZED (…)", "WITH c AS (…)",
                             "Spark has no MATERIALIZED; it only steers DuckDB's join order, not results"),
                     _materialized),
}


def _rewritten(node: exp.Expression) -> exp.Expression:
    for _, rewrite in REWRITES.values():
        new = rewrite(node)
        if new is not None:
            return new
    return node


def untranslatable_functions(tree: exp.Expression) -> list[str]:
    """The functions in a (rewritten) tree without a known-safe Spark form, by DuckDB name."""
    bad = []
    for node in tree.find_all(exp.Func):
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name not in SAFE_NAMES and name not in _WRITTEN_BY_REWRITES:
                bad.append(name)
        elif type(node) not in SAFE_FUNCTIONS and type(node) not in _WRITTEN_NODES:
            bad.append(node.sql(dialect="duckdb").split("(")[0].strip().lower() or type(node).__name__)
    return sorted(set(bad))


# What the rewrites themselves write (allowed in the output).
_WRITTEN_BY_REWRITES = frozenset({"array_position", "element_at", "datediff", "percentile", "max_by", "min_by",
                                  "regexp_replace", "any_value", "struct", "array_sort", "collect_set",
                                  "array_join", "unix_micros", "named_struct", "collect_list", "transform",
                                  "array_append"})
_WRITTEN_NODES = frozenset({exp.ArrayContains, exp.ArraySize, exp.Bracket, exp.RegexpLike, exp.Window})


def _qualify_as_subquery(tree: exp.Expression) -> exp.Expression:
    """QUALIFY (which Spark lacks) as SQLGlot rewrites it, a filtered subquery, with its helper
    columns (_w, _w_2, …) kept out of an outer SELECT *."""
    tree = tree.transform(eliminate_qualify)
    for select in tree.find_all(exp.Select):
        source = select.args.get("from_") or select.args.get("from")
        inner = source.this if source is not None else None
        if not (isinstance(inner, exp.Subquery) and inner.alias == "_t" and len(select.expressions) == 1
                and isinstance(select.expressions[0], exp.Star)):
            continue
        helpers = [e.alias for e in inner.this.expressions if re.fullmatch(r"_w(_\d+)?", e.alias or "")]
        if helpers:
            select.expressions[0].set("except_", [exp.column(h) for h in helpers])
    return tree


def _depth(node: exp.Expression) -> int:
    depth = 0
    while node.parent is not None:
        node, depth = node.parent, depth + 1
    return depth


def _unique_cte_names(tree: exp.Expression) -> exp.Expression:
    """A query embedded with its own CTEs (a fragment such as handoffs.sql's lifecycle_entries) gets
    them renamed `<name>__<n>`: SQLGlot's Spark output lifts every CTE to the top, where two `final`s
    would clash. Deepest first, so an inner name shadows an outer one as it did."""
    nested = sorted((w for w in tree.find_all(exp.With) if w.parent is not tree), key=_depth, reverse=True)
    for number, with_ in enumerate(nested, start=1):
        owner = with_.parent
        names = {cte.alias: f"{cte.alias}__{number}" for cte in with_.expressions}
        for table in owner.find_all(exp.Table):
            if not table.db and table.name in names and not table.this.quoted:
                table.set("this", exp.to_identifier(names[table.name]))
        for cte in with_.expressions:
            cte.args["alias"].set("this", exp.to_identifier(names[cte.alias]))
    return tree


@dataclass(frozen=True)
class SparkQuery:
    sql: str  # Spark SQL with :name parameters
    params: tuple[str, ...]  # the parameter names it binds


@lru_cache(maxsize=512)
def spark_sql(duckdb_sql: str) -> SparkQuery:
    """The Spark SQL for one DuckDB query (cached: the same text always gives the same query)."""
    try:  # "(" or "[" right before a $param trips SQLGlot's tokenizer (it reads a dollar-quoted string)
        tree = sqlglot.parse_one(re.sub(r"([\[(])\$", r"\1 $", duckdb_sql), read=_WrittenDuckDB)
    except sqlglot.errors.ParseError as exc:
        raise UntranslatableSQL(f"the query does not parse as DuckDB SQL: {str(exc).splitlines()[0]}") from None
    tree = _qualify_as_subquery(_unique_cte_names(tree.transform(_rewritten)))
    bad = untranslatable_functions(tree)
    if bad:
        raise UntranslatableSQL(f"no known-safe Spark translation for: {', '.join(bad)}",
                                hint="Add a rewrite to funnel/engine/translate.py with a parity test")
    names = tuple(sorted({p.name for p in tree.find_all(exp.Placeholder, exp.Parameter) if p.name}))
    return SparkQuery(sql=tree.sql(dialect="spark", comments=False), params=names)
