"""The provenance store the governance engine asks: normalised ids, bounded, thread-safe."""

from __future__ import annotations

import threading

from openclaw_secure_stack.model_gateway.provenance import MemoryProvenance, Provenance, ReadResult


def record(call_id: str, *read: ReadResult) -> Provenance:
    return Provenance(call_id, "exec", "0" * 64, "req", "m", read)


def test_lookup_ignores_underscores() -> None:
    """A record made under the provider's id is found under OpenClaw's spelling, and back."""
    store = MemoryProvenance(10)
    store.record(record("call_a_b"))
    store.record(record("toolu01"))
    assert store.lookup("callab") == record("call_a_b")
    assert store.lookup("call_a_b") == record("call_a_b")
    assert store.lookup("toolu_01") == record("toolu01")
    assert store.lookup("unknown") is None


def test_untrusted_means_a_finding_was_read() -> None:
    """A call is untrusted if any result in its context had a finding or was withheld."""
    clean = ReadResult("read", "c1", "pass")
    assert not record("a", clean).untrusted
    assert record("a", clean, ReadResult("web_fetch", "c2", "flag", ("OSS-IND-003",))).untrusted
    assert record("a", ReadResult("web_fetch", "c2", "withheld")).untrusted


def test_the_store_is_bounded_oldest_first() -> None:
    """Past its size the oldest record goes."""
    store = MemoryProvenance(2)
    for name in ("a", "b", "c"):
        store.record(record(name))
    assert (store.lookup("a"), len(store)) == (None, 2)
    assert store.lookup("c") is not None


def test_concurrent_writers_keep_the_bound() -> None:
    """Writers on several threads never push the store past its size."""
    store = MemoryProvenance(50)

    def write(prefix: str) -> None:
        for number in range(500):
            store.record(record(f"{prefix}{number}"))

    threads = [threading.Thread(target=write, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 50
