"""The retrieval side of the API: the query embedder and the Milvus index, opened lazily.

The API starts (and answers /health) while Milvus is down; requests that need it get a 503 with
a sentence saying what to do. While Milvus is down, requests fail fast: after a failed attempt,
the next ``FAIL_FAST_S`` seconds answer at once with the same reason instead of each holding a
worker through a connection timeout; then the next request tries again. ``ready`` always tries
for real: a one-hit search, the path every request takes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from twin_core.chunking import Hit
from twin_core.settings import Settings
from twin_serving.rag.retrieval import Retrieval, retrieve

log = logging.getLogger(__name__)

FAIL_FAST_S = 2.0
CONNECT_TIMEOUT_S = 10.0
READY_PROBE = "readiness probe"


class RetrievalUnavailable(RuntimeError):
    """Milvus (or the embedder) cannot serve the search."""


def _unreachable(uri: str) -> str:
    return (f"Milvus at {uri} is not answering: start it with `twin milvus start` "
            "(or set TWIN_MILVUS_URI to a running Milvus).")


def _failed(uri: str) -> str:
    return (f"Milvus at {uri} could not run the search: try again in a moment; if it keeps "
            "failing, check `twin milvus status` and the Milvus log.")


class Retriever:
    def __init__(self, settings: Settings, embedder=None, index=None):
        self.settings = settings
        self._embedder = embedder
        self._index = index
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down_reason = ""

    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from twin_core.embedding import Embedder, embedder_options

                # The pipeline's own model and backend, so queries land in the collection it wrote.
                self._embedder = Embedder(**embedder_options(self.settings))
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
                    raise RetrievalUnavailable(
                        "No Milvus is configured: set TWIN_MILVUS_URI (locally `twin milvus start` "
                        "serves http://127.0.0.1:19530).")
                from twin_core.vector_index import VectorIndex

                options = {"token": self.settings.milvus_token.get_secret_value(),
                           "timeout": CONNECT_TIMEOUT_S}
                try:
                    if self.settings.serving.milvus_collection:
                        index = VectorIndex(uri, collection=self.settings.serving.milvus_collection,
                                            dimension=embedder.dimension, **options)
                    else:
                        index = VectorIndex.for_model(uri, embedder.model_name, embedder.dimension,
                                                      **options)
                    exists = index.exists()
                except Exception as error:
                    log.warning("Milvus at %s: %s", uri, _first_line(error))
                    raise RetrievalUnavailable(_unreachable(uri)) from error
                if not exists:
                    index.close()
                    raise RetrievalUnavailable(
                        f"Milvus has no collection {index.collection} yet: index the writing first "
                        "(`make demo`, or materialize chunk_embeddings in Dagster)."
                    )
                self._index = index
            return self._index

    def search(self, queries: Sequence[str], k: int, filter_expr: str | None,
               *, with_vectors: bool = False) -> Retrieval:
        """Blocking; run in a worker thread. ``with_vectors``: hits carry their embeddings."""
        self._fail_fast()
        return self._guarded(lambda index: retrieve(self.embedder, index, queries, k, filter_expr,
                                                    with_vectors=with_vectors))

    def size(self) -> tuple[int, str]:
        """Rows in the collection and its name, read live (the status panel bounds the wait)."""
        return self._guarded(lambda index: (index.count(), index.collection))

    def _fail_fast(self) -> None:
        if time.monotonic() < self._down_until:
            raise RetrievalUnavailable(self._down_reason)

    def _guarded(self, work):
        """``work(index)``, with Milvus failures turned into sentences and remembered briefly."""
        try:
            index = self.index()
            return work(index)
        except RetrievalUnavailable as error:
            self._mark_down(str(error))
            raise
        except Exception as error:
            if not _is_milvus_error(error):
                raise
            log.warning("Milvus search failed: %s", _first_line(error))
            with self._lock:
                self._index = None  # reconnect on the next request
            uri = self.settings.milvus_uri
            message = _unreachable(uri) if _is_connection_error(error) else _failed(uri)
            self._mark_down(message)
            raise RetrievalUnavailable(message) from error

    def _mark_down(self, reason: str) -> None:
        self._down_reason = reason
        self._down_until = time.monotonic() + FAIL_FAST_S

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
                log.warning("Milvus read failed: %s", _first_line(error))
                raise RetrievalUnavailable(_failed(self.settings.milvus_uri)) from error
        still = [h for h in hits if h.id not in known]
        if still:
            vectors = self.embedder.encode_documents([h.text for h in still])
            known.update({h.id: list(map(float, v)) for h, v in zip(still, vectors, strict=True)})
        return [known[h.id] for h in hits]

    def ready(self) -> tuple[bool, str]:
        """A real one-hit search (as requests do it), then the collection's size."""

        def probe(index) -> int:
            index.search(self.embedder.encode_queries([READY_PROBE]), k=1)
            return index.count()

        try:
            count = self._guarded(probe)
        except RetrievalUnavailable as error:
            return False, str(error)
        self._down_until = 0.0
        return True, f"searched {count} chunks"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _is_milvus_error(error: BaseException) -> bool:
    module = type(error).__module__ or ""
    return module.startswith(("pymilvus", "grpc")) or isinstance(error, ConnectionError | TimeoutError)


def _is_connection_error(error: BaseException) -> bool:
    """Milvus is not answering at all (down, wrong address), as opposed to failing a request."""
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    text = str(error).lower()
    return getattr(error, "code", None) == 2 or any(
        w in text for w in ("fail connecting", "unavailable", "deadline exceeded", "connection refused")
    )
