"""Run the examples each policy carries against the whole policy set (`policy test`).

An example whose `expect` is the policy's own effect must be decided that way *and* name the
policy; any other example must be decided as it says and must *not* name the policy, so each
example pins down both what a policy catches and what it leaves alone. Examples run in a fixed
made-up layout (`EXAMPLE_PLACES`), so a file tests the same on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openclaw_secure_stack.governance.classify import ToolTable
from openclaw_secure_stack.governance.engine import decide
from openclaw_secure_stack.governance.model import Caller, Context, Flow, RateScope, ToolCall
from openclaw_secure_stack.governance.policy import Policy, PolicyError, PolicySet

EXAMPLE_ROOT = Path("/srv/agent")
EXAMPLE_PLACES: Mapping[str, Path] = {
    "workspace": EXAMPLE_ROOT / "workspace",
    "home": EXAMPLE_ROOT / "home",
    "state": EXAMPLE_ROOT / "state",
    "config": EXAMPLE_ROOT / "openclaw.json",
}
EXAMPLE_SESSION = "agent:main:example"


@dataclass(frozen=True)
class FixedRecent:
    """A history in which every scope already has `calls` calls in the window."""

    calls: int

    def count(self, scope: RateScope, key: str, since: float) -> int:
        return self.calls


@dataclass(frozen=True)
class Failure:
    policy_id: str
    number: int
    message: str

    def __str__(self) -> str:
        return f"{self.policy_id} example #{self.number}: {self.message}"


def example_context(raw: Mapping[str, Any], where: str) -> Context:
    """The context an example describes; raises PolicyError on a malformed one."""
    unknown = set(raw) - {"caller", "flow", "recent"}
    if unknown:
        raise PolicyError(
            f"{where}: context has unknown keys {sorted(unknown)}; use caller, flow, recent."
        )
    try:
        caller = Caller(**raw.get("caller", {}))
        flow = Flow(**raw.get("flow", {}))
    except TypeError as exc:
        raise PolicyError(f"{where}: context: {exc}.") from None
    recent = raw.get("recent", 0)
    if not isinstance(recent, int) or isinstance(recent, bool) or recent < 0:
        raise PolicyError(f"{where}: context.recent must be a whole number >= 0.")
    return Context(
        session=EXAMPLE_SESSION,
        places=EXAMPLE_PLACES,
        caller=caller,
        flow=flow,
        now=1_000_000.0,
        recent=FixedRecent(recent),
    )


def check_examples(policies: PolicySet) -> None:
    """Raise PolicyError if any example's context is malformed (part of `policy check`)."""
    for policy in policies.policies:
        for number, example in enumerate(policy.examples, 1):
            example_context(example.context, _where(policies, policy, number))


def run_examples(policies: PolicySet, tools: ToolTable) -> list[Failure]:
    failures: list[Failure] = []
    for policy in policies.policies:
        for number, example in enumerate(policy.examples, 1):
            context = example_context(example.context, _where(policies, policy, number))
            call = ToolCall(example.call["tool"], example.call.get("params", {}))
            decision = decide(call, context, policies, tools)
            named = policy.id in decision.policy_ids
            own = example.expect is policy.verdict
            if decision.verdict is not example.expect:
                failures.append(
                    Failure(
                        policy.id,
                        number,
                        f"{call.tool} {dict(call.params)} expected {example.expect.value}, got "
                        f"{decision.verdict.value} ({', '.join(decision.policy_ids)})",
                    )
                )
            elif own and not named:
                failures.append(
                    Failure(policy.id, number, f"decided by {decision.policy_ids}, not this one")
                )
            elif not own and named:
                failures.append(Failure(policy.id, number, "this policy applied, but should not"))
    return failures


def _where(policies: PolicySet, policy: Policy, number: int) -> str:
    return f"{policies.source}:{policy.line}: {policy.id} examples #{number}"
