"""What a tool call would do: its intents and the resources it touches.

The table of OpenClaw's tools is data (`data/governance-tools.json`): for each tool, its intents
and which parameters hold paths, URLs, a shell line, a patch or a delegated call. `classify`
reads a call through that table:

- paths are resolved from the tool's working directory with `..` and symlinks followed; a shell
  line's `cd DIR` moves the working directory for the commands after it;
- hosts come from URLs and from the arguments of network commands (`curl`, `ssh host`, ...);
- a shell line is parsed (see `shell`), and each command adds its own intents from the table;
- `tool_call` (OpenClaw's tool-search bridge) is classified as the tool it calls.

A tool that is not in the table gets the intent `unknown`, so only a policy naming it allows it.
Anything the classifier could not establish is listed in `opaque`; a policy can never allow an
opaque call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import re2

from openclaw_secure_stack.governance.model import Context, ToolCall
from openclaw_secure_stack.governance.resources import (
    MAX_NAME_CHARS,
    glob_to_re2,
    normalise_host,
    resolve_path,
    url_host,
)
from openclaw_secure_stack.governance.shell import DYNAMIC, Command, parse_shell

SCHEMA_VERSION = 1
UNKNOWN = "unknown"
MAX_DELEGATION = 2


class ToolTableError(Exception):
    """A tool table the engine cannot use; the message names the file and the entry."""


@dataclass(frozen=True)
class ToolSpec:
    intents: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    default_path: str | None = None
    urls: tuple[str, ...] = ()
    shell: str | None = None
    cwd: str | None = None
    patch: str | None = None
    action: str | None = None
    action_intents: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    delegate_name: str | None = None
    delegate_params: str | None = None
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    env: str | None = None


@dataclass(frozen=True)
class ToolPattern:
    kind: str
    glob: str
    intents: tuple[str, ...]
    compiled: Any


@dataclass(frozen=True)
class ToolTable:
    tools: Mapping[str, ToolSpec]
    patterns: tuple[ToolPattern, ...]
    command_intents: Mapping[str, tuple[str, ...]]
    network_commands: frozenset[str]
    harmless_paths: frozenset[str]
    unsafe_env: frozenset[str] = frozenset()

    def spec(self, name: str) -> tuple[ToolSpec | None, str | None]:
        """The spec for `name` and the family it belongs to (`openclaw`, `mcp`...), if any."""
        if name in self.tools:
            return self.tools[name], "openclaw"
        for pattern in self.patterns:
            if pattern.compiled.search(name):
                return ToolSpec(intents=pattern.intents), pattern.kind
        return None, None


@dataclass(frozen=True)
class Classification:
    tool: str
    family: str | None
    intents: frozenset[str]
    paths: tuple[Path, ...] = ()
    hosts: tuple[str, ...] = ()
    commands: tuple[Command, ...] = ()
    opaque: tuple[str, ...] = ()
    via: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.family is not None


@dataclass
class _Found:
    intents: set[str] = field(default_factory=set)
    paths: list[Path] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    # A long shell line names the same file many times: resolve each (word, cwd) once.
    resolved: dict[tuple[str, Path], Path] = field(default_factory=dict)

    def resolve(self, raw: str, cwd: Path, context: Context) -> Path:
        key = (raw, cwd)
        if key not in self.resolved:
            self.resolved[key] = resolve_path(raw, cwd, context.home)
        return self.resolved[key]


def classify(call: ToolCall, context: Context, table: ToolTable) -> Classification:
    """The intents and resources of `call`; never raises on any parameters."""
    via: list[str] = []
    tool, params = call.tool, call.params
    spec, family = table.spec(tool)
    while spec is not None and spec.delegate_name is not None:
        inner = params.get(spec.delegate_name)
        inner_params = params.get(spec.delegate_params or "", {})
        if not isinstance(inner, str) or not isinstance(inner_params, Mapping):
            return Classification(
                tool, family, frozenset({UNKNOWN}), opaque=(f"{tool}: no tool name to call",)
            )
        if len(via) >= MAX_DELEGATION:
            return Classification(
                inner, None, frozenset({UNKNOWN}), opaque=("tool calls nested too deep",)
            )
        via.append(tool)
        tool, params = inner, inner_params
        spec, family = table.spec(tool)
    if spec is None:
        return Classification(tool, None, frozenset({UNKNOWN}), via=tuple(via))
    found = _Found(intents=set(spec.intents))
    cwd = _cwd(spec, params, context, found)
    _read_paths(spec, params, cwd, context, table, found)
    _read_urls(spec, params, found)
    _read_action(spec, params, found)
    _read_flags(spec, params, table, found)
    _read_patch(spec, params, cwd, context, table, found)
    _read_shell(spec, params, cwd, context, table, found)
    return Classification(
        tool=tool,
        family=family,
        intents=frozenset(found.intents),
        paths=tuple(dict.fromkeys(found.paths)),
        hosts=tuple(dict.fromkeys(found.hosts)),
        commands=tuple(found.commands),
        opaque=tuple(dict.fromkeys(found.opaque)),
        via=tuple(via),
    )


def _string(params: Mapping[str, Any], name: str, found: _Found) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        found.opaque.append(f"parameter {name!r} is not a string")
        return None
    return value


def _cwd(spec: ToolSpec, params: Mapping[str, Any], context: Context, found: _Found) -> Path:
    workdir = _string(params, spec.cwd, found) if spec.cwd else None
    if workdir is None:
        return context.workspace
    cwd = resolve_path(workdir, context.workspace, context.home)
    found.paths.append(cwd)  # the command runs there even if it names no file
    return cwd


def _add_path(raw: str, cwd: Path, context: Context, table: ToolTable, found: _Found) -> None:
    if raw in table.harmless_paths:
        return
    if "\x00" in raw:
        found.opaque.append("a path contains a NUL byte")
        return
    found.paths.append(found.resolve(raw, cwd, context))


def _read_paths(
    spec: ToolSpec,
    params: Mapping[str, Any],
    cwd: Path,
    context: Context,
    table: ToolTable,
    found: _Found,
) -> None:
    named = [value for name in spec.paths if (value := _string(params, name, found)) is not None]
    if not named and spec.default_path is not None:
        named = [spec.default_path]
    elif not named and spec.paths:
        found.opaque.append(f"no path given (expected one of {', '.join(spec.paths)})")
    for raw in named:
        _add_path(raw, cwd, context, table, found)


def _read_urls(spec: ToolSpec, params: Mapping[str, Any], found: _Found) -> None:
    for name in spec.urls:
        url = _string(params, name, found)
        if url is None:
            continue
        host = url_host(url)
        if host is None:
            found.opaque.append(f"parameter {name!r} is not a URL with a host")
        else:
            found.hosts.append(host)


def _read_action(spec: ToolSpec, params: Mapping[str, Any], found: _Found) -> None:
    if spec.action is None:
        return
    action = _string(params, spec.action, found)
    intents = spec.action_intents.get(action or "")
    if intents is None:
        found.intents.add(UNKNOWN)
        found.opaque.append(f"unknown {spec.action} {action!r}")
    else:
        found.intents.update(intents)


def _read_flags(spec: ToolSpec, params: Mapping[str, Any], table: ToolTable, found: _Found) -> None:
    for name, intents in spec.flags.items():
        if params.get(name) is True:
            found.intents.update(intents)
    if spec.env is None or params.get(spec.env) is None:
        return
    env = params[spec.env]
    if not isinstance(env, Mapping):
        found.opaque.append(f"parameter {spec.env!r} is not an object")
        return
    # These change which program runs or what it loads, so the parsed line no longer says.
    unsafe = sorted(key for key in env if key in table.unsafe_env or str(key).startswith("LD_"))
    if unsafe:
        found.opaque.append(f"overrides {', '.join(map(str, unsafe))} in the environment")


_PATCH_MARKERS = {
    "*** Add File: ": "file_write",
    "*** Update File: ": "file_write",
    "*** Move to: ": "file_write",
    "*** Delete File: ": "file_delete",
}


def _read_patch(
    spec: ToolSpec,
    params: Mapping[str, Any],
    cwd: Path,
    context: Context,
    table: ToolTable,
    found: _Found,
) -> None:
    if spec.patch is None:
        return
    patch = _string(params, spec.patch, found)
    if patch is None:
        found.opaque.append(f"no patch in {spec.patch!r}")
        return
    for line in patch.splitlines():
        for marker, intent in _PATCH_MARKERS.items():
            if line.startswith(marker):
                found.intents.add(intent)
                _add_path(line[len(marker) :].strip(), cwd, context, table, found)
    if not found.paths:
        found.opaque.append("the patch names no file")


def _read_shell(
    spec: ToolSpec,
    params: Mapping[str, Any],
    cwd: Path,
    context: Context,
    table: ToolTable,
    found: _Found,
) -> None:
    if spec.shell is None:
        return
    line = _string(params, spec.shell, found)
    if line is None:
        found.opaque.append(f"no command in {spec.shell!r}")
        return
    parsed = parse_shell(line)
    found.opaque.extend(parsed.opaque)
    found.commands.extend(parsed.commands)
    for command in parsed.commands:
        found.intents.update(table.command_intents.get(command.name, ()))
        if command.name == "cd":
            target = command.args[0] if command.args else "~"
            if target == DYNAMIC:
                found.opaque.append("changes to a directory computed at run time")
            else:
                cwd = found.resolve(target, cwd, context)
                found.paths.append(cwd)
            continue
        if "/" in command.argv[0] and command.argv[0] != DYNAMIC:
            _add_path(command.argv[0], cwd, context, table, found)  # runs a file: `./x`
        network = command.name in table.network_commands
        for word in (*command.args, *command.redirects):
            _shell_word(word, network, cwd, context, table, found)
        if command.redirects:
            found.intents.add("file_write")


def _shell_word(
    word: str, network: bool, cwd: Path, context: Context, table: ToolTable, found: _Found
) -> None:
    """A shell argument as a host or a path. Every plain word is taken as a possible path
    (`cat id_rsa` after `cd ~/.ssh` reads a key): over-approximating costs an approval, missing
    one costs a secret."""
    if word == DYNAMIC:
        found.opaque.append("an argument is computed at run time")
        return
    value = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
    host = url_host(value)
    if host is not None:
        found.hosts.append(host)
        return
    if not value or value.startswith("-") or len(value) > MAX_NAME_CHARS:
        return
    if network:
        # `ssh user@host`, `scp host:path`, `nc host 443`, `curl example.com`; a word like
        # `out.html` may be either, so it counts as both.
        candidate = value.rsplit("@", 1)[-1].split(":", 1)[0]
        host = normalise_host(candidate)
        if host is not None and ("." in host or host == "localhost"):
            found.hosts.append(host)
    _add_path(value, cwd, context, table, found)


def load_tool_table(path: Path) -> ToolTable:
    """Read and validate the tool table, or raise `ToolTableError` naming file and entry."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ToolTableError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ToolTableError(f"{path}: not valid UTF-8 JSON ({exc})") from None
    return parse_tool_table(document, str(path))


def _names(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ToolTableError(f"{where}: must be a list of non-empty strings")
    return tuple(cast(list[str], value))


def _optional(raw: Mapping[str, object], name: str, where: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise ToolTableError(f"{where}.{name}: must be a string")
    return value


_SPEC_KEYS = frozenset(
    {"intents", "paths", "default_path", "urls", "shell", "cwd", "patch", "action",
     "action_intents", "delegate", "flags", "env", "about"}
)  # fmt: skip


def _parse_spec(raw: object, where: str) -> ToolSpec:
    if not isinstance(raw, dict):
        raise ToolTableError(f"{where}: must be an object")
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise ToolTableError(f"{where}: unknown keys {sorted(unknown)}")
    action_intents = raw.get("action_intents", {})
    if not isinstance(action_intents, dict):
        raise ToolTableError(f"{where}.action_intents: must be an object")
    delegate = raw.get("delegate", {})
    if not isinstance(delegate, dict):
        raise ToolTableError(f"{where}.delegate: must be an object with name and params")
    flags = raw.get("flags", {})
    if not isinstance(flags, dict):
        raise ToolTableError(f"{where}.flags: must be an object of parameter -> intents")
    return ToolSpec(
        intents=_names(raw.get("intents", []), f"{where}.intents"),
        paths=_names(raw.get("paths", []), f"{where}.paths"),
        default_path=_optional(raw, "default_path", where),
        urls=_names(raw.get("urls", []), f"{where}.urls"),
        shell=_optional(raw, "shell", where),
        cwd=_optional(raw, "cwd", where),
        patch=_optional(raw, "patch", where),
        action=_optional(raw, "action", where),
        action_intents={
            key: _names(value, f"{where}.action_intents.{key}")
            for key, value in action_intents.items()
        },
        delegate_name=_optional(delegate, "name", f"{where}.delegate"),
        delegate_params=_optional(delegate, "params", f"{where}.delegate"),
        flags={key: _names(value, f"{where}.flags.{key}") for key, value in flags.items()},
        env=_optional(raw, "env", where),
    )


def parse_tool_table(document: object, source: str) -> ToolTable:
    if not isinstance(document, dict) or document.get("schema") != SCHEMA_VERSION:
        raise ToolTableError(f"{source}: must be an object with schema {SCHEMA_VERSION}")
    tools = document.get("tools")
    if not isinstance(tools, dict) or not tools:
        raise ToolTableError(f"{source}: 'tools' must be a non-empty object")
    patterns: list[ToolPattern] = []
    for number, raw in enumerate(_list(document.get("patterns", []), f"{source} patterns"), 1):
        where = f"{source} patterns #{number}"
        if not isinstance(raw, dict) or not isinstance(raw.get("glob"), str):
            raise ToolTableError(f"{where}: must be an object with a glob")
        patterns.append(
            ToolPattern(
                kind=_optional(raw, "kind", where) or UNKNOWN,
                glob=raw["glob"],
                intents=_names(raw.get("intents", []), f"{where}.intents"),
                compiled=re2.compile(glob_to_re2(raw["glob"])),
            )
        )
    command_intents = document.get("command_intents", {})
    if not isinstance(command_intents, dict):
        raise ToolTableError(f"{source}: 'command_intents' must be an object")
    return ToolTable(
        tools={name: _parse_spec(raw, f"{source} tools.{name}") for name, raw in tools.items()},
        patterns=tuple(patterns),
        command_intents={
            name: _names(value, f"{source} command_intents.{name}")
            for name, value in command_intents.items()
        },
        network_commands=frozenset(
            _names(document.get("network_commands", []), f"{source} network_commands")
        ),
        harmless_paths=frozenset(
            _names(document.get("harmless_paths", []), f"{source} harmless_paths")
        ),
        unsafe_env=frozenset(_names(document.get("unsafe_env", []), f"{source} unsafe_env")),
    )


def _list(value: object, where: str) -> Sequence[object]:
    if not isinstance(value, list):
        raise ToolTableError(f"{where}: must be a list")
    return value
