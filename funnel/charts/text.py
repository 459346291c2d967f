"""The one way data-derived text reaches a Plotly figure: `chart_text`.

Plotly renders a subset of HTML in every piece of figure text — tick labels, category axes, legend
entries, hover labels, annotations, Sankey node labels, titles: `<a href>` becomes a live link,
`<b>`/`<br>`/`<span style>` change the look, `$…$` is typeset as LaTeX where MathJax is present, and
`%{…}` inside a hover or text template is substituted. A lead source, a stage name, a reason or a
segment column name is data, so every such string is passed through `chart_text` before it becomes
part of a figure, and templates only ever hold our own markup plus already-escaped text.

Every figure builder in `funnel/charts/` uses it; new chart code must too (tests/test_chart_text.py
renders every builder on hostile values and fails when a tag survives).
"""

from __future__ import annotations

__all__ = ["chart_text", "chart_texts"]

# Plotly decodes &amp; &lt; &gt; and numeric entities (&#NN;) when it draws text, so these are shown
# literally and never interpreted. Order matters: '&' first, so the entities written here stay intact.
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("$", "&#36;"), ("%", "&#37;"))


def chart_text(value: object) -> str:
    """A data value as inert figure text: markup, LaTeX delimiters and template fields written as
    entities that Plotly shows as the characters themselves; None becomes ''."""
    text = "" if value is None else str(value)
    for char, entity in _ENTITIES:
        if char in text:
            text = text.replace(char, entity)
    return text


def chart_texts(values) -> list[str]:
    """`chart_text` of each value, as a plain list (for axes, categories and node labels)."""
    return [chart_text(v) for v in values]
