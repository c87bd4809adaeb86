// What every loader shares: the one domain error that makes the guard fail closed, and the
// JSON shape checks.

/** A rules file, quarantine list or plugin config that cannot be used: the guard fails closed. */
export class GuardConfigError extends Error {
  override name = "GuardConfigError";
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
