"""Parsed Terraform of infra/terraform, shared by the infra tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
TERRAFORM = INFRA / "terraform"
MODULES = TERRAFORM / "modules"
# The root modules: the state bucket (once per account) and one environment (every environment,
# chosen by <env>.tfvars and <env>.s3.tfbackend).
BOOTSTRAP = TERRAFORM / "bootstrap"
ENVIRONMENT = TERRAFORM / "environment"
ENVIRONMENTS = ("dev", "prod")


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels and adds bookkeeping
    keys (``__is_block__``, ``__comments__``); drop them."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if not k.startswith("__")}
    return value


def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return unquote(hcl2.load(handle))


def blocks(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    """{label: body} for one-label blocks (variable, output, module)."""
    out: dict[str, Any] = {}
    for entry in doc.get(kind, []):
        out.update(entry)
    return out


def resources(doc: dict[str, Any], kind: str = "resource") -> dict[tuple[str, str], Any]:
    """{(type, name): body} for two-label blocks (resource, data)."""
    out: dict[tuple[str, str], Any] = {}
    for entry in doc.get(kind, []):
        for rtype, named in entry.items():
            for name, body in named.items():
                out[(rtype, name)] = body
    return out


class Root:
    """All .tf files of one module or environment, merged."""

    def __init__(self, path: Path):
        self.path = path
        self.files = {p.name: parse(p) for p in sorted(path.glob("*.tf"))}
        self.text = "\n".join(p.read_text() for p in sorted(path.glob("*.tf")))

    def all(self, kind: str) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for doc in self.files.values():
            out.update(resources(doc, kind) if kind in ("resource", "data") else blocks(doc, kind))
        return out


@cache
def load_root(path: Path) -> Root:
    """Parsing is the slow part (Lark); each directory is parsed once per session."""
    return Root(path)


MODULE_DIRS = sorted(p for p in MODULES.iterdir() if p.is_dir())
ENV_DIRS = [BOOTSTRAP, ENVIRONMENT]
ROOT_DIRS = MODULE_DIRS + ENV_DIRS


@pytest.fixture(scope="session")
def module():
    return lambda name: load_root(MODULES / name)
