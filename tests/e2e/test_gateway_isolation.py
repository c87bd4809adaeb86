"""The real OpenClaw, asked by its model to `exec` commands, cannot read the stack's secrets.

`up` starts OpenClaw with an allowlisted environment inside a bubblewrap sandbox where the stack's
secret files are not mounted and the other processes are not visible. Each test scripts the fake
model to request `exec` calls and asserts on the tool results OpenClaw sent back to the model:
what the model (and so a prompt-injected agent) could have learnt.
"""

from __future__ import annotations

import os
from pathlib import Path

from fake_llm import Reply, ToolCall
from harness import PROVIDER_KEY, REPO, StackHandle

from openclaw_secure_stack.runtime.gateway_config import GatewayPaths, gateway_environment
from openclaw_secure_stack.runtime.stack import read_state

# What the user's shell may hold besides the stack's own settings.
SHELL_SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "aws-canary-6f1d0c2b9e",
    "GITHUB_TOKEN": "ghp_canary4b7e21d09c",
    "NPM_TOKEN": "npm-canary-93ac1e",
}
# What OpenClaw's exec tool itself sets for the commands it runs (read from its output here).
OPENCLAW_EXEC_ADDS = {
    "OPENCLAW_GATEWAY_PORT",
    "OPENCLAW_CLI",
    "OPENCLAW_SHELL",
    "OPENCLAW_PATH_BOOTSTRAPPED",
    "PWD",
    "SHLVL",
    "_",
}


def exec_results(stack: StackHandle, *commands: str) -> list[str]:
    """One turn in which the model runs `commands` with `exec`: their results, in order."""
    calls = [ToolCall("exec", {"command": command}) for command in commands]
    stack.llm.script(*calls, Reply("done"))
    reply = stack.chat("Run the checks.")
    assert reply.status == 200, reply.body
    results = stack.llm.requests[-1].tool_results()
    return [results[call.call_id] for call in calls]


def stack_secrets(stack: StackHandle) -> dict[str, str]:
    secrets = stack.data_dir / "secrets"
    return {
        "client token": stack.client_token,
        "gateway token": stack.gateway_token,
        "audit key": (secrets / "audit-key").read_text().strip(),
    }


def assert_nothing_leaked(results: list[str], secrets: dict[str, str]) -> None:
    for command_result in results:
        leaked = [name for name, value in secrets.items() if value in command_result]
        assert leaked == [], f"{leaked} in {command_result!r}"


def test_exec_env_holds_only_the_allowlisted_variables(stack: StackHandle) -> None:
    """`env`, `printenv` and OpenClaw's own /proc environ show no secret, only the allowlist."""
    env, printenv, own = exec_results(
        stack, "env", "printenv AUDIT_KEY CLIENT_TOKENS MODEL_API_KEY", "cat /proc/1/environ"
    )
    assert_nothing_leaked([env, printenv, own], stack_secrets(stack))
    names = {line.split("=", 1)[0] for line in env.splitlines() if "=" in line}
    given = set(gateway_environment(GatewayPaths(stack.openclaw_root), os.environ))
    assert names - given <= OPENCLAW_EXEC_ADDS
    assert f"HOME={stack.openclaw_root / 'home'}" in env.splitlines()
    assert printenv == "(no output)\n\n(Command exited with code 1)"
    assert {entry.split("=", 1)[0] for entry in own.split("\\x00") if entry} == given
    assert PROVIDER_KEY not in env + own


def test_exec_cannot_read_the_secret_files_by_any_path(stack: StackHandle) -> None:
    """Absolute, relative, globbed, variable and symlinked paths to the secrets find nothing."""
    secrets_dir = stack.data_dir / "secrets"
    link = stack.workspace / "secrets-link"
    results = exec_results(
        stack,
        f"cat {secrets_dir}/audit-key",
        f"cat {secrets_dir}/*",
        f"cd {stack.openclaw_root} && cat ../secrets/client-tokens",
        'D="$OPENCLAW_STATE_DIR/../../secrets"; cat "$D/gateway-token"',
        f"cat {stack.data_dir}/./secrets/../secrets/audit-key",
        f"ln -s {secrets_dir} {link} && cat {link}/audit-key",
        f"cat {stack.audit_log_path}",
        f"ls -a {stack.data_dir}",
        "find / -xdev -name 'audit-key*' -o -name 'client-tokens*' 2>/dev/null; echo end",
    )
    assert_nothing_leaked(results, stack_secrets(stack))
    for result in results[:7]:
        assert "No such file or directory" in result, result
    # Only OpenClaw's own directory is there; secrets/, run/ and audit/ are not.
    assert results[7].split() == [".", "..", "openclaw"]
    assert results[8].strip() == "end"


def test_the_provider_key_is_not_in_openclaws_reach(stack: StackHandle) -> None:
    """OpenClaw's config holds only the model gateway's key; the provider still gets the real
    one, from the gateway."""
    config, state = exec_results(
        stack,
        'cat "$OPENCLAW_CONFIG_PATH"',
        f'grep -rl "fake-""provider-key" {stack.openclaw_root}; echo searched',
    )
    assert '"apiKey": "' in config  # the file was read
    assert PROVIDER_KEY not in config
    assert state.strip() == "searched"
    assert {request.headers.get("Authorization") for request in stack.llm.requests} == {
        f"Bearer {PROVIDER_KEY}"
    }


def test_exec_cannot_rewrite_openclaws_config(stack: StackHandle) -> None:
    """Writing, editing, replacing or removing the config (which OpenClaw applies live) fails."""
    config = stack.openclaw_root / "openclaw.json"
    before = config.read_bytes()
    results = exec_results(
        stack,
        'echo "{}" > "$OPENCLAW_CONFIG_PATH"',
        'sed -i "s/prompt-guard/nothing/" "$OPENCLAW_CONFIG_PATH"',
        'echo "{}" > ../x.json && mv ../x.json "$OPENCLAW_CONFIG_PATH"',
        'rm -f "$OPENCLAW_CONFIG_PATH"',
    )
    assert "Read-only file system" in results[0]
    assert "Read-only file system" in results[1] or "Device or resource busy" in results[1]
    assert "Device or resource busy" in results[2]
    assert "Device or resource busy" in results[3]
    assert config.read_bytes() == before
    stack.llm.reply("still here")
    assert stack.chat("hello").text() == "still here"


def test_exec_sees_no_other_process_of_the_stack(stack: StackHandle) -> None:
    """The proxy and `up` (whose environments hold the keys) are not visible from inside."""
    state = read_state(stack.data_dir)
    assert state is not None
    processes, proxy_environ = exec_results(
        stack,
        "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done",
        f"cat /proc/{state.proxy_pid}/environ /proc/{state.up_pid}/environ",
    )
    assert_nothing_leaked([processes, proxy_environ], stack_secrets(stack))
    assert "serve" not in processes and "openclaw-secure-stack" not in processes
    assert "No such file or directory" in proxy_environ


def test_secrets_from_the_shell_do_not_reach_exec(stack: StackHandle) -> None:
    """AUDIT_KEY and the user's own tokens set in `up`'s environment are not in exec's."""
    # The key that sealed the audit anchor so far, now given through the environment.
    audit_key = stack_secrets(stack)["audit key"]
    with stack.reconfigured(AUDIT_KEY=audit_key, **SHELL_SECRETS):
        env, own, repo_env = exec_results(
            stack, "env", "cat /proc/1/environ", f"cat {REPO}/.env; ls {REPO}"
        )
    assert_nothing_leaked([env, own, repo_env], {**SHELL_SECRETS, **stack_secrets(stack)})
    assert "AUDIT_KEY" not in env + own
    assert "No such file or directory" in repo_env
    assert Path(REPO / "README.md").is_file()
