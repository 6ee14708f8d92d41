"""What an image's code imports: the modules its entry point can reach, read from the source.

Each image copies some of the project's packages and installs one extra. Reading the import
statements (also the ones inside functions, which run only when a command or asset does) from
the entry point on gives every module the image can ever load; each must be either in a copied
package or in a distribution the extra installs.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
OURS = ("twin_cli", "twin_serving", "twin_assets", "twin_resources", "twin_core")


@dataclass(frozen=True)
class Imports:
    module_level: frozenset[str]
    in_functions: frozenset[str]


def module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _names(node: ast.Import | ast.ImportFrom, module: str) -> Iterable[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:  # relative: resolve against this module's package
        package = module.split(".")
        is_package = module_file(module) is not None and module_file(module).name == "__init__.py"
        base = package if is_package else package[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    yield target
    for alias in node.names:  # `from pkg import submodule`
        if target.split(".")[0] in OURS and module_file(f"{target}.{alias.name}"):
            yield f"{target}.{alias.name}"


@cache
def imports_of(module: str) -> Imports:
    path = module_file(module)
    if path is None:
        raise LookupError(f"no source for {module}")
    tree = ast.parse(path.read_text(), str(path))
    top: set[str] = set()
    nested: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                (nested if in_function else top).update(_names(child, module))
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return Imports(frozenset(top), frozenset(nested))


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def reachable(
    deep: Iterable[str], shallow: Iterable[str] = (), not_run: Iterable[str] = (),
) -> tuple[set[str], set[str]]:
    """(our modules, third-party top-level names) reachable from ``deep`` roots through every
    import and from ``shallow`` roots through module-level imports only (code that is loaded,
    e.g. to build a command line, but not run). Modules in ``not_run`` are loaded, never run:
    only their module-level imports count."""
    loaded_only = set(not_run)
    ours: set[str] = set()
    external: set[str] = set()

    def walk(roots: Iterable[str], follow_functions: bool) -> None:
        todo = [m for root in roots for m in _parents(root)]
        seen: set[str] = set()
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            if module.split(".")[0] not in OURS:
                external.add(module.split(".")[0])
                continue
            if module_file(module) is None:
                continue  # `from pkg import name` where name is not a module
            ours.add(module)
            found = imports_of(module)
            runs = follow_functions and module not in loaded_only
            names = found.module_level | (found.in_functions if runs else frozenset())
            for name in names:
                todo.extend(_parents(name))

    walk(deep, True)
    walk(shallow, False)
    external -= set(sys.stdlib_module_names) | {"__future__"}
    return ours, external


# -- what an extra installs --------------------------------------------------------------------

def _project_requirements(extra: str) -> list[Requirement]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"][extra]]]


def installed_by(extra: str) -> set[str]:
    """Canonical names of the distributions ``pip install .[extra]`` installs, from the
    metadata of this environment (markers evaluated, extras followed)."""
    names: set[str] = set()
    todo: list[tuple[Requirement, frozenset[str]]] = [(r, frozenset()) for r in _project_requirements(extra)]
    while todo:
        requirement, _ = todo.pop()
        name = canonicalize_name(requirement.name)
        if name == "llm-twin":
            todo.extend((r, frozenset()) for extra_name in requirement.extras
                        for r in _project_requirements(extra_name))
            continue
        key = name + "[" + ",".join(sorted(requirement.extras)) + "]"
        if key in names:
            continue
        names.add(key)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            inner = Requirement(line)
            environments = [{"extra": e} for e in (requirement.extras or {""})]
            if inner.marker is None or any(inner.marker.evaluate(env) for env in environments):
                todo.append((inner, frozenset()))
    return {re.sub(r"\[.*\]$", "", key) for key in names}


def distributions_of(top_level: str) -> set[str]:
    return {canonicalize_name(d) for d in _packages_distributions().get(top_level, [])}


@cache
def _packages_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()
