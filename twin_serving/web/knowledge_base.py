"""Size of the knowledge base: rows in the Milvus collection the API retrieves from."""

from __future__ import annotations

from typing import Any


def knowledge_base_size(state: Any) -> dict[str, Any]:
    """Asks the API's own retriever, so the page counts exactly what answers search: the chunks
    in its collection (``VectorIndex.count``)."""
    service = getattr(state, "service", None)
    if service is None:
        raise LookupError("the API is still starting")
    chunks, collection = service.retriever.size()  # RetrievalUnavailable names the reason
    return {"chunks": chunks, "collection": collection}
