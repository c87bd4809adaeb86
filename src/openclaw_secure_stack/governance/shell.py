"""The commands of a shell line, parsed with tree-sitter-bash (not grepped).

`parse_shell` returns every simple command the line would run, with its literal words, the
pipeline it sits in and its place there, and the files it redirects to. It looks through what
hides a command: `$(...)`, `<(...)`, subshells, `{ ...; }`, `if`/`for`/`while`/`case` bodies,
wrappers (`sudo`, `env`, `timeout`, `xargs`, ...), `sh -c '...'` and `eval '...'`.

A word whose value is only known at run time (`$VAR`, `$(...)`, globs are kept as written) is
`DYNAMIC`. What the parser cannot know for sure is listed in `ShellLine.opaque` (a syntax error,
a command name computed at run time, nesting too deep, a line too long): policies treat an
opaque line as unknown, and unknown is never allowed without approval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tree_sitter
import tree_sitter_bash

DYNAMIC = "\x00dynamic"
MAX_LINE_BYTES = 64 * 1024
MAX_DEPTH = 4

# Commands that run their arguments as another command; their own options are skipped.
WRAPPERS = frozenset(
    {"sudo", "doas", "env", "nohup", "time", "nice", "ionice", "timeout", "xargs", "command",
     "exec", "stdbuf", "setsid", "chroot", "unbuffer", "watch", "strace", "busybox"}
)  # fmt: skip
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "fish"})
# Wrapper options that take a value as the next word.
_WRAPPER_VALUE_OPTIONS = {
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"}),
    "nice": frozenset({"-n"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "timeout": frozenset({"-k", "-s", "--signal", "--kill-after"}),
    "xargs": frozenset({"-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a"}),
    "env": frozenset({"-u", "-C", "--unset", "--chdir"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "watch": frozenset({"-n", "-d"}),
    "strace": frozenset({"-o", "-e", "-p", "-s"}),
}
# Wrappers whose first positional word is a value, not the command (timeout 5 cmd).
_WRAPPER_LEADING_VALUE = frozenset({"timeout", "chroot"})

_LANGUAGE = tree_sitter.Language(tree_sitter_bash.language())


@dataclass(frozen=True)
class Command:
    """One simple command: `argv[0]` is its name as written (a path or a bare name)."""

    argv: tuple[str, ...]
    pipeline: int
    position: int
    redirects: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The command's base name (`/usr/bin/curl` -> `curl`), or DYNAMIC."""
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else DYNAMIC

    @property
    def args(self) -> tuple[str, ...]:
        return self.argv[1:]


@dataclass(frozen=True)
class ShellLine:
    commands: tuple[Command, ...]
    opaque: tuple[str, ...] = ()


@dataclass
class _Walk:
    commands: list[Command] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    pipelines: int = 0

    def new_pipeline(self) -> int:
        self.pipelines += 1
        return self.pipelines


def parse_shell(line: str) -> ShellLine:
    """Every command `line` runs, in order; never raises on any input."""
    walk = _Walk()
    _parse_into(walk, line, depth=0)
    return ShellLine(tuple(walk.commands), tuple(dict.fromkeys(walk.opaque)))


def _parse_into(walk: _Walk, line: str, depth: int) -> None:
    source = line.encode("utf-8", "surrogatepass")
    if len(source) > MAX_LINE_BYTES:
        walk.opaque.append(f"the command line is longer than {MAX_LINE_BYTES} bytes")
        return
    if depth > MAX_DEPTH:
        walk.opaque.append(f"commands nested more than {MAX_DEPTH} levels deep")
        return
    tree = tree_sitter.Parser(_LANGUAGE).parse(source)
    if tree.root_node.has_error:
        walk.opaque.append("the command line does not parse as shell")
    _visit(walk, tree.root_node, depth, walk.new_pipeline(), 0)


def _visit(walk: _Walk, node: tree_sitter.Node, depth: int, pipeline: int, position: int) -> None:
    kind = node.type
    if kind == "pipeline":
        pipeline = walk.new_pipeline()
        for index, child in enumerate(node.named_children):
            _visit(walk, child, depth, pipeline, index)
        return
    if kind == "command":
        _command(walk, node, depth, pipeline, position)
        return
    if kind == "redirected_statement":
        body = node.child_by_field_name("body")
        targets = _redirect_targets(node)
        before = len(walk.commands)
        if body is not None:
            _visit(walk, body, depth, pipeline, position)
        # A redirect on a compound statement applies to the commands inside it.
        for index in range(before, len(walk.commands)):
            command = walk.commands[index]
            walk.commands[index] = Command(
                command.argv, command.pipeline, command.position, command.redirects + targets
            )
        for child in node.named_children:
            if child != body:
                _expansions_in(walk, child, depth)
        return
    if kind in ("command_substitution", "process_substitution"):
        for child in node.named_children:
            _visit(walk, child, depth, walk.new_pipeline(), 0)
        return
    if kind == "function_definition":
        walk.opaque.append("defines a shell function")
    for child in node.named_children:
        _visit(walk, child, depth, pipeline, position)


def _command(walk: _Walk, node: tree_sitter.Node, depth: int, pipeline: int, position: int) -> None:
    argv: list[str] = []
    redirects: list[str] = []
    for child in node.named_children:
        if child.type == "command_name":
            argv.append(_word(child.named_children[0]) if child.named_children else DYNAMIC)
        elif child.type == "variable_assignment":
            pass  # `FOO=1 cmd`: only its expansions matter
        elif child.type.endswith("_redirect"):
            redirects.extend(_redirect_targets_of(child))
        else:
            argv.append(_word(child))
        _expansions_in(walk, child, depth)
    if not argv:
        return  # a bare assignment
    command = Command(tuple(argv), pipeline, position, tuple(redirects))
    walk.commands.append(command)
    _unwrap(walk, command, depth)


def _unwrap(walk: _Walk, command: Command, depth: int) -> None:
    """Record what a wrapper, `sh -c` or `eval` runs, as commands of their own."""
    name = command.name
    if name == DYNAMIC:
        walk.opaque.append("a command name is computed at run time")
        return
    if name in WRAPPERS:
        inner = _wrapped(name, command.args)
        if inner:
            wrapped = Command(inner, command.pipeline, command.position, command.redirects)
            walk.commands.append(wrapped)
            _unwrap(walk, wrapped, depth)
        return
    if name == "eval":
        _script(walk, command.args, depth)
        return
    if name in SHELLS:
        args = command.args
        for index, arg in enumerate(args):
            if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
                _script(walk, args[index + 1 : index + 2], depth)
                return
            if not arg.startswith("-"):
                break  # `bash script.sh`: the script is a file argument, not inline


def _script(walk: _Walk, words: tuple[str, ...], depth: int) -> None:
    if not words:
        return
    if DYNAMIC in words:
        walk.opaque.append("runs a script computed at run time")
        return
    _parse_into(walk, " ".join(words), depth + 1)


def _wrapped(wrapper: str, args: tuple[str, ...]) -> tuple[str, ...]:
    value_options = _WRAPPER_VALUE_OPTIONS.get(wrapper, frozenset())
    index = 0
    leading_value = wrapper in _WRAPPER_LEADING_VALUE
    while index < len(args):
        arg = args[index]
        if arg == "--":
            index += 1
            break
        if arg in value_options:
            index += 2
            continue
        if arg.startswith("-") or (wrapper == "env" and "=" in arg):
            index += 1
            continue
        if leading_value:
            leading_value = False
            index += 1
            continue
        break
    return args[index:]


def _expansions_in(walk: _Walk, node: tree_sitter.Node, depth: int) -> None:
    """Commands inside `$(...)` / `<(...)` anywhere under `node` (arguments, assignments)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in ("command_substitution", "process_substitution"):
            _visit(walk, current, depth, walk.new_pipeline(), 0)
            continue
        stack.extend(current.named_children)


def _redirect_targets(node: tree_sitter.Node) -> tuple[str, ...]:
    targets: list[str] = []
    for child in node.named_children:
        if child.type.endswith("_redirect"):
            targets.extend(_redirect_targets_of(child))
    return tuple(targets)


def _redirect_targets_of(redirect: tree_sitter.Node) -> list[str]:
    if redirect.type != "file_redirect":
        return []  # heredocs and herestrings feed text, they name no file
    destination = redirect.child_by_field_name("destination")
    if destination is None:
        return []
    target = _word(destination)
    # `2>&1`: a file descriptor, not a file.
    return [] if target.isdigit() or target == "-" else [target]


def _word(node: tree_sitter.Node) -> str:
    """The literal value of a word, or DYNAMIC if any part of it is expanded at run time."""
    kind = node.type
    text = _text(node)
    if kind == "word":
        return _unescape(text)
    if kind == "raw_string":
        return text[1:-1]
    if kind == "string":
        parts = []
        for child in node.named_children:
            if child.type != "string_content":
                return DYNAMIC
            parts.append(_text(child))
        return "".join(parts)
    if kind == "ansi_c_string":
        return DYNAMIC  # escapes like \x41 are decoded by bash; do not guess
    if kind == "concatenation":
        pieces = [_word(child) for child in node.named_children]
        return DYNAMIC if DYNAMIC in pieces else "".join(pieces)
    if kind == "number":
        return text
    return DYNAMIC


def _unescape(text: str) -> str:
    out = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "surrogatepass")
