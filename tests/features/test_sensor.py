"""features_sensor asks for a features run only when raw_documents materializes with change."""

import dagster as dg

from twin_assets.collection.assets import raw_documents
from twin_assets.features import defs as feature_defs
from twin_assets.features.sensors import features_job, features_sensor
from twin_core.documents import Document
from twin_core.object_store import LocalFolderStore
from twin_core.warehouse import DocumentWarehouse
from twin_resources.embedder import EmbedderResource
from twin_resources.milvus import MilvusResource
from twin_resources.object_store import LocalObjectStoreResource


def post(text):
    return Document.create(
        platform="linkedin", category="post", author="Ana", url="https://linkedin.com/posts/1", title="P", content=text
    )


def test_sensor_fires_on_change_and_stays_quiet_otherwise(tmp_path):
    warehouse = DocumentWarehouse(LocalFolderStore(tmp_path))
    resources = {"object_store": LocalObjectStoreResource(root=str(tmp_path))}
    # The sensor never runs the job here, so Milvus and the model are configured but not used.
    definitions = dg.Definitions(
        assets=[raw_documents, *feature_defs.assets], jobs=[features_job], sensors=[features_sensor],
        resources={**resources, "embedder": EmbedderResource(), "milvus": MilvusResource()},
    )
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions)
        result = features_sensor.evaluate_tick(context)
        return result, context.cursor

    def collect():
        assert dg.materialize([raw_documents], resources=resources, instance=instance).success

    result, cursor = tick(None)
    assert not result.run_requests and "not been materialized" in result.skip_message

    warehouse.upsert(post("First version."))
    collect()
    result, cursor = tick(cursor)
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags["twin/compute"] == "embedding"
    assert features_job.tags["twin/compute"] == "embedding"

    result, cursor = tick(cursor)  # no new materialization
    assert not result.run_requests

    collect()  # re-materialized, nothing changed
    result, cursor = tick(cursor)
    assert not result.run_requests and "unchanged" in result.skip_message

    warehouse.upsert(post("Second version."))
    collect()
    result, cursor = tick(cursor)
    assert len(result.run_requests) == 1


def test_sensor_runs_by_default_and_its_job_holds_the_feature_assets(tmp_path):
    assert features_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    definitions = dg.Definitions(
        assets=[raw_documents, *feature_defs.assets], jobs=[features_job],
        resources={
            "object_store": LocalObjectStoreResource(root=str(tmp_path)),
            "embedder": EmbedderResource(), "milvus": MilvusResource(),
        },
    )
    job = definitions.resolve_job_def("features_job")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert selected == {"cleaned_documents", "chunks", "chunk_embeddings"}
