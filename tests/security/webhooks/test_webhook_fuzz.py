"""Hypothesis over both webhooks' payloads, signed so they get past the signature check: never a
5xx, never an unhandled exception (a relay job that failed would leave a `webhook.reply` error
record), whatever the JSON holds."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fakes.asgi import call
from tests.fakes.messaging import (
    PHONE_NUMBER_ID,
    encoded,
    telegram_headers,
    whatsapp_headers,
)
from tests.integration.webhooks.harness import ADA, ADA_WA, BOB, STRANGER, Relays

from openclaw_secure_stack.audit.sink import AuditEvent

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ANSWERS = {200, 401, 413, 503}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
ids = st.sampled_from([ADA, BOB, STRANGER, 0, -1]) | st.integers() | json_values
texts = st.text(max_size=300) | json_values


def maybe(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.just({}), values.map(lambda value: {key: value}))


telegram_updates = st.builds(
    lambda update_id, sender, chat, text, extra: {
        **update_id,
        "message": {"from": {"id": sender}, "chat": {"id": chat}, **text, **extra},
    },
    maybe("update_id", st.integers(0, 10**12) | json_values),
    ids,
    ids,
    maybe("text", texts),
    st.dictionaries(st.sampled_from(["photo", "caption", "sticker", "entities"]), json_values),
) | st.dictionaries(
    st.sampled_from(["update_id", "message", "callback_query", "edited_message", "poll"]),
    json_values,
)

whatsapp_items = st.fixed_dictionaries(
    {},
    optional={
        "from": st.sampled_from([ADA_WA, STRANGER]) | json_values,
        "id": st.text(max_size=20) | json_values,
        "type": st.sampled_from(["text", "image", "interactive", "reaction"]) | json_values,
        "text": st.fixed_dictionaries({}, optional={"body": texts}) | json_values,
        "interactive": json_values,
        "status": json_values,
    },
)
whatsapp_notifications = st.builds(
    lambda number, messages, statuses, extra: {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "metadata": {"phone_number_id": number},
                            "messages": messages,
                            "statuses": statuses,
                            **extra,
                        }
                    }
                ]
            }
        ],
    },
    st.sampled_from([PHONE_NUMBER_ID]) | json_values,
    st.lists(whatsapp_items, max_size=4) | json_values,
    st.lists(whatsapp_items, max_size=3) | json_values,
    st.dictionaries(st.text(max_size=8), json_values, max_size=2),
) | json_values.map(lambda value: {"entry": value})


def failed_jobs(events: list[AuditEvent]) -> list[AuditEvent]:
    return [e for e in events if e.event == "webhook.reply" and e.outcome != "sent"]


@FUZZ
@given(update=telegram_updates)
async def test_telegram_payloads_never_break_the_webhook(relays: Relays, update: Any) -> None:
    answer = await call(
        relays.app, "POST", "/webhook/telegram", headers=telegram_headers(), body=encoded(update)
    )
    assert answer.status in ANSWERS, answer.body
    await relays.settled()
    assert failed_jobs(relays.sink.events) == []


@FUZZ
@given(notification=whatsapp_notifications)
async def test_whatsapp_payloads_never_break_the_webhook(relays: Relays, notification: Any) -> None:
    body = encoded(notification)
    answer = await call(
        relays.app, "POST", "/webhook/whatsapp", headers=whatsapp_headers(body), body=body
    )
    assert answer.status in ANSWERS, answer.body
    await relays.settled()
    assert failed_jobs(relays.sink.events) == []


@FUZZ
@given(raw=st.binary(max_size=2000))
async def test_raw_bytes_never_break_either_webhook(relays: Relays, raw: bytes) -> None:
    for path, headers in (
        ("/webhook/telegram", telegram_headers()),
        ("/webhook/whatsapp", whatsapp_headers(raw)),
    ):
        answer = await call(relays.app, "POST", path, headers=headers, body=raw)
        assert answer.status in ANSWERS, answer.body
