"""Several writer processes, and a writer killed mid-burst, still leave one verifiable chain."""

import json
import signal
import subprocess
import sys
from pathlib import Path

from openclaw_secure_stack.audit.log import chain_paths
from openclaw_secure_stack.audit.testing import run_cli

WRITER = Path(__file__).with_name("writer_process.py")


def start_writer(path: Path, rotate_bytes: int, count: int, worker: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(rotate_bytes), str(count), worker],
        stdout=subprocess.PIPE,
        text=True,
    )


def records(path: Path) -> list[dict]:
    return [
        json.loads(line)
        for file in chain_paths(path)
        for line in file.read_bytes().splitlines()
        if line.endswith(b"}")
    ]


def test_four_processes_write_one_chain(tmp_path):
    """4 processes x 2,500 events with rotation: verify passes and seq is exactly 1..10000."""
    path = tmp_path / "audit.jsonl"
    writers = [start_writer(path, 512 * 1024, 2500, f"w{n}") for n in range(4)]
    for writer in writers:
        out, _ = writer.communicate(timeout=120)
        assert writer.returncode == 0
        assert out.count("ack ") == 2500
    result = run_cli(["audit", "verify", "--format", "json"], log_path=path)
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report["break"]
    assert (report["records"], report["last_seq"], report["partial_records"]) == (10000, 10000, [])
    assert len(report["files"]) > 1  # rotation happened while all four were writing
    written = records(path)
    assert [record["seq"] for record in written] == list(range(1, 10001))
    assert {record["request_id"] for record in written} == {
        f"w{n}-{i}" for n in range(4) for i in range(2500)
    }


def test_sigkill_mid_burst_loses_no_acknowledged_event(tmp_path):
    """A writer SIGKILLed mid-burst: the log verifies and every acknowledged event is in it."""
    path = tmp_path / "audit.jsonl"
    writer = start_writer(path, 256 * 1024, -1, "victim")
    assert writer.stdout is not None
    acked = []
    while len(acked) < 3000:
        acked.append(writer.stdout.readline().split()[1])
    writer.send_signal(signal.SIGKILL)
    rest, _ = writer.communicate(timeout=30)
    acked += [line.split()[1] for line in rest.splitlines() if line.startswith("ack ")]
    assert writer.returncode == -signal.SIGKILL

    result = run_cli(["audit", "verify", "--format", "json"], log_path=path)
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report["break"]
    written = records(path)
    assert report["records"] == len(written) >= len(acked)
    assert set(acked) <= {record["request_id"] for record in written}
    assert [record["seq"] for record in written] == list(range(1, len(written) + 1))


def test_writer_after_a_torn_record_keeps_it_as_a_named_break(tmp_path):
    """After a torn last record the next writer rotates that file away (kept as evidence) and
    continues the chain; verify names the torn line as a break in the rotated file."""
    path = tmp_path / "audit.jsonl"
    subprocess.run([sys.executable, str(WRITER), str(path), str(1 << 30), "5", "a"], check=True)
    whole = path.read_bytes()
    torn = whole.splitlines(keepends=True)[-1][:37]  # what a write cut short would leave
    path.write_bytes(whole + torn)
    subprocess.run([sys.executable, str(WRITER), str(path), str(1 << 30), "3", "b"], check=True)

    result = run_cli(["audit", "verify", "--format", "json"], log_path=path)
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    rotated = path.with_name("audit.jsonl.000001")
    assert report["files"] == [str(rotated), str(path)]
    broken = report["break"]
    assert (broken["file"], broken["line"], broken["reason"]) == (str(rotated), 6, "partial_record")
    assert rotated.read_bytes() == whole + torn  # the evidence is kept as it was
    after = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [record["seq"] for record in after] == [6, 7, 8]  # the chain went on from seq 5
