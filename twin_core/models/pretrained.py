"""A pretrained base model (an HF Hub id or a local folder) copied as published into a folder
the registry stores: weights in their own dtype (a bf16 70B base stays 140 GB, not 280 GB in
fp32), config, tokenizer and chat template, without loading the model into memory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

# What a causal LM needs to load and to chat; optimizer states, GGUF/ONNX copies and READMEs
# stay on the Hub.
PATTERNS = ["*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json",
            "tokenizer*", "special_tokens_map.json", "chat_template.*", "*.model", "vocab.*", "merges.txt"]


class BaseModelUnavailable(LookupError):
    """The base model cannot be fetched; the message says what to do."""


def _selected(folder: Path) -> list[Path]:
    return sorted({p for pattern in PATTERNS for p in folder.glob(pattern) if p.is_file()})


def _check_weights(folder: Path, source: str) -> None:
    if not list(folder.glob("*.safetensors")):
        raise BaseModelUnavailable(
            f"{source} has no safetensors weights (only pickled .bin files or none): use a "
            "revision or a mirror that publishes safetensors, or convert it with save_pretrained"
        )


def fetch_pretrained(source: str, folder: Path) -> dict[str, Any]:
    """Copy ``source`` (a local folder, else a Hub id, optionally ``id@revision``) into
    ``folder``; returns its provenance for the model card."""
    local = Path(source).expanduser()
    if local.is_dir():
        _check_weights(local, source)
        for path in _selected(local):
            shutil.copy2(path, folder / path.name)
        return {"folder": str(local.resolve())}
    return _download(source, folder)


def _download(source: str, folder: Path) -> dict[str, Any]:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id, _, revision = source.partition("@")
    try:
        # Pinned to a commit first, so the card names exactly what was downloaded.
        commit = HfApi().model_info(repo_id, revision=revision or None).sha
        snapshot_download(repo_id, revision=commit, local_dir=folder, allow_patterns=PATTERNS)
    except GatedRepoError as error:
        raise BaseModelUnavailable(
            f"{repo_id} is gated: accept its license on the Hub and set HF_TOKEN to a token that may read it") from error
    except RepositoryNotFoundError as error:
        raise BaseModelUnavailable(
            f"{repo_id} is not a model on the Hub (or is private): check the id, or set HF_TOKEN") from error
    except RevisionNotFoundError as error:
        raise BaseModelUnavailable(f"{repo_id} has no revision {revision!r}: give a branch, tag or commit") from error
    except LocalEntryNotFoundError as error:
        raise BaseModelUnavailable(
            f"{repo_id} is not in the local cache and the Hub cannot be reached here (HF_HUB_OFFLINE is set, "
            "or no network): download it where the Hub is reachable, or give a local folder") from error
    except HfHubHTTPError as error:
        raise BaseModelUnavailable(f"the Hub refused {repo_id}: {str(error).splitlines()[0]}") from error
    except OSError as error:  # offline mode, no route, DNS: the Hub cannot be reached
        raise BaseModelUnavailable(
            f"{repo_id} cannot be downloaded: the Hub is not reachable from here ({type(error).__name__}); "
            "unset HF_HUB_OFFLINE where the network allows it, or give a local folder") from error
    shutil.rmtree(folder / ".cache", ignore_errors=True)  # the download's own bookkeeping
    _check_weights(folder, source)
    return {"repo_id": repo_id, "revision": commit}
