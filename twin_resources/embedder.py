"""The embedding model as a Dagster resource; the model loads only when an asset asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    from twin_core.embedding import Embedder


class EmbedderResource(ConfigurableResource):
    """FlagEmbedding encoder settings shared by the feature assets and the API."""

    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Model id or local folder. Default: the all-MiniLM-L6-v2 copy shipped in a package (offline). Any BGE id/path works.",
    )
    batch_size: int = Field(32, description="Texts per forward pass (upper bound; batches also respect a token budget).")
    max_tokens_per_batch: int | None = Field(None, description="Padded tokens per forward pass; unset: the backend's measured best.")
    backend: Literal["onnx", "torch"] = Field(
        "onnx",
        description="On CPU, 'onnx' runs the encoder exported to ONNX Runtime (same vectors, faster); 'torch' runs FlagEmbedding's module.",
    )
    cache_dir: str = Field("", description="Folder keeping the ONNX export between runs; empty: export afresh each time.")

    def load(self) -> Embedder:
        from twin_core.embedding import Embedder

        return Embedder(
            self.model,
            batch_size=self.batch_size,
            max_tokens_per_batch=self.max_tokens_per_batch,
            backend=self.backend,
            cache_dir=self.cache_dir or None,
            show_progress=True,
        )
