"""``twin models list|compare``: the model registry's versions, lineage and metrics side by side
(experiment tracking without another service)."""

from __future__ import annotations

import json
from typing import Any

from twin_cli.commands import CommandError

LIST_METRICS = ("bits_per_byte", "perplexity", "style_margin", "judge_style")


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="List and compare the registered twin versions.")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="Versions with aliases, lineage and metrics.")
    listing.add_argument("--name", default="twin", help="Registered model name (twin or base).")
    listing.add_argument("--author", help="Whose twin (their slug, e.g. tamsin-vale); default: the only author's.")
    listing.add_argument("--json", action="store_true", help="Print the model cards as JSON.")
    listing.set_defaults(handler=run_list)
    compare = sub.add_parser("compare", help="Two versions side by side: lineage, hyperparameters, metrics.")
    compare.add_argument("first", help="Version or alias, e.g. v1 or production.")
    compare.add_argument("second", help="Version or alias.")
    compare.add_argument("--name", default="twin", help="Registered model name.")
    compare.add_argument("--author", help="Whose twin (their slug); default: the only author's.")
    compare.set_defaults(handler=run_compare)


def _registry(name: str, author: str | None = None):
    """The base registry, or an author's twin registry (``models/twin/<slug>/``)."""
    from twin_core.authors import profile_slugs
    from twin_core.object_store import open_store
    from twin_core.profiles import ProfileError, load_profiles
    from twin_core.registry import ModelRegistry, twin_registry
    from twin_core.settings import get_settings

    settings = get_settings()
    store = open_store(settings)
    if name != "twin":
        try:
            return ModelRegistry(store, name)
        except ValueError as error:
            raise CommandError(str(error)) from error
    if author is None:
        try:
            slugs = profile_slugs(load_profiles(settings.profiles))
        except ProfileError as error:
            raise CommandError(f"{error}: name the author with --author") from None
        if len(slugs) != 1:
            raise CommandError(f"several authors ({', '.join(slugs) or 'none'}): name one with --author")
        author = slugs[0]
    try:
        return twin_registry(store, author)
    except ValueError as error:
        raise CommandError(f"--author {author!r}: {error}") from error


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
        base_bpb = card.get("evaluation", {}).get("baselines", {}).get("base", {}).get("bits_per_byte")
        rows.append([
            card["version"], ",".join(sorted(by_version.get(card["version"], []))) or "-",
            card.get("created_at", "-"), dataset.get("version", "-"), base.get("version", "-"),
            *(_number(metrics.get(m)) for m in LIST_METRICS), _number(base_bpb),
        ])
    header = ["version", "aliases", "created_at", "dataset", "base", *LIST_METRICS, "base_bits_per_byte"]
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
    run = card.get("training") or {}
    training = _sft(card)
    for key in ("steps", "first_loss", "final_loss", "eval_loss", "tokens_per_second", "train_runtime_s",
                "resumed_from_step"):
        out[f"train.{key}"] = training.get(key)
    out["train.peak_gpu_memory_gb"] = run.get("peak_gpu_memory_gb")
    out["train.dpo_final_loss"] = (run.get("dpo") or {}).get("final_loss")
    launcher = card.get("launcher") or {}
    out["launcher"] = " ".join(f"{k}={v}" for k, v in sorted(launcher.items()) if v is not None) or None
    out["export"] = card.get("export")
    for key, value in sorted((card.get("metrics") or {}).items()):
        out[f"metric.{key}"] = value
    for name, metrics in sorted((card.get("evaluation") or {}).get("baselines", {}).items()):
        for key, value in sorted(metrics.items()):
            out[f"{name}.{key}"] = value
    promotion = (card.get("evaluation") or {}).get("promotion")
    out["promotion"] = None if promotion is None else ("passed" if promotion["passed"] else "failed")
    return out


def explanations(keys: list[str]) -> list[str]:
    """One plain line per metric shown: what it measures and which way is better."""
    from twin_core.training.evaluation import METRIC_EXPLANATIONS

    shown = {k.split(".", 1)[1] for k in keys if "." in k and not k.startswith(("hp.", "train."))}
    return [f"  {name}: {text}" for name, text in METRIC_EXPLANATIONS.items() if name in shown]


BARS = "▁▂▃▄▅▆▇█"


def _sft(card: dict[str, Any]) -> dict[str, Any]:
    return (card.get("training") or {}).get("sft") or {}


def _curve(card: dict[str, Any], key: str) -> list[tuple[int, float]]:
    return [(int(step), float(loss)) for step, loss in _sft(card).get(key) or []]


def sparkline(curve: list[tuple[int, float]], low: float, high: float, width: int = 40) -> str:
    """The curve as bars on a shared scale (``low``..``high``), at most ``width`` wide: two
    versions' shapes side by side, without opening a JSON file."""
    if not curve:
        return "-"
    step = max(1, -(-len(curve) // width))
    points = [sum(v for _, v in curve[i:i + step]) / len(curve[i:i + step]) for i in range(0, len(curve), step)]
    span = (high - low) or 1.0
    bars = "".join(BARS[min(len(BARS) - 1, int((v - low) / span * len(BARS)))] for v in points)
    return f"{bars}  {curve[0][1]:.3f} -> {curve[-1][1]:.3f} over {curve[-1][0]} steps"


def format_curves(first: dict[str, Any], second: dict[str, Any]) -> str:
    """Training (and eval) loss of both versions, each kind on one scale."""
    lines = []
    for key, label in (("loss_curve", "training loss"), ("eval_loss_curve", "eval loss")):
        curves = {card["version"]: _curve(card, key) for card in (first, second)}
        values = [v for curve in curves.values() for _, v in curve]
        if not values:
            continue
        lines.append(f"{label} (one scale, {min(values):.3f} to {max(values):.3f}):")
        width = max(len(version) for version in curves)
        lines += [f"  {version.ljust(width)}  {sparkline(curve, min(values), max(values))}" for version, curve in curves.items()]
    return "\n".join(lines)


def format_compare(first: dict[str, Any], second: dict[str, Any]) -> str:
    a, b = _flatten(first), _flatten(second)
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) is not None or b.get(k) is not None]
    rows = [[("* " if a.get(k) != b.get(k) else "  ") + k, _number(a.get(k)), _number(b.get(k))] for k in keys]
    text = _table(["  field", first["version"], second["version"]], rows) + "\n(* differs)"
    if curves := format_curves(first, second):
        text += "\n\n" + curves
    notes = explanations(keys)
    if notes:
        text += "\n\nWhat the figures mean (metric.* is the twin; base.* and production.* were scored on the same test examples):\n"
        text += "\n".join(notes)
    for card in (first, second):
        promotion = (card.get("evaluation") or {}).get("promotion")
        if promotion and promotion.get("reasons"):
            verdict = "passed" if promotion["passed"] else "held back"
            text += f"\n\n{card['version']} {verdict} the gate:\n" + "\n".join(f"  - {r}" for r in promotion["reasons"])
    return text


def run_list(args) -> int:
    registry = _registry(args.name, args.author)
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

    registry = _registry(args.name, args.author)
    try:
        first, second = registry.card(args.first), registry.card(args.second)
    except ModelNotFound as error:
        raise CommandError(str(error).strip("'\"")) from error
    print(format_compare(first, second))
    return 0
