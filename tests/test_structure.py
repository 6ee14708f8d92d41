"""The pieces the layering keeps in one place stay in one place.

import-linter (``make lint-imports``) checks which layer imports which; these tests read the
source (AST, no imports) for what a contract cannot say: one settings object, one way to open
the object store from settings, one chunk/hit record type, one Markdown-table helper, and no
import cycle among our modules, function-local imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("twin_cli", "twin_serving", "twin_assets", "twin_resources", "twin_core")
CHUNK_FIELDS = {"document_id", "author", "platform", "category", "url", "title", "position", "text"}


def _modules() -> dict[str, ast.Module]:
    trees = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            trees[name] = ast.parse(path.read_text(), filename=str(path))
    return trees


MODULES = _modules()


def _where(predicate) -> list[str]:
    return sorted(name for name, tree in MODULES.items() if any(predicate(node) for node in ast.walk(tree)))


def _base_names(node: ast.ClassDef) -> set[str]:
    return {base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases}


def test_the_modules_are_found():
    # A scan that found nothing would pass every test below.
    assert len(MODULES) > 100 and "twin_core.settings" in MODULES and "twin_cli.main" in MODULES


def test_settings_are_defined_in_one_module():
    defining = _where(lambda n: isinstance(n, ast.ClassDef) and "BaseSettings" in _base_names(n))
    assert defining == ["twin_core.settings"]


def test_the_store_is_opened_from_settings_in_one_place():
    openers = _where(lambda n: isinstance(n, ast.FunctionDef) and n.name == "open_store")
    assert openers == ["twin_core.object_store"]
    s3_clients = _where(
        lambda n: isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "client"
        and isinstance(n.func.value, ast.Name) and n.func.value.id == "boto3"
    )
    assert s3_clients == ["twin_core.object_store"]


def test_one_record_type_carries_a_chunk():
    def declares_chunk_fields(node: ast.AST) -> bool:
        if not isinstance(node, ast.ClassDef):
            return False
        fields = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
        return fields >= CHUNK_FIELDS

    assert _where(declares_chunk_fields) == ["twin_core.chunking"]


def test_markdown_tables_are_built_by_one_helper():
    def table_rule(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and "---|" in node.value

    assert _where(table_rule) == ["twin_assets.metadata"]


def _imports(name: str, tree: ast.Module) -> set[str]:
    """Our modules that ``name`` imports anywhere in its file."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name.split(".")[: -node.level] if name not in PACKAGES else [name]
                base = ".".join([*package, node.module] if node.module else package)
            else:
                base = node.module or ""
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_our_modules():
    # A package's __init__ importing its own submodules is how it exposes them, not a cycle.
    graph = {
        name: {t for t in _imports(name, tree) if not name.startswith(f"{t}.") and not t.startswith(f"{name}.")}
        for name, tree in MODULES.items()
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
