// The RE2 engine (re2js, a pure-JavaScript port of RE2: linear-time matching, the same syntax and
// semantics as the Python side's google-re2). Loaded on demand rather than imported statically:
// OpenClaw keeps running without a plugin whose import fails, so a missing dependency must turn
// into a fail-closed guard with the fix in its reason, not into a plugin that is silently absent.

import { createRequire } from "node:module";

import type { RE2JS } from "re2js";

import { GuardConfigError, describeError } from "./errors.ts";

export type Re2 = typeof RE2JS;
export type CompiledPattern = RE2JS;

export function loadRe2(): Re2 {
  try {
    const module = createRequire(import.meta.url)("re2js") as { RE2JS: Re2 };
    return module.RE2JS;
  } catch (error) {
    throw new GuardConfigError(
      `the re2js dependency cannot be loaded (${describeError(error)}); run "npm ci --omit=dev" in the prompt-guard plugin directory`,
    );
  }
}
