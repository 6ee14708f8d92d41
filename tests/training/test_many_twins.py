"""Two twins from the two shipped sample authors, each trained in its own partition on one
shared base: each lands in its own registry (``models/twin/<slug>/``), learns only its author's
documents, and predicts its own author's held-out writing better than the other twin does
(bits per byte on each author's test split).

The comparison needs the real SmolLM2-135M-Instruct base: the random tiny model learns generic
character statistics, not a voice, and the twin with more data wins on both authors. About a
minute of CPU; it waits for the background demo so that two LoRA runs never share the cores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.fixtures.authors import materialize_author
from twin_assets import datasets, training
from twin_assets.collection.assets import platform_assets, raw_documents
from twin_assets.features.assets import cleaned_documents
from twin_core.authors import AuthorStore
from twin_core.datasets.store import INSTRUCTION_DATASET, DatasetStore
from twin_core.object_store import LocalFolderStore
from twin_core.registry import TWIN_MODEL, ModelRegistry, twin_registry
from twin_resources.http import CrawlerHttpResource
from twin_resources.llm import InstructionLLMResource
from twin_resources.object_store import LocalObjectStoreResource
from twin_resources.profiles import ProfilesResource
from twin_resources.trainer import TrainerLauncherResource

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).parents[2] / "samples"
SLUGS = ["tamsin-vale", "ines-duarte"]
# The same few updates for both twins, sized for CPU.
TWIN = {"max_length": 160, "max_steps": 4, "per_device_train_batch_size": 2, "learning_rate": 1e-3,
        "gradient_checkpointing": False}
HELD_OUT = 4  # test examples per author scored by each twin


@pytest.fixture(scope="module")
def twins(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("many-twins")
    shutil.copytree(SAMPLES, root / "samples")
    resources = {
        "object_store": LocalObjectStoreResource(root=str(root / "store")),
        "profiles": ProfilesResource(path=str(root / "samples" / "two-authors.yaml")),
        "http": CrawlerHttpResource(),
        "trainer": TrainerLauncherResource(work_dir=str(root / "work")),
        "instruction_llm": InstructionLLMResource(),
    }
    instance = dg.DagsterInstance.ephemeral()
    for slug in SLUGS:  # each author's documents, cleaned, in their partition
        assert materialize_author([*platform_assets, raw_documents, cleaned_documents], resources=resources,
                                  author=slug, instance=instance).success
    # The one shared base under both twins.
    request.getfixturevalue("demo_finished")  # two LoRA runs never share the two cores
    base = str(request.getfixturevalue("smollm2_dir"))
    assert dg.materialize([training.base_model], resources=resources, instance=instance,
                          run_config={"ops": {"base_model": {"config": {"source": base}}}}).success
    for slug in SLUGS:
        result = materialize_author(
            [datasets.instruction_dataset, training.twin_model], resources=resources, author=slug,
            instance=instance, run_config={"ops": {"twin_model": {"config": TWIN}}},
            selection=[datasets.instruction_dataset, training.twin_model])
        assert result.success
    return LocalFolderStore(root / "store"), root / "cache"


def _bits_per_byte(model_dir: Path, texts: dict[str, list]) -> dict[str, float]:
    """The twin's bits per byte on each author's held-out conversations (one model load)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from twin_core.training.evaluation import answer_likelihood

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return {author: answer_likelihood(model, tokenizer, conversations).bits_per_byte
            for author, conversations in texts.items()}


def test_each_twin_is_registered_and_trained_on_its_own_author_only(twins):
    store, _ = twins
    for slug in SLUGS:
        twin = twin_registry(store, slug)
        assert twin.versions() == ["v1"]
        assert store.exists(f"models/twin/{slug}/v1/model_card.json")
        dataset = twin.card("v1")["dataset"]["version"]
        assert DatasetStore(AuthorStore(store, slug)).latest(INSTRUCTION_DATASET) == dataset
    # Nothing is left at the pre-partition place of a single twin.
    assert ModelRegistry(store, TWIN_MODEL).versions() == []
    tamsin, ines = (twin_registry(store, s).card("v1")["dataset"]["version"] for s in SLUGS)
    assert tamsin != ines


def test_each_twin_predicts_its_own_author_better_than_the_other_twin_does(twins):
    store, cache = twins
    # Read in place: the registry is a local folder here (materializing would copy 0.5 GB each).
    models = {slug: Path(store.root) / f"models/twin/{slug}/v1/model" for slug in SLUGS}
    held_out = {}
    for slug in SLUGS:
        version = twin_registry(store, slug).card("v1")["dataset"]["version"]
        rows = DatasetStore(AuthorStore(store, slug)).read(INSTRUCTION_DATASET, "test", version)
        held_out[slug] = [row["messages"] for row in rows][:HELD_OUT]
        assert held_out[slug], f"{slug} has no held-out examples"
    bpb = {(twin, text): value for twin in SLUGS for text, value in _bits_per_byte(models[twin], held_out).items()}
    for author in SLUGS:
        other = next(s for s in SLUGS if s != author)
        assert bpb[(author, author)] < bpb[(other, author)], bpb
    print("bits per byte (twin, text):", {f"{t} on {x}": round(v, 4) for (t, x), v in bpb.items()})
