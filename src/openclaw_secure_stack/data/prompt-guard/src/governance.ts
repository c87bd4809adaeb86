// Governance: every tool call OpenClaw is about to run is decided by the stack's governance
// endpoint (`POST {url}/internal/governance/decide`, bearer token, short timeout). ALLOW runs the
// call; BLOCK returns the reason to the model as the tool result; REQUIRE_APPROVAL keeps the agent
// waiting while the plugin asks the stack for the approval's state, and runs the call only once a
// person approved exactly this call (the stack then allows it, once). Fails closed: an error, a
// timeout, an unreachable stack, a malformed answer or an approval that does not come in time
// blocks the call with a reason that says so.

import { GuardConfigError, describeError, isObject } from "./errors.ts";

export const DEFAULT_TIMEOUT_MS = 2_000;
export const DEFAULT_APPROVAL_WAIT_MS = 120_000;
export const DEFAULT_POLL_MS = 500;

export interface GovernanceConfig {
  readonly url: string;
  readonly token: string;
  readonly timeoutMs: number;
  readonly approvalWaitMs: number;
  readonly pollMs: number;
}

/** What the hook sees of the call (OpenClaw's before_tool_call event and context). */
export interface HookCall {
  readonly toolName: string;
  readonly params: Record<string, unknown>;
  readonly runId?: string | undefined;
  readonly toolCallId?: string | undefined;
}

export interface HookContext {
  readonly agentId?: string | undefined;
  readonly sessionKey?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly runId?: string | undefined;
  readonly requester?: { readonly channel?: string; readonly senderId?: string; readonly senderIsOwner?: boolean } | undefined;
  readonly abortSignal?: AbortSignal | undefined;
}

export interface Blocked {
  readonly block: true;
  readonly blockReason: string;
}

interface Answer {
  readonly verdict: "allow" | "block" | "require_approval";
  readonly reason: string;
  readonly approval: { readonly id: string } | null;
}

/** Read `config.governance`; throws GuardConfigError (the guard then fails closed). */
export function parseGovernanceConfig(raw: unknown): GovernanceConfig {
  if (!isObject(raw)) {
    throw new GuardConfigError(
      'config.governance is missing: set plugins.entries["prompt-guard"].config.governance.url and .token',
    );
  }
  const url = raw.url;
  if (typeof url !== "string" || !/^https?:\/\/[^/]+$/.test(url)) {
    throw new GuardConfigError("config.governance.url must be the stack's base URL, http(s)://host:port");
  }
  const token = raw.token;
  if (typeof token !== "string" || token.length < 16) {
    throw new GuardConfigError("config.governance.token must be the stack's internal token (16+ characters)");
  }
  const positive = (key: string, fallback: number): number => {
    const value = raw[key] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new GuardConfigError(`config.governance.${key} must be a positive integer (milliseconds)`);
    }
    return value;
  };
  return {
    url,
    token,
    timeoutMs: positive("timeoutMs", DEFAULT_TIMEOUT_MS),
    approvalWaitMs: positive("approvalWaitMs", DEFAULT_APPROVAL_WAIT_MS),
    pollMs: positive("pollMs", DEFAULT_POLL_MS),
  };
}

function blocked(reason: string): Blocked {
  return { block: true, blockReason: `prompt-guard: ${reason}` };
}

class Unusable extends Error {
  override name = "Unusable";
}

export class Governance {
  private readonly config: GovernanceConfig;
  /** Why governance cannot run (every call is then blocked), or undefined. */
  readonly failure: string | undefined;

  private constructor(config: GovernanceConfig, failure: string | undefined) {
    this.config = config;
    this.failure = failure;
  }

  /** Read `pluginConfig.governance`; never throws: a missing or bad config blocks every call. */
  static load(pluginConfig: unknown): Governance {
    const raw = isObject(pluginConfig) ? pluginConfig.governance : undefined;
    try {
      return new Governance(parseGovernanceConfig(raw), undefined);
    } catch (error) {
      const failure = `prompt-guard: ${describeError(error)}; all tool calls are blocked`;
      const placeholder = { url: "", token: "", timeoutMs: 1, approvalWaitMs: 1, pollMs: 1 };
      return new Governance(placeholder, failure);
    }
  }

  /** How long OpenClaw must let the hook run: one decision, the wait for a person, one more. */
  get hookTimeoutMs(): number {
    return this.config.approvalWaitMs + 3 * this.config.timeoutMs;
  }

  /** The stack's decision on this call: undefined to run it, or a block with the reason. */
  async decide(call: HookCall, ctx: HookContext): Promise<Blocked | undefined> {
    if (this.failure !== undefined) return { block: true, blockReason: this.failure };
    try {
      const request = {
        toolName: call.toolName,
        params: call.params,
        sessionKey: ctx.sessionKey ?? ctx.sessionId,
        runId: call.runId ?? ctx.runId,
        toolCallId: call.toolCallId,
        agentId: ctx.agentId,
        requester: ctx.requester ?? null,
      };
      let answer = await this.ask(request, ctx.abortSignal);
      if (answer.verdict === "require_approval") {
        const approval = answer.approval;
        if (approval === null) throw new Unusable("require_approval without an approval id");
        const state = await this.waitForPerson(approval.id, ctx.abortSignal);
        if (state !== "approved") {
          return blocked(`approval ${approval.id} is ${state}; the call did not run. ${answer.reason}`);
        }
        answer = await this.ask(request, ctx.abortSignal);
      }
      if (answer.verdict === "allow") return undefined;
      return blocked(answer.reason);
    } catch (error) {
      return blocked(`governance unreachable or unusable (${describeError(error)}); the tool call is blocked`);
    }
  }

  private async ask(request: object, abort: AbortSignal | undefined): Promise<Answer> {
    const body = await this.fetchJson("/internal/governance/decide", abort, JSON.stringify(request));
    const verdict = body.verdict;
    if (verdict !== "allow" && verdict !== "block" && verdict !== "require_approval") {
      throw new Unusable(`unknown verdict ${JSON.stringify(verdict)}`);
    }
    const approval = body.approval;
    return {
      verdict,
      reason: typeof body.reason === "string" ? body.reason : "no reason given",
      approval: isObject(approval) && typeof approval.id === "string" ? { id: approval.id } : null,
    };
  }

  /** Poll the approval until a person decides it or the wait ends; its final state. */
  private async waitForPerson(id: string, abort: AbortSignal | undefined): Promise<string> {
    const deadline = Date.now() + this.config.approvalWaitMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.config.pollMs));
      if (abort?.aborted) return "cancelled";
      const body = await this.fetchJson(`/internal/governance/approvals/${encodeURIComponent(id)}`, abort);
      if (body.state !== "pending") return String(body.state);
    }
    return "still pending (nobody decided in time; approve it, then retry the same call)";
  }

  private async fetchJson(path: string, abort: AbortSignal | undefined, body?: string): Promise<Record<string, unknown>> {
    const timeout = AbortSignal.timeout(this.config.timeoutMs);
    const response = await fetch(`${this.config.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${this.config.token}`, "content-type": "application/json" },
      signal: abort === undefined ? timeout : AbortSignal.any([timeout, abort]),
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    if (response.status !== 200) {
      throw new Unusable(`HTTP ${response.status} from ${path}: ${text.slice(0, 200)}`);
    }
    const parsed: unknown = JSON.parse(text);
    if (!isObject(parsed)) throw new Unusable(`${path} answered ${text.slice(0, 200)}`);
    return parsed;
  }
}
