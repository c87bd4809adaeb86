"""Shell scripts and shell code in markdown (tree-sitter-bash): pipelines into an interpreter,
encoded commands, archives opened with a password, destructive deletes, and the shell text rules
on each command (never on comments)."""

from __future__ import annotations

import itertools
from functools import cache

import tree_sitter_bash
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from openclaw_secure_stack.scanner.findings import FileFindings
from openclaw_secure_stack.scanner.source import node_text

EXTENSIONS = frozenset({".sh", ".bash", ".zsh", ".command", ".ksh"})
INTERPRETERS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "python", "python3", "node", "perl", "ruby", "osascript"}
)
DOWNLOADERS = frozenset({"curl", "wget", "fetch", "iwr", "Invoke-WebRequest"})
WRAPPERS = frozenset({"sudo", "env", "exec", "command", "nohup", "doas"})
HOME_TARGETS = frozenset({"/", "/*", "~", "~/", "~/*", "$HOME", '"$HOME"', "$HOME/", "${HOME}"})
QUERY = """
(pipeline) @pipeline
(command name: (command_name) @name) @command
(comment) @comment
"""


@cache
def _language() -> Language:
    return Language(tree_sitter_bash.language())


@cache
def _query() -> Query:
    return Query(_language(), QUERY)


def _words(command: Node) -> list[str]:
    return [node_text(child) for child in command.named_children if child.type != "file_redirect"]


def _program(command: Node) -> str:
    """The program a command runs, looking through sudo/env wrappers."""
    words = _words(command)
    while words and (words[0] in WRAPPERS or ("=" in words[0] and words[0][0].isalpha())):
        words = words[1:]
        while words and words[0].startswith("-"):
            words = words[1:]
    return words[0].rsplit("/", 1)[-1] if words else ""


def _decodes(command: Node) -> bool:
    words = _words(command)
    program = _program(command)
    if program == "base64":
        return any(word in ("-d", "-D", "--decode") or word.startswith("-d") for word in words)
    return program in ("openssl", "xxd") and any(w in ("-d", "-r", "-base64") for w in words)


def analyze(
    data: bytes, out: FileFindings, line_offset: int = 0, *, whole_file: bool = True
) -> None:
    """Shell findings of `data`; `whole_file` false for snippets (markdown code blocks, which
    are often output or prose, not shell), whose parse errors are not reported."""
    tree = Parser(_language()).parse(data)
    captures = QueryCursor(_query()).captures(tree.root_node)

    def line(node: Node) -> int:
        return int(node.start_point[0]) + 1 + line_offset

    for pipeline in captures.get("pipeline", []):
        commands = [child for child in pipeline.named_children if child.type == "command"]
        programs = [_program(command) for command in commands]
        for index, program in enumerate(programs[1:], start=1):
            if program not in INTERPRETERS:
                continue
            before = commands[:index]
            if any(_decodes(command) for command in before):
                out.add("OSS-SCAN-051", line(pipeline), f"decoded text piped to {program}")
            elif any(name in DOWNLOADERS for name in programs[:index]):
                out.add("OSS-SCAN-050", line(pipeline), f"download piped to {program}")
    downloaded: set[str] = set()
    for command in captures.get("command", []):
        program, words = _program(command), _words(command)
        text = node_text(command)
        if program in INTERPRETERS and ("$(" in text or "<(" in text or "`" in text):
            if "base64" in text and ("-d" in text or "-D" in text):
                out.add("OSS-SCAN-051", line(command), f"decoded text run by {program}")
            elif any(name in text for name in ("curl", "wget")):
                out.add("OSS-SCAN-050", line(command), f"download run by {program}")
        elif program == "eval" and "base64" in text:
            out.add("OSS-SCAN-051", line(command), "eval of decoded text")
        if (program == "unzip" and "-P" in words) or (
            program in ("7z", "7za", "unrar")
            and any(word.startswith("-p") and len(word) > 2 for word in words)
        ):
            out.add("OSS-SCAN-052", line(command), f"{program} with a password")
        if program == "rm" and any(w.startswith("-") and "r" in w.lower() for w in words[1:]):
            targets = [word for word in words[1:] if not word.startswith("-")]
            if any(target in HOME_TARGETS for target in targets):
                out.add("OSS-SCAN-032", line(command), text[:120])
        if program in ("curl", "wget"):
            for flag, value in itertools.pairwise(words):
                if flag in ("-o", "-O", "--output", "--output-document"):
                    downloaded.add(value)
        if program == "chmod" and downloaded & set(words[1:]):
            out.add("OSS-SCAN-055", line(command), text[:120])

    # Blank the comments out (same length, so lines stay) so rules never read them.
    raw = bytearray(data)
    for node in captures.get("comment", []):
        raw[node.start_byte : node.end_byte] = b" " * (node.end_byte - node.start_byte)
    out.check_text("shell", bytes(raw).decode("utf-8", "replace"), 1 + line_offset)
    if whole_file and tree.root_node.has_error:
        out.add("OSS-SCAN-095", 1 + line_offset, "shell syntax errors: scanned as text too")
