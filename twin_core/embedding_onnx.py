"""ONNX Runtime for the ``Embedder``'s encoder forward pass on CPU.

FlagEmbedding still loads the model from its installed folder; its transformer is exported with
``torch.onnx.export`` (no network: the weights are the ones in memory) and ONNX Runtime's
transformer optimizer fuses embedding + layer norm, attention, bias + GELU and residual + layer
norm into single kernels. The graph returns the last hidden state only, so pooling and
normalisation stay with FlagEmbedding and the vectors are the torch module's (cosine > 0.9999).

Exports are cached in content-addressed folders: the key hashes the weights, the export options
and the torch, onnx and ONNX Runtime versions, so another model or an upgrade exports anew and
everything else reuses the file. A file is checked before it is published and appears with one
atomic rename, so a reader never sees half a model or one that failed its check; the temporary
folder of an export killed midway is removed by the next export.

Importing this module is cheap; torch, onnx and onnxruntime load inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

EXPORT_FORMAT = 1  # bump when the exported graph changes, so caches are rebuilt
OPSET = 17
FILE_NAME = "encoder.onnx"
# config.model_type -> the optimizer's fusion patterns (BERT-style encoders share them).
_FUSIONS = {"bert": "bert", "roberta": "bert", "xlm-roberta": "bert"}


def cache_path(network: Any, model_name: str, cache_dir: Path) -> Path:
    """Where the export of ``network`` lives: one folder per weights and toolchain."""
    import onnx
    import onnxruntime
    import torch

    digest = hashlib.blake2b(digest_size=8)
    options = {
        "format": EXPORT_FORMAT,
        "opset": OPSET,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    digest.update(json.dumps(options, sort_keys=True).encode())
    for name, tensor in network.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", model_name).strip("_").lower()
    return cache_dir / f"{slug}-{digest.hexdigest()}" / FILE_NAME


def export(
    network: Any,
    path: Path,
    input_names: Sequence[str],
    check: Callable[[Path], None],
) -> dict[str, int]:
    """Export ``network`` (a transformers encoder) to ``path``; returns the fused operator counts.

    ``check`` gets the finished file before it is published and raises to reject it: a rejected
    or interrupted export leaves nothing at ``path``.
    """
    import onnx
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                inputs["token_type_ids"] = token_type_ids
            return self.encoder(**inputs, return_dict=True).last_hidden_state

    names = list(input_names)
    dummy = tuple(
        torch.zeros((2, 8), dtype=torch.long) if n == "token_type_ids" else torch.ones((2, 8), dtype=torch.long)
        for n in names
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_exports(path.parent)
    stats: dict[str, int] = {}
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about constants in transformers' mask code; the check below is
            # what tells whether the graph is right.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                LastHiddenState(network).eval(),
                dummy,
                str(raw),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter; the dynamo one needs onnxscript
            )
        config = network.config
        model_type = _FUSIONS.get(getattr(config, "model_type", ""))
        if model_type:
            from onnxruntime.transformers.optimizer import optimize_model

            optimized = optimize_model(
                str(raw),
                model_type=model_type,
                num_heads=int(config.num_attention_heads),
                hidden_size=int(config.hidden_size),
            )
            stats = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
            model = optimized.model
        else:
            model = onnx.load(str(raw))
        out = Path(tmp) / path.name
        onnx.save(model, str(out))
        check(out)
        os.replace(out, path)
    return stats


def _remove_stale_exports(folder: Path, older_than_s: float = 3600) -> None:
    """Temporary folders of exports that were killed midway (an export takes seconds)."""
    cutoff = time.time() - older_than_s
    for stale in folder.glob(".export-*"):
        if stale.is_dir() and stale.stat().st_mtime < cutoff:
            shutil.rmtree(stale, ignore_errors=True)


class OnnxEncoder:
    """An exported encoder on ONNX Runtime's CPU provider: numpy inputs in, last hidden state out.

    The session reads the whole file when it is built; the file may go away afterwards.
    """

    def __init__(self, path: Path, *, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads sleep instead of spinning between kernels: other processes share the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {name: inputs[name] for name in self.input_names})[0]
