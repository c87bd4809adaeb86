import assert from "node:assert/strict";
import { test } from "node:test";

import { foldChar, normalize, normalizedText, originalSpan } from "../src/normalize.ts";

function spanText(original: string, needle: string): string {
  const normalized = normalize(original);
  const at = normalized.text.indexOf(needle);
  assert.notEqual(at, -1, `${JSON.stringify(needle)} not in ${JSON.stringify(normalized.text)}`);
  const span = originalSpan(normalized, at, at + needle.length);
  return original.slice(span.start, span.end);
}

test("lowercases and collapses whitespace, trimming both ends", () => {
  assert.equal(normalize("  Ignore \t ALL\n\nprevious  ").text, "ignore all previous");
});

test("removes zero-width, bidi, soft hyphen, variation selector and Unicode tag characters", () => {
  const hidden = "ig\u200bno\u200dre\u202e \u00adall\ufe0f \u{E0041}\u{E0069}previous";
  assert.equal(normalize(hidden).text, "ignore all previous");
});

test("folds NFKC compatibility forms, diacritics and Latin look-alikes", () => {
  assert.equal(normalize("ＩＧＮＯＲＥ ﬁle").text, "ignore file");
  assert.equal(normalize("ïgnörè").text, "ignore");
  assert.equal(normalize("e\u0301").text, "e");
  // Cyrillic а, о and е, Greek ο.
  assert.equal(normalize("pаyl\u043e\u0430d \u03bfk").text, "payload ok");
});

test("decodes HTML character references, URL escapes and \\x / \\u escapes", () => {
  assert.equal(normalize("&#105;gnore &lt;b&gt; &#x41;").text, "ignore <b> a");
  assert.equal(normalize("%69gnore%20all").text, "ignore all");
  assert.equal(normalize("\\x69gnore \\u0069t").text, "ignore it");
  assert.equal(normalize("&ampx; &bogus; 100%").text, "&x; &bogus; 100%");
});

test("maps every normalized unit back to the original characters that produced it", () => {
  assert.equal(spanText("Say: IG\u200bNORE all", "ignore"), "IG\u200bNORE");
  assert.equal(spanText("x &#105;gnore y", "ignore"), "&#105;gnore");
  assert.equal(spanText("a   \t b", "a b"), "a   \t b");
  assert.equal(spanText("😀 ＩＧＮＯＲＥ", "ignore"), "ＩＧＮＯＲＥ");
});

test("keeps spans ordered and inside the original for arbitrary text", () => {
  const samples = ["", "   ", "\u200b", "a\u0301\u0302b", "%ff%fe&#0;\\ud800x", "Σ ΣΑΣ ß İ", "😀\u{E0001}😀"];
  for (const sample of samples) {
    const normalized = normalize(sample);
    assert.equal(normalized.starts.length, normalized.text.length);
    for (let i = 0; i < normalized.text.length; i += 1) {
      const start = normalized.starts[i] as number;
      const end = normalized.ends[i] as number;
      assert.ok(0 <= start && start < end && end <= sample.length, `${JSON.stringify(sample)} unit ${i}`);
      if (i > 0) {
        assert.ok(start >= (normalized.starts[i - 1] as number));
      }
    }
  }
});

test("folds a dropped character to nothing", () => {
  assert.equal(foldChar("\u200b"), "");
  assert.equal(foldChar("\u0007"), "");
  assert.equal(foldChar("\t"), "\t");
});

test("the fast text-only path gives the same text as the mapped one", () => {
  const samples = ["  Plain ASCII\t\x1cText  ", "A%20b", "a&amp;b", "x\\x41", "ctl\x07\x7fdel", "ünï", ""];
  for (const sample of samples) {
    assert.equal(normalizedText(sample), normalize(sample).text, JSON.stringify(sample));
  }
});
