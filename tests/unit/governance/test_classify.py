"""Each OpenClaw tool's parameters become intents and resolved resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openclaw_secure_stack.governance import Classification, Context, ToolCall, ToolTable, classify
from openclaw_secure_stack.governance.classify import ToolTableError, parse_tool_table


def run(table: ToolTable, context: Context, tool: str, **params: Any) -> Classification:
    return classify(ToolCall(tool, params), context, table)


def test_read_resolves_relative_dotdot_and_home(table: ToolTable, context: Context) -> None:
    """`read` paths are taken from the workspace, `..` collapsed, `~` the agent's home."""
    assert run(table, context, "read", path="notes/a.md").paths == (
        context.workspace / "notes" / "a.md",
    )
    assert run(table, context, "read", path="../home/x").paths == (context.home / "x",)
    assert run(table, context, "read", path="~/.ssh/id_rsa").paths == (
        context.home / ".ssh" / "id_rsa",
    )
    assert run(table, context, "read", path="x").intents == {"file_read"}


def test_symlinks_are_followed(table: ToolTable, context: Context) -> None:
    """A link in the workspace to the home's .ssh is the .ssh directory, not the workspace."""
    (context.home / ".ssh").mkdir()
    (context.workspace / "keys").symlink_to(context.home / ".ssh")
    result = run(table, context, "write", path="keys/authorized_keys", content="x")
    assert result.paths == (context.home / ".ssh" / "authorized_keys",)
    assert result.intents == {"file_write"}


def test_a_missing_path_is_opaque(table: ToolTable, context: Context) -> None:
    """`read` without a path (or with a non-string one) cannot be known."""
    assert run(table, context, "read").opaque
    assert run(table, context, "read", path=["a"]).opaque


@pytest.mark.parametrize(("tool", "intent"), [("write", "file_write"), ("edit", "file_write")])
def test_write_and_edit(table: ToolTable, context: Context, tool: str, intent: str) -> None:
    """`write` and `edit` name one path each."""
    result = run(table, context, tool, path="/etc/cron.d/job", content="x", edits=[])
    assert result.paths == (Path("/etc/cron.d/job"),) and result.intents == {intent}


def test_ls_defaults_to_the_workspace(table: ToolTable, context: Context) -> None:
    """`ls` without a path lists the working directory."""
    assert run(table, context, "ls").paths == (context.workspace,)


def test_apply_patch_reads_every_file_header(table: ToolTable, context: Context) -> None:
    """Added, updated, moved and deleted files are all resources, with their intents."""
    patch = (
        "*** Begin Patch\n*** Add File: a.txt\n+x\n*** Update File: b.txt\n*** Move to: /tmp/c\n"
        "@@\n-x\n+y\n*** Delete File: ../d\n*** End Patch"
    )
    result = run(table, context, "apply_patch", input=patch)
    assert result.paths == (
        context.workspace / "a.txt",
        context.workspace / "b.txt",
        Path("/tmp/c").resolve(),
        context.workspace.parent / "d",
    )
    assert result.intents == {"file_write", "file_delete"}
    assert run(table, context, "apply_patch", input="*** Begin Patch\n*** End Patch").opaque


def test_exec_parses_commands_paths_and_hosts(table: ToolTable, context: Context) -> None:
    """Each command adds its intents; URLs, network-command hosts and file words are resources."""
    result = run(
        table,
        context,
        "exec",
        command="curl -o out.html https://Docs.Example.com./x && ssh deploy@10.0.0.5 ls && rm a",
    )
    assert [command.name for command in result.commands] == ["curl", "ssh", "rm"]
    # `out.html` after a network command could be a host too: both, to be safe.
    assert result.hosts == ("out.html", "docs.example.com", "10.0.0.5")
    assert context.workspace / "out.html" in result.paths
    assert context.workspace / "a" in result.paths
    assert result.intents >= {"code_execution", "network", "file_delete"}
    assert result.opaque == ()


def test_exec_follows_cd_and_workdir(table: ToolTable, context: Context) -> None:
    """`cd DIR` moves later relative paths; `workdir` is where the line starts."""
    result = run(table, context, "exec", command="cd ~/.ssh && cat id_rsa")
    assert context.home / ".ssh" / "id_rsa" in result.paths
    result = run(table, context, "exec", command="cat passwd", workdir="/etc")
    assert set(result.paths) == {Path("/etc"), Path("/etc/passwd")}


def test_exec_redirects_write_and_dev_null_is_harmless(table: ToolTable, context: Context) -> None:
    """`> file` is a file_write on that file; `2>/dev/null` names nothing."""
    result = run(table, context, "exec", command="ls 2>/dev/null > /etc/motd")
    assert result.paths == (Path("/etc/motd"),)
    assert "file_write" in result.intents


def test_exec_running_a_file_names_it(table: ToolTable, context: Context) -> None:
    """`./ls` is a path to a program, not the system's `ls`."""
    result = run(table, context, "exec", command="./ls")
    assert context.workspace / "ls" in result.paths


def test_exec_flags_and_environment(table: ToolTable, context: Context) -> None:
    """`elevated: true` is privilege escalation; PATH or LD_* overrides make the call opaque."""
    assert (
        "privilege_escalation" in run(table, context, "exec", command="ls", elevated=True).intents
    )
    assert run(table, context, "exec", command="ls", env={"LD_PRELOAD": "x.so"}).opaque
    assert run(table, context, "exec", command="ls", env={"PATH": "/tmp"}).opaque
    assert not run(table, context, "exec", command="ls", env={"LANG": "C"}).opaque


def test_exec_dynamic_words_are_opaque(table: ToolTable, context: Context) -> None:
    """`cat $F` could read any file."""
    assert run(table, context, "exec", command="cat $F").opaque


@pytest.mark.parametrize(
    ("action", "intent"),
    [
        ("list", "process_read"),
        ("poll", "process_read"),
        ("log", "process_read"),
        ("write", "code_execution"),
        ("send-keys", "code_execution"),
        ("kill", "process_control"),
    ],
)
def test_process_actions(table: ToolTable, context: Context, action: str, intent: str) -> None:
    """Reading a background session's output is not running code; writing to it is."""
    assert intent in run(table, context, "process", action=action, sessionId="s").intents


def test_process_unknown_action_is_opaque(table: ToolTable, context: Context) -> None:
    """An action OpenClaw's schema does not list is unknown."""
    result = run(table, context, "process", action="spawn")
    assert result.opaque and "unknown" in result.intents


def test_web_and_browser_tools(table: ToolTable, context: Context) -> None:
    """`web_fetch` and `browser` name hosts; `web_search` is a search; a bad URL is opaque."""
    assert run(table, context, "web_fetch", url="https://a.example:8443/p").hosts == ("a.example",)
    assert run(table, context, "web_fetch", url="file:///etc/passwd").opaque
    assert run(table, context, "web_search", query="x").intents == {"network_search"}
    browser = run(table, context, "browser", action="navigate", url="http://[::1]:9/")
    assert browser.hosts == ("::1",) and browser.intents == {"network", "browser"}


@pytest.mark.parametrize(
    ("tool", "intent"),
    [
        ("openclaw", "gateway_admin"),
        ("tool_search", "tool_discovery"),
        ("tool_describe", "tool_discovery"),
        ("sessions_yield", "session_control"),
    ],
)
def test_openclaw_own_tools(table: ToolTable, context: Context, tool: str, intent: str) -> None:
    """OpenClaw's administration, discovery and session tools have their own intents."""
    result = run(table, context, tool, message="x")
    assert result.known and result.intents == {intent}


def test_tool_call_is_classified_as_the_tool_it_calls(table: ToolTable, context: Context) -> None:
    """Tool search's bridge is seen through, so `tool_call` cannot launder `exec`."""
    result = run(table, context, "tool_call", id="exec", args={"command": "rm -rf /"})
    assert result.tool == "exec" and result.via == ("tool_call",)
    assert result.commands[0].argv == ("rm", "-rf", "/")
    loop = run(
        table,
        context,
        "tool_call",
        id="tool_call",
        args={"id": "tool_call", "args": {"id": "exec", "args": {"command": "id"}}},
    )
    assert loop.opaque
    assert run(table, context, "tool_call", args={}).opaque


def test_mcp_plugin_and_unknown_tools(table: ToolTable, context: Context) -> None:
    """`server__tool` is an MCP tool; any other unlisted name is unknown."""
    mcp = run(table, context, "github__create_issue", title="x")
    assert mcp.family == "mcp" and mcp.intents == {"mcp_tool"}
    other = run(table, context, "voice_call", to="+1")
    assert not other.known and other.intents == {"unknown"}


def test_the_tool_table_names_every_tool_openclaw_offers(table: ToolTable) -> None:
    """The tools OpenClaw 2026.9.6 sends to its model (and its web tools) are all listed."""
    offered = {
        "exec",
        "read",
        "write",
        "edit",
        "apply_patch",
        "ls",
        "process",
        "openclaw",
        "tool_call",
        "tool_describe",
        "tool_search",
        "sessions_yield",
        "web_fetch",
        "web_search",
        "browser",
    }
    assert offered <= set(table.tools)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"schema": 2, "tools": {}}, "schema 1"),
        ({"schema": 1, "tools": {"x": {"intents": "a"}}}, "tools.x.intents"),
        ({"schema": 1, "tools": {"x": {"pathz": []}}}, "unknown keys"),
        ({"schema": 1, "tools": {"x": {}}, "patterns": [{"kind": "m"}]}, "glob"),
    ],
)
def test_a_bad_tool_table_is_refused(document: object, message: str) -> None:
    """A malformed table raises ToolTableError naming the entry."""
    with pytest.raises(ToolTableError, match=message):
        parse_tool_table(document, "t.json")
