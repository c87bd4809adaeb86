// What the tests share: where the shipped files are, and rules documents built for a test.
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const SHIPPED_RULES = `${REPO_ROOT}config/indirect-injection-rules.json`;
export const SHIPPED_QUARANTINE = `${REPO_ROOT}config/quarantine.json`;

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
