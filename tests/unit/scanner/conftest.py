from __future__ import annotations

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect import Detector, load_detector
from openclaw_secure_stack.scanner import Scanner, load_scanner


@pytest.fixture(scope="session")
def detector() -> Detector:
    return load_detector(resources.PROMPT_RULES, resources.INDIRECT_RULES)


@pytest.fixture(scope="session")
def scanner(detector: Detector) -> Scanner:
    return load_scanner(resources.SCANNER_RULES, detector)
