"""The import-linter contract (.importlinter) catches each kind of import the layer rule forbids.

The contract runs on a copy of the packages with one offending module added per rule, so the
test shows the contract has teeth whatever the state of the code today (`make lint-imports`
checks the code itself)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("twin_cli", "twin_serving", "twin_assets", "twin_resources", "twin_core")

# (module added, what it imports): each one breaks the layer rule or the no-Dagster rule.
PROBES = {
    "twin_core._probe_up": "import twin_resources.settings",
    "twin_core._probe_cli": "import twin_cli.main",
    "twin_resources._probe_up": "import twin_assets.definitions",
    "twin_serving._probe_sibling": "import twin_assets.definitions",
    "twin_assets._probe_sibling": "import twin_serving.app",
    "twin_assets._probe_cli": "import twin_cli.main",
    "twin_core._probe_dagster": "import dagster",
}
ALLOWED = {
    "twin_serving._probe_core": "import twin_core.registry",
    "twin_assets._probe_core": "import twin_core.registry",
    "twin_cli._probe_all": "import twin_assets.definitions, twin_serving.app",
}


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(command), "--config", str(cwd / ".importlinter"), "--no-cache"],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(cwd)}, capture_output=True, text=True,
        timeout=120,
    )


def test_the_contract_reports_every_forbidden_import(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    for module, line in {**PROBES, **ALLOWED}.items():
        package, name = module.split(".")
        (tmp_path / package / f"{name}.py").write_text(line + "\n")

    result = _lint_imports(tmp_path)

    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    for module in PROBES:
        assert f"{module} ->" in report, f"{module} not reported"
    for module in ALLOWED:
        assert f"{module} ->" not in report, f"{module} is allowed but was reported"
