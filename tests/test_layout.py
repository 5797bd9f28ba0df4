"""The layout is the data flow: one folder per stage, pure domain packages, no import cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRAWLER = ROOT / "crawler"
DOMAIN = ("cards", "fetch", "extract", "changes", "matching", "discovery", "reports")
GLUE = {
    "__init__", "__main__", "settings", "items", "middlewares", "pipelines", "handlers",
    "extensions", "config", "running", "interrupt", "politeness", "spiderloader", "processes",
    "shared_pools",
}  # fmt: skip
STAGES = {*DOMAIN, "cli", "demo"}


def module_name(path: Path) -> str:
    """`crawler/cards/model.py` -> `crawler.cards.model`; a package's `__init__` -> the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of `crawler/` (demo pages excluded: they are data)."""
    return {
        module_name(p): p
        for p in CRAWLER.rglob("*.py")
        if "pages" not in p.relative_to(CRAWLER).parts
    }


def imported(path: Path, known: set[str]) -> set[str]:
    """The `crawler` modules a module imports anywhere in its body (late imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m in known}


def test_crawler_top_holds_only_the_scrapy_project_and_one_folder_per_stage() -> None:
    files = {p.stem for p in CRAWLER.glob("*.py")}
    folders = {p.name for p in CRAWLER.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert files == GLUE
    assert folders == STAGES
    for stage in STAGES:
        doc = ast.get_docstring(ast.parse((CRAWLER / stage / "__init__.py").read_text("utf-8")))
        assert doc and len(doc) > 80, f"crawler/{stage}/__init__.py needs a docstring"


def test_no_import_cycle_inside_crawler() -> None:
    known = modules()
    graph = {name: imported(path, set(known)) - {name} for name, path in known.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_the_cycle_check_sees_a_cycle(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from crawler.b import x\n")
    b.write_text("def f():\n    from crawler.a import y\n")
    assert imported(a, {"crawler.a", "crawler.b"}) == {"crawler.b"}
    assert imported(b, {"crawler.a", "crawler.b"}) == {"crawler.a"}


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_import_neither_scrapy_nor_sqlalchemy(package: str) -> None:
    names = sorted(m for m in modules() if f"{m}.".startswith(f"crawler.{package}."))
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'scrapy', 'sqlalchemy', 'twisted'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]", f"crawler.{package} pulls in {out.stdout.strip()}"
