"""Each image installs its own extra and nothing it does not run; its code finds every import.

The import graph is read from the source (tests/infra/image_imports.py) and the installed set
from the package metadata of this environment, which `make setup` fills with `.[dev]`."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.infra.conftest import INFRA
from tests.infra.image_imports import ROOT, distributions_of, installed_by, module_file, reachable

DOCKER = INFRA / "docker"
IMAGE_EXTRA = {"user-code": "pipeline", "serving": "serving", "training": "training"}
# The trainer (TRL, DeepSpeed): only the training image runs it.
TRAINER = "twin_core.training.run"
# Never in the API image: the Dagster UI, and the training stack.
NOT_IN_API = {"dagster-webserver", "deepspeed", "trl"}
# Declared for what they provide at run time rather than for an import statement.
RUNTIME_ONLY = {
    "dagster-k8s": "the run launcher infra/dagster/dagster.prod.yaml names",
    "dagster-postgres": "the instance storage infra/dagster/dagster.prod.yaml names",
    "deepspeed": "the ZeRO engine the Trainer loads for a DeepSpeed config",
    "bitsandbytes": "the 4-bit and 8-bit layers transformers loads for QLoRA",
    "gguf": "the reader transformers loads for a GGUF file (the SmolLM2 base)",
}


def _dockerfile(image: str) -> str:
    return (DOCKER / image / "Dockerfile").read_text()


def _copied_packages(image: str) -> set[str]:
    return set(re.findall(r"^COPY (twin_\w+) \1$", _dockerfile(image), re.M))


def _entry_module(image: str) -> str:
    text = _dockerfile(image)
    if image == "training":
        module = re.search(r'^ENTRYPOINT \["python", "-m", "([\w.]+)"\]', text, re.M).group(1)
        # `python -m package` runs the package's __main__.
        return f"{module}.__main__" if module_file(f"{module}.__main__") else module
    if image == "user-code":
        return re.search(r'"-m", "([\w.]+)", "-a", "defs"', text).group(1)
    assert 'CMD ["twin", "serve"' in text
    return "twin_cli.commands.serve"


def _command_modules() -> list[str]:
    from twin_cli.main import COMMANDS

    return ["twin_cli.main", *(f"twin_cli.commands.{name}" for name in COMMANDS)]


def _reach(image: str) -> tuple[set[str], set[str]]:
    entry = _entry_module(image)
    if image == "serving":
        # `twin` builds its whole command line (every command module loads), then runs `serve`.
        return reachable([entry], shallow=_command_modules())
    if image == "user-code":
        # Run pods hand training to the training image (a Kubernetes Job): they load the
        # trainer's module for its constants but never run it.
        return reachable([entry], not_run=[TRAINER])
    return reachable([entry])


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("image", sorted(IMAGE_EXTRA))
def test_each_image_installs_its_own_extra_only(image):
    installs = re.findall(r"pip install -c requirements\.lock (\S+)", _dockerfile(image))
    assert installs == [f'".[{IMAGE_EXTRA[image]}]"'], installs


def test_each_requirement_is_declared_once_per_list():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = _project()
    lists = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    for name, requirements in lists.items():
        names = [canonicalize_name(Requirement(r).name) for r in requirements]
        assert len(names) == len(set(names)), f"{name} repeats {sorted({n for n in names if names.count(n) > 1})}"


def test_dev_pulls_every_image_extra():
    dev = _project()["optional-dependencies"]["dev"]
    assert "llm-twin[pipeline,training,serving]" in dev
    everything = installed_by("dev")
    for extra in IMAGE_EXTRA.values():
        assert installed_by(extra) <= everything, extra


def test_api_image_leaves_out_the_dagster_ui_and_the_training_stack():
    assert not NOT_IN_API & installed_by("serving")
    assert not {"dagster-webserver", "trl", "deepspeed"} & installed_by("pipeline")
    assert not {"dagster", "fastapi", "langfuse", "pymilvus"} & installed_by("training")


@pytest.mark.parametrize("image", sorted(IMAGE_EXTRA))
def test_image_code_finds_every_import(image):
    ours, external = _reach(image)
    # Exactly the packages it runs: none missing, none copied for nothing.
    assert {m.split(".")[0] for m in ours} == _copied_packages(image), image
    installed = installed_by(IMAGE_EXTRA[image])
    missing = {name: sorted(distributions_of(name)) or "unknown"
               for name in external if not distributions_of(name) & installed}
    assert not missing, f"{image} imports what .[{IMAGE_EXTRA[image]}] does not install: {missing}"


def test_every_declared_dependency_is_used():
    """Nothing is declared for an image that no code of any image imports (no dead weight)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = _project()
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    for extra in IMAGE_EXTRA.values():
        declared |= {canonicalize_name(Requirement(r).name)
                     for r in project["optional-dependencies"][extra]}
    imported: set[str] = set()
    for image in IMAGE_EXTRA:
        imported |= {d for name in _reach(image)[1] for d in distributions_of(name)}
    unused = declared - imported - set(RUNTIME_ONLY)
    assert not unused, f"declared but never imported: {sorted(unused)}"
    # The exceptions stay true: declared, and indeed not imported.
    assert set(RUNTIME_ONLY) <= declared and not set(RUNTIME_ONLY) & imported


def test_unused_and_missing_declarations_of_the_past_stay_fixed():
    text = (ROOT / "pyproject.toml").read_text()
    assert "dagster-pandera" not in text and "structlog" not in text
    serving = " ".join(_project()["optional-dependencies"]["serving"])
    assert "requests" in serving and "gql" in serving


def test_the_training_image_runs_the_trainer():
    ours, external = _reach("training")
    assert TRAINER in ours and {"trl", "torch", "transformers"} <= external


def test_the_detectors_see_what_they_should(tmp_path):
    ours, external = reachable(["twin_serving.web.dagster_launcher"])
    assert {"requests", "gql", "dagster_graphql"} <= external
    assert "twin_serving.web.dagster_launcher" in ours
    assert "dagster-graphql" in installed_by("serving") and "gql" in installed_by("serving")
