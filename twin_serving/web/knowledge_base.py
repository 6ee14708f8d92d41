"""Size of the knowledge base: rows in the Milvus collection the API retrieves from."""

from __future__ import annotations

from typing import Any


def knowledge_base_size(state: Any) -> dict[str, Any]:
    """Asks the API's own retriever, so the page counts exactly what answers search."""
    service = getattr(state, "service", None)
    if service is None:
        raise LookupError("the API is still starting")
    index = service.retriever.index()  # RetrievalUnavailable names the reason
    count = getattr(index, "count", None)
    if not callable(count):
        raise LookupError("the vector index cannot report its size")
    return {"chunks": int(count())}
