"""Start a training run: in this process, or as N processes under torchrun or deepspeed.

The subprocess launchers run exactly ``python -m twin_core.training --config FILE``, so the
multi-process path is the same code as the in-process one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any, Literal

from twin_core.training.config import TrainingConfig
from twin_core.training.run import RESULT_FILE, free_port, train

Launcher = Literal["in_process", "python", "torchrun", "deepspeed"]
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class TrainingFailed(RuntimeError):
    """The training run exited with an error; the message carries the end of its log."""


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Compiled DeepSpeed ops (shm comm, cpu_adam) are cached inside the project, not in $HOME.
    env.setdefault("TORCH_EXTENSIONS_DIR", str(PROJECT_ROOT / ".cache" / "torch_extensions"))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("PYTHONPATH", str(PROJECT_ROOT))
    env.update(extra or {})
    return env


def command_for(launcher: Launcher, config_path: Path, nproc: int) -> list[str]:
    module = "twin_core.training"
    entry = ["-m", module, "--config", str(config_path)]
    if launcher == "python":
        return [sys.executable, *entry]
    if launcher == "torchrun":
        return [
            sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
            "--master_addr=127.0.0.1", f"--master_port={free_port()}", *entry,
        ]
    if launcher == "deepspeed":
        return [
            sys.executable, "-m", "deepspeed.launcher.runner", f"--num_gpus={nproc}",
            "--master_addr=127.0.0.1", f"--master_port={free_port()}", "--module", module,
            "--config", str(config_path),
        ]
    raise ValueError(f"unknown launcher {launcher!r}")


def launch(
    config: TrainingConfig, launcher: Launcher = "in_process", nproc: int = 1,
    log: Any = None,
) -> dict[str, Any]:
    """Train and return the result summary (loss curve, tokens/s, output folders).

    ``log`` (a callable taking a line) receives the subprocess output as it comes.
    """
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / RESULT_FILE).unlink(missing_ok=True)
    config_path = config.save(output / "train_config.json")
    if launcher == "in_process":
        if nproc != 1:
            raise ValueError("the in-process launcher runs one process; use torchrun or deepspeed for more")
        return train(config)

    env = subprocess_env()
    if launcher == "deepspeed" and "CUDA_VISIBLE_DEVICES" not in env:
        # Without GPUs the deepspeed runner still needs a device list to spread ranks over.
        env.setdefault("DS_ACCELERATOR", "cpu")
    tail: deque[str] = deque(maxlen=40)
    with open(output / "train.log", "w") as log_file:
        process = subprocess.Popen(
            command_for(launcher, config_path, nproc), cwd=PROJECT_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        assert process.stdout is not None
        for line in process.stdout:
            log_file.write(line)
            tail.append(line.rstrip())
            if log is not None:
                log(line.rstrip())
        code = process.wait()
    if code != 0 or not (output / RESULT_FILE).is_file():
        raise TrainingFailed(f"{launcher} training exited with {code}:\n" + "\n".join(tail))
    return json.loads((output / RESULT_FILE).read_text())
