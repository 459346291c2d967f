"""The one loader of the SQL files in `funnel/store/sql/`: each query read once, its {relation} names
quoted through `quote_ident` and its /*@marker*/ fragments (built from fixed identifiers and $parameters
only) filled in. Values are always bound parameters, never text."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from funnel.store.db import quote_ident

SQL_DIR = Path(__file__).with_name("sql")
_TOKEN = re.compile(r"\{([a-z_]+)\}|/\*@([a-z_]+)\*/")  # a {relation} or a /*@marker*/
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")


@cache
def sql_file(name: str) -> str:
    """The text of `sql/<name>.sql`, as written."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def sql_text(name: str, *, fragments: dict[str, str] | None = None, **relations: str) -> str:
    """The query in `sql/<name>.sql` with each {relation} token replaced by a quoted name and each
    /*@marker*/ by its fragment; a token without a relation is an error, never left in the SQL."""
    fragments = fragments or {}

    def filled(match: re.Match[str]) -> str:
        token, marker = match.group(1), match.group(2)
        if marker is not None:
            return fragments.get(marker, match.group(0))
        if token not in relations:
            raise KeyError(f"{name}.sql needs the relation {{{token}}}")
        return quote_ident(relations[token])

    return _TOKEN.sub(filled, sql_file(name))  # one pass: what is filled in is never read again


def bound_params(sql: str, params: dict) -> dict:
    """The `params` a query names as $name outside its -- comments (DuckDB refuses a value for a parameter its
    query lacks: a query filled from fragments may need fewer than its caller knows)."""
    named = set(_PARAM.findall(_COMMENT.sub("", sql)))
    return {name: value for name, value in params.items() if name in named}
