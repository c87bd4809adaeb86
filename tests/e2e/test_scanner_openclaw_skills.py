"""The skills the pinned OpenClaw ships are benign: the scanner calls none `malicious`, and only
the two that run programs (their own helper scripts) `review`.

Published scanners flagged over a quarter of benign skills; this holds ours to the real ones.
Marked e2e because it needs the OpenClaw install (`ensure_installed`), not a running gateway.
"""

from __future__ import annotations

from collections import Counter

import pytest
from harness import INSTALL_ROOT

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect import load_detector
from openclaw_secure_stack.runtime.install import ensure_installed
from openclaw_secure_stack.runtime.node import find_node
from openclaw_secure_stack.runtime.skill_quarantine import BUNDLED_ROOTS
from openclaw_secure_stack.scanner import discover, load_scanner

pytestmark = pytest.mark.e2e


def test_bundled_skills_are_not_flagged() -> None:
    """No bundled skill is malicious; the reviews are exactly the two that run commands."""
    install = ensure_installed(INSTALL_ROOT, find_node())
    detector = load_detector(resources.PROMPT_RULES, resources.INDIRECT_RULES)
    scanner = load_scanner(resources.SCANNER_RULES, detector)
    verdicts: dict[str, str] = {}
    for root in BUNDLED_ROOTS:
        with discover(install.entry.parent / root) as units:
            for unit in units:
                report = scanner.scan_unit(unit)
                verdicts[report.unit] = report.verdict
    assert len(verdicts) >= 50
    assert Counter(verdicts.values())["malicious"] == 0
    assert {name for name, verdict in verdicts.items() if verdict == "review"} == {
        "model-usage",
        "sherpa-onnx-tts",
    }
