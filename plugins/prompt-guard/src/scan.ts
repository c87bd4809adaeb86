// Scanning one text with the rules for a surface, and the verdict on it: reject the whole text,
// rewrite it (strip matched spans, mark flagged ones), or leave it alone.

import { normalize, originalSpan, type Span } from "./normalize.ts";
import type { Rule, RuleAction, Surface } from "./rules.ts";

export interface Finding {
  readonly rule: Rule;
  /** Span of the original text. */
  readonly span: Span;
}

export type Verdict =
  | { readonly kind: "clean" }
  | { readonly kind: "reject"; readonly ruleIds: readonly string[] }
  | {
      readonly kind: "rewrite";
      readonly text: string;
      readonly strippedIds: readonly string[];
      readonly flaggedIds: readonly string[];
    };

/** Every match of every rule that applies to `surface`, as spans of the original text. */
export function findAll(
  text: string,
  rules: readonly Rule[],
  surface: Surface,
): Finding[] {
  const applicable = rules.filter((rule) => rule.appliesTo.has(surface));
  if (applicable.length === 0) {
    return [];
  }
  const normalized = normalize(text);
  const findings: Finding[] = [];
  for (const rule of applicable) {
    for (const pattern of rule.patterns) {
      const matcher = pattern.matcher(normalized.text);
      while (matcher.find()) {
        if (matcher.end() > matcher.start()) {
          findings.push({ rule, span: originalSpan(normalized, matcher.start(), matcher.end()) });
        }
      }
    }
  }
  return findings;
}

export function redactionMarker(ruleIds: readonly string[]): string {
  return `[redacted by prompt-guard: ${ruleIds.join(", ")}]`;
}

function idsWith(findings: readonly Finding[], action: RuleAction): string[] {
  return [...new Set(findings.filter((f) => f.rule.action === action).map((f) => f.rule.id))].sort();
}

/** Replace each union of overlapping strip spans with one marker naming the rules inside it. */
function strip(text: string, findings: readonly Finding[]): string {
  const spans = findings
    .filter((finding) => finding.rule.action === "strip")
    .sort((a, b) => a.span.start - b.span.start || b.span.end - a.span.end);
  let out = "";
  let cursor = 0;
  let index = 0;
  while (index < spans.length) {
    const first = spans[index] as Finding;
    let end = first.span.end;
    const ids = new Set([first.rule.id]);
    index += 1;
    for (; index < spans.length && (spans[index] as Finding).span.start < end; index += 1) {
      const next = spans[index] as Finding;
      end = Math.max(end, next.span.end);
      ids.add(next.rule.id);
    }
    out += text.slice(cursor, first.span.start) + redactionMarker([...ids].sort());
    cursor = end;
  }
  return out + text.slice(cursor);
}

export function judge(
  text: string,
  rules: readonly Rule[],
  surface: Surface,
): Verdict {
  const findings = findAll(text, rules, surface);
  if (findings.length === 0) {
    return { kind: "clean" };
  }
  const rejected = idsWith(findings, "reject");
  if (rejected.length > 0) {
    return { kind: "reject", ruleIds: rejected };
  }
  return {
    kind: "rewrite",
    text: strip(text, findings),
    strippedIds: idsWith(findings, "strip"),
    flaggedIds: idsWith(findings, "flag"),
  };
}
