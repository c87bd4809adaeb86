"""The chain's head, sealed outside the log, so that cutting records off its end shows.

A hash chain proves every record it still holds, but not that nothing came after its last one:
truncating the log, deleting it, or putting back an older copy leaves a valid chain. The anchor
is a small file (`AUDIT_ANCHOR_PATH`, by default beside the log) holding the seq and mac of the
newest record, sealed with an HMAC under a key derived from `AUDIT_KEY` (so a log record can
never pass for an anchor or the other way round). The writer updates it after every append,
under the same cross-process lock, with one `pwrite` of a fixed-size slot at offset 0, so the
file never holds a half-updated anchor and never grows.

Invariant: the log's last record is the anchored one, or (a writer died between its append and
the anchor update) the one after it. `audit verify` reports anything else as a break.
"""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

import re2

SLOT_BYTES = 256
_DOMAIN = b"openclaw-secure-stack audit anchor v1"
_MAC = re2.compile(r"^[0-9a-f]{64}$")


class AnchorError(Exception):
    """The anchor file exists but is not an anchor sealed with this key."""


@dataclass(frozen=True)
class Anchor:
    seq: int
    mac: str
    ts: str


def default_anchor_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + ".anchor")


def _anchor_key(key: bytes) -> bytes:
    return hmac.digest(key, _DOMAIN, "sha256")


def seal(key: bytes, anchor: Anchor) -> bytes:
    """The anchor as one fixed-size slot: sealed JSON, padded with spaces, ending in a newline."""
    body = f'{{"mac":"{anchor.mac}","seq":{anchor.seq},"ts":"{anchor.ts}"'
    sig = hmac.digest(_anchor_key(key), body.encode(), "sha256").hex()
    line = f'{body},"sig":"{sig}"}}'.encode()
    if len(line) >= SLOT_BYTES:
        raise ValueError("anchor does not fit its slot")
    return line.ljust(SLOT_BYTES - 1) + b"\n"


def unseal(key: bytes, slot: bytes) -> Anchor:
    """The anchor in `slot`; `AnchorError` unless it is whole and sealed with `key`."""
    try:
        record = json.loads(slot)
        seq, mac, ts, sig = record["seq"], record["mac"], record["ts"], record["sig"]
    except (ValueError, TypeError, KeyError):
        raise AnchorError("not an anchor (unreadable or incomplete)") from None
    if not (
        type(seq) is int
        and seq >= 0
        and isinstance(mac, str)
        and _MAC.match(mac)
        and isinstance(ts, str)
        and isinstance(sig, str)
    ):
        raise AnchorError("not an anchor (fields of the wrong type)")
    anchor = Anchor(seq, mac, ts)
    if not hmac.compare_digest(seal(key, anchor), slot):
        raise AnchorError("its seal does not match (edited, or sealed with another AUDIT_KEY)")
    return anchor


def read_anchor(path: Path, key: bytes) -> Anchor | None:
    """The anchor at `path`; None if there is none (no file, or created empty by a writer that
    has not sealed its first record yet); `AnchorError` if it is not valid."""
    try:
        slot = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnchorError(f"cannot read it: {exc.strerror}") from exc
    if not slot:
        return None
    if len(slot) != SLOT_BYTES:
        raise AnchorError(f"it is {len(slot)} bytes, an anchor is {SLOT_BYTES}")
    return unseal(key, slot)


def write_anchor(fd: int, key: bytes, anchor: Anchor) -> None:
    """Overwrite the anchor slot of the open file `fd` in place (one `pwrite`)."""
    slot = seal(key, anchor)
    if os.pwrite(fd, slot, 0) != len(slot):
        raise OSError("short write of the anchor")
