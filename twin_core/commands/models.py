"""``twin models list|compare``: the model registry's versions, lineage and metrics side by side
(experiment tracking without another service)."""

from __future__ import annotations

import json
from typing import Any

from twin_core.commands import CommandError

LIST_METRICS = ("perplexity", "style_similarity", "judge_style")


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="List and compare the registered twin versions.")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="Versions with aliases, lineage and metrics.")
    listing.add_argument("--name", default="twin", help="Registered model name (twin or base).")
    listing.add_argument("--json", action="store_true", help="Print the model cards as JSON.")
    listing.set_defaults(handler=run_list)
    compare = sub.add_parser("compare", help="Two versions side by side: lineage, hyperparameters, metrics.")
    compare.add_argument("first", help="Version or alias, e.g. v1 or production.")
    compare.add_argument("second", help="Version or alias.")
    compare.add_argument("--name", default="twin", help="Registered model name.")
    compare.set_defaults(handler=run_compare)


def _registry(name: str):
    from twin_core.object_store import LocalFolderStore, S3Store
    from twin_core.registry import ModelRegistry
    from twin_resources.settings import get_settings

    settings = get_settings()
    if settings.env == "local":
        store: Any = LocalFolderStore(settings.store_root)
    else:
        import boto3

        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None)
        store = S3Store(client, settings.s3_bucket, settings.s3_prefix)
    try:
        return ModelRegistry(store, name)
    except ValueError as error:
        raise CommandError(str(error)) from error


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_list(cards: list[dict[str, Any]], aliases: dict[str, str]) -> str:
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    rows = []
    for card in cards:
        metrics = card.get("metrics", {})
        base = card.get("base_model") or {}
        dataset = card.get("dataset") or {}
        base_ppl = card.get("evaluation", {}).get("baselines", {}).get("base", {}).get("perplexity")
        rows.append([
            card["version"], ",".join(sorted(by_version.get(card["version"], []))) or "-",
            card.get("created_at", "-"), dataset.get("version", "-"), base.get("version", "-"),
            *(_number(metrics.get(m)) for m in LIST_METRICS), _number(base_ppl),
        ])
    header = ["version", "aliases", "created_at", "dataset", "base", *LIST_METRICS, "base_perplexity"]
    return _table(header, rows)


def _flatten(card: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "created_at": card.get("created_at"),
        "code_revision": card.get("code_revision"),
        "base_model": "{name}/{version}".format(**card["base_model"]) if card.get("base_model") else card.get("source"),
        "dataset": "{name}/{version}".format(**card["dataset"]) if card.get("dataset") else None,
    }
    for key, value in sorted((card.get("hyperparameters") or {}).items()):
        out[f"hp.{key}"] = json.dumps(value) if isinstance(value, list | dict) else value
    training = (card.get("training") or {}).get("sft") or {}
    for key in ("steps", "final_loss", "tokens_per_second"):
        out[f"train.{key}"] = training.get(key)
    for key, value in sorted((card.get("metrics") or {}).items()):
        out[f"metric.{key}"] = value
    for name, metrics in sorted((card.get("evaluation") or {}).get("baselines", {}).items()):
        for key, value in sorted(metrics.items()):
            out[f"{name}.{key}"] = value
    promotion = (card.get("evaluation") or {}).get("promotion")
    out["promotion"] = None if promotion is None else ("passed" if promotion["passed"] else "failed")
    return out


def format_compare(first: dict[str, Any], second: dict[str, Any]) -> str:
    a, b = _flatten(first), _flatten(second)
    keys = list(dict.fromkeys([*a, *b]))
    rows = [[("* " if a.get(k) != b.get(k) else "  ") + k, _number(a.get(k)), _number(b.get(k))] for k in keys]
    return _table(["  field", first["version"], second["version"]], rows) + "\n(* differs)"


def run_list(args) -> int:
    registry = _registry(args.name)
    cards = registry.cards()
    if args.json:
        print(json.dumps(cards, indent=2, sort_keys=True))
        return 0
    if not cards:
        print(f"no {args.name} versions registered yet (materialize twin_model, or run `twin demo`)")
        return 0
    print(format_list(cards, registry.aliases()))
    return 0


def run_compare(args) -> int:
    from twin_core.registry import ModelNotFound

    registry = _registry(args.name)
    try:
        first, second = registry.card(args.first), registry.card(args.second)
    except ModelNotFound as error:
        raise CommandError(str(error).strip("'\"")) from error
    print(format_compare(first, second))
    return 0
