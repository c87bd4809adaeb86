"""Detection engine speed: benign throughput, a 60 KB request, and 1 MB of each hostile shape.

    uv run python bench/detect_speed.py                 # this checkout
    uv run python bench/detect_speed.py --against HEAD~3 # and a git revision, side by side

Times are CPU time of this thread (`time.thread_time`), so other work on a shared machine barely
moves them. Benign documents are the `documents` source of `eval/corpora.py` (READMEs and Python
files of ordinary packages); the 60 KB request is their first 60 KB joined, like `eval/run.py`.
The hostile shapes are those of `tests/security/detect/test_dos.py`.

With `--against REV`, that revision's `normalize.py`, `prefilter.py`, `encoded.py` (if it has one)
and `engine.py` are loaded beside the working tree's (same rules, same classifier module) and
every figure is measured for both in one run, alternating, so the ratio is fair.
"""

from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.corpora import documents  # noqa: E402
from tests.security.detect.test_dos import SHAPES  # noqa: E402

from openclaw_secure_stack.detect.rules import load_rules  # noqa: E402

PACKAGE = "openclaw_secure_stack.detect"
MODULES = ("normalize", "prefilter", "encoded", "engine")
REQUEST_BYTES = 60 * 1024

Detect = Callable[[str, str], object]


def _load_revision(revision: str, into: Path) -> ModuleType:
    """`engine` of `revision`, importing that revision's other detection modules."""
    prefix = "_baseline_detect"
    present = []
    for name in MODULES:
        shown = subprocess.run(
            ["git", "show", f"{revision}:src/openclaw_secure_stack/detect/{name}.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if shown.returncode != 0 and name != "engine":
            continue  # a module that revision did not have yet
        shown.check_returncode()
        source = shown.stdout
        for other in MODULES:
            source = source.replace(f"{PACKAGE}.{other} ", f"{prefix}_{other} ")
        (into / f"{prefix}_{name}.py").write_text(source)
        present.append(name)
    sys.path.insert(0, str(into))
    for name in present:
        spec = importlib.util.spec_from_file_location(
            f"{prefix}_{name}", into / f"{prefix}_{name}.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"{prefix}_{name}"] = module
        spec.loader.exec_module(module)
    return sys.modules[f"{prefix}_engine"]


def _detector(engine: ModuleType) -> Detect:
    detector = engine.Detector(
        load_rules(resources.PROMPT_RULES, "direct"),
        load_rules(resources.INDIRECT_RULES, "indirect"),
    )
    return detector.detect  # type: ignore[no-any-return]


def _seconds(detect: Detect, texts: list[str], kind: str) -> float:
    start = time.thread_time()
    for text in texts:
        detect(text, kind)
    return time.thread_time() - start


def _measure(
    detectors: dict[str, Detect], texts: list[str], kind: str, runs: int
) -> dict[str, float]:
    """Median seconds per detector, runs alternating between detectors."""
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for detect in detectors.values():
        detect(texts[0], kind)  # warm caches
    for _ in range(runs):
        for name, detect in detectors.items():
            times[name].append(_seconds(detect, texts, kind))
    return {name: statistics.median(values) for name, values in times.items()}


def _row(label: str, medians: dict[str, float], size: int | None = None) -> str:
    cells = []
    for name, seconds in medians.items():
        cell = f"{name} {seconds * 1e3:8.3f} ms"
        if size is not None:
            cell += f" {size / 1e6 / seconds:6.0f} MB/s"
        cells.append(cell)
    if len(medians) == 2:
        first, second = medians.values()
        cells.append(f"ratio {second / first:5.2f}x")
    return f"  {label:<34} " + "   ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also time this git revision's engine")
    parser.add_argument("--skip-benign", action="store_true", help="hostile shapes only")
    args = parser.parse_args(argv)

    import openclaw_secure_stack.detect.engine as current

    detectors: dict[str, Detect] = {}
    with tempfile.TemporaryDirectory() as scratch:
        if args.against:
            detectors[args.against] = _detector(_load_revision(args.against, Path(scratch)))
        detectors["now"] = _detector(current)

        if not args.skip_benign:
            texts = [sample.text for sample in documents()]
            total = sum(len(text.encode()) for text in texts)
            request = "\n\n".join(texts)[:REQUEST_BYTES]
            print(f"== benign documents: {len(texts)} texts, {total / 1e6:.2f} MB (median of 5) ==")
            for kind in ("direct", "indirect"):
                print(_row(kind, _measure(detectors, texts, kind, runs=5), total))
            print("== 60 KB request (median of 300) ==")
            for kind in ("direct", "indirect"):
                print(_row(kind, _measure(detectors, [request], kind, runs=300)))
        print("== 1 MB hostile shapes (median of 5) ==")
        for kind in ("direct", "indirect"):
            for shape in sorted(SHAPES):
                label = f"{kind} {shape}"
                print(_row(label, _measure(detectors, [SHAPES[shape]], kind, runs=5)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
