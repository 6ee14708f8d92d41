"""The retrieval side of the API: the query embedder and the Milvus index, opened lazily.

The API starts (and answers /health) while Milvus is down; requests that need it get a 503 with
the reason, and the next request tries to connect again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from twin_serving.rag.retrieval import Hit, Retrieval, retrieve
from twin_serving.settings import ServingSettings


class RetrievalUnavailable(RuntimeError):
    """Milvus (or the embedder) cannot serve the search."""


class Retriever:
    def __init__(self, settings: ServingSettings, embedder=None, index=None):
        self.settings = settings
        self._embedder = embedder
        self._index = index
        self._lock = threading.Lock()

    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from twin_core.embedding import Embedder

                self._embedder = Embedder()
            return self._embedder

    @property
    def embedding_model(self) -> str:
        return str(getattr(self._embedder, "model_name", "") or "")

    def index(self):
        """The chunk collection of the embedder's model (its name carries model and dimension)."""
        embedder = self.embedder
        with self._lock:
            if self._index is None:
                uri = self.settings.milvus_uri
                if not uri:
                    raise RetrievalUnavailable("no Milvus to search: set TWIN_MILVUS_URI")
                from twin_core.vector_index import VectorIndex

                options = {"token": self.settings.milvus_token.get_secret_value(), "timeout": 10.0}
                try:
                    if self.settings.milvus_collection:
                        index = VectorIndex(uri, collection=self.settings.milvus_collection,
                                            dimension=embedder.dimension, **options)
                    else:
                        index = VectorIndex.for_model(uri, embedder.model_name, embedder.dimension,
                                                      **options)
                    exists = index.exists()
                except Exception as error:
                    raise RetrievalUnavailable(
                        f"Milvus at {uri} is not reachable: {_first_line(error)}"
                    ) from error
                if not exists:
                    index.close()
                    raise RetrievalUnavailable(
                        f"Milvus has no collection {index.collection} yet: materialize chunk_embeddings"
                    )
                self._index = index
            return self._index

    def search(self, queries: Sequence[str], k: int, filter_expr: str | None,
               *, with_vectors: bool = False) -> Retrieval:
        """Blocking; run in a worker thread. ``with_vectors``: hits carry their embeddings."""
        index = self.index()
        embedder = self.embedder
        try:
            return retrieve(embedder, index, queries, k, filter_expr, with_vectors=with_vectors)
        except RetrievalUnavailable:
            raise
        except Exception as error:
            if _is_milvus_error(error):
                with self._lock:
                    self._index = None  # reconnect on the next request
                raise RetrievalUnavailable(f"Milvus search failed: {_first_line(error)}") from error
            raise

    def vectors_for(self, hits: Sequence[Hit]) -> list[list[float]]:
        """Embeddings of the hits: returned with them, else read back from Milvus by id (one
        query, much cheaper than embedding the texts again), else computed."""
        known = {h.id: list(h.vector) for h in hits if h.vector is not None}
        missing = [h.id for h in hits if h.id not in known]
        getter = getattr(self._index, "get", None)
        if missing and callable(getter):
            try:
                rows = getter(missing, with_vectors=True)
                known.update({str(r["id"]): list(map(float, r["vector"])) for r in rows})
            except Exception as error:
                if not _is_milvus_error(error):
                    raise
                raise RetrievalUnavailable(f"Milvus read failed: {_first_line(error)}") from error
        still = [h for h in hits if h.id not in known]
        if still:
            vectors = self.embedder.encode_documents([h.text for h in still])
            known.update({h.id: list(map(float, v)) for h, v in zip(still, vectors, strict=True)})
        return [known[h.id] for h in hits]

    def ready(self) -> tuple[bool, str]:
        try:
            count = self.index().count()
            return True, f"{count} chunks"
        except Exception as error:
            with self._lock:
                self._index = None
            return False, _first_line(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _is_milvus_error(error: BaseException) -> bool:
    module = type(error).__module__ or ""
    return module.startswith(("pymilvus", "grpc")) or isinstance(error, ConnectionError | TimeoutError)
