import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { GuardConfigError } from "../src/errors.ts";
import { Quarantine } from "../src/quarantine.ts";
import { SHIPPED_QUARANTINE } from "./support.ts";

const quarantine = Quarantine.parse({
  schema: 1,
  entries: [
    { kind: "tool", name: "exec", reason: "no shell here" },
    { kind: "plugin", name: "evil-plugin", reason: "exfiltrates", tools: ["evil_fetch"] },
    {
      kind: "skill",
      name: "weather",
      reason: "curl | sh in scripts/run.sh",
      sha256: "a".repeat(64),
      path: "/srv/ws/skills/weather-v2",
    },
  ],
});

test("the shipped default quarantine list is valid and empty", () => {
  assert.deepEqual(Quarantine.parse(JSON.parse(readFileSync(SHIPPED_QUARANTINE, "utf8"))).entries, []);
});

test("a quarantined tool is matched by name, case-insensitively", () => {
  assert.equal(quarantine.find("EXEC", { command: "ls" })?.entry.name, "exec");
  assert.equal(quarantine.find("read", { path: "/etc/hosts" }), undefined);
});

test("a tool registered by a quarantined plugin is matched", () => {
  const hit = quarantine.find("evil_fetch", {});
  assert.equal(hit?.entry.name, "evil-plugin");
  assert.match(hit?.evidence ?? "", /belongs to plugin evil-plugin/);
});

test("a call whose parameters reference a quarantined skill's directory is matched", () => {
  const byPath = quarantine.find("process", { argv: ["bash", "/srv/ws/skills/weather-v2/scripts/run.sh"] });
  assert.equal(byPath?.entry.name, "weather");
  assert.equal(quarantine.find("read", { path: "skills/weather/SKILL.md" })?.entry.name, "weather");
  assert.equal(quarantine.find("read", { path: "/x/.agents/skills/weather-v2" })?.entry.name, "weather");
  assert.equal(quarantine.find("read", { nested: { path: "C:\\ws\\skills\\weather\\a" } })?.entry.name, "weather");
});

test("a skill whose name only prefixes another skill's name is not matched", () => {
  assert.equal(quarantine.find("read", { path: "/srv/ws/skills/weather-v3/SKILL.md" }), undefined);
  assert.equal(quarantine.find("read", { path: "skills/weathers/SKILL.md" }), undefined);
  assert.equal(quarantine.find("read", { path: "docs/weather.md" }), undefined);
});

const defects: [string, unknown, RegExp][] = [
  ["not an object", "[]", /JSON object/],
  ["another schema", { schema: 2, entries: [] }, /schema must be 1/],
  ["no entry list", { schema: 1 }, /list of entries/],
  ["an unknown kind", { schema: 1, entries: [{ kind: "agent", name: "a", reason: "r" }] }, /kind must be/],
  ["a missing reason", { schema: 1, entries: [{ kind: "tool", name: "a" }] }, /reason is required/],
  ["an empty name", { schema: 1, entries: [{ kind: "tool", name: "", reason: "r" }] }, /name must be/],
  ["a bad hash", { schema: 1, entries: [{ kind: "tool", name: "a", reason: "r", sha256: "x" }] }, /sha256/],
  ["a path on a tool", { schema: 1, entries: [{ kind: "tool", name: "a", reason: "r", path: "/x" }] }, /path/],
  ["tools on a skill", { schema: 1, entries: [{ kind: "skill", name: "a", reason: "r", tools: ["x"] }] }, /tools/],
  ["an unknown key", { schema: 1, entries: [{ kind: "tool", name: "a", reason: "r", until: 1 }] }, /unknown keys: until/],
];

for (const [name, document, message] of defects) {
  test(`a quarantine list with ${name} is rejected with a reason`, () => {
    assert.throws(() => Quarantine.parse(document), (error: unknown) => {
      assert.ok(error instanceof GuardConfigError);
      assert.match(error.message, message);
      return true;
    });
  });
}

// The stack rewrites the list by rename while OpenClaw runs: the guard sees each new version.
test("a list rewritten while running is used from the next tool call on", async () => {
  const { mkdtempSync, renameSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { Guard } = await import("../src/guard.ts");
  const { SHIPPED_RULES } = await import("./support.ts");
  const dir = mkdtempSync(join(tmpdir(), "prompt-guard-reload-"));
  const list = join(dir, "quarantine.json");
  const publish = (content: string): void => {
    writeFileSync(join(dir, ".next"), content);
    renameSync(join(dir, ".next"), list);
  };
  publish(JSON.stringify({ schema: 1, entries: [] }));
  const guard = Guard.load({ rulesPath: SHIPPED_RULES, quarantinePath: list });
  const call = { toolName: "exec", params: { command: "sh skills/weather/run.sh" } };
  assert.equal(guard.beforeToolCall(call), undefined);

  publish(JSON.stringify({ schema: 1, entries: [{ kind: "skill", name: "weather", reason: "scan: malicious" }] }));
  assert.match(guard.beforeToolCall(call)?.blockReason ?? "", /skill "weather" is quarantined \(scan: malicious\)/);

  // A list that no longer parses blocks every call (fail closed) until a good one is back.
  publish("{ not json");
  assert.match(guard.beforeToolCall({ toolName: "read", params: {} })?.blockReason ?? "", /quarantine list is not valid JSON/);
  publish(JSON.stringify({ schema: 1, entries: [] }));
  assert.equal(guard.beforeToolCall(call), undefined);
  assert.equal(guard.status().quarantineEntries, 0);
});
