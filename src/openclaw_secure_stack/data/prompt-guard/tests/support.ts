// What the tests share: where the shipped files are, and rules documents built for a test.
import { fileURLToPath } from "node:url";

// The plugin ships in the Python package's data folder, beside the rules and the quarantine list.
export const PACKAGE_DATA = fileURLToPath(new URL("../../", import.meta.url));
export const SHIPPED_RULES = `${PACKAGE_DATA}indirect-injection-rules.json`;
export const SHIPPED_QUARANTINE = `${PACKAGE_DATA}quarantine.json`;

/** One schema-1 rule with placeholder metadata. */
export function testRule(id: string, action: string, patterns: string[], appliesTo = ["tool_result"]): unknown {
  return {
    id,
    title: id,
    rationale: "test",
    severity: "high",
    action,
    applies_to: appliesTo,
    patterns,
    examples: { positive: ["x"], negative: ["y"] },
  };
}

/** A schema-1 indirect rules document holding `rules`. */
export function rulesDocument(...rules: unknown[]): unknown {
  return { schema: 1, family: "indirect", normalization: "nfkc-casefold-v1", rules };
}

export interface StubRequest {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: unknown;
}

export interface StubAnswer {
  readonly status: number;
  readonly body: string;
  readonly delayMs?: number;
}

export interface StubGovernance {
  readonly url: string;
  readonly requests: StubRequest[];
  /** Next decide answers (objects are sent as JSON with 200) and approval states, in order. */
  reset(decisions: readonly (object | StubAnswer)[], states?: readonly string[]): void;
  close(): void;
}

/** A stand-in for the stack's governance endpoint on a free loopback port. */
export async function startStub(): Promise<StubGovernance> {
  const { createServer } = await import("node:http");
  let decisions: (object | StubAnswer)[] = [];
  let states: string[] = [];
  const requests: StubRequest[] = [];
  const server = createServer((request, response) => {
    let raw = "";
    request.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    request.on("end", () => {
      const path = request.url ?? "";
      requests.push({ path, authorization: request.headers.authorization, body: raw ? JSON.parse(raw) : undefined });
      const next: object | StubAnswer = path.startsWith("/internal/governance/approvals/")
        ? { state: states.shift() ?? "pending" }
        : (decisions.shift() ?? { status: 500, body: "no scripted answer" });
      const answer: StubAnswer = "status" in next ? (next as StubAnswer) : { status: 200, body: JSON.stringify(next) };
      setTimeout(() => {
        response.statusCode = answer.status;
        response.end(answer.body);
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reset(nextDecisions, nextStates = []) {
      decisions = [...nextDecisions];
      states = [...nextStates];
      requests.length = 0;
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
