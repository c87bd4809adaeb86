// Scanning one text with the rules for a surface, and the verdict on it: reject the whole text,
// rewrite it (strip matched spans, mark flagged ones), or leave it alone.

import { normalize, normalizedText, originalSpan, type Span } from "./normalize.ts";
import type { CompiledPattern, Re2 } from "./re2.ts";
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

function union(re2: Re2, patterns: readonly CompiledPattern[]): CompiledPattern {
  return re2.compile(patterns.map((pattern) => `(?:${pattern.pattern()})`).join("|"));
}

export function redactionMarker(ruleIds: readonly string[]): string {
  return `[redacted by prompt-guard: ${ruleIds.join(", ")}]`;
}

function ids(rules: readonly Rule[], action?: RuleAction): string[] {
  return rules.filter((rule) => action === undefined || rule.action === action).map((rule) => rule.id);
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
    const stripped = new Set([first.rule.id]);
    index += 1;
    for (; index < spans.length && (spans[index] as Finding).span.start < end; index += 1) {
      const next = spans[index] as Finding;
      end = Math.max(end, next.span.end);
      stripped.add(next.rule.id);
    }
    out += text.slice(cursor, first.span.start) + redactionMarker([...stripped].sort());
    cursor = end;
  }
  return out + text.slice(cursor);
}

/**
 * The rules for one surface, ready to scan. RE2 answers "does anything match" fast (its DFA) but
 * finding spans is slower, so a scan narrows down step by step: one union of every pattern on the
 * normalized text (most texts stop here), then one union per rule, and offsets are mapped and
 * spans found only for the strip and flag rules that fired when no reject rule did.
 */
export class Scanner {
  private readonly rules: readonly { readonly rule: Rule; readonly any: CompiledPattern }[];
  private readonly any: CompiledPattern | undefined;

  constructor(rules: readonly Rule[], surface: Surface, re2: Re2) {
    const applicable = rules.filter((rule) => rule.appliesTo.has(surface));
    this.rules = applicable.map((rule) => ({ rule, any: union(re2, rule.patterns) }));
    const patterns = applicable.flatMap((rule) => rule.patterns);
    this.any = patterns.length === 0 ? undefined : union(re2, patterns);
  }

  /** The rules with at least one match in `text`, in rules-file order. */
  firing(text: string): Rule[] {
    const normalized = normalizedText(text);
    if (this.any === undefined || !this.any.test(normalized)) {
      return [];
    }
    return this.rules.filter(({ any }) => any.test(normalized)).map(({ rule }) => rule);
  }

  verdict(text: string): Verdict {
    const fired = this.firing(text);
    if (fired.length === 0) {
      return { kind: "clean" };
    }
    const rejected = ids(fired, "reject");
    if (rejected.length > 0) {
      return { kind: "reject", ruleIds: rejected.sort() };
    }
    const normalized = normalize(text);
    const findings: Finding[] = [];
    for (const rule of fired) {
      for (const pattern of rule.patterns) {
        const matcher = pattern.matcher(normalized.text);
        while (matcher.find()) {
          if (matcher.end() > matcher.start()) {
            findings.push({ rule, span: originalSpan(normalized, matcher.start(), matcher.end()) });
          }
        }
      }
    }
    return {
      kind: "rewrite",
      text: strip(text, findings),
      strippedIds: ids(fired, "strip").sort(),
      flaggedIds: ids(fired, "flag").sort(),
    };
  }
}
