"""Installing the pinned OpenClaw once per lockfile version, safely under concurrency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.install import (
    PACKAGE_DIR,
    InstallError,
    ensure_installed,
    find_install,
    install_dir,
    install_plugin,
    lockfile_hash,
    pinned_version,
)
from openclaw_secure_stack.runtime.node import NodeRuntime

# Stands in for `node npm-cli.js ci ...`: records the call, then lays out a package tree.
FAKE_NPM = """#!/bin/sh
shift
echo "$@" >> "{log}"
if [ -n "{fail}" ]; then echo "npm ERR! network {fail}" >&2; exit 1; fi
sleep 0.2
mkdir -p node_modules/openclaw node_modules/re2js
echo '{{"version": "{version}"}}' > node_modules/openclaw/package.json
echo '{{"version": "1.0.0"}}' > node_modules/re2js/package.json
touch node_modules/openclaw/openclaw.mjs
"""


def fake_runtime(tmp_path: Path, *, version: str = "2026.9.6", fail: str = "") -> NodeRuntime:
    script = tmp_path / "fake-node"
    script.write_text(FAKE_NPM.format(log=tmp_path / "npm.log", version=version, fail=fail))
    script.chmod(0o755)
    return NodeRuntime(node=script, npm_cli=tmp_path / "npm-cli.js")


def npm_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "npm.log"
    return log.read_text().splitlines() if log.exists() else []


def test_committed_lockfile_pins_openclaw_exactly() -> None:
    """package.json asks for exactly 2026.9.6 and the lockfile resolves exactly that."""
    lock = json.loads((PACKAGE_DIR / "package-lock.json").read_text())
    assert pinned_version() == "2026.9.6"
    assert lock["packages"]["node_modules/openclaw"]["version"] == "2026.9.6"
    assert lock["packages"]["node_modules/openclaw"]["integrity"].startswith("sha512-")


def test_lockfile_hash_follows_the_lockfile(tmp_path: Path) -> None:
    """Changing the lockfile changes the hash, and so the install directory."""
    for name in ("package.json", "package-lock.json"):
        (tmp_path / name).write_bytes((PACKAGE_DIR / name).read_bytes())
    before = lockfile_hash(tmp_path)
    (tmp_path / "package-lock.json").write_text("{}")
    assert lockfile_hash(tmp_path) != before
    assert before == lockfile_hash(PACKAGE_DIR)


def test_install_runs_npm_ci_once_without_scripts(tmp_path: Path) -> None:
    """The first call runs `npm ci --ignore-scripts`; later calls reuse the recorded install."""
    runtime, root = fake_runtime(tmp_path), tmp_path / "installs"
    first = ensure_installed(root, runtime)
    second = ensure_installed(root, runtime)
    assert first == second == find_install(root)
    assert first.root == install_dir(root, lockfile_hash())
    assert first.version == "2026.9.6" and first.entry.is_file()
    (call,) = npm_calls(tmp_path)
    assert call.startswith("ci --ignore-scripts")
    assert not list(root.glob(".staging-*"))


def test_two_concurrent_installers_run_npm_once(tmp_path: Path) -> None:
    """Two `up`s starting together serialise on the lock; the second finds the install."""
    runtime, root = fake_runtime(tmp_path), tmp_path / "installs"
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_installed(root, runtime)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    assert len(npm_calls(tmp_path)) == 1


def test_failed_npm_leaves_nothing_that_looks_installed(tmp_path: Path) -> None:
    """npm's error is in the message; no install and no staging directory remain."""
    runtime, root = fake_runtime(tmp_path, fail="ETIMEDOUT"), tmp_path / "installs"
    with pytest.raises(InstallError, match=r"(?s)npm ci failed.*ETIMEDOUT"):
        ensure_installed(root, runtime)
    assert find_install(root) is None
    assert not list(root.glob(".staging-*"))


def test_wrong_version_from_npm_is_refused(tmp_path: Path) -> None:
    """If npm produced another openclaw version than pinned, the install is rejected."""
    runtime, root = fake_runtime(tmp_path, version="2026.1.1"), tmp_path / "installs"
    with pytest.raises(InstallError, match=r"2026\.1\.1, not the pinned 2026\.9\.6"):
        ensure_installed(root, runtime)
    assert find_install(root) is None


def plugin_source(tmp_path: Path) -> Path:
    """A plugin folder needing re2js, with a developer's node_modules that must not be copied."""
    plugin = tmp_path / "source" / "prompt-guard"
    (plugin / "node_modules" / "typescript").mkdir(parents=True)
    (plugin / "package.json").write_text('{"dependencies": {"re2js": "2.10.0"}}')
    (plugin / "package-lock.json").write_text("{}")
    (plugin / "index.ts").write_text("export default {};\n")
    return plugin


def test_plugin_is_copied_and_installed_outside_its_source(tmp_path: Path) -> None:
    """The copy under the install root gets `npm ci --omit=dev` once; the source is untouched."""
    source, root = plugin_source(tmp_path), tmp_path / "installs"
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    runtime = fake_runtime(tmp_path)
    first = install_plugin(source, runtime, root)
    second = install_plugin(source, runtime, root)
    assert first == second and first.parent == root and first.name.startswith("prompt-guard-")
    assert (first / "index.ts").read_text() == "export default {};\n"
    assert (first / "node_modules" / "re2js" / "package.json").is_file()
    assert not (first / "node_modules" / "typescript").exists()
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before
    (call,) = npm_calls(tmp_path)
    assert "--omit=dev" in call
    assert not list(root.glob(".staging-*"))


def test_changed_plugin_gets_a_new_copy(tmp_path: Path) -> None:
    """Editing a plugin file gives a new folder, so a running gateway keeps its own copy."""
    source, root = plugin_source(tmp_path), tmp_path / "installs"
    runtime = fake_runtime(tmp_path)
    old = install_plugin(source, runtime, root)
    (source / "index.ts").write_text("export default { changed: true };\n")
    new = install_plugin(source, runtime, root)
    assert new != old and old.is_dir()
    assert (new / "index.ts").read_text() == "export default { changed: true };\n"
    assert len(npm_calls(tmp_path)) == 2


def test_plugin_without_a_lockfile_is_an_error(tmp_path: Path) -> None:
    """Dependencies are only ever installed from a lockfile; nothing half-made remains."""
    source, root = plugin_source(tmp_path), tmp_path / "installs"
    (source / "package-lock.json").unlink()
    with pytest.raises(InstallError, match=r"no package-lock\.json"):
        install_plugin(source, fake_runtime(tmp_path), root)
    assert [p.name for p in root.iterdir()] == [".install.lock"]


def test_failed_plugin_install_leaves_nothing_that_looks_installed(tmp_path: Path) -> None:
    """npm's error is reported and no copy (finished or staging) is left behind."""
    source, root = plugin_source(tmp_path), tmp_path / "installs"
    with pytest.raises(InstallError, match=r"(?s)npm ci failed.*ETIMEDOUT"):
        install_plugin(source, fake_runtime(tmp_path, fail="ETIMEDOUT"), root)
    assert [p.name for p in root.iterdir()] == [".install.lock"]


# Stands in for `node openclaw.mjs --version` finishing OpenClaw's own setup.
FAKE_LIFECYCLE = """#!/bin/sh
echo "$@" >> "{log}"
env > "{env}"
{action}
"""
FINISH = 'rm "$(dirname "$1")/.openclaw-lifecycle-pending"; echo "OpenClaw 2026.9.6"'


def pending_install(tmp_path: Path, action: str) -> tuple[Path, NodeRuntime]:
    """An install whose lifecycle is pending, and a node that runs `action` on `--version`."""
    root = tmp_path / "installs"
    install = ensure_installed(root, fake_runtime(tmp_path))
    (install.entry.parent / ".openclaw-lifecycle-pending").write_text("pending")
    script = tmp_path / "lifecycle-node"
    script.write_text(
        FAKE_LIFECYCLE.format(log=tmp_path / "node.log", env=tmp_path / "node.env", action=action)
    )
    script.chmod(0o755)
    return root, NodeRuntime(node=script, npm_cli=tmp_path / "npm-cli.js")


def test_pending_lifecycle_is_finished_once_with_only_path_and_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`openclaw --version` runs once in the install with PATH and HOME, none of our secrets."""
    monkeypatch.setenv("AUDIT_KEY", "k" * 40)
    root, node = pending_install(tmp_path, FINISH)
    install = ensure_installed(root, node)
    ensure_installed(root, node)
    assert not install.lifecycle_pending
    assert (tmp_path / "node.log").read_text().splitlines() == [f"{install.entry} --version"]
    names = {line.split("=", 1)[0] for line in (tmp_path / "node.env").read_text().splitlines()}
    assert names - {"PWD", "SHLVL", "_", "OLDPWD"} == {"PATH", "HOME"}


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ('echo "EROFS: read-only file system" >&2; exit 1', "exit 1.*EROFS"),
        ('echo "OpenClaw 2026.9.6"', "exit 0.*OpenClaw 2026.9.6"),
    ],
)
def test_a_lifecycle_that_does_not_finish_stops_up(
    tmp_path: Path, action: str, reason: str
) -> None:
    """A failing run, or one that leaves the marker, is an InstallError with its output."""
    root, node = pending_install(tmp_path, action)
    with pytest.raises(InstallError, match=f"could not finish its setup.*{reason}"):
        ensure_installed(root, node)
