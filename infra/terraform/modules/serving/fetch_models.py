"""Init container of the engine pod: copy what the engine serves from the model registry on S3.

For each adapter (``ADAPTERS``: JSON ``{adapter id: registry model under models/}``) the
``production`` alias names a version; its model card names the base it was trained on. With
``SERVE_ADAPTERS=1`` every adapter must share one base: the base's weights go to
``$DEST/model`` and each adapter to ``$DEST/adapters/<id>``, so one engine serves every twin.
With ``SERVE_ADAPTERS=0`` (engines or versions without adapter support) the one model's merged
export goes to ``$DEST/model``. ``$DEST/served.json`` records what was copied.

Runs with the serving image's Python (boto3, stdlib only); every failure is one sentence on
stderr and exit status 1, which keeps the pod from starting on a half-copied model.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ALIAS = "production"
CARD = "model_card.json"


class FetchError(Exception):
    """What the operator must fix before the engine can start."""


class Registry:
    """Read-only view of ``s3://<bucket>/<prefix>models/`` (layout of twin_core/registry.py)."""

    def __init__(self, client: Any, bucket: str, prefix: str):
        self.client = client
        self.bucket = bucket
        self.root = f"{prefix}models/"

    def text(self, key: str) -> str | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.root + key)["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        return body.read().decode()

    def keys(self, folder: str) -> list[str]:
        start = self.root + folder.rstrip("/") + "/"
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
            found.extend(item["Key"][len(start):] for item in page.get("Contents", []))
        return found

    def production(self, model: str) -> tuple[str, dict[str, Any]]:
        version = (self.text(f"{model}/aliases/{ALIAS}") or "").strip()
        if not version:
            raise FetchError(
                f"models/{model} has no {ALIAS} version yet: promote one (the production_model "
                f"asset) before the engine starts"
            )
        card = self.text(f"{model}/{version}/{CARD}")
        if card is None:
            raise FetchError(f"models/{model}/{version} has no {CARD}: its upload did not finish; "
                             f"point the {ALIAS} alias at a complete version")
        return version, json.loads(card)

    def download(self, folder: str, target: Path) -> int:
        """Copy every object under ``folder`` into ``target``; returns the file count. Each file
        is written next to its place and renamed, so a retried init container never serves a
        truncated file; files already there with the right size are kept."""
        keys = self.keys(folder)
        if not keys:
            raise FetchError(f"models/{folder} is empty in s3://{self.bucket}/{self.root}")
        for key in keys:
            path = target / key
            path.parent.mkdir(parents=True, exist_ok=True)
            full = f"{self.root}{folder.rstrip('/')}/{key}"
            size = self.client.head_object(Bucket=self.bucket, Key=full)["ContentLength"]
            if path.is_file() and path.stat().st_size == size:
                continue
            partial = path.with_name(f".{path.name}.part")
            self.client.download_file(self.bucket, full, str(partial))
            partial.replace(path)
        return len(keys)


def fetch(registry: Registry, adapters: dict[str, str], serve_adapters: bool, dest: Path) -> dict[str, Any]:
    if not adapters:
        raise FetchError("no adapters are configured: set the serving module's adapters")
    chosen = {name: (model, *registry.production(model)) for name, model in adapters.items()}
    if not serve_adapters:
        if len(chosen) != 1:
            raise FetchError("without adapters the engine serves one merged model: configure one "
                             "adapter, or set serve_adapters = true")
        (name, (model, version, card)), = chosen.items()
        if card.get("export") == "adapter":
            raise FetchError(f"models/{model}/{version} was registered as an adapter alone "
                             f"(merge_adapter off): serve it with serve_adapters = true, or "
                             f"retrain with merge_adapter on")
        registry.download(f"{model}/{version}/model", dest / "model")
        served = {"mode": "merged", "model": {"name": model, "version": version}}
    else:
        bases = {}
        for name, (model, version, card) in chosen.items():
            if not card.get("has_adapter"):
                raise FetchError(f"models/{model}/{version} has no LoRA adapter (a full fine-tune): "
                                 f"serve its merged export with serve_adapters = false")
            base = card.get("base_model") or {}
            if not base.get("version"):
                raise FetchError(f"the card of models/{model}/{version} names no base model version")
            bases[name] = (base.get("name") or "base", base["version"])
        if len(set(bases.values())) > 1:
            listed = ", ".join(f"{name} on {b[0]}/{b[1][:12]}" for name, b in sorted(bases.items()))
            raise FetchError(f"the adapters were trained on different bases ({listed}): one engine "
                             f"serves one base; retrain them on the same base or split the engines")
        base_name, base_version = next(iter(bases.values()))
        registry.download(f"{base_name}/{base_version}/model", dest / "model")
        for name, (model, version, _card) in chosen.items():
            registry.download(f"{model}/{version}/adapter", dest / "adapters" / name)
        served = {
            "mode": "adapters",
            "base": {"name": base_name, "version": base_version},
            "adapters": {name: {"model": model, "version": version}
                         for name, (model, version, _card) in sorted(chosen.items())},
        }
    (dest / "served.json").write_text(json.dumps(served, indent=2, sort_keys=True))
    return served


def main() -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        adapters = json.loads(os.environ["ADAPTERS"])
        registry = Registry(
            boto3.client("s3", endpoint_url=os.environ.get("TWIN_S3_ENDPOINT_URL") or None),
            os.environ["MODELS_BUCKET"], os.environ.get("MODELS_PREFIX", ""),
        )
        served = fetch(registry, adapters, os.environ.get("SERVE_ADAPTERS", "1") == "1",
                       Path(os.environ.get("DEST", "/data")))
    except FetchError as error:
        print(f"fetch-models: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(f"fetch-models: cannot read the model registry in s3://{os.environ['MODELS_BUCKET']} "
              f"({type(error).__name__}): check the serving role's access to models/", file=sys.stderr)
        return 1
    print(f"fetch-models: serving {json.dumps(served, sort_keys=True)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
