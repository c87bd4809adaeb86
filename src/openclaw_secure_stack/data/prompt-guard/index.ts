// prompt-guard: the OpenClaw Secure Stack plugin. It blocks tool calls that belong to a
// quarantined tool, plugin or skill, asks the stack's governance about every other one, and
// redacts indirect prompt injection from tool results in the stored transcript. Fails closed:
// when its config, rules, quarantine list or governance config cannot be loaded, every tool call
// is blocked with the reason.

import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";

import { Governance } from "./src/governance.ts";
import { Guard } from "./src/guard.ts";

export const STATUS_PATH = "/prompt-guard/status";

export default definePluginEntry({
  id: "prompt-guard",
  name: "prompt-guard",
  description:
    "Blocks quarantined tools, skills and plugins; redacts indirect prompt injection from stored tool results. Fails closed.",
  register(api) {
    // Everything register() needs is read here and kept in this closure: a second register()
    // call builds its own guard and registers on its own api, with no shared module state.
    const guard = Guard.load(api.pluginConfig);
    const governance = Governance.load(api.pluginConfig);
    if (guard.failure === undefined) {
      const { rules, quarantineEntries } = guard.status();
      api.logger.info(`prompt-guard: guarding with ${rules.length} rules, ${quarantineEntries} quarantined`);
    } else {
      api.logger.error(guard.failure);
    }
    if (governance.failure !== undefined) api.logger.error(governance.failure);
    const failure = guard.failure ?? governance.failure;
    // Higher priority runs first: block before any other plugin sees or rewrites the call, and
    // scan the stored result last, after every other plugin's rewrite of it. A quarantined call
    // is blocked here; every other call is decided by the stack's governance, which may wait
    // for a person, so the hook may run as long as that wait.
    api.on(
      "before_tool_call",
      (event, ctx) => guard.beforeToolCall(event) ?? governance.decide(event, ctx),
      { priority: 1000, timeoutMs: governance.hookTimeoutMs },
    );
    api.on(
      "tool_result_persist",
      (event) => {
        const message = guard.persistToolResult(event.message);
        return message === undefined ? undefined : { message };
      },
      { priority: -1000 },
    );
    // OpenClaw runs on when a plugin fails to load, so the stack proves this plugin is in the
    // gateway by asking this route (200: guarding; 503: loaded but failed closed; absent: missing).
    api.registerHttpRoute({
      path: STATUS_PATH,
      auth: "gateway",
      match: "exact",
      handler: (_request, response) => {
        response.statusCode = failure === undefined ? 200 : 503;
        response.setHeader("content-type", "application/json");
        const status = guard.status();
        response.end(JSON.stringify({ ...status, guarding: failure === undefined, ...(failure ? { failure } : {}) }));
        return true;
      },
    });
  },
});
