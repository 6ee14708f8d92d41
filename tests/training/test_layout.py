"""The training package imports in one direction: config <- run <- staging <- remote <- pipeline,
with ``__main__`` the process entry point, and every import of a sibling at the top of its file."""

import ast
from pathlib import Path

import twin_core.training

PACKAGE = Path(twin_core.training.__file__).parent
PREFIX = "twin_core.training."
# Each module may import only the ones listed before it.
ORDER = ["config", "store_spec", "checkpoints", "evaluation", "run", "launch", "base_model", "staging", "remote", "kubernetes", "pipeline", "__main__"]


def _sibling_imports(path: Path) -> list[tuple[str, bool]]:
    """(imported sibling, at module level) for every import of twin_core.training.* in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            found.append((node.module[len(PREFIX):].split(".")[0], id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PREFIX):
                    found.append((alias.name[len(PREFIX):].split(".")[0], id(node) in top))
    return found


def test_every_module_of_the_package_is_placed_in_the_order():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(ORDER)


def test_imports_point_down_the_order_and_sit_at_the_top():
    for name in ORDER:
        for imported, at_top in _sibling_imports(PACKAGE / f"{name}.py"):
            assert at_top, f"{name} imports {imported} inside a function"
            assert ORDER.index(imported) < ORDER.index(name), f"{name} imports {imported}, which sits above it"


def test_the_process_entry_point_is_the_package():
    from twin_core.training.launch import command_for

    command = command_for("python", Path("c.json"), 1)
    assert command[1:4] == ["-m", "twin_core.training", "--config"]
    assert (PACKAGE / "__main__.py").is_file()
