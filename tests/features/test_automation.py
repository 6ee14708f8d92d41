"""Declarative automation of the features: a new raw_documents data version re-runs cleaning,
chunking and embedding in one tick; a collection that found nothing new starts nothing."""

import dagster as dg

from twin_assets.authors import AUTHORS
from twin_assets.automation import EMBEDDING_POOL
from twin_assets.collection.assets import raw_documents
from twin_assets.datasets.assets import instruction_dataset
from twin_assets.features import defs as feature_defs
from twin_assets.features.assets import chunk_embeddings
from twin_assets.features.jobs import features_job
from twin_core.authors import AuthorStore
from twin_core.documents import Document
from twin_core.object_store import LocalFolderStore
from twin_core.settings import Settings
from twin_core.warehouse import DocumentWarehouse
from twin_resources.embedder import EmbedderResource
from twin_resources.milvus import MilvusResource
from twin_resources.object_store import LocalObjectStoreResource
from twin_resources.profiles import ProfilesResource
from twin_resources.sets import local_resources

FEATURES = {"cleaned_documents", "chunks", "chunk_embeddings"}


def post(text, author="Ana"):
    return Document.create(
        platform="linkedin", category="post", author=author, url="https://linkedin.com/posts/1", title="P", content=text
    )


def test_new_documents_of_one_author_request_only_that_authors_features_and_dataset(tmp_path):
    settings = Settings(home=tmp_path)
    store = LocalFolderStore(settings.store_root)
    warehouses = {slug: DocumentWarehouse(AuthorStore(store, slug)) for slug in ("ana", "ben")}
    # The local resource set; conditions are only evaluated, so Milvus and the models go unused.
    resources = local_resources(settings)
    assets = [raw_documents, *feature_defs.assets, instruction_dataset]
    definitions = dg.Definitions(assets=assets, resources=resources)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(AUTHORS.name, ["ana", "ben"])
    cursor = None

    def tick() -> dict[str, set[str]]:
        """asset -> the author partitions this tick requests."""
        nonlocal cursor
        result = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=cursor)
        cursor = result.cursor
        requested = {a.key.to_user_string(): set(result.get_requested_partitions(a.key)) for a in assets}
        return {name: keys for name, keys in requested.items() if keys}

    def collect(slug):
        assert dg.materialize([raw_documents], resources=resources, instance=instance, partition_key=slug).success

    assert tick() == {}  # nothing collected yet: nothing to build

    warehouses["ana"].upsert(post("First version."))
    warehouses["ben"].upsert(post("Ben's first.", author="Ben"))
    collect("ana")
    collect("ben")
    # Each author's new data version starts their feature chain and dataset together.
    assert tick() == {name: {"ana", "ben"} for name in FEATURES | {"instruction_dataset"}}
    assert tick() == {}  # requested once, not on every tick

    collect("ana")  # re-collected, nothing changed: same data version, nothing downstream
    assert tick() == {}

    warehouses["ana"].upsert(post("Second version."))
    collect("ana")
    collect("ben")  # Ben re-collected with nothing new
    assert tick()["cleaned_documents"] == {"ana"}  # Ana's features again; Ben's stay as they are


def test_embedding_holds_a_pool_slot_and_the_job_holds_the_feature_assets(tmp_path):
    assert chunk_embeddings.op.pool == EMBEDDING_POOL
    definitions = dg.Definitions(
        assets=[raw_documents, *feature_defs.assets], jobs=[features_job],
        resources={
            "object_store": LocalObjectStoreResource(root=str(tmp_path)),
            "embedder": EmbedderResource(), "milvus": MilvusResource(),
            "profiles": ProfilesResource(path=str(tmp_path / "twin.yaml")),
        },
    )
    job = definitions.resolve_job_def("features_job")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert selected == FEATURES
