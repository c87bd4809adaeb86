/** A rules file, quarantine list or plugin config that cannot be used: the guard fails closed. */
export class GuardConfigError extends Error {
  override name = "GuardConfigError";
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
