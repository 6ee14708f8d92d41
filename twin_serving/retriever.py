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


def local_milvus_uri() -> str:
    """The URI of the local Milvus Lite server started by the project, or ''."""
    try:
        from twin_core import milvus_server
    except ImportError:
        return ""
    finder = getattr(milvus_server, "local_uri", None)
    return finder() if callable(finder) else ""


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
        with self._lock:
            if self._index is None:
                uri = self.settings.milvus_uri or local_milvus_uri()
                if not uri:
                    raise RetrievalUnavailable(
                        "no Milvus to search: set TWIN_MILVUS_URI or start the local server"
                    )
                try:
                    from twin_core.vector_index import VectorIndex

                    self._index = VectorIndex(
                        uri=uri, token=self.settings.milvus_token.get_secret_value()
                    )
                except Exception as error:
                    raise RetrievalUnavailable(f"Milvus at {uri} is not reachable: {error}") from error
            return self._index

    def search(self, queries: Sequence[str], k: int, filter_expr: str | None) -> Retrieval:
        """Blocking; run in a worker thread."""
        index = self.index()
        embedder = self.embedder
        try:
            return retrieve(embedder, index, queries, k, filter_expr)
        except RetrievalUnavailable:
            raise
        except Exception as error:
            if _is_milvus_error(error):
                with self._lock:
                    self._index = None  # reconnect on the next request
                raise RetrievalUnavailable(f"Milvus search failed: {error}") from error
            raise

    def vectors_for(self, hits: Sequence[Hit]) -> list[list[float]]:
        """Embeddings of the hits: from the index when it returned them, else computed."""
        missing = [h.text for h in hits if h.vector is None]
        computed = iter(self.embedder.encode_documents(missing)) if missing else iter(())
        return [list(h.vector) if h.vector is not None else list(map(float, next(computed)))
                for h in hits]

    def ready(self) -> tuple[bool, str]:
        try:
            index = self.index()
            check = getattr(index, "ping", None) or getattr(index, "count", None)
            if callable(check):
                check()
            return True, "ok"
        except Exception as error:
            with self._lock:
                self._index = None
            return False, str(error).splitlines()[0][:300]


def _is_milvus_error(error: BaseException) -> bool:
    module = type(error).__module__ or ""
    return module.startswith(("pymilvus", "grpc")) or isinstance(error, ConnectionError | TimeoutError)
