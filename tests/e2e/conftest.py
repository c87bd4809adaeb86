"""End-to-end harness: the real OpenClaw gateway, our plugin and the proxy, started by `up`.

One stack per test session (a gateway takes 1-1.7 GB of memory and ~10 s to start). The session
fixture installs the pinned OpenClaw if needed (into the repo's `.oss-data/runtime`, shared by
all sessions and by `up`), starts the scripted fake LLM (`fake_llm.py`), then runs the real CLI,
`openclaw-secure-stack up`, as a child process in a temporary directory: OpenClaw on loopback
with the prompt-guard plugin and the shipped rules, the proxy in front of it, the fake LLM as the
model provider. At the end `up` gets SIGTERM and the harness checks that every process it
started is gone. Every tool call goes through governance; the shared stack's policy
(`policies/allow-all.json`) allows them all, so the other layers can be tested alone;
test_governance_real_openclaw.py restarts it with the shipped policy.

Fixtures for tests (every test in tests/e2e is marked `e2e` automatically; under pytest-xdist
they all run on one worker, see tests/conftest.py):

`stack` (function scope; the fake LLM is reset to reply "ok" and its request log cleared):
    stack.proxy_url          http://127.0.0.1:<port> of the proxy (what clients use)
    stack.client_token       a valid client token; stack.gateway_token the proxy's own
    stack.llm                the FakeLLM: .reply(text), .call_tool(name, args, answer=None),
                             .script(ToolCall(...), Reply(...)), .requests (RecordedRequest:
                             .body, .messages, .tool_results(), .text()), .clear()
    stack.data_dir           DATA_DIR of `up`; stack.openclaw_root = data_dir/openclaw
                             (state/, logs/openclaw.log, workspace/, openclaw.json)
    stack.workspace          the agent's workspace directory
    stack.quarantine_path    the quarantine list the plugin reads (a temp copy
                             of the packaged list; rewrite it, then restart to be sure it is read)
    stack.rules_path         the indirect-injection rules the plugin reads (the shipped file)
    stack.audit_log_path     the proxy's audit log
    stack.chat(content, session=None, stream=False, token=<client token>, model="openclaw")
                             POST /v1/chat/completions through the proxy -> HttpResult
                             (.status, .headers, .body, .json(), .events() for SSE, .text()
                             for the assistant's reply in either form); `session` is the OpenAI
                             `user` field, which keeps an OpenClaw session across turns
    stack.new_session()      a fresh session id
    stack.post(path, body, token=..., headers=None) -> HttpResult  (any path, via the proxy)
    stack.openclaw_traces(marker) -> list of OpenClaw files (state, logs) containing `marker`
    stack.audit_records(event=None) -> the audit log's records (proxy and model gateway), in order
    stack.model_gateway_port  the model gateway's port (a free one per session)
    stack.reconfigured(**env)  context manager: restart `up` with other settings (environment
                             variables, e.g. INDIRECT_RULES_PATH="/missing.json"; None unsets
                             one; no arguments just restarts, e.g. to re-read the quarantine
                             list). The next test gets the default stack back (one restart).
                             Restarts take 10-30 s, so tests that call it are marked
                             `reconfigures` automatically and run last. Tokens and OpenClaw's
                             data survive restarts.
"""

from __future__ import annotations

import inspect
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_llm import FakeLLM
from harness import INSTALL_ROOT, StackHandle

from openclaw_secure_stack import resources
from openclaw_secure_stack.runtime.install import ensure_installed
from openclaw_secure_stack.runtime.node import find_node


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reconfigures: the test restarts the e2e stack with other settings"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here `e2e`, and `reconfigures` if it calls `stack.reconfigured`.

    Reconfiguring tests run last, so the default stack is started once and every later restart
    is one that a test asked for. Under pytest-xdist they all run on one worker, in this order
    (tests/conftest.py).
    """
    here = Path(__file__).parent
    for item in items:
        if here not in Path(item.path).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        function = getattr(item, "function", None)
        if function is not None and ".reconfigured(" in inspect.getsource(function):
            item.add_marker(pytest.mark.reconfigures)
    items.sort(key=lambda item: item.get_closest_marker("reconfigures") is not None)


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    llm = FakeLLM().start()
    yield llm
    llm.stop()


@pytest.fixture(scope="session")
def running_stack(
    fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackHandle]:
    ensure_installed(INSTALL_ROOT, find_node())
    root = tmp_path_factory.mktemp("stack")
    quarantine = root / "quarantine.json"
    shutil.copyfile(resources.QUARANTINE_LIST, quarantine)
    handle = StackHandle(
        llm=fake_llm,
        data_dir=root / "data",
        quarantine_path=quarantine,
        rules_path=resources.INDIRECT_RULES,
        audit_log_path=root / "audit" / "audit.jsonl",
        base_env=dict(os.environ),
    )
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def stack(running_stack: StackHandle, request: pytest.FixtureRequest) -> StackHandle:
    # A reconfiguring test restarts `up` itself: restoring the default first would be wasted.
    if request.node.get_closest_marker("reconfigures") is None:
        running_stack.ensure_default()
    running_stack.llm.reply("ok")
    running_stack.llm.clear()
    return running_stack
