"""Install the pinned OpenClaw from the committed lockfile, once per lockfile version.

Each lockfile version gets its own directory, `<install_root>/openclaw-<hash>`, built in a staging
directory with `npm ci --ignore-scripts` and renamed into place only when complete, with a marker
recording the hash. So a half-finished install never looks usable, a running gateway keeps its
tree when the lockfile changes, and two installers (two `up`s, pytest workers) serialise on a file
lock: the second one finds the finished install and does nothing.

Install scripts are skipped on purpose: OpenClaw runs without them, and they are code from the
registry that would otherwise run with the user's rights at install time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openclaw_secure_stack.runtime.node import NodeRuntime

PACKAGE_DIR = Path(__file__).parent / "openclaw"
MANIFESTS = ("package.json", "package-lock.json")
MARKER = ".oss-install.json"
INSTALL_TIMEOUT_SECONDS = 900


class InstallError(Exception):
    """OpenClaw could not be installed; the message carries npm's own explanation."""


@dataclass(frozen=True)
class OpenClawInstall:
    """A complete install of the pinned OpenClaw."""

    root: Path
    lock_hash: str
    version: str

    @property
    def entry(self) -> Path:
        """The script the gateway runs from: `node <entry> gateway run --port P`."""
        return self.root / "node_modules" / "openclaw" / "openclaw.mjs"

    @property
    def lifecycle_pending(self) -> bool:
        """Whether OpenClaw still has to run its own postinstall (skipped by `npm ci`)."""
        return (self.entry.parent / ".openclaw-lifecycle-pending").exists()


def pinned_version(package_dir: Path = PACKAGE_DIR) -> str:
    """The exact `openclaw` version the committed package.json asks for."""
    manifest = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"]["openclaw"])


def lockfile_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 over package.json and package-lock.json: a new hash means a new install."""
    digest = hashlib.sha256()
    for name in MANIFESTS:
        data = (package_dir / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def install_dir(install_root: Path, lock_hash: str) -> Path:
    return install_root / f"openclaw-{lock_hash[:16]}"


def read_install(root: Path) -> OpenClawInstall | None:
    """The install recorded at `root`, or None when it is missing or was never completed."""
    try:
        marker = json.loads((root / MARKER).read_text(encoding="utf-8"))
        installed = json.loads(
            (root / "node_modules" / "openclaw" / "package.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or not isinstance(installed, dict):
        return None
    install = OpenClawInstall(root, str(marker.get("lock_sha256")), str(installed.get("version")))
    return install if install.entry.is_file() else None


def find_install(install_root: Path, package_dir: Path = PACKAGE_DIR) -> OpenClawInstall | None:
    """The complete install matching the committed lockfile, if there is one."""
    lock_hash = lockfile_hash(package_dir)
    install = read_install(install_dir(install_root, lock_hash))
    if install is None or install.lock_hash != lock_hash:
        return None
    return install


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an advisory lock on `path` (created if missing) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def npm_environment(node: NodeRuntime, install_root: Path) -> dict[str, str]:
    """npm's environment: our node first on PATH, its cache beside the installs, no chatter."""
    env = dict(os.environ)
    env["PATH"] = f"{node.node.parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        npm_config_cache=str(install_root / "npm-cache"),
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
    )
    return env


def ensure_installed(
    install_root: Path,
    node: NodeRuntime,
    *,
    package_dir: Path = PACKAGE_DIR,
    progress: Callable[[str], None] = lambda _message: None,
) -> OpenClawInstall:
    """Return the install for the committed lockfile, running `npm ci` first if there is none."""
    install = find_install(install_root, package_dir) or _npm_install(
        install_root, node, package_dir, progress
    )
    finish_package_lifecycle(install, node, install_root)
    return install


def _npm_install(
    install_root: Path,
    node: NodeRuntime,
    package_dir: Path,
    progress: Callable[[str], None],
) -> OpenClawInstall:
    lock_hash = lockfile_hash(package_dir)
    with exclusive_lock(install_root / ".install.lock"):
        install = find_install(install_root, package_dir)
        if install is not None:
            return install
        # Under the lock any staging directory is a leftover of an interrupted install.
        for leftover in install_root.glob(".staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        staging = install_root / f".staging-{lock_hash[:16]}-{os.getpid()}"
        staging.mkdir(parents=True)
        for name in MANIFESTS:
            shutil.copyfile(package_dir / name, staging / name)
        progress(f"installing openclaw {pinned_version(package_dir)} with npm ci (once)")
        try:
            _run_npm_ci(node, staging, install_root)
        except InstallError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        installed = json.loads(
            (staging / "node_modules" / "openclaw" / "package.json").read_text(encoding="utf-8")
        )
        if installed.get("version") != pinned_version(package_dir):
            shutil.rmtree(staging, ignore_errors=True)
            raise InstallError(
                f"npm installed openclaw {installed.get('version')}, "
                f"not the pinned {pinned_version(package_dir)}"
            )
        (staging / MARKER).write_text(
            json.dumps({"lock_sha256": lock_hash, "openclaw": installed["version"]}) + "\n",
            encoding="utf-8",
        )
        target = install_dir(install_root, lock_hash)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    install = find_install(install_root, package_dir)
    if install is None:
        raise InstallError(f"install at {target} is incomplete after npm ci")
    return install


def finish_package_lifecycle(
    install: OpenClawInstall, node: NodeRuntime, install_root: Path
) -> None:
    """Let OpenClaw finish its own package setup now, once, instead of on its first start.

    With scripts skipped, OpenClaw leaves a marker and completes its own postinstall the first
    time it runs, writing into its install. The gateway runs in a sandbox where the install is
    read-only, so that step is run here: `openclaw --version` does it and exits. Only PATH is
    passed: it is the pinned package's code, and needs none of the stack's settings.
    """
    if not install.lifecycle_pending:
        return
    with exclusive_lock(install_root / ".install.lock"):
        if not install.lifecycle_pending:
            return
        try:
            completed = subprocess.run(  # noqa: S603 - our own node and the pinned entry
                [str(node.node), str(install.entry), "--version"],
                cwd=install.root,
                env={"PATH": os.environ.get("PATH", os.defpath), "HOME": str(install.root)},
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InstallError(f"openclaw could not finish its setup: {exc}") from exc
    if completed.returncode != 0 or install.lifecycle_pending:
        output = (completed.stderr or completed.stdout).strip()
        raise InstallError(
            f"openclaw could not finish its setup in {install.root} (exit "
            f"{completed.returncode}): {output}; delete that directory to reinstall"
        )


def missing_dependencies(project: Path) -> list[str]:
    """Runtime dependencies of the npm project at `project` that are not installed."""
    manifest = json.loads((project / "package.json").read_text(encoding="utf-8"))
    return [
        name
        for name in manifest.get("dependencies", {})
        if not (project / "node_modules" / name / "package.json").is_file()
    ]


def plugin_hash(source: Path) -> str:
    """SHA-256 over a plugin folder's file names and contents, its node_modules left out."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for directory, subdirectories, names in os.walk(source):
        # Never descend into node_modules: a developer's install may be changing under us.
        subdirectories[:] = [name for name in subdirectories if name != "node_modules"]
        files += [Path(directory, name) for name in names]
    for path in sorted(files):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(source).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _plugin_ready(target: Path, expected_hash: str) -> bool:
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("plugin_sha256") == expected_hash
        and not missing_dependencies(target)
    )


def install_plugin(
    source: Path,
    node: NodeRuntime,
    install_root: Path,
    *,
    progress: Callable[[str], None] = lambda _message: None,
) -> Path:
    """A copy of the plugin at `source` under `install_root`, with its runtime dependencies.

    OpenClaw loads a plugin's `index.ts` from its folder, so the dependencies must sit in that
    folder's own `node_modules`. npm runs in the copy, never in `source` (the installed package,
    possibly read-only). One copy per content hash, built in a staging directory and renamed
    into place when complete: a changed plugin gets a new folder, a running gateway keeps its own.
    """
    expected = plugin_hash(source)
    target = install_root / f"{source.name}-{expected[:16]}"
    if _plugin_ready(target, expected):
        return target
    with exclusive_lock(install_root / ".install.lock"):
        if _plugin_ready(target, expected):
            return target
        staging = install_root / f".staging-{source.name}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("node_modules"))
        try:
            missing = missing_dependencies(staging)
            if missing:
                if not (staging / "package-lock.json").is_file():
                    raise InstallError(f"{source} has no package-lock.json to install from")
                progress(f"installing {', '.join(missing)} for the plugin in {target}")
                _run_npm_ci(node, staging, install_root, "--omit=dev")
            still_missing = missing_dependencies(staging)
            if still_missing:
                raise InstallError(f"npm ci left {', '.join(still_missing)} missing for {source}")
        except InstallError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        (staging / MARKER).write_text(
            json.dumps({"plugin_sha256": expected}) + "\n", encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target


def _run_npm_ci(node: NodeRuntime, project: Path, install_root: Path, *extra: str) -> None:
    command = node.npm_command(
        "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", *extra
    )
    try:
        completed = subprocess.run(  # noqa: S603 - argv is our own node and npm, no shell
            command,
            cwd=project,
            env=npm_environment(node, install_root),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"npm ci did not finish: {exc}") from exc
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-15:])
        raise InstallError(
            f"npm ci failed (exit {completed.returncode}); is registry.npmjs.org reachable?\n{tail}"
        )
