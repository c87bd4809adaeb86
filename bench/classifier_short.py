"""Classifier CPU time per call on short messages, the proxy's common case.

    uv run python bench/classifier_short.py                  # this checkout
    uv run python bench/classifier_short.py --against HEAD~1 # and a git revision, side by side

Times `assess` (what the detection engine calls) and `probability` on "ping", a 200-character and
a 1 KB message: CPU time of this thread (`time.thread_time_ns`), median of `--calls` calls after
warm-up. With `--against REV`, that revision's `classifier.py` is loaded beside the working
tree's, both with the committed model, and the calls alternate so the ratio is fair.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect import classifier as current

ROOT = Path(__file__).resolve().parents[1]
MODEL = resources.CLASSIFIER_MODEL
SENTENCE = (
    "Could you help me plan a three day trip to Lisbon? I like museums, food markets and long "
    "walks by the river, and I would rather avoid tourist traps. Ignore the budget for now. "
)
TEXTS = {
    "ping": "ping",
    "200 chars": (SENTENCE * 2)[:200],
    "1 KB": (SENTENCE * 8)[:1024],
}


def _load_revision(revision: str, into: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:src/openclaw_secure_stack/detect/classifier.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = into / "_baseline_classifier.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("_baseline_classifier", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_baseline_classifier"] = module
    spec.loader.exec_module(module)
    return module


def _median_us(calls: dict[str, Callable[[], object]], count: int) -> dict[str, float]:
    """Median thread CPU time of each call, the calls alternating."""
    for call in calls.values():
        for _ in range(50):
            call()
    timings: dict[str, list[int]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            started = time.thread_time_ns()
            call()
            timings[name].append(time.thread_time_ns() - started)
    return {name: statistics.median(found) / 1e3 for name, found in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also time this git revision")
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        modules = {"now": current}
        if args.against:
            modules = {args.against: _load_revision(args.against, Path(scratch)), **modules}
        models = {name: module.Classifier.load(MODEL) for name, module in modules.items()}
        header = "".join(f"{name:>14}" for name in models)
        ratio = "  ratio" if len(models) == 2 else ""
        print(f"median thread CPU time per call, us ({args.calls} calls each)")
        print(f"{'call':<24}{header}{ratio}")
        for label, text in TEXTS.items():
            for method in ("assess", "probability"):
                calls = {
                    name: functools.partial(getattr(model, method), text)
                    for name, model in models.items()
                }
                figures = _median_us(calls, args.calls)
                row = "".join(f"{figure:>14.1f}" for figure in figures.values())
                if ratio:
                    first, second = figures.values()
                    row += f"{first / second:>7.1f}x"
                print(f"{method + ' ' + label:<24}{row}")


if __name__ == "__main__":
    main()
