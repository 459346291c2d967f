"""Guards of the layout: the tree shows the flow and imports point down it.

`funnel/` holds the foundation modules and one folder per stage of the flow. Every import, including
one inside a function, is read from the source (AST), so a late import cannot hide a circle or an
upward arrow. The README's code map must name every folder, module and page.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "funnel"
FOUNDATION = {"schema", "config", "errors", "filters", "stats", "export", "access"}
# What each layer may import besides itself and the foundation (pages may import everything).
MAY_IMPORT: dict[str, set[str]] = {
    "foundation": set(),
    "store": set(),
    "ingest": {"store"},
    "model": {"store"},
    "analyses": {"model", "store"},
    "display": {"analyses", "model", "store"},
    "charts": {"display", "analyses", "model"},
    "cli": {"ingest", "store", "model", "analyses", "display", "charts"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    return "foundation" if parts[1] in FOUNDATION else parts[1]


def imported(path: Path, module: str) -> set[str]:
    """Every funnel module this file imports, anywhere in it (top level or inside functions)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imported(p, m) for m, p in MODULES.items()}


def test_funnel_never_imports_streamlit():
    offenders = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [module for n in names if n == "streamlit" or n.startswith("streamlit.")]
    assert offenders == []


def test_only_foundation_modules_sit_at_the_top():
    top = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert top == FOUNDATION
    assert folders == set(MAY_IMPORT) - {"foundation"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m) != "package"))
def test_imports_point_down_the_flow(module):
    layer = layer_of(module)
    allowed = {layer, "foundation"} | MAY_IMPORT[layer]
    upward = sorted(t for t in GRAPH[module] if layer_of(t) not in allowed | {"package"})
    assert upward == [], f"{module} ({layer}) imports {upward}"


def test_no_import_circles():
    """Package __init__ re-exports aside, no module reaches itself through its imports."""
    graph = {m: {t for t in ts if MODULES[t].name != "__init__.py"}
             for m, ts in GRAPH.items() if MODULES[m].name != "__init__.py"}
    circles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    circles.append(path)
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert circles == []


def test_every_layer_says_what_it_owns():
    for folder in (p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "import" in doc, f"funnel/{folder.name}/__init__.py must say what it owns and may import"


def code_map() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## How the code is organised")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_the_readme_code_map_names_every_module_and_page():
    section = code_map()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \|(.*)$", section, re.MULTILINE)}
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        rel = path.relative_to(ROOT)
        folder = f"{rel.parent.as_posix()}/"
        row = rows.get(folder, "") + " ".join(v for k, v in rows.items() if str(rel) in k)
        if f"`{path.stem}`" not in row and str(rel) not in rows:
            missing.append(str(rel))
    pages = [p for p in (ROOT / "pages").glob("*.py") if p.name != "__init__.py"]
    pages_row = rows.get("pages/", "")
    missing += [f"pages/{p.name}" for p in pages if f"`{p.stem}`" not in pages_row]
    assert missing == [], "README's code map misses: " + ", ".join(missing)
