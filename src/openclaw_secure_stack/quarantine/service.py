"""Quarantine, override, release, rescan and pins: each change audited before it takes effect,
then the plugin's list rewritten.

A quarantined unit's files are moved into the vault (`DATA_DIR/quarantine/<time>/<name>`, out of
OpenClaw's sandbox) and its name goes on the plugin's list. `override` needs the exact phrase
and a user, and puts the files back; `release` puts them back only when a rescan with the current
rules no longer flags them. A pin records a unit's digest; `verify_pins` rescans a pinned unit
whose content changed and quarantines it until someone overrides (re-approves) it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.quarantine.listfile import write_list
from openclaw_secure_stack.quarantine.store import Entry, Pin, QuarantineStore, now
from openclaw_secure_stack.scanner import Scanner, Unit, UnitReport
from openclaw_secure_stack.scanner.model import VERDICTS, VerdictName
from openclaw_secure_stack.scanner.pins import digest
from openclaw_secure_stack.scanner.units import kind_of

ACK_PHRASE = "I accept the risk"
ACTOR = "quarantine"


class QuarantineError(Exception):
    """A quarantine operation is refused; the message says why and what to do."""


@dataclass
class Quarantine:
    store: QuarantineStore
    vault: Path
    audit: AuditSink
    static_list: Path
    plugin_list: Path
    scanner_factory: Callable[[], Scanner]

    def _audit(self, event: str, outcome: str, user: str | None, **details: object) -> None:
        self.audit.write(AuditEvent(f"quarantine.{event}", outcome, user or ACTOR, None, details))

    def publish(self) -> int:
        """Rewrite the plugin's list from the database; returns how many entries it holds."""
        return write_list(self.store, self.static_list, self.plugin_list)

    def quarantine(self, report: UnitReport, root: Path, reason: str, user: str | None) -> Entry:
        """Move the unit at `root` into the vault and put it on the list. A second unit of a
        name already in quarantine (another copy, other content) gets its own record,
        `<name>@<digest prefix>`, so neither is lost."""
        held = self.store.get(report.unit)
        if held is not None and held.status == "quarantined":
            report = replace(report, unit=f"{report.unit}@{report.sha256[:12]}")
        batch = self.vault / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        destination = batch / root.name
        self._audit(
            "add",
            "quarantined",
            user,
            name=report.unit,
            path=str(root),
            verdict=report.verdict,
            score=report.score,
            sha256=report.sha256,
            rules=sorted({finding.rule_id for finding in report.findings}),
            reason=reason,
        )
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.move(root, destination)
        entry = Entry(
            name=report.unit,
            kind=report.kind,
            original_path=str(root.resolve()),
            vault_path=str(destination),
            verdict=report.verdict,
            score=report.score,
            sha256=report.sha256,
            findings=tuple(finding.to_record() for finding in report.findings),
            status="quarantined",
            reason=reason,
            user=user,
            updated_at=now(),
        )
        self.store.put(entry)
        self.publish()
        return entry

    def _quarantined(self, name: str) -> Entry:
        entry = self.store.get(name)
        if entry is None or entry.status != "quarantined" or entry.vault_path is None:
            raise QuarantineError(f"{name} is not quarantined (see `quarantine list`)")
        if not Path(entry.vault_path).exists():
            raise QuarantineError(f"{name}'s copy is missing from the vault: {entry.vault_path}")
        return entry

    def _restore(self, entry: Entry) -> None:
        original = Path(entry.original_path)
        if original.exists():
            raise QuarantineError(
                f"{original} exists again: move it away before putting {entry.name} back"
            )
        original.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(entry.vault_path), original)

    def override(self, name: str, ack: str, user: str) -> Entry:
        """Accept the risk of a quarantined unit: audited with the user, files put back, and the
        pin (if any) moved to this content."""
        if ack != ACK_PHRASE:
            raise QuarantineError(f'override needs --ack "{ACK_PHRASE}", exactly')
        if not user.strip():
            raise QuarantineError("override needs --user NAME: who accepts the risk")
        entry = self._quarantined(name)
        self._audit(
            "override",
            "overridden",
            user,
            name=name,
            verdict=entry.verdict,
            score=entry.score,
            sha256=entry.sha256,
            ack=ack,
        )
        self._restore(entry)
        updated = replace(entry, status="overridden", vault_path=None, user=user, updated_at=now())
        self.store.put(updated)
        pin = self.store.pin(name)
        if pin is not None:
            self.store.put_pin(replace(pin, sha256=entry.sha256, user=user, updated_at=now()))
        self.publish()
        return updated

    def rescan_entry(self, entry: Entry) -> UnitReport:
        """Scan the vaulted copy with the current rules and record the new verdict."""
        if entry.vault_path is None:
            raise QuarantineError(f"{entry.name} has no copy in the vault")
        root = Path(entry.vault_path)
        report = self.scanner_factory().scan_unit(Unit(str(root), root, kind_of(root)))
        self.store.put(
            replace(
                entry,
                verdict=report.verdict,
                score=report.score,
                findings=tuple(finding.to_record() for finding in report.findings),
                updated_at=now(),
            )
        )
        self._audit(
            "rescan",
            report.verdict,
            None,
            name=entry.name,
            score=report.score,
            sha256=report.sha256,
        )
        return report

    def release(self, name: str, user: str | None) -> Entry:
        """Put a quarantined unit back if a rescan no longer flags it (else: override)."""
        entry = self._quarantined(name)
        pin = self.store.pin(name)
        if pin is not None and pin.sha256 != entry.sha256:
            raise QuarantineError(
                f"{name} is pinned and its content changed: re-approve it with "
                f'`quarantine override {name} --ack "{ACK_PHRASE}" --user NAME`'
            )
        report = self.rescan_entry(entry)
        if report.verdict != "clean":
            raise QuarantineError(
                f"{name} is still {report.verdict} (score {report.score}): "
                f'use `quarantine override {name} --ack "{ACK_PHRASE}" --user NAME` to accept it'
            )
        self._audit("release", "released", user, name=name, score=report.score)
        self._restore(entry)
        released = replace(
            entry, status="released", vault_path=None, verdict="clean", user=user, updated_at=now()
        )
        self.store.put(released)
        self.publish()
        return released

    def rescan(self) -> list[tuple[Entry, UnitReport]]:
        results = [(entry, self.rescan_entry(entry)) for entry in self.store.entries("quarantined")]
        self.publish()
        return results

    def add_pin(self, root: Path, name: str, user: str | None) -> Pin:
        pin = Pin(name, str(root.resolve()), digest(root), user, now())
        self._audit("pin", "pinned", user, name=name, path=pin.path, sha256=pin.sha256)
        self.store.put_pin(pin)
        return pin

    def remove_pin(self, name: str, user: str | None) -> bool:
        self._audit("unpin", "unpinned", user, name=name)
        return self.store.remove_pin(name)

    def verify_pins(self) -> list[tuple[Pin, str]]:
        """Each pin with `ok`, `missing`, `quarantined` (already) or `changed` (now quarantined)."""
        results = []
        for pin in self.store.pins():
            root = Path(pin.path)
            entry = self.store.get(pin.name)
            if entry is not None and entry.status == "quarantined":
                results.append((pin, "quarantined"))
                continue
            if not root.exists():
                results.append((pin, "missing"))
                continue
            if digest(root) == pin.sha256:
                results.append((pin, "ok"))
                continue
            report = self.scanner_factory().scan_unit(Unit(str(root), root, kind_of(root)))
            report = replace(report, unit=pin.name)
            self.quarantine(
                report, root, f"pinned content changed (rescan: {report.verdict})", None
            )
            results.append((pin, "changed"))
        return results


def flagged(report: UnitReport, threshold: VerdictName) -> bool:
    return VERDICTS.index(report.verdict) >= VERDICTS.index(threshold) and (
        threshold != "clean" or report.score < 100
    )
