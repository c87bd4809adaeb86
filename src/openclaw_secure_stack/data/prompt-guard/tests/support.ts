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
