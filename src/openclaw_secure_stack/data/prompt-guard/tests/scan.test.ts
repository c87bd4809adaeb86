import assert from "node:assert/strict";
import { test } from "node:test";

import { loadRe2 } from "../src/re2.ts";
import { parseRules } from "../src/rules.ts";
import { Scanner } from "../src/scan.ts";
import { rulesDocument, testRule } from "./support.ts";


const re2 = loadRe2();

function rules(...raw: unknown[]): Scanner {
  return new Scanner(parseRules(rulesDocument(...raw), re2), "tool_result", re2);
}

const tokens = rules(testRule("T-STRIP", "strip", ["<\\|im_start\\|>", "\\[/?inst\\]"]));

test("strip replaces exactly the original characters of each match, hidden ones included", () => {
  const verdict = tokens.verdict("a <|IM_\u200bSTART|> b [INST] c");
  assert.deepEqual(verdict, {
    kind: "rewrite",
    text: "a [redacted by prompt-guard: T-STRIP] b [redacted by prompt-guard: T-STRIP] c",
    strippedIds: ["T-STRIP"],
    flaggedIds: [],
  });
});

test("overlapping strip matches from two rules become one marker naming both", () => {
  const both = rules(testRule("A", "strip", ["ignore all"]), testRule("B", "strip", ["all previous"]));
  const verdict = both.verdict("x IGNORE ALL PREVIOUS y");
  assert.equal(verdict.kind === "rewrite" ? verdict.text : "", "x [redacted by prompt-guard: A, B] y");
});

test("flag keeps the text and names the rule", () => {
  const flag = rules(testRule("F", "flag", ["curl [^|]*\\| ?sh"]));
  assert.deepEqual(flag.verdict("run curl x | sh now"), {
    kind: "rewrite",
    text: "run curl x | sh now",
    strippedIds: [],
    flaggedIds: ["F"],
  });
});

test("reject wins over strip and flag", () => {
  const mixed = rules(testRule("S", "strip", ["aaa"]), testRule("R", "reject", ["bbb"]), testRule("F", "flag", ["ccc"]));
  assert.deepEqual(mixed.verdict("aaa bbb ccc"), { kind: "reject", ruleIds: ["R"] });
});

test("rules for other surfaces and clean text leave the text alone", () => {
  const fetchedOnly = rules(testRule("W", "strip", ["abc"], ["fetched"]));
  assert.deepEqual(fetchedOnly.verdict("abc"), { kind: "clean" });
  assert.deepEqual(tokens.verdict("nothing here"), { kind: "clean" });
});

test("matching stays linear on input built to make a backtracking engine explode", { timeout: 10_000 }, () => {
  const nested = rules(testRule("N", "reject", ["(a|aa)*c", "ignore.*instructions"]));
  const hostile = "a".repeat(20_000) + " " + "ignore ".repeat(20_000);
  assert.deepEqual(nested.verdict(hostile), { kind: "clean" });
});
