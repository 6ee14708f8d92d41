"""The embedding model as a Dagster resource; the model loads only when an asset asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    max_tokens_per_batch: int = Field(4096, description="Padded tokens per forward pass.")
    quantize: bool = Field(False, description="int8 dynamic quantization on CPU (faster, slightly different vectors).")

    def load(self) -> Embedder:
        from twin_core.embedding import Embedder

        return Embedder(
            self.model,
            batch_size=self.batch_size,
            max_tokens_per_batch=self.max_tokens_per_batch,
            quantize=self.quantize,
            show_progress=True,
        )
