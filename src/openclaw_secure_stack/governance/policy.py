"""Policies as data: parse a policy file fail-closed into conditions the engine evaluates.

A policy file is JSON: `{"schema": 1, "lists": {name: [...]}, "policies": [...]}`. Each policy
has a stable `id`, `title`, `rationale`, an `effect` (`deny`, `require_approval`, `allow`), a
`match` object and `examples`. Inside any list, `"@name"` stands for the entries of
`lists.name`. Every condition in `match` must hold for the policy to apply:

Conditions on a set hold, for a deny or require_approval policy, when SOME member matches; for
an allow policy, when EVERY member does:

- `tools`: [glob]: the tool's name matches one (for `tool_call`, the tool it calls);
- `intents`, `paths`, `hosts`, `commands`: {"in": [...]} or {"not_in": [...]}: the call's
  intents, resolved paths, hosts, or the names of its shell commands are (not) among them
  (`"*"` is any);
- `caller`: {tokens, channels, senders, owner}: each field named equals the caller's (unknown
  never does; `owner: false` means "not proven the owner", so an unknown owner matches it);
- `opaque`: true: in a deny or require_approval policy, the classifier could not establish
  everything about the call; in an allow policy, the policy allows such calls too (never do
  this outside tests: it allows what nobody could check).

Only in deny or require_approval policies (they cannot allow anything):

- `invocations`: [{names, flags}]: a command has one of the names and, for each flag group, one
  of its flags (`-rf` gives `-r` and `-f`);
- `pipelines`: [[{names, flags}, ...]]: one pipeline runs such commands in that order;
- `flow`: [untrusted_content | secret_read]: one of them happened earlier in the session;
- `rate`: {scope: caller | session, max, window_seconds}: `max` calls were already decided.

Patterns: a path pattern that starts with `/`, `~/` or `$place` is a directory (itself and
everything under it, after resolving symlinks); any other is a glob matched against each
component (`*.pem`, `.env`). A host pattern is `name` (exactly), `*.name` (strict subdomains) or
`*` (any). An allow policy also applies only to calls that are fully known: if the call has
paths, hosts or shell commands, the policy must have a condition on each of those kinds, and an
opaque call is allowed only by a policy that says `opaque: true`.

Anything wrong raises `PolicyError` with the file, the line and what to change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import re2

from openclaw_secure_stack.governance.model import RateScope, Verdict
from openclaw_secure_stack.governance.resources import glob_to_re2, normalise_host

SCHEMA_VERSION = 1
Effect = Literal["deny", "require_approval", "allow"]
EFFECTS: dict[str, Verdict] = {
    "deny": Verdict.BLOCK,
    "require_approval": Verdict.REQUIRE_APPROVAL,
    "allow": Verdict.ALLOW,
}
FLOW_FACTS = ("untrusted_content", "secret_read")
# Directories a path pattern may start from; the caller puts each in `Context.places`.
PLACES = ("workspace", "home", "state", "config")
RATE_SCOPES: tuple[RateScope, ...] = ("caller", "session")
_RESTRICTIVE_ONLY = ("invocations", "pipelines", "flow", "rate")
_MATCH_KEYS = frozenset(
    {"tools", "intents", "paths", "hosts", "commands", "opaque", *_RESTRICTIVE_ONLY, "caller"}
)
_POLICY_KEYS = frozenset({"id", "title", "rationale", "effect", "match", "examples"})


class PolicyError(Exception):
    """A policy file the engine cannot use: names the file, the line and the fix."""


@dataclass(frozen=True)
class SetCondition:
    """`{"in": [...]}` (negate False) or `{"not_in": [...]}` (negate True) over a set."""

    patterns: tuple[str, ...]
    negate: bool


@dataclass(frozen=True)
class CommandPattern:
    names: frozenset[str]
    flags: tuple[frozenset[str], ...] = ()


@dataclass(frozen=True)
class CallerCondition:
    tokens: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    senders: frozenset[str] | None = None
    owner: bool | None = None


@dataclass(frozen=True)
class RateCondition:
    scope: RateScope
    max: int
    window_seconds: float


@dataclass(frozen=True)
class Example:
    call: Mapping[str, Any]
    context: Mapping[str, Any]
    expect: Verdict


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    rationale: str
    effect: Effect
    line: int
    tools: Any = None  # a compiled RE2 pattern over tool names, or None
    intents: SetCondition | None = None
    paths: SetCondition | None = None
    hosts: SetCondition | None = None
    commands: SetCondition | None = None
    invocations: tuple[CommandPattern, ...] = ()
    pipelines: tuple[tuple[CommandPattern, ...], ...] = ()
    opaque: bool = False
    caller: CallerCondition | None = None
    flow: tuple[str, ...] = ()
    rate: RateCondition | None = None
    examples: tuple[Example, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return EFFECTS[self.effect]


@dataclass(frozen=True)
class PolicySet:
    source: str
    policies: tuple[Policy, ...]


class _Where:
    """Builds error messages: `file:line: policy ID: field: problem (fix)`."""

    def __init__(self, source: str, line: int, policy: str) -> None:
        self.source, self.line, self.policy = source, line, policy

    def error(self, field: str, problem: str, fix: str) -> PolicyError:
        return PolicyError(f"{self.source}:{self.line}: {self.policy} {field}: {problem}. {fix}")


def load_policies(path: Path) -> PolicySet:
    """Read and validate a policy file, or raise `PolicyError` saying where and how to fix it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 ({exc.reason}). Save it as UTF-8.") from None
    return parse_policies(text, str(path))


def parse_policies(text: str, source: str) -> PolicySet:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"{source}:{exc.lineno}: invalid JSON at column {exc.colno} ({exc.msg}). "
            "Fix the syntax (JSON has no comments or trailing commas)."
        ) from None
    except RecursionError:
        raise PolicyError(f"{source}: JSON nested too deeply.") from None
    top = _Where(source, 1, "file")
    if not isinstance(document, dict):
        raise top.error("top level", "is not an object", 'Start with {"schema": 1, ...}.')
    if document.get("schema") != SCHEMA_VERSION:
        raise top.error(
            "schema", f"is {document.get('schema')!r}", f'Set "schema": {SCHEMA_VERSION}.'
        )
    unknown = set(document) - {"schema", "about", "lists", "policies"}
    if unknown:
        raise top.error("keys", f"unknown {sorted(unknown)}", "Use schema, lists, policies.")
    lists = _lists(document.get("lists", {}), top)
    raw_policies = document.get("policies")
    if not isinstance(raw_policies, list) or not raw_policies:
        raise top.error("policies", "missing or empty", "Add a non-empty list of policies.")
    policies: list[Policy] = []
    seen: dict[str, int] = {}
    cursor = 0  # policies appear in file order: look for each id after the previous one
    for number, raw in enumerate(raw_policies, 1):
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            found = text.find(json.dumps(raw["id"]), cursor)
            cursor = found + 1 if found >= 0 else cursor
        policy = _policy(raw, number, lists, text.count("\n", 0, cursor) + 1, source)
        if policy.id in seen:
            raise _Where(source, policy.line, policy.id).error(
                "id", f"already used on line {seen[policy.id]}", "Give each policy its own id."
            )
        seen[policy.id] = policy.line
        policies.append(policy)
    return PolicySet(source, tuple(policies))


def _lists(raw: object, where: _Where) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise where.error("lists", "is not an object", 'Use "lists": {"name": ["a", "b"]}.')
    lists: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise where.error(f"lists.{name}", "is not a list of strings", "List strings only.")
        lists[name] = tuple(values)
    return lists


def _policy(
    raw: object, number: int, lists: Mapping[str, tuple[str, ...]], line: int, source: str
) -> Policy:
    where = _Where(source, line, f"policy #{number}")
    if not isinstance(raw, dict):
        raise where.error("", "is not an object", "Each policy is a JSON object.")
    policy_id = raw.get("id")
    if not isinstance(policy_id, str) or not policy_id.strip():
        raise where.error("id", "missing", 'Give it a stable id such as "OSS-GOV-100".')
    where = _Where(source, line, policy_id)
    unknown = set(raw) - _POLICY_KEYS
    if unknown:
        raise where.error("keys", f"unknown {sorted(unknown)}", f"Use {sorted(_POLICY_KEYS)}.")
    effect = raw.get("effect")
    if effect not in EFFECTS:
        raise where.error("effect", f"is {effect!r}", f"Use one of {', '.join(EFFECTS)}.")
    for field in ("title", "rationale"):
        if not isinstance(raw.get(field), str) or not raw[field].strip():
            raise where.error(field, "missing", f"Write a one-line {field}.")
    match = raw.get("match")
    if not isinstance(match, dict) or not match:
        raise where.error("match", "missing or empty", "Add at least one condition.")
    unknown = set(match) - _MATCH_KEYS
    if unknown:
        raise where.error("match", f"unknown {sorted(unknown)}", f"Use {sorted(_MATCH_KEYS)}.")
    if effect == "allow":
        restrictive = sorted(set(match) & set(_RESTRICTIVE_ONLY))
        if restrictive:
            raise where.error(
                "match",
                f"{restrictive} cannot allow anything",
                "Use them in deny or require_approval policies.",
            )
    expand = _Expander(lists, where)
    return Policy(
        id=policy_id,
        title=raw["title"],
        rationale=raw["rationale"],
        effect=cast(Effect, effect),
        line=where.line,
        tools=_tools(match, expand),
        intents=_set(match, "intents", expand),
        paths=_paths(match, expand),
        hosts=_hosts(match, expand),
        commands=_set(match, "commands", expand),
        invocations=tuple(
            _command_pattern(item, "invocations", expand)
            for item in _list(match, "invocations", where)
        ),
        pipelines=tuple(_pipeline(item, expand) for item in _list(match, "pipelines", where)),
        opaque=_opaque(match, where),
        caller=_caller(match.get("caller"), expand),
        flow=_flow(match, where),
        rate=_rate(match.get("rate"), where),
        examples=_examples(raw.get("examples"), effect, where),
    )


class _Expander:
    def __init__(self, lists: Mapping[str, tuple[str, ...]], where: _Where) -> None:
        self.lists, self.where = lists, where

    def strings(self, value: object, field: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.where.error(field, "is not a list of non-empty strings", "List strings.")
        out: list[str] = []
        for item in value:
            if item.startswith("@"):
                if item[1:] not in self.lists:
                    raise self.where.error(
                        field, f"names list {item!r}, which is not defined", "Add it to lists."
                    )
                out.extend(self.lists[item[1:]])
            else:
                out.append(item)
        if not out:
            raise self.where.error(field, "is empty", "Name at least one entry.")
        return tuple(out)


def _list(match: Mapping[str, object], name: str, where: _Where) -> Sequence[object]:
    value = match.get(name, [])
    if not isinstance(value, list):
        raise where.error(f"match.{name}", "is not a list", "Give a list.")
    return value


def _tools(match: Mapping[str, object], expand: _Expander) -> Any:
    if "tools" not in match:
        return None
    globs = expand.strings(match["tools"], "match.tools")
    return re2.compile("|".join(f"(?:{glob_to_re2(glob)})" for glob in globs))


def _set(match: Mapping[str, object], name: str, expand: _Expander) -> SetCondition | None:
    raw = match.get(name)
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("in", "not_in"):
        raise expand.where.error(
            f"match.{name}", "must have exactly one of in / not_in", 'Write {"in": [...]}.'
        )
    key, value = next(iter(raw.items()))
    return SetCondition(expand.strings(value, f"match.{name}.{key}"), negate=key == "not_in")


def _paths(match: Mapping[str, object], expand: _Expander) -> SetCondition | None:
    condition = _set(match, "paths", expand)
    for pattern in condition.patterns if condition else ():
        place = pattern[1:].split("/", 1)[0]
        if pattern.startswith("$") and place not in PLACES:
            raise expand.where.error(
                "match.paths", f"{pattern!r} names no known place", f"Use ${', $'.join(PLACES)}."
            )
        if "\x00" in pattern:
            raise expand.where.error("match.paths", "has a NUL byte", "Remove it.")
    return condition


def _hosts(match: Mapping[str, object], expand: _Expander) -> SetCondition | None:
    condition = _set(match, "hosts", expand)
    for pattern in condition.patterns if condition else ():
        bare = pattern[2:] if pattern.startswith("*.") else pattern
        if pattern != "*" and normalise_host(bare) != bare:
            raise expand.where.error(
                "match.hosts",
                f"{pattern!r} is not a lower-case host",
                "Write example.com, *.example.com or *; no scheme, port or path.",
            )
    return condition


def _command_pattern(raw: object, field: str, expand: _Expander) -> CommandPattern:
    if not isinstance(raw, dict) or "names" not in raw or set(raw) - {"names", "flags"}:
        raise expand.where.error(
            f"match.{field}", "has an entry that is not {names, flags}", 'Write {"names": [...]}.'
        )
    flags = raw.get("flags", [])
    if not isinstance(flags, list):
        raise expand.where.error(f"match.{field}.flags", "is not a list", "Give flag groups.")
    return CommandPattern(
        names=frozenset(expand.strings(raw["names"], f"match.{field}.names")),
        flags=tuple(frozenset(expand.strings(group, f"match.{field}.flags")) for group in flags),
    )


def _pipeline(raw: object, expand: _Expander) -> tuple[CommandPattern, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise expand.where.error(
            "match.pipelines", "has an entry that is not a list of 2+ commands", "List them."
        )
    return tuple(_command_pattern(item, "pipelines", expand) for item in raw)


def _opaque(match: Mapping[str, object], where: _Where) -> bool:
    value = match.get("opaque", False)
    if not isinstance(value, bool):
        raise where.error("match.opaque", "is not true or false", "Write true.")
    return value


def _caller(raw: object, expand: _Expander) -> CallerCondition | None:
    if raw is None:
        return None
    keys = {"tokens", "channels", "senders", "owner"}
    if not isinstance(raw, dict) or not raw or set(raw) - keys:
        raise expand.where.error("match.caller", "is not an object", f"Use {sorted(keys)}.")
    owner = raw.get("owner")
    if owner is not None and not isinstance(owner, bool):
        raise expand.where.error("match.caller.owner", "is not a boolean", "Write true/false.")

    def names(key: str) -> frozenset[str] | None:
        value = raw.get(key)
        return None if value is None else frozenset(expand.strings(value, f"match.caller.{key}"))

    return CallerCondition(names("tokens"), names("channels"), names("senders"), owner)


def _flow(match: Mapping[str, object], where: _Where) -> tuple[str, ...]:
    facts = tuple(str(item) for item in _list(match, "flow", where))
    bad = [fact for fact in facts if fact not in FLOW_FACTS]
    if bad:
        raise where.error("match.flow", f"unknown {bad}", f"Use {', '.join(FLOW_FACTS)}.")
    return facts


def _rate(raw: object, where: _Where) -> RateCondition | None:
    if raw is None:
        return None
    fix = 'Write {"scope": "session", "max": 60, "window_seconds": 60}.'
    if not isinstance(raw, dict) or set(raw) != {"scope", "max", "window_seconds"}:
        raise where.error("match.rate", "needs scope, max and window_seconds", fix)
    scope, most, window = raw["scope"], raw["max"], raw["window_seconds"]
    if scope not in RATE_SCOPES:
        raise where.error("match.rate.scope", f"is {scope!r}", f"Use {' or '.join(RATE_SCOPES)}.")
    if not isinstance(most, int) or isinstance(most, bool) or most < 1:
        raise where.error("match.rate.max", f"is {most!r}", "Use a whole number >= 1.")
    if not isinstance(window, int | float) or isinstance(window, bool) or window <= 0:
        raise where.error("match.rate.window_seconds", f"is {window!r}", "Use a number > 0.")
    return RateCondition(cast(RateScope, scope), most, float(window))


def _examples(raw: object, effect: str, where: _Where) -> tuple[Example, ...]:
    fix = 'Add "examples": [{"call": {"tool": ..., "params": {...}}, "expect": "block"}, ...].'
    if not isinstance(raw, list) or not raw:
        raise where.error("examples", "missing or empty", fix)
    examples: list[Example] = []
    for number, item in enumerate(raw, 1):
        field = f"examples #{number}"
        if not isinstance(item, dict) or set(item) - {"call", "context", "expect", "note"}:
            raise where.error(field, "is not {call, context, expect, note}", fix)
        call, context, expect = item.get("call"), item.get("context", {}), item.get("expect")
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("tool"), str)
            or not isinstance(call.get("params", {}), dict)
        ):
            raise where.error(f"{field}.call", "needs a tool name and params", fix)
        if not isinstance(context, dict):
            raise where.error(f"{field}.context", "is not an object", fix)
        verdicts = {verdict.value: verdict for verdict in Verdict}
        if expect not in verdicts:
            raise where.error(f"{field}.expect", f"is {expect!r}", f"Use {', '.join(verdicts)}.")
        examples.append(Example(call, context, verdicts[expect]))
    if not any(example.expect is EFFECTS[effect] for example in examples):
        raise where.error(
            "examples",
            f"none expects {EFFECTS[effect].value}",
            "Add at least one example that this policy decides.",
        )
    return tuple(examples)
