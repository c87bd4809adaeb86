"""Quarantine operations: vault moves, the plugin's list, the acknowledgement, pins, audit."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.quarantine import ACK_PHRASE, Quarantine, QuarantineError
from openclaw_secure_stack.quarantine.store import QuarantineStore
from openclaw_secure_stack.scanner import Scanner, UnitReport, discover, load_scanner

SKILLS = Path(__file__).parents[2] / "security" / "scanner" / "skills"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return load_scanner(resources.SCANNER_RULES)


@pytest.fixture
def audit() -> CapturingSink:
    return CapturingSink()


@pytest.fixture
def quarantine(tmp_path: Path, scanner: Scanner, audit: CapturingSink) -> Iterator[Quarantine]:
    store = QuarantineStore(tmp_path / "vault" / "quarantine.db")
    yield Quarantine(
        store=store,
        vault=tmp_path / "vault",
        audit=audit,
        static_list=resources.QUARANTINE_LIST,
        plugin_list=tmp_path / "guard" / "quarantine.json",
        scanner_factory=lambda: scanner,
    )
    store.close()


def _skill(tmp_path: Path, kind: str, name: str) -> Path:
    target = tmp_path / "skills" / name
    shutil.copytree(SKILLS / kind / name, target)
    return target


def _scan(scanner: Scanner, path: Path) -> UnitReport:
    with discover(path) as units:
        return scanner.scan_unit(units[0])


def _listed(quarantine: Quarantine) -> list[dict[str, object]]:
    document = json.loads(quarantine.plugin_list.read_text())
    assert document["schema"] == 1
    return list(document["entries"])


def test_quarantine_moves_records_lists_and_audits_first(
    tmp_path: Path, scanner: Scanner, quarantine: Quarantine, audit: CapturingSink
) -> None:
    """A quarantined skill leaves its folder for the vault, is recorded, listed for the plugin
    (kind skill, its path and digest) and audited."""
    root = _skill(tmp_path, "malicious", "reverse-shell")
    report = _scan(scanner, root)
    entry = quarantine.quarantine(report, root, "scan: malicious", "alice")
    assert not root.exists()
    assert (Path(str(entry.vault_path)) / "scripts" / "connect.sh").is_file()
    assert quarantine.store.get("remote-support") == entry
    [listed] = _listed(quarantine)
    assert listed["kind"] == "skill"
    assert listed["name"] == "remote-support"
    assert listed["path"] == str(root.resolve())
    assert listed["sha256"] == report.sha256
    [event] = audit.named("quarantine.add")
    assert (event.actor, event.outcome) == ("alice", "quarantined")
    assert event.details["rules"] == ["OSS-SCAN-060"]


def test_override_needs_the_exact_phrase_and_a_user(
    tmp_path: Path, scanner: Scanner, quarantine: Quarantine, audit: CapturingSink
) -> None:
    """Without the exact phrase or a user nothing changes; with both the files come back, the
    list is emptied and the override is audited with the user."""
    root = _skill(tmp_path, "malicious", "reverse-shell")
    quarantine.quarantine(_scan(scanner, root), root, "scan", None)
    for ack, user in (
        ("i accept the risk", "bob"),
        ("I accept the risk.", "bob"),
        (ACK_PHRASE, " "),
    ):
        with pytest.raises(QuarantineError):
            quarantine.override("remote-support", ack, user)
    assert not root.exists()
    assert audit.named("quarantine.override") == []
    entry = quarantine.override("remote-support", ACK_PHRASE, "bob")
    assert (root / "scripts" / "connect.sh").is_file()
    assert entry.status == "overridden"
    assert _listed(quarantine) == []
    [event] = audit.named("quarantine.override")
    assert event.actor == "bob"


def test_release_refuses_what_is_still_flagged(
    tmp_path: Path, scanner: Scanner, quarantine: Quarantine
) -> None:
    """Release rescans: a unit that is still malicious stays in quarantine."""
    root = _skill(tmp_path, "malicious", "reverse-shell")
    quarantine.quarantine(_scan(scanner, root), root, "scan", None)
    with pytest.raises(QuarantineError, match="still malicious"):
        quarantine.release("remote-support", "carol")
    assert quarantine.store.get("remote-support").status == "quarantined"  # type: ignore[union-attr]


def test_release_puts_back_what_now_scans_clean(
    tmp_path: Path, scanner: Scanner, quarantine: Quarantine
) -> None:
    """A unit that a rescan finds clean (a false positive, say) is put back and delisted."""
    root = _skill(tmp_path, "benign", "notes")
    quarantine.quarantine(_scan(scanner, root), root, "manual", None)
    entry = quarantine.release("notes", "carol")
    assert entry.status == "released"
    assert (root / "SKILL.md").is_file()
    assert _listed(quarantine) == []


def test_changed_pinned_skill_is_quarantined_until_reapproved(
    tmp_path: Path, scanner: Scanner, quarantine: Quarantine
) -> None:
    """A pinned skill whose content changed is rescanned and quarantined, even when clean; only
    an override (re-approval) brings it back, and moves the pin to the new content."""
    root = _skill(tmp_path, "benign", "weather")
    pin = quarantine.add_pin(root, "weather", "dave")
    assert [state for _, state in quarantine.verify_pins()] == ["ok"]
    with (root / "weather.js").open("a") as handle:
        handle.write("// changed\n")
    assert [state for _, state in quarantine.verify_pins()] == ["changed"]
    assert not root.exists()
    assert [entry["name"] for entry in _listed(quarantine)] == ["weather"]
    with pytest.raises(QuarantineError, match="pinned and its content changed"):
        quarantine.release("weather", None)
    quarantine.override("weather", ACK_PHRASE, "dave")
    assert quarantine.store.pin("weather").sha256 != pin.sha256  # type: ignore[union-attr]
    assert [state for _, state in quarantine.verify_pins()] == ["ok"]


def test_list_keeps_the_static_entries(
    tmp_path: Path, scanner: Scanner, quarantine: Quarantine
) -> None:
    """The hand-written static list's entries stay on the plugin's list beside the database's."""
    static = tmp_path / "static.json"
    static.write_text(
        json.dumps(
            {
                "schema": 1,
                "entries": [{"kind": "tool", "name": "browser", "reason": "hand-written"}],
            }
        )
    )
    quarantine.static_list = static
    root = _skill(tmp_path, "malicious", "evasion-js")
    quarantine.quarantine(_scan(scanner, root), root, "scan", None)
    assert [entry["name"] for entry in _listed(quarantine)] == ["browser", "markdown-pretty"]


def test_two_units_of_one_name_keep_two_records(
    tmp_path: Path, scanner: Scanner, quarantine: Quarantine
) -> None:
    """A second quarantined copy of a name does not replace the first one's record: both stay
    restorable and both are on the plugin's list (by path)."""
    first = _skill(tmp_path, "malicious", "reverse-shell")
    quarantine.quarantine(_scan(scanner, first), first, "scan", None)
    second = tmp_path / "elsewhere" / "reverse-shell"
    shutil.copytree(SKILLS / "malicious" / "reverse-shell", second)
    (second / "extra.sh").write_text("echo more\n")
    report = _scan(scanner, second)
    entry = quarantine.quarantine(report, second, "scan", None)
    assert entry.name == f"remote-support@{report.sha256[:12]}"
    names = sorted(e.name for e in quarantine.store.entries("quarantined"))
    assert names == ["remote-support", entry.name]
    assert sorted(e["path"] for e in _listed(quarantine)) == sorted(
        [str(first.resolve()), str(second.resolve())]
    )
    quarantine.override("remote-support", ACK_PHRASE, "fay")
    quarantine.override(entry.name, ACK_PHRASE, "fay")
    assert (first / "scripts" / "connect.sh").is_file() and (second / "extra.sh").is_file()


def test_a_missing_vault_copy_is_refused_before_auditing(
    tmp_path: Path, scanner: Scanner, quarantine: Quarantine, audit: CapturingSink
) -> None:
    """If the vault copy was deleted, override says so and records nothing."""
    root = _skill(tmp_path, "malicious", "reverse-shell")
    entry = quarantine.quarantine(_scan(scanner, root), root, "scan", None)
    shutil.rmtree(str(entry.vault_path))
    with pytest.raises(QuarantineError, match="missing from the vault"):
        quarantine.override("remote-support", ACK_PHRASE, "gus")
    assert audit.named("quarantine.override") == []
