"""SKILL.md and other markdown: the agent reads it as instructions and the user follows it.

Prose (paragraphs, list items, headings, HTML) gets the `prose` text rules and URL checks;
links are checked by host; fenced and indented code and inline code spans go to the language
analyzers (shell unless the fence names JavaScript, TypeScript or Python); the whole document
goes through the detection engine's indirect-injection rules, and hidden Unicode is reported
where it sits.
"""

from __future__ import annotations

from functools import cache

import re2
from markdown_it import MarkdownIt

from openclaw_secure_stack.detect import Detector, TextTooLarge
from openclaw_secure_stack.scanner import javascript, python, shell
from openclaw_secure_stack.scanner.findings import FileFindings
from openclaw_secure_stack.scanner.source import Source

HIDDEN = re2.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)
SHELL_FENCES = frozenset({"", "sh", "bash", "shell", "zsh", "console", "terminal", "text", "cmd"})
JS_FENCES = {
    "js": "javascript",
    "javascript": "javascript",
    "ts": "typescript",
    "typescript": "typescript",
    "tsx": "tsx",
    "jsx": "javascript",
    "mjs": "javascript",
}
PY_FENCES = frozenset({"py", "python", "python3"})
# Detection rules whose action is reject or strip; `flag` rules (text addressed to the AI, say)
# describe every skill, which is addressed to the agent by design.
INJECTION_ACTIONS = frozenset({"reject", "strip"})


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark")


def front_matter_lines(text: str) -> int:
    """How many lines the YAML front matter (`---` ... `---`) takes at the top, or 0."""
    lines = text.split("\n", 200)
    if not lines or lines[0].strip() != "---":
        return 0
    for index, line in enumerate(lines[1:200], start=1):
        if line.strip() == "---":
            return index + 1
    return 0


def code(language: str, body: str, out: FileFindings, line: int) -> None:
    """Analyze a code block whose first line is `line`."""
    data = body.encode("utf-8", "replace")
    language = language.lower()
    if language in JS_FENCES:
        javascript.analyze(Source(data), JS_FENCES[language], out, line - 1, whole_file=False)
    elif language in PY_FENCES:
        python_out = FileFindings(out.unit, out.file, out.origin)
        python.analyze(Source(data), python_out)
        for finding in python_out.findings:
            if finding.rule_id != "OSS-SCAN-095":
                out.add(finding.rule_id, finding.line + line - 1, finding.message)
    elif language in SHELL_FENCES:
        shell.analyze(data, out, line - 1, whole_file=False)


def analyze(source: Source, out: FileFindings, detector: Detector | None) -> None:
    text = source.text
    skip = front_matter_lines(text)
    body = "\n" * skip + text.split("\n", skip)[-1] if skip else text
    for token in _parser().parse(body):
        first = token.map[0] + 1 if token.map else 1
        if token.type == "fence":
            code(token.info.strip().split(" ")[0], token.content, out, first + 1)
        elif token.type == "code_block":
            code("", token.content, out, first)
        elif token.type in ("inline", "html_block"):
            out.check_text("prose", token.content, first)
            for child in token.children or []:
                if child.type == "link_open":
                    href = child.attrGet("href")
                    if isinstance(href, str) and "://" in href and href not in token.content:
                        out.check_url(href, first)
                elif child.type == "code_inline" and " " in child.content:
                    snippet = child.content.encode("utf-8", "replace")
                    shell.analyze(snippet, out, first - 1, whole_file=False)
    for match in HIDDEN.finditer(text):
        out.add(
            "OSS-SCAN-081",
            text.count("\n", 0, match.start()) + 1,
            f"hidden character U+{ord(match.group(0)):04X}",
        )
        break
    if detector is not None:
        _injection(text, out, detector)


def _injection(text: str, out: FileFindings, detector: Detector) -> None:
    try:
        verdict = detector.detect(text, "indirect", "file")
    except TextTooLarge as exc:
        out.add("OSS-SCAN-098", 1, f"too large for the injection rules: {exc}")
        return
    seen: set[str] = set()
    for span in verdict.spans:
        if span.rule_id in seen:
            continue
        rule = detector.rule("indirect", span.rule_id)
        if rule.action not in INJECTION_ACTIONS:
            continue
        seen.add(span.rule_id)
        out.add(
            "OSS-SCAN-080",
            text.count("\n", 0, span.start) + 1,
            f"{span.rule_id} {rule.title}: {text[span.start : span.end][:80]!r}",
        )
