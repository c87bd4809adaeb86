import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import entry, { STATUS_PATH } from "../index.ts";
import { SHIPPED_QUARANTINE, SHIPPED_RULES, type StubGovernance, startStub } from "./support.ts";

let stub: StubGovernance;
let config: Record<string, unknown>;
before(async () => {
  stub = await startStub();
  config = {
    rulesPath: SHIPPED_RULES,
    quarantinePath: SHIPPED_QUARANTINE,
    governance: { url: stub.url, token: "internal-token-0123456789", timeoutMs: 500 },
  };
});
after(() => stub.close());

type Handler = (...args: unknown[]) => unknown;
type Registration = { handler: Handler; opts: { priority?: number; timeoutMs?: number } | undefined };

/** The slice of OpenClawPluginApi the plugin uses, recording what it registers. */
function fakeApi(pluginConfig: unknown) {
  const hooks = new Map<string, Handler>();
  const registrations = new Map<string, Registration>();
  const routes: { path: string; auth: string; handler: Handler }[] = [];
  const logs: string[] = [];
  const api = {
    pluginConfig,
    logger: { info: (line: string) => logs.push(`info ${line}`), error: (line: string) => logs.push(`error ${line}`) },
    on: (name: string, handler: Handler, opts?: Registration["opts"]) => {
      hooks.set(name, handler);
      registrations.set(name, { handler, opts });
    },
    registerHttpRoute: (route: { path: string; auth: string; handler: Handler }) => routes.push(route),
  };
  return { api, hooks, registrations, routes, logs };
}

function register(pluginConfig: unknown) {
  const fake = fakeApi(pluginConfig);
  (entry.register as (api: unknown) => void)(fake.api);
  return fake;
}

function status(route: { handler: Handler }): { code: number; body: Record<string, unknown> } {
  const response = { statusCode: 0, body: "", setHeader: () => undefined, end: (body: string) => (response.body = body) };
  assert.equal(route.handler({}, response), true);
  return { code: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

test("the entry declares the prompt-guard id", () => {
  assert.equal(entry.id, "prompt-guard");
});

test("register wires both hooks and a gateway-authenticated status route", () => {
  const { hooks, routes, logs } = register(config);
  assert.deepEqual([...hooks.keys()].sort(), ["before_tool_call", "tool_result_persist"]);
  assert.equal(routes[0]?.path, STATUS_PATH);
  assert.equal(routes[0]?.auth, "gateway");
  assert.match(logs[0] ?? "", /^info prompt-guard: guarding with \d+ rules, 0 quarantined$/);
  const { code, body } = status(routes[0] as { handler: Handler });
  assert.equal(code, 200);
  assert.equal(body.guarding, true);
});

test("tool_result_persist answers synchronously with the rewritten message", () => {
  const persist = register(config).hooks.get("tool_result_persist") as Handler;
  const message = { role: "toolResult", content: [{ type: "text", text: "a <|im_end|> b" }] };
  const result = persist({ toolName: "read", message }, {});
  assert.ok(!(result instanceof Promise));
  const stored = JSON.stringify((result as { message: { content: unknown } }).message.content);
  assert.match(stored, /prompt-guard/);
  assert.doesNotMatch(stored, /<\|im_end\|>/);
  assert.equal(persist({ toolName: "read", message: { role: "toolResult", content: [] } }, {}), undefined);
});

test("with a broken config every tool call is blocked and the status route says why", () => {
  const { hooks, routes, logs } = register({ ...config, rulesPath: "/nonexistent/rules.json" });
  const decision = (hooks.get("before_tool_call") as Handler)({ toolName: "read", params: {} }, {});
  assert.match(String((decision as { blockReason: string }).blockReason), /rules file unreadable: \/nonexistent\/rules\.json/);
  assert.match(logs[0] ?? "", /^error prompt-guard: rules file unreadable/);
  const { code, body } = status(routes[0] as { handler: Handler });
  assert.equal(code, 503);
  assert.match(String(body.failure), /all tool calls are blocked/);
});

test("registering twice gives two independent guards", async () => {
  stub.reset([{ verdict: "allow", reason: "ok", policies: [], approval: null }]);
  const first = register(config);
  const second = register({});
  const call = { toolName: "ls", params: {} };
  assert.equal(await (first.hooks.get("before_tool_call") as Handler)(call, { sessionKey: "s" }), undefined);
  assert.equal(((await (second.hooks.get("before_tool_call") as Handler)(call, {})) as { block: boolean }).block, true);
});

test("every call not quarantined is decided by governance, for as long as an approval may take", async () => {
  stub.reset([{ verdict: "block", reason: "Blocked by policy X", policies: ["X"], approval: null }]);
  const { registrations } = register(config);
  const hook = registrations.get("before_tool_call") as Registration;
  assert.equal(hook.opts?.priority, 1000);
  assert.equal(hook.opts?.timeoutMs, 120_000 + 3 * 500);
  const decision = await hook.handler({ toolName: "exec", params: { command: "rm -rf /" } }, { sessionKey: "s" });
  assert.deepEqual(decision, { block: true, blockReason: "prompt-guard: Blocked by policy X" });
  assert.equal(stub.requests.length, 1);
});

test("with a broken governance config the plugin fails closed and says why", () => {
  const { routes, logs } = register({ ...config, governance: { url: "nope" } });
  assert.match(logs.join("\n"), /config.governance.url must be/);
  const { code, body } = status(routes[0] as { handler: Handler });
  assert.equal(code, 503);
  assert.equal(body.guarding, false);
});

test("without a governance config the plugin fails closed and says why", async () => {
  const { hooks, routes, logs } = register({ rulesPath: SHIPPED_RULES, quarantinePath: SHIPPED_QUARANTINE });
  assert.match(logs.join("\n"), /config.governance is missing/);
  assert.equal(status(routes[0] as { handler: Handler }).code, 503);
  const decision = (await (hooks.get("before_tool_call") as Handler)({ toolName: "ls", params: {} }, {})) as { block: boolean };
  assert.equal(decision.block, true);
});
