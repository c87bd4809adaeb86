import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { GuardConfigError } from "../src/errors.ts";
import { loadRe2 } from "../src/re2.ts";
import { parseRules, type Rule } from "../src/rules.ts";
import { Scanner } from "../src/scan.ts";
import { rulesDocument, SHIPPED_RULES, testRule } from "./support.ts";

const shippedDocument = JSON.parse(readFileSync(SHIPPED_RULES, "utf8")) as {
  rules: { patterns: string[] }[];
};
const re2 = loadRe2();
const shipped = parseRules(shippedDocument, re2);

function firing(rule: Rule, text: string): boolean {
  return new Scanner([rule], [...rule.appliesTo][0] ?? "tool_result", re2).firing(text).length > 0;
}

test("the shipped rules file loads and compiles", () => {
  assert.ok(shipped.length > 0);
  assert.equal(new Set(shipped.map((rule) => rule.id)).size, shipped.length);
});

test("every shipped pattern is valid JavaScript regex syntax as well as RE2", () => {
  for (const rule of shippedDocument.rules) {
    for (const pattern of rule.patterns) {
      assert.doesNotThrow(() => new RegExp(pattern), pattern);
    }
  }
});

for (const rule of shipped) {
  test(`${rule.id} fires on each of its positive examples`, () => {
    for (const example of rule.examples.positive) {
      assert.ok(firing(rule, example), `${rule.id} missed ${JSON.stringify(example)}`);
    }
  });

  test(`${rule.id} stays silent on each of its negative examples`, () => {
    for (const example of rule.examples.negative) {
      assert.ok(!firing(rule, example), `${rule.id} fired on ${JSON.stringify(example)}`);
    }
  });
}

function withRule(change: Record<string, unknown>): unknown {
  return rulesDocument({ ...(testRule("T-1", "strip", ["abc"]) as object), ...change });
}

test("a well-formed test document parses", () => {
  assert.equal(parseRules(withRule({}), re2)[0]?.id, "T-1");
});

const defects: [string, unknown, RegExp][] = [
  ["not an object", [], /JSON object/],
  ["wrong schema", { ...(withRule({}) as object), schema: 2 }, /schema must be 1/],
  ["wrong family", { ...(withRule({}) as object), family: "direct" }, /family/],
  ["other normalization", { ...(withRule({}) as object), normalization: "nfc" }, /normalization/],
  ["no rules", { ...(withRule({}) as object), rules: [] }, /non-empty list of rules/],
  ["unknown action", withRule({ action: "allow" }), /action must be one of/],
  ["unknown severity", withRule({ severity: "huge" }), /severity/],
  ["unknown surface", withRule({ applies_to: ["email"] }), /applies_to/],
  ["no patterns", withRule({ patterns: [] }), /patterns must be a non-empty list/],
  ["Python-only inline flag", withRule({ patterns: ["(?i)abc"] }), /JavaScript regex syntax/],
  ["lookahead RE2 rejects", withRule({ patterns: ["a(?=b)"] }), /does not compile as RE2/],
  ["unbalanced group", withRule({ patterns: ["(abc"] }), /JavaScript regex syntax/],
  ["no negative example", withRule({ examples: { positive: ["abc"] } }), /examples.negative/],
];

for (const [name, document, message] of defects) {
  test(`a rules file with ${name} is rejected with a reason`, () => {
    assert.throws(() => parseRules(document, re2), (error: unknown) => {
      assert.ok(error instanceof GuardConfigError);
      assert.match(error.message, message);
      return true;
    });
  });
}

test("a duplicated rule id is rejected", () => {
  const document = withRule({}) as { rules: unknown[] };
  document.rules.push(document.rules[0]);
  assert.throws(() => parseRules(document, re2), /T-1 appears twice/);
});
