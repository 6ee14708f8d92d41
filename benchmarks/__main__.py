"""``python -m benchmarks``: run every benchmark module in turn (``make bench``).

Each module measures its own baseline in the same run and prints ratios; a GPU-only module
skips itself when no CUDA device is present. Pass names to run a subset:
``python -m benchmarks extraction retrieval``; options after the names go to each of them
(``python -m benchmarks partitions --authors 1000``).
"""

from __future__ import annotations

import pkgutil
import runpy
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option], argv[first_option:]
    names = names or sorted(
        module.name for module in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not module.name.startswith("_")
    )
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        # Each module parses its own options from sys.argv: only the options meant for it.
        saved, sys.argv = sys.argv, [f"benchmarks.{name}", *options]
        try:
            runpy.run_module(f"benchmarks.{name}", run_name="__main__")
        finally:
            sys.argv = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
