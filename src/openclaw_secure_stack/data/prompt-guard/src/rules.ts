// The indirect-injection rules file (schema 1, shared with the Python detection engine), parsed
// and compiled eagerly: any defect is a GuardConfigError, and the guard then fails closed.

import { GuardConfigError, describeError, isObject, type JsonObject } from "./errors.ts";
import { NORMALIZATION_ID } from "./normalize.ts";
import type { CompiledPattern, Re2 } from "./re2.ts";

export const RULE_ACTIONS = ["strip", "flag", "reject"] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];
const SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SURFACES = ["tool_result", "fetched", "file", "response"] as const;
export type Surface = (typeof SURFACES)[number];

export interface Rule {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly action: RuleAction;
  readonly appliesTo: ReadonlySet<Surface>;
  /** Linear-time RE2 matchers (the same engine and syntax as the Python side). */
  readonly patterns: readonly CompiledPattern[];
  readonly examples: { readonly positive: readonly string[]; readonly negative: readonly string[] };
}

function field<T>(
  object: JsonObject,
  key: string,
  where: string,
  check: (value: unknown) => value is T,
  expected: string,
): T {
  const value = object[key];
  if (!check(value)) {
    throw new GuardConfigError(`${where}.${key} must be ${expected}`);
  }
  return value;
}

const isString = (value: unknown): value is string => typeof value === "string" && value !== "";

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every(isString);
}

function oneOf<T extends string>(options: readonly T[]): (value: unknown) => value is T {
  return (value: unknown): value is T => options.includes(value as T);
}

function compilePattern(re2: Re2, pattern: string, where: string): CompiledPattern {
  // The team's contract is one syntax that RE2 (Python) and JavaScript both accept; a pattern
  // JavaScript rejects breaks that contract even though the RE2 port here could run it.
  try {
    new RegExp(pattern);
  } catch (error) {
    throw new GuardConfigError(`${where} is not valid JavaScript regex syntax: ${describeError(error)}`);
  }
  try {
    return re2.compile(pattern);
  } catch (error) {
    throw new GuardConfigError(`${where} does not compile as RE2: ${describeError(error)}`);
  }
}

function parseRule(re2: Re2, raw: unknown, where: string): Rule {
  if (!isObject(raw)) {
    throw new GuardConfigError(`${where} must be an object`);
  }
  const id = field(raw, "id", where, isString, "a non-empty string");
  const at = `${where} (${id})`;
  const patterns = field(raw, "patterns", at, isStringArray, "a non-empty list of strings");
  const examples = field(raw, "examples", at, isObject, "an object");
  return {
    id,
    title: field(raw, "title", at, isString, "a non-empty string"),
    severity: field(raw, "severity", at, oneOf(SEVERITIES), `one of ${SEVERITIES.join(", ")}`),
    action: field(raw, "action", at, oneOf(RULE_ACTIONS), `one of ${RULE_ACTIONS.join(", ")}`),
    appliesTo: new Set(
      field(
        raw,
        "applies_to",
        at,
        (value): value is Surface[] => isStringArray(value) && value.every(oneOf(SURFACES)),
        `a non-empty list of ${SURFACES.join(", ")}`,
      ),
    ),
    patterns: patterns.map((pattern, index) => compilePattern(re2, pattern, `${at}.patterns[${index}]`)),
    examples: {
      positive: field(examples, "positive", `${at}.examples`, isStringArray, "a non-empty list of strings"),
      negative: field(examples, "negative", `${at}.examples`, isStringArray, "a non-empty list of strings"),
    },
  };
}

/** Parse and compile a schema-1 indirect rules document; throws GuardConfigError on any defect. */
export function parseRules(document: unknown, re2: Re2): Rule[] {
  if (!isObject(document)) {
    throw new GuardConfigError("rules file must hold a JSON object");
  }
  if (document.schema !== 1) {
    throw new GuardConfigError(`rules file schema must be 1, got ${JSON.stringify(document.schema)}`);
  }
  if (document.family !== "indirect") {
    throw new GuardConfigError(`rules file family must be "indirect", got ${JSON.stringify(document.family)}`);
  }
  if (document.normalization !== NORMALIZATION_ID) {
    throw new GuardConfigError(
      `rules file normalization must be "${NORMALIZATION_ID}", got ${JSON.stringify(document.normalization)}`,
    );
  }
  const rawRules = document.rules;
  if (!Array.isArray(rawRules) || rawRules.length === 0) {
    throw new GuardConfigError("rules file must hold a non-empty list of rules");
  }
  const rules = rawRules.map((raw, index) => parseRule(re2, raw, `rules[${index}]`));
  const seen = new Set<string>();
  for (const rule of rules) {
    if (seen.has(rule.id)) {
      throw new GuardConfigError(`rule id ${rule.id} appears twice`);
    }
    seen.add(rule.id);
  }
  return rules;
}
