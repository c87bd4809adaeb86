import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Governance, parseGovernanceConfig } from "../src/governance.ts";
import { type StubGovernance, startStub } from "./support.ts";

let stub: StubGovernance;
before(async () => {
  stub = await startStub();
});
after(() => stub.close());

const TOKEN = "internal-token-0123456789";
const call = { toolName: "exec", params: { command: "make" }, runId: "run-1", toolCallId: "call_1" };
const ctx = {
  agentId: "main",
  sessionKey: "agent:main:oss:alice:openai-user:u",
  requester: { channel: "telegram", senderId: "42", senderIsOwner: false },
};

function load(config: unknown): Governance {
  return Governance.load(config);
}

function governance(overrides: Record<string, unknown> = {}): Governance {
  return load({ governance: { url: stub.url, token: TOKEN, timeoutMs: 500, approvalWaitMs: 2_000, pollMs: 10, ...overrides } });
}

test("an allowed call runs; the stack gets the exact call, OpenClaw's ids and the token", async () => {
  stub.reset([{ verdict: "allow", reason: "ok", policies: [], approval: null }]);
  assert.equal(await governance().decide(call, ctx), undefined);
  const [request] = stub.requests;
  assert.equal(request?.path, "/internal/governance/decide");
  assert.equal(request?.authorization, `Bearer ${TOKEN}`);
  assert.deepEqual(request?.body, { ...call, sessionKey: ctx.sessionKey, agentId: "main", requester: ctx.requester });
});

test("a blocked call returns the stack's reason to the model", async () => {
  stub.reset([{ verdict: "block", reason: "Blocked by policy OSS-GOV-002", policies: ["OSS-GOV-002"], approval: null }]);
  assert.deepEqual(await governance().decide(call, ctx), { block: true, blockReason: "prompt-guard: Blocked by policy OSS-GOV-002" });
});

test("a call needing approval waits for a person, then runs once the stack allows it", async () => {
  stub.reset(
    [
      { verdict: "require_approval", reason: "needs a person", policies: ["P"], approval: { id: "a1", expires: 1 } },
      { verdict: "allow", reason: "approved by bob", policies: ["P"], approval: null },
    ],
    ["pending", "pending", "approved"],
  );
  assert.equal(await governance().decide(call, ctx), undefined);
  assert.deepEqual(
    stub.requests.map((r) => r.path),
    [
      "/internal/governance/decide",
      "/internal/governance/approvals/a1",
      "/internal/governance/approvals/a1",
      "/internal/governance/approvals/a1",
      "/internal/governance/decide",
    ],
  );
});

test("a denied approval blocks the call and says so", async () => {
  stub.reset([{ verdict: "require_approval", reason: "needs a person", policies: [], approval: { id: "a2", expires: 1 } }], ["denied"]);
  const decision = await governance().decide(call, ctx);
  assert.match(String(decision?.blockReason), /approval a2 is denied; the call did not run/);
});

test("an approval nobody decides in time blocks the call", async () => {
  stub.reset([{ verdict: "require_approval", reason: "needs a person", policies: [], approval: { id: "a3", expires: 1 } }], []);
  const decision = await governance({ approvalWaitMs: 50 }).decide(call, ctx);
  assert.match(String(decision?.blockReason), /approval a3 is still pending/);
});

for (const [name, answer] of [
  ["an HTTP error", { status: 500, body: "boom" }],
  ["a body that is not JSON", { status: 200, body: "<html>" }],
  ["an unknown verdict", { status: 200, body: JSON.stringify({ verdict: "maybe" }) }],
  ["require_approval without an id", { status: 200, body: JSON.stringify({ verdict: "require_approval", approval: null }) }],
  ["no answer in time", { status: 200, body: "{}", delayMs: 2_000 }],
] as const) {
  test(`${name} blocks the call (fail closed)`, async () => {
    stub.reset([answer]);
    const decision = await governance({ timeoutMs: 200 }).decide(call, ctx);
    assert.equal(decision?.block, true);
    assert.match(decision?.blockReason ?? "", /governance unreachable or unusable/);
  });
}

test("an unreachable stack blocks the call", async () => {
  const decision = await load({ governance: { url: "http://127.0.0.1:9", token: TOKEN, timeoutMs: 500 } }).decide(call, ctx);
  assert.match(decision?.blockReason ?? "", /governance unreachable or unusable/);
});

test("a missing or bad governance config blocks every call", async () => {
  stub.reset([]);
  for (const config of [{}, { governance: null }, { governance: { url: "ftp://x", token: TOKEN } }, { governance: { url: stub.url, token: "short" } }]) {
    const loaded = load(config);
    assert.match(loaded.failure ?? "", /all tool calls are blocked/);
    assert.equal((await loaded.decide(call, ctx))?.block, true);
  }
  assert.equal(stub.requests.length, 0);
});

test("config defaults and validation", () => {
  assert.deepEqual(parseGovernanceConfig({ url: "http://127.0.0.1:8081", token: TOKEN }), {
    url: "http://127.0.0.1:8081",
    token: TOKEN,
    timeoutMs: 2_000,
    approvalWaitMs: 120_000,
    pollMs: 500,
  });
  assert.throws(() => parseGovernanceConfig({ url: "http://x/", token: TOKEN }), /base URL/);
  assert.throws(() => parseGovernanceConfig({ url: "http://x", token: TOKEN, timeoutMs: 0 }), /timeoutMs/);
});
