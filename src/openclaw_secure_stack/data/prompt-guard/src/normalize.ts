// Normalization "nfkc-casefold-v1": the text rule patterns are written against, with a map from
// every normalized UTF-16 unit back to the span of the original text it came from, so a match in
// normalized text redacts exactly the original characters that produced it.
//
// This mirrors src/openclaw_secure_stack/detect/normalize.py step for step (a pytest parity test
// runs both on the same corpus): escapes a browser or shell would undo are decoded in place (HTML
// character references, %XX runs, \xNN and \uNNNN runs); then each code point is folded on its
// own: NFKC, lower case, diacritics dropped when the base letter is ASCII, Latin look-alikes from
// other scripts folded, format/combining/tag/variation-selector/control characters removed; runs
// of whitespace become one space and leading and trailing whitespace go.

import entities from "./html-entities.json" with { type: "json" };

export const NORMALIZATION_ID = "nfkc-casefold-v1";

export interface NormalizedText {
  /** The normalized text the patterns run against. */
  readonly text: string;
  /** For normalized unit i, the original span [starts[i], ends[i]) that produced it. */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

/** A span of the original text, half open, in UTF-16 units. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

// Latin look-alikes that NFKC leaves alone (Cyrillic, Greek, a few others), after lower-casing;
// the same table as the Python side's CONFUSABLES.
const LOOKALIKES =
  "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443" +
  "\u0445\u0455\u0456\u0457\u0458\u0501\u04cf\u04bb\u051b\u051d\u0261\u0251" +
  "\u0131\u0237\u03b1\u03b2\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4" +
  "\u03c5\u03c7\u03c9\u03f2\u03f3\u057d\u0585\u1d00\u0299\u1d04\u1d05\u1d07" +
  "\u0262\u029c\u026a\u1d0a\u1d0b\u029f\u1d0d\u0274\u1d0f\u1d18\u0280\ua731" +
  "\u1d1b\u1d1c\u1d20\u1d21\u028f\u1d22";
const LATIN = "abeekmhopctyxsiijdlhqwgaijabenikvoptuxwcjuoabcdeghijklmnoprstuvwyz";
export const CONFUSABLES: ReadonlyMap<string, string> = new Map(
  [...LOOKALIKES].map((char, index) => [char, LATIN[index] as string]),
);

// Python's str.isspace(): JavaScript's \s lacks U+001C-001F and U+0085 and adds U+FEFF.
const SPACE = /^[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;
const DROPPED_CATEGORY = /^[\p{Cf}\p{Mn}\p{Me}\p{Cs}\p{Co}]$/u;
const CONTROL = /^\p{Cc}$/u;
const ASCII = /^[\x00-\x7f]+$/;

function dropped(char: string): boolean {
  return DROPPED_CATEGORY.test(char) || (CONTROL.test(char) && !SPACE.test(char));
}

const foldCache = new Map<string, string>();

/** The normalized form of one code point (possibly empty, possibly several characters). */
export function foldChar(char: string): string {
  const cached = foldCache.get(char);
  if (cached !== undefined) {
    return cached;
  }
  let out = "";
  if (!dropped(char)) {
    for (const part of char.normalize("NFKC").toLowerCase()) {
      if (dropped(part)) {
        continue;
      }
      const bare = [...part.normalize("NFD")].filter((c) => !dropped(c)).join("");
      out += bare !== "" && ASCII.test(bare) ? bare : (CONFUSABLES.get(part) ?? part);
    }
  }
  if (foldCache.size < 65_536) {
    foldCache.set(char, out);
  }
  return out;
}

// Escapes decoded before normalizing; bounded repetition keeps each match small. A run of
// escapes of one kind is one token (and maps back as one piece), as on the Python side.
const CHARREF = "&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)";
const ESCAPE = new RegExp(
  `(?:${CHARREF})+|(?:%[0-9A-Fa-f]{2})+|(?:\\\\x[0-9a-fA-F]{2})+|(?:\\\\u[0-9a-fA-F]{4})+`,
  "g",
);
const CHARREFS = new RegExp(CHARREF, "g");
const NAMED: Readonly<Record<string, string>> = entities.named;
const INVALID_CHARREFS: Readonly<Record<string, string>> = entities.invalidCharrefs;
const INVALID_CODEPOINTS: ReadonlySet<number> = new Set(entities.invalidCodepoints);
const utf8 = new TextDecoder("utf-8");

/** Python's html.unescape() of one character reference. */
function unescapeCharref(token: string): string {
  const body = token.slice(1);
  if (body.startsWith("#")) {
    const hex = body[1] === "x" || body[1] === "X";
    const code = Number.parseInt(body.slice(hex ? 2 : 1).replace(/;$/, ""), hex ? 16 : 10);
    const invalid = INVALID_CHARREFS[String(code)];
    if (invalid !== undefined) {
      return invalid;
    }
    if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) {
      return "\ufffd";
    }
    return INVALID_CODEPOINTS.has(code) ? "" : String.fromCodePoint(code);
  }
  const whole = NAMED[body];
  if (whole !== undefined) {
    return whole;
  }
  // The longest prefix that is a legacy name without a semicolon (e.g. "&ampx;" is "&x;").
  for (let length = body.length - 1; length > 1; length -= 1) {
    const prefix = NAMED[body.slice(0, length)];
    if (prefix !== undefined) {
      return prefix + body.slice(length);
    }
  }
  return token;
}

function hexBytes(token: string, step: number, skip: number): Uint8Array {
  const bytes = new Uint8Array(token.length / step);
  for (let index = 0; index < bytes.length; index += 1) {
    bytes[index] = Number.parseInt(token.slice(index * step + skip, index * step + skip + 2), 16);
  }
  return bytes;
}

function decodeEscape(token: string): string {
  if (token.startsWith("&")) {
    return token.replace(CHARREFS, unescapeCharref);
  }
  if (token.startsWith("%")) {
    return utf8.decode(hexBytes(token, 3, 1));
  }
  if (token.startsWith("\\x")) {
    return utf8.decode(hexBytes(token, 4, 2));
  }
  const units: number[] = [];
  for (let index = 0; index < token.length; index += 6) {
    units.push(Number.parseInt(token.slice(index + 2, index + 6), 16));
  }
  return String.fromCharCode(...units).toWellFormed();
}

interface Unescaped {
  readonly text: string;
  /** Original span of each unit of `text`, or undefined when nothing was decoded. */
  readonly origin: { readonly starts: number[]; readonly ends: number[] } | undefined;
}

function unescape(original: string): Unescaped {
  if (!/[&%\\]/.test(original)) {
    return { text: original, origin: undefined };
  }
  let text = "";
  const starts: number[] = [];
  const ends: number[] = [];
  let cursor = 0;
  const keep = (until: number): void => {
    text += original.slice(cursor, until);
    for (let index = cursor; index < until; index += 1) {
      starts.push(index);
      ends.push(index + 1);
    }
  };
  for (const match of original.matchAll(ESCAPE)) {
    const decoded = decodeEscape(match[0]);
    if (decoded === match[0]) {
      continue;
    }
    const end = match.index + match[0].length;
    keep(match.index);
    text += decoded;
    for (let unit = 0; unit < decoded.length; unit += 1) {
      starts.push(match.index);
      ends.push(end);
    }
    cursor = end;
  }
  if (cursor === 0) {
    return { text: original, origin: undefined };
  }
  keep(original.length);
  return { text, origin: { starts, ends } };
}

/** Normalize `original` and map each normalized unit back to the original span it came from. */
export function normalize(original: string): NormalizedText {
  const source = unescape(original);
  let text = "";
  const starts: number[] = [];
  const ends: number[] = [];
  let spaceFrom = -1; // start of a pending whitespace run, or -1
  let spaceTo = -1;
  const emit = (chars: string, start: number, end: number): void => {
    if (spaceFrom >= 0 && text !== "") {
      text += " ";
      starts.push(spaceFrom);
      ends.push(spaceTo);
    }
    spaceFrom = -1;
    text += chars;
    for (let unit = 0; unit < chars.length; unit += 1) {
      starts.push(start);
      ends.push(end);
    }
  };
  let index = 0;
  for (const char of source.text) {
    const end = index + char.length;
    const code = char.charCodeAt(0);
    if (code > 0x20 && code < 0x7f) {
      emit(char.toLowerCase(), index, end);
    } else {
      for (const folded of foldChar(char)) {
        if (SPACE.test(folded)) {
          if (spaceFrom < 0) {
            spaceFrom = index;
          }
          spaceTo = end;
        } else {
          emit(folded, index, end);
        }
      }
    }
    index = end;
  }
  const origin = source.origin;
  if (origin === undefined) {
    return { text, starts, ends };
  }
  return {
    text,
    starts: starts.map((position) => origin.starts[position] as number),
    ends: ends.map((position) => origin.ends[position - 1] as number),
  };
}

// Text with nothing to decode, fold or drop beyond ASCII case and whitespace.
const PLAIN_ASCII = /^[\t-\r\x1c-\x24\x27-\x5b\x5d-\x7e]*$/;
const ASCII_SPACE_RUN = /[\t-\r\x1c-\x20]+/g;

/** `normalize(original).text`, without the offset map: fast for plain ASCII, the common case. */
export function normalizedText(original: string): string {
  if (!PLAIN_ASCII.test(original)) {
    return normalize(original).text;
  }
  return original.toLowerCase().replace(ASCII_SPACE_RUN, " ").trim();
}

/** The original span that produced normalized units [start, end); `end > start`. */
export function originalSpan(normalized: NormalizedText, start: number, end: number): Span {
  const from = normalized.starts[start];
  const to = normalized.ends[end - 1];
  if (from === undefined || to === undefined) {
    throw new RangeError(`normalized span [${start}, ${end}) is outside the text`);
  }
  return { start: from, end: to };
}
