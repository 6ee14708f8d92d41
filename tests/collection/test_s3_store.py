"""The production object-store path (dagster-aws S3 resource) against a moto S3 server on
127.0.0.1: moto stands in for S3 because the real service cannot be reached from tests."""

import boto3
import pytest
from dagster_aws.s3 import S3Resource
from moto.server import ThreadedMotoServer

from twin_core.documents import Document
from twin_core.object_store import ObjectNotFound
from twin_core.warehouse import DocumentWarehouse
from twin_resources.object_store import S3ObjectStoreResource

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_warehouse_on_s3_through_dagster_aws_resource(s3_endpoint):
    boto3.client("s3", endpoint_url=s3_endpoint, **KEYS).create_bucket(Bucket="twin")
    resource = S3ObjectStoreResource(
        s3=S3Resource(endpoint_url=s3_endpoint, **KEYS), bucket="twin", prefix="prod"
    )
    store = resource.open()
    warehouse = DocumentWarehouse(store)
    doc = Document.create(platform="web", category="article", author="A", url="https://example.com/a", title="T", content="one")
    assert warehouse.upsert(doc) == "new"
    assert warehouse.upsert(doc) == "unchanged"
    changed = Document.create(platform="web", category="article", author="A", url="https://example.com/a?utm_source=x", title="T", content="two")
    assert warehouse.upsert(changed) == "changed"
    assert [d.content for d in warehouse.documents()] == ["two"]
    assert list(store.list_keys("documents/")) == [f"documents/web/{doc.id}.json"]
    assert store.describe() == "s3://twin/prod"
    raw = boto3.client("s3", endpoint_url=s3_endpoint, **KEYS).list_objects_v2(Bucket="twin")["Contents"]
    assert [o["Key"] for o in raw] == [f"prod/documents/web/{doc.id}.json"]
    warehouse.delete(doc.id, "web")
    assert not store.exists(f"documents/web/{doc.id}.json")
    with pytest.raises(ObjectNotFound):
        store.get_bytes(f"documents/web/{doc.id}.json")
