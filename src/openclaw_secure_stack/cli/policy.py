"""`policy check FILE` validates a policy file; `policy test [FILE]` runs its examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from openclaw_secure_stack import resources
from openclaw_secure_stack.governance import load_policies, load_tool_table
from openclaw_secure_stack.governance.examples import check_examples, run_examples

EXIT_FAILED = 1

app = typer.Typer(help="Check and test governance policy files.", no_args_is_help=True)

ToolsOption = Annotated[
    Path, typer.Option("--tools", help="Tool table (default: the packaged one).")
]


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="Policy file to validate.")],
    tools: ToolsOption = resources.GOVERNANCE_TOOLS,
) -> None:
    """Validate FILE; on an error, print the file, the line and how to fix it (exit 2)."""
    load_tool_table(tools)
    policies = load_policies(file)
    check_examples(policies)
    Console(highlight=False).print(f"{file}: {len(policies.policies)} policies, valid")


@app.command()
def test(
    file: Annotated[
        Path, typer.Argument(help="Policy file (default: the packaged default policy).")
    ] = resources.DEFAULT_POLICY,
    tools: ToolsOption = resources.GOVERNANCE_TOOLS,
) -> None:
    """Decide every example in FILE and check each is decided as it says (exit 1 if not)."""
    table = load_tool_table(tools)
    policies = load_policies(file)
    failures = run_examples(policies, table)
    total = sum(len(policy.examples) for policy in policies.policies)
    console = Console(highlight=False, soft_wrap=True)
    for failure in failures:
        console.print(Text(f"FAIL {failure}", style="red"))
    console.print(f"{file}: {total - len(failures)}/{total} examples pass")
    if failures:
        raise typer.Exit(EXIT_FAILED)
