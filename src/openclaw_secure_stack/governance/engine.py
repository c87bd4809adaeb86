"""`decide(call, context)`: one tool call in, ALLOW / BLOCK / REQUIRE_APPROVAL out.

The order is fixed and small: a call whose parameters are too large or have no canonical form is
blocked; the call is classified; every policy whose conditions all hold applies; then deny beats
require_approval beats allow, and with none of them the call is blocked (default deny). The
decision names every policy of the winning effect, and its reason is what the model reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import re2

from openclaw_secure_stack.governance.classify import Classification, ToolTable, classify
from openclaw_secure_stack.governance.model import (
    Caller,
    Context,
    Decision,
    NotCanonical,
    ToolCall,
    Verdict,
    canonical_call,
)
from openclaw_secure_stack.governance.policy import (
    CallerCondition,
    CommandPattern,
    Policy,
    PolicySet,
    SetCondition,
)
from openclaw_secure_stack.governance.resources import (
    file_names,
    glob_to_re2,
    host_matches,
    resolve_path,
)
from openclaw_secure_stack.governance.shell import Command

MAX_CALL_BYTES = 256 * 1024
DEFAULT_DENY = "default-deny"
TOO_LARGE = "call-too-large"
NOT_CANONICAL = "call-not-canonical"
_PRECEDENCE = (Verdict.BLOCK, Verdict.REQUIRE_APPROVAL, Verdict.ALLOW)
T = TypeVar("T")


@dataclass(frozen=True)
class Engine:
    """The loaded policies and tool table; `decide` is the only entry point."""

    policies: PolicySet
    tools: ToolTable

    def decide(self, call: ToolCall, context: Context) -> Decision:
        return decide(call, context, self.policies, self.tools)


def decide(call: ToolCall, context: Context, policies: PolicySet, tools: ToolTable) -> Decision:
    try:
        canonical = canonical_call(call, context.session)
    except NotCanonical as exc:
        return Decision(Verdict.BLOCK, f"Blocked: {exc}.", (NOT_CANONICAL,))
    if len(canonical) > MAX_CALL_BYTES:
        return Decision(
            Verdict.BLOCK,
            f"Blocked: the call's parameters exceed {MAX_CALL_BYTES} bytes, too large to inspect.",
            (TOO_LARGE,),
        )
    classification = classify(call, context, tools)
    applied = [policy for policy in policies.policies if applies(policy, classification, context)]
    for verdict in _PRECEDENCE:
        chosen = [policy for policy in applied if policy.verdict is verdict]
        if chosen:
            return Decision(verdict, _reason(verdict, chosen), tuple(p.id for p in chosen))
    return Decision(Verdict.BLOCK, _default_reason(classification), (DEFAULT_DENY,))


def _reason(verdict: Verdict, chosen: Sequence[Policy]) -> str:
    first = chosen[0]
    named = f"policy {first.id} ({first.title})"
    others = f" and {len(chosen) - 1} more" if len(chosen) > 1 else ""
    if verdict is Verdict.BLOCK:
        return f"Blocked by {named}{others}: {first.rationale}"
    if verdict is Verdict.REQUIRE_APPROVAL:
        return f"Needs a person's approval under {named}{others}: {first.rationale}"
    return f"Allowed by {named}{others}."


def _default_reason(classification: Classification) -> str:
    if not classification.known:
        what = f"the unknown tool {classification.tool!r}"
    else:
        what = f"this {classification.tool} call ({', '.join(sorted(classification.intents))})"
    unsure = (
        f"; could not establish: {'; '.join(classification.opaque)}"
        if classification.opaque
        else ""
    )
    return f"Blocked: no policy allows {what}{unsure}. Ask an operator to add a policy."


def applies(policy: Policy, call: Classification, context: Context) -> bool:
    """Whether every condition of `policy` holds for the classified call."""
    permissive = policy.verdict is Verdict.ALLOW
    if permissive and not _covered(policy, call):
        return False
    checks: list[Callable[[], bool]] = []
    if policy.tools is not None:
        checks.append(lambda: policy.tools.search(call.tool) is not None)
    if policy.intents is not None:
        intents = policy.intents
        checks.append(lambda: _holds(intents, call.intents, _in(intents.patterns), permissive))
    if policy.paths is not None:
        paths = policy.paths
        checks.append(
            lambda: _holds(paths, call.paths, _path_in(paths.patterns, context), permissive)
        )
    if policy.hosts is not None:
        hosts = policy.hosts
        checks.append(lambda: _holds(hosts, call.hosts, _host_in(hosts.patterns), permissive))
    if policy.commands is not None:
        commands = policy.commands
        # `./ls` is the agent's own program, not `ls`: a name is read leniently (base name or
        # as written) where that makes the policy stricter, and only as written where it
        # would let the call through.
        match = _command_loosely if permissive == commands.negate else _command_exactly
        hit = match(commands.patterns)
        checks.append(lambda: _holds(commands, call.commands, hit, permissive))
    if policy.invocations:
        checks.append(
            lambda: any(_invokes(p, c) for p in policy.invocations for c in call.commands)
        )
    if policy.pipelines:
        checks.append(lambda: any(_pipes(p, call.commands) for p in policy.pipelines))
    if policy.opaque and not permissive:
        checks.append(lambda: bool(call.opaque))
    if policy.caller is not None:
        caller = policy.caller
        checks.append(lambda: _caller(caller, context.caller))
    if policy.flow:
        facts = {"untrusted_content": context.flow.untrusted_content,
                 "secret_read": context.flow.secret_read}  # fmt: skip
        checks.append(lambda: any(facts[fact] for fact in policy.flow))
    if policy.rate is not None:
        rate = policy.rate
        key = context.session if rate.scope == "session" else _caller_key(context.caller)
        checks.append(
            lambda: (
                context.recent.count(rate.scope, key, context.now - rate.window_seconds) >= rate.max
            )
        )
    return all(check() for check in checks)


def _covered(policy: Policy, call: Classification) -> bool:
    """An allow policy speaks only for calls that are fully known (unless it says `opaque`)
    and whose every kind of resource it has a condition on."""
    if call.opaque and not policy.opaque:
        return False
    return (
        (not call.paths or policy.paths is not None)
        and (not call.hosts or policy.hosts is not None)
        and (not call.commands or policy.commands is not None)
    )


def _holds(
    condition: SetCondition, items: Iterable[T], hit: Callable[[T], bool], every: bool
) -> bool:
    """`hit(item)`: the item matches one of the condition's patterns."""

    def ok(item: T) -> bool:
        return hit(item) is not condition.negate

    return all(ok(item) for item in items) if every else any(ok(item) for item in items)


def _in(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    if "*" in patterns:
        return lambda _: True
    return frozenset(patterns).__contains__


def _command_exactly(patterns: tuple[str, ...]) -> Callable[[Command], bool]:
    names = frozenset(patterns)
    return lambda command: "*" in names or command.argv[0] in names


def _command_loosely(patterns: tuple[str, ...]) -> Callable[[Command], bool]:
    names = frozenset(patterns)
    return lambda command: "*" in names or command.name in names or command.argv[0] in names


def _host_in(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda host: any(pattern == "*" or host_matches(host, pattern) for pattern in patterns)


def _path_in(patterns: tuple[str, ...], context: Context) -> Callable[[Path], bool]:
    places = tuple(sorted((name, str(path)) for name, path in context.places.items()))
    directories, names = _compiled_paths(patterns, places)

    def hit(path: Path) -> bool:
        text = str(path)
        if any(text == d or text.startswith(d if d == "/" else d + "/") for d in directories):
            return True
        return names is not None and any(names.search(part) for part in file_names(path))

    return hit


@functools.lru_cache(maxsize=256)
def _compiled_paths(
    patterns: tuple[str, ...], places: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, ...], Any]:
    """A path condition's directories resolved as the OS would (an unknown $place is left
    out) and its name globs as one RE2 alternation."""
    named = dict(places)
    directories: list[str] = []
    globs: list[str] = []
    for pattern in patterns:
        if not pattern.startswith(("/", "~", "$")):
            globs.append(f"(?:{glob_to_re2(pattern)})")
            continue
        if pattern.startswith("$"):
            place, _, rest = pattern[1:].partition("/")
            if place in named:
                home = Path(named["home"])
                directories.append(str(resolve_path(rest or ".", Path(named[place]), home)))
        else:
            directories.append(str(resolve_path(pattern, Path("/"), Path(named["home"]))))
    return tuple(directories), re2.compile("|".join(globs)) if globs else None


def _flags(args: Sequence[str]) -> set[str]:
    """Every option a command was given: `-rf` is `-r` and `-f`, `--force=x` is `--force`."""
    flags: set[str] = set()
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("--"):
            flags.add(arg.split("=", 1)[0])
        elif arg.startswith("-") and len(arg) > 1:
            flags.update(f"-{letter}" for letter in arg[1:])
    return flags


def _invokes(pattern: CommandPattern, command: Command) -> bool:
    if command.name not in pattern.names and "*" not in pattern.names:
        return False
    given = _flags(command.args)
    return all(group & given for group in pattern.flags)


def _pipes(patterns: Sequence[CommandPattern], commands: Sequence[Command]) -> bool:
    """Whether one pipeline runs commands matching `patterns`, in that order."""
    by_pipeline: dict[int, list[Command]] = {}
    for command in commands:
        by_pipeline.setdefault(command.pipeline, []).append(command)
    for members in by_pipeline.values():
        members.sort(key=lambda command: command.position)
        index, last_position = 0, -1
        for command in members:
            if command.position > last_position and _invokes(patterns[index], command):
                index, last_position = index + 1, command.position
                if index == len(patterns):
                    return True
    return False


def _caller(condition: CallerCondition, caller: Caller) -> bool:
    """Each named field must equal the caller's; unknown never equals. `owner: false` means
    "not proven to be the owner", so an unknown owner matches it."""
    if condition.tokens is not None and caller.token not in condition.tokens:
        return False
    if condition.channels is not None and caller.channel not in condition.channels:
        return False
    if condition.senders is not None and caller.sender not in condition.senders:
        return False
    return not (condition.owner is not None and (caller.owner is True) != condition.owner)


def _caller_key(caller: Caller) -> str:
    if caller.token:
        return f"token:{caller.token}"
    if caller.channel and caller.sender:
        return f"sender:{caller.channel}:{caller.sender}"
    return "unknown"
