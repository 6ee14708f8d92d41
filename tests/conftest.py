"""Shared fixtures live in tests/fixtures/ and are registered here as plugins."""

pytest_plugins: list[str] = [
    "tests.fixtures.milvus",
    "tests.fixtures.embedder",
    "tests.fixtures.tiny_model",
    "tests.fixtures.smollm2",
    "tests.fixtures.dagster_webserver",
    "tests.fixtures.loopback",
    "tests.fixtures.background_demo",
]
