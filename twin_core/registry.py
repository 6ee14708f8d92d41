"""The model registry on object storage (local folder | S3): versions, model cards, aliases.

Layout::

    models/<name>/<version>/model/...         merged, directly loadable HF folder (weights + tokenizer)
    models/<name>/<version>/adapter/...       LoRA adapter, when the version was trained with one
    models/<name>/<version>/model_card.json   base model, dataset version, hyperparameters, metrics,
                                              code revision, created_at
    models/<name>/aliases/<alias>             the version an alias names (e.g. ``production``)

The card is written last, so a version without a card is an interrupted upload and is ignored.
Versions of the twin are ``v1``, ``v2``, ...; the base model's version is a content hash of its
files, so re-registering the same base model is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from twin_core.documents import utc_now
from twin_core.object_store import ObjectNotFound, ObjectStore, download_folder, upload_folder

TWIN_MODEL = "twin"
BASE_MODEL = "base"
PRODUCTION = "production"
LATEST = "latest"
CARD = "model_card.json"
_VERSION_RE = re.compile(r"^v(\d+)$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ModelNotFound(LookupError):
    """No such model version or alias in the registry."""


def folder_hash(folder: str | os.PathLike[str]) -> str:
    """Content hash of every file under ``folder`` (paths and bytes), order-independent."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_revision() -> str:
    """``TWIN_CODE_REVISION`` (set by CI/images) or the git commit of this checkout."""
    if os.environ.get("TWIN_CODE_REVISION"):
        return os.environ["TWIN_CODE_REVISION"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=5, check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class ModelRegistry:
    """Versions of one named model (``twin`` or ``base``) on an object store."""

    def __init__(self, store: ObjectStore, name: str = TWIN_MODEL):
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid model name {name!r}")
        self.store = store
        self.name = name
        self.prefix = f"models/{name}"

    # -- versions -------------------------------------------------------------------------------
    def versions(self) -> list[str]:
        """Complete versions (card present), oldest first."""
        found = set()
        for key in self.store.list_keys(f"{self.prefix}/"):
            parts = key[len(self.prefix) + 1:].split("/")
            if len(parts) == 2 and parts[1] == CARD and parts[0] != "aliases":
                found.add(parts[0])
        return sorted(found, key=self._order_key)

    def _order_key(self, version: str) -> tuple[int, str]:
        match = _VERSION_RE.match(version)
        if match:
            return (int(match.group(1)), version)
        return (0, self.card(version).get("created_at", "") + version)

    def _next_version(self) -> str:
        numbers = [0]
        for key in self.store.list_keys(f"{self.prefix}/"):
            match = _VERSION_RE.match(key[len(self.prefix) + 1:].split("/")[0])
            if match:
                numbers.append(int(match.group(1)))
        return f"v{max(numbers) + 1}"

    def register(
        self,
        model_dir: str | os.PathLike[str] | None,
        card: dict[str, Any],
        *,
        adapter_dir: str | os.PathLike[str] | None = None,
        version: str | None = None,
    ) -> str:
        """Upload a merged model folder and/or its adapter, then its card; returns the version.

        ``model_dir=None`` registers an adapter alone (``export: "adapter"`` on the card): its
        merged model is made on first use (``materialize_version``). ``version=None`` takes the
        next ``vN``. A given version that already has a card is kept as it is (idempotent
        re-registration of the same content).
        """
        if model_dir is None:
            if adapter_dir is None or not (Path(adapter_dir) / "adapter_config.json").is_file():
                raise ValueError(f"{adapter_dir} is not a LoRA adapter folder (no adapter_config.json)")
            if not isinstance(card.get("base_model"), dict) or not card["base_model"].get("version"):
                raise ValueError("an adapter-only version needs the base_model version on its card")
        elif not (Path(model_dir) / "config.json").is_file():
            raise ValueError(f"{model_dir} is not a Hugging Face model folder (no config.json)")
        version = version or self._next_version()
        if not _NAME_RE.match(version) or version == "aliases":
            raise ValueError(f"invalid version {version!r}")
        if self.store.exists(self._card_key(version)):
            return version
        base = f"{self.prefix}/{version}"
        if model_dir is not None:
            upload_folder(self.store, model_dir, f"{base}/model")
        if adapter_dir is not None:
            upload_folder(self.store, adapter_dir, f"{base}/adapter")
        full = {
            "name": self.name,
            "version": version,
            "created_at": utc_now(),
            "code_revision": code_revision(),
            "has_adapter": adapter_dir is not None,
            "export": "merged" if model_dir is not None else "adapter",
            "metrics": {},
            **card,
        }
        self._write_card(version, full)
        return version

    def find(self, **fields: Any) -> str | None:
        """The newest version whose card matches every given field (e.g. a training fingerprint)."""
        for version in reversed(self.versions()):
            card = self.card(version)
            if all(card.get(k) == v for k, v in fields.items()):
                return version
        return None

    # -- cards ----------------------------------------------------------------------------------
    def _card_key(self, version: str) -> str:
        return f"{self.prefix}/{version}/{CARD}"

    def _write_card(self, version: str, card: dict[str, Any]) -> None:
        data = json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False).encode()
        self.store.put_bytes(self._card_key(version), data)

    def card(self, version_or_alias: str) -> dict[str, Any]:
        version = self.resolve(version_or_alias)
        return json.loads(self.store.get_bytes(self._card_key(version)))

    def cards(self) -> list[dict[str, Any]]:
        return [self.card(version) for version in self.versions()]

    def update_card(self, version_or_alias: str, **fields: Any) -> dict[str, Any]:
        """Merge fields into a card; ``metrics`` is merged key by key, not replaced."""
        version = self.resolve(version_or_alias)
        card = self.card(version)
        for key, value in fields.items():
            if key == "metrics" and isinstance(value, dict):
                card["metrics"] = {**card.get("metrics", {}), **value}
            else:
                card[key] = value
        self._write_card(version, card)
        return card

    # -- aliases --------------------------------------------------------------------------------
    def _alias_key(self, alias: str) -> str:
        if not _NAME_RE.match(alias):
            raise ValueError(f"invalid alias {alias!r}")
        return f"{self.prefix}/aliases/{alias}"

    def set_alias(self, alias: str, version: str) -> None:
        if not self.store.exists(self._card_key(version)):
            raise ModelNotFound(f"{self.name} has no version {version!r}")
        self.store.put_bytes(self._alias_key(alias), version.encode())

    def get_alias(self, alias: str) -> str | None:
        try:
            return self.store.get_bytes(self._alias_key(alias)).decode().strip() or None
        except ObjectNotFound:
            return None

    def aliases(self) -> dict[str, str]:
        """alias -> version."""
        out = {}
        for key in self.store.list_keys(f"{self.prefix}/aliases/"):
            alias = key.rsplit("/", 1)[-1]
            version = self.get_alias(alias)
            if version:
                out[alias] = version
        return out

    def resolve(self, version_or_alias: str) -> str:
        """A version stays itself; an alias becomes the version it names."""
        if _NAME_RE.match(version_or_alias) and self.store.exists(self._card_key(version_or_alias)):
            return version_or_alias
        version = self.get_alias(version_or_alias) if _NAME_RE.match(version_or_alias) else None
        if version is None or not self.store.exists(self._card_key(version)):
            known = ", ".join(self.versions()) or "none"
            raise ModelNotFound(
                f"{self.name} has no version or alias {version_or_alias!r} (versions: {known})"
            )
        return version

    # -- download -------------------------------------------------------------------------------
    def materialize_version(
        self, version_or_alias: str, cache_dir: str | os.PathLike[str], part: str = "model"
    ) -> Path:
        """Download a version's merged model (or ``part="adapter"``) into ``cache_dir``; for an
        adapter-only version the merged model is made here from its base and adapter.

        Returns a folder ``from_pretrained`` loads. Versions are immutable, so a folder already
        in the cache is reused; downloads and merges land in a temp folder first so a crash
        leaves no half model behind.
        """
        version = self.resolve(version_or_alias)
        # The registry's own place in the store (an author's twin: twin/<slug>), so two authors'
        # v1 never share a cache folder.
        place = getattr(self.store, "key", lambda key: key)(self.prefix).removeprefix("models/")
        target = Path(cache_dir) / place / version / part
        if (target / "config.json").is_file() or (target / "adapter_config.json").is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        card = self.card(version) if part == "model" else {}
        merge_here = card.get("export") == "adapter"
        if merge_here:
            adapter = self.materialize_version(version, cache_dir, part="adapter")
            base_dir = ModelRegistry(self.store, BASE_MODEL).materialize_version(
                card["base_model"]["version"], cache_dir)
        scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{part}."))
        try:
            if merge_here:
                from twin_core.models.merge import merge_adapter

                merge_adapter(base_dir, adapter, scratch)
            else:
                download_folder(self.store, f"{self.prefix}/{version}/{part}", scratch)
            try:
                scratch.rename(target)
            except OSError:  # another process won the race; its copy is identical
                shutil.rmtree(scratch, ignore_errors=True)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return target


def production_twins(store: ObjectStore) -> dict[str, str]:
    """author slug -> the version of their twin in production (``models/twin/<slug>/``)."""
    found = {}
    for key in store.list_keys(f"models/{TWIN_MODEL}/"):
        parts = key.split("/")
        if len(parts) == 5 and parts[3] == "aliases" and parts[4] == PRODUCTION:
            version = store.get_bytes(key).decode().strip()
            if version:
                found[parts[2]] = version
    return found


def twin_registry(store: ObjectStore, slug: str) -> ModelRegistry:
    """The author's twin registry: ``models/twin/<slug>/``."""
    from twin_core.authors import AuthorStore

    return ModelRegistry(AuthorStore(store, slug), TWIN_MODEL)


def resolve_served_model(store: ObjectStore, cache_dir: str | os.PathLike[str]) -> tuple[Path, str]:
    """The one model to serve: the production twin when exactly one author has one (the usual
    single-author case), else the latest base model (several twins are served as adapters on
    it, see ``twin serve-model --adapters-from-registry``).

    Returns ``(local folder, "name/version")``. Raises ``ModelNotFound`` when neither exists.
    """
    twins = production_twins(store)
    if len(twins) == 1:
        (slug, version), = twins.items()
        return twin_registry(store, slug).materialize_version(version, cache_dir), f"{TWIN_MODEL}/{slug}/{version}"
    base = ModelRegistry(store, BASE_MODEL)
    if base.get_alias(LATEST):
        version = base.resolve(LATEST)
        return base.materialize_version(version, cache_dir), f"{BASE_MODEL}/{version}"
    raise ModelNotFound("no production twin and no base model yet: materialize base_model first")
