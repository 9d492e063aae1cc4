"""The code's shape, checked: no import cycle, no private name used outside its module, and no
SQL outside storage/.

Every module under crawler/, spiders/ and storage/ is read with `ast` (nothing is imported), so
the check covers imports inside functions too: a cycle hidden in a lazy import is still a cycle.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crawler", "spiders", "storage")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path))
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The product modules `module` imports: `from package import submodule` counts as both."""
    is_package = any(other.startswith(module + ".") for other in known)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node, is_package)
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != module}


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                return path[path.index(imported):] + [imported]
            if imported not in state and (cycle := visit(imported)):
                return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def private_uses(module: str, tree: ast.Module, known: set[str]) -> list[str]:
    """`from x import _name` and `x._name` where x is another product module."""
    private = []
    module_aliases: dict[str, str] = {}
    is_package = any(other.startswith(module + ".") for other in known)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    module_aliases[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node, is_package)
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    module_aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif source in known and alias.name.startswith("_") and not alias.name.startswith("__"):
                    private.append(f"{module}:{node.lineno} imports {source}.{alias.name}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in module_aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            private.append(f"{module}:{node.lineno} uses {module_aliases[node.value.id]}.{node.attr}")
    return private


def import_graph(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    known = set(modules)
    return {name: imports_of(name, tree, known) for name, tree in modules.items()}


def test_the_checks_see_a_cycle_and_a_private_name():
    """The checks below could pass by finding nothing: here they must find what is planted."""
    planted = {
        "crawler.alpha": ast.parse("from crawler.beta import helper\n"),
        "crawler.beta": ast.parse("def helper():\n    from crawler import alpha\n    return alpha._secret\n"),
        "crawler": ast.parse(""),
    }
    assert cycle_in(import_graph(planted)) == ["crawler.alpha", "crawler.beta", "crawler.alpha"]
    assert private_uses("crawler.beta", planted["crawler.beta"], set(planted)) == ["crawler.beta:3 uses crawler.alpha._secret"]
    assert private_uses("crawler.gamma", ast.parse("from crawler.alpha import _secret\n"), set(planted)) == [
        "crawler.gamma:1 imports crawler.alpha._secret"]


def test_no_import_cycle():
    modules = product_modules()
    assert len(modules) > 50
    cycle = cycle_in(import_graph(modules))
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_no_private_name_is_used_across_modules():
    modules = product_modules()
    known = set(modules)
    found = [use for name, tree in modules.items() for use in private_uses(name, tree, known)]
    assert found == []


@pytest.mark.parametrize("option", ["--json"])
def test_a_shared_option_is_declared_once(option):
    """Options many commands take are declared once, in crawler/cli/app.py, and reused."""
    declared = [f"{path.relative_to(ROOT)}:{number}"
                for path in sorted((ROOT / "crawler").rglob("*.py"))
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if f'"{option}"' in line and "click.option" in line]
    assert len(declared) == 1, declared


def test_the_watchlist_model_loads_without_the_digest_package():
    """Every extraction worker imports the watchlist model; the digests' templates, rendering and
    mail (over half its import time before) are not its business."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, crawler.config.watchlist; print(sorted(m for m in sys.modules if m.startswith('crawler.')))"],
        capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "crawler.config.watchlist" in loaded and "crawler.report" not in loaded


SQL_STATEMENT = re.compile(
    r"\b(SELECT\b.+\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|PRAGMA)\b",
    re.DOTALL)  # upper case, as SQL is written here: "Select the sources from the list" is prose
DATABASE_CALLS = {"execute", "executemany", "executescript", "query", "table"}


def sql_outside_storage(module: str, tree: ast.Module) -> list[str]:
    """SQL in a string literal (an f-string's literal parts too), and calls that hand a
    database SQL or a table (`.execute(`, `.query(`, `db["pages"]`), in a module outside storage/."""
    if module == "storage" or module.startswith("storage."):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STATEMENT.search(node.value):
            found.append(f"{module}:{node.lineno} SQL {node.value[:60]!r}")
        elif isinstance(node, ast.JoinedStr):
            literal = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
            if SQL_STATEMENT.search(literal):
                found.append(f"{module}:{node.lineno} SQL {literal[:60]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DATABASE_CALLS:
            found.append(f"{module}:{node.lineno} calls .{node.func.attr}(")
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "db":
            found.append(f"{module}:{node.lineno} uses a table as db[...]")
    return found


def test_the_sql_check_sees_sql_outside_storage():
    planted = ast.parse(
        'rows = db.query("SELECT * FROM pages WHERE url = ?", [url])\n'
        'db.execute(f"UPDATE hits SET last_seen = ? WHERE page_id IN ({marks})")\n'
        'db["runs"].insert({})\n'
        'text = "Select the sources from the list"\n'
        'self.db.conn.executemany(statement, rows)\n')
    assert {use.split(" ", 1)[0] for use in sql_outside_storage("crawler.alpha", planted)} == {
        "crawler.alpha:1", "crawler.alpha:2", "crawler.alpha:3", "crawler.alpha:5"}
    assert sql_outside_storage("storage.pages", planted) == []


def test_no_sql_outside_storage():
    """Every query lives in storage/, one module per table group; the rest of docwatch calls them."""
    found = [use for name, tree in product_modules().items() for use in sql_outside_storage(name, tree)]
    assert found == []


def test_the_readme_names_the_pipeline_stages_in_their_order():
    """The README's "How a crawl works" lists the Scrapy stages as the crawl runs them: each class of
    ITEM_PIPELINES, by name, in priority order, and each one defined in crawler/pipeline/."""
    from crawler.fetch.scrapy_settings import base

    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("## How a crawl works"):]
    section = section[:section.index("\n## ")]
    stages = [path.rsplit(".", 1) for path, _ in sorted(base.ITEM_PIPELINES.items(), key=lambda entry: entry[1])]
    assert all(module.startswith("crawler.pipeline.") for module, _ in stages)
    positions = [section.find(f"`{name}`") for _, name in stages]
    assert -1 not in positions, f"stages the README does not name: {[n for (_, n), p in zip(stages, positions) if p < 0]}"
    assert positions == sorted(positions), "the README lists the stages out of order"
