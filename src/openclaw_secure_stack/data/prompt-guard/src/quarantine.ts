// The quarantine list (schema 1, written by the skill scanner) and the decision whether a tool
// call belongs to a quarantined tool, plugin or skill. The README documents the format.

import { statSync } from "node:fs";

import { GuardConfigError, isObject } from "./errors.ts";

export const QUARANTINE_KINDS = ["tool", "plugin", "skill"] as const;
export type QuarantineKind = (typeof QUARANTINE_KINDS)[number];

export interface QuarantineEntry {
  readonly kind: QuarantineKind;
  readonly name: string;
  readonly reason: string;
  readonly sha256?: string;
  /**
   * skill: the skill's directory; a tool call that mentions it belongs to the skill. A second
   * layer only: `up` moves quarantined skills out of OpenClaw's reach before it starts.
   */
  readonly path?: string;
  /** plugin: the tool names the plugin registers (its manifest's contracts.tools). */
  readonly tools?: readonly string[];
}

export interface QuarantineHit {
  readonly entry: QuarantineEntry;
  /** What tied the call to the entry, for the block reason. */
  readonly evidence: string;
}

const SHA256 = /^[0-9a-f]{64}$/;
const KNOWN_KEYS = new Set(["kind", "name", "reason", "sha256", "path", "tools"]);

function optionalString(raw: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = raw[key];
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== "string" || value === "") {
    throw new GuardConfigError(`${where}.${key} must be a non-empty string`);
  }
  return value;
}

function requiredString(raw: Record<string, unknown>, key: string, where: string): string {
  const value = optionalString(raw, key, where);
  if (value === undefined) {
    throw new GuardConfigError(`${where}.${key} is required`);
  }
  return value;
}

function parseEntry(raw: unknown, where: string): QuarantineEntry {
  if (!isObject(raw)) {
    throw new GuardConfigError(`${where} must be an object`);
  }
  const unknownKeys = Object.keys(raw).filter((key) => !KNOWN_KEYS.has(key));
  if (unknownKeys.length > 0) {
    throw new GuardConfigError(`${where} has unknown keys: ${unknownKeys.join(", ")}`);
  }
  const kind = raw.kind;
  if (!QUARANTINE_KINDS.includes(kind as QuarantineKind)) {
    throw new GuardConfigError(`${where}.kind must be one of ${QUARANTINE_KINDS.join(", ")}`);
  }
  const entry = {
    kind: kind as QuarantineKind,
    name: requiredString(raw, "name", where),
    reason: requiredString(raw, "reason", where),
  };
  const sha256 = optionalString(raw, "sha256", where);
  if (sha256 !== undefined && !SHA256.test(sha256)) {
    throw new GuardConfigError(`${where}.sha256 must be 64 lowercase hex digits`);
  }
  const path = optionalString(raw, "path", where);
  if (path !== undefined && kind !== "skill") {
    throw new GuardConfigError(`${where}.path is only meaningful for kind "skill"`);
  }
  const tools = raw.tools;
  if (tools !== undefined) {
    if (kind !== "plugin") {
      throw new GuardConfigError(`${where}.tools is only meaningful for kind "plugin"`);
    }
    if (!Array.isArray(tools) || !tools.every((tool) => typeof tool === "string" && tool !== "")) {
      throw new GuardConfigError(`${where}.tools must be a list of tool names`);
    }
  }
  return {
    ...entry,
    ...(sha256 === undefined ? {} : { sha256 }),
    ...(path === undefined ? {} : { path }),
    ...(tools === undefined ? {} : { tools: tools as string[] }),
  };
}

function* stringsIn(value: unknown): Generator<string> {
  if (typeof value === "string") {
    yield value;
  } else if (Array.isArray(value)) {
    for (const item of value) {
      yield* stringsIn(item);
    }
  } else if (isObject(value)) {
    for (const item of Object.values(value)) {
      yield* stringsIn(item);
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/**
 * The tool-call text that ties a call to a skill: its directory path, or a path through a skills
 * root ending in the skill's name or directory name (`skills/<name>`, `.agents/skills/<name>`,
 * `workshop-skills/<name>`), followed by a separator or the end of a word.
 */
function skillReference(entry: QuarantineEntry): RegExp {
  const names = new Set([entry.name]);
  if (entry.path !== undefined) {
    const base = entry.path.replace(/[\\/]+$/, "").split(/[\\/]/).pop();
    if (base) {
      names.add(base);
    }
  }
  const alternatives = [...names].map((name) => `skills[\\\\/]+${escapeRegExp(name)}`);
  if (entry.path !== undefined) {
    alternatives.unshift(escapeRegExp(entry.path.replace(/[\\/]+$/, "")));
  }
  return new RegExp(`(?:${alternatives.join("|")})(?![\\w.-])`, "i");
}

/** A parsed quarantine list, ready to answer whether a tool call belongs to an entry. */
export class Quarantine {
  readonly entries: readonly QuarantineEntry[];
  private readonly skillReferences: ReadonlyMap<QuarantineEntry, RegExp>;

  constructor(entries: readonly QuarantineEntry[]) {
    this.entries = entries;
    this.skillReferences = new Map(
      entries.filter((entry) => entry.kind === "skill").map((entry) => [entry, skillReference(entry)]),
    );
  }

  /** Parse a schema-1 quarantine list; throws GuardConfigError on any defect. */
  static parse(document: unknown): Quarantine {
    if (!isObject(document)) {
      throw new GuardConfigError("quarantine list must hold a JSON object");
    }
    if (document.schema !== 1) {
      throw new GuardConfigError(`quarantine list schema must be 1, got ${JSON.stringify(document.schema)}`);
    }
    if (!Array.isArray(document.entries)) {
      throw new GuardConfigError("quarantine list must hold a list of entries");
    }
    return new Quarantine(document.entries.map((raw, index) => parseEntry(raw, `entries[${index}]`)));
  }

  /** The first entry the tool call belongs to, or undefined. */
  find(toolName: string, params: unknown): QuarantineHit | undefined {
    const tool = toolName.toLowerCase();
    for (const entry of this.entries) {
      if (entry.kind === "tool" && entry.name.toLowerCase() === tool) {
        return { entry, evidence: `tool ${toolName} is quarantined` };
      }
      if (entry.kind === "plugin" && entry.tools?.some((name) => name.toLowerCase() === tool)) {
        return { entry, evidence: `tool ${toolName} belongs to plugin ${entry.name}` };
      }
      const reference = this.skillReferences.get(entry);
      if (reference !== undefined) {
        for (const text of stringsIn(params)) {
          const found = reference.exec(text);
          if (found) {
            return { entry, evidence: `the ${toolName} call references ${found[0]}` };
          }
        }
      }
    }
    return undefined;
  }
}

/**
 * The quarantine list on disk, re-read whenever the file changes: the stack's `quarantine`, `pin`
 * and `scan --quarantine` commands rewrite it (atomically, by rename) while OpenClaw runs, so a
 * quarantine takes effect on the next tool call without a restart. One `stat` per call; a list
 * that has become unreadable or invalid throws, and the guard blocks the call with the reason.
 */
export class QuarantineFile {
  readonly path: string;
  private readonly load: (path: string) => Quarantine;
  private signature: string;
  private parsed: Quarantine;

  constructor(path: string, load: (path: string) => Quarantine) {
    this.path = path;
    this.load = load;
    this.signature = QuarantineFile.signatureOf(path);
    this.parsed = load(path);
  }

  private static signatureOf(path: string): string {
    try {
      const stat = statSync(path, { bigint: true });
      return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
    } catch (error) {
      throw new GuardConfigError(`quarantine list unreadable: ${path}: ${(error as Error).message}`);
    }
  }

  /** The current list: the last one parsed, or the file again if it changed since. */
  current(): Quarantine {
    const signature = QuarantineFile.signatureOf(this.path);
    if (signature !== this.signature) {
      // Parse first: a list that fails to parse is not remembered, so every call retries it.
      this.parsed = this.load(this.path);
      this.signature = signature;
    }
    return this.parsed;
  }

  /** The last list parsed, without looking at the file (for status reports). */
  last(): Quarantine {
    return this.parsed;
  }
}
