"""JSON on the gateway's hot path: orjson, with the standard library for the valid JSON that
orjson refuses.

Every model call parses OpenClaw's whole request (about 67 KB) and writes it again for the
provider: measured on that request, orjson takes ~86 us to parse and ~17 us to write it, the
standard library ~210 and ~260 us (`bench/README.md`, "Model gateway").

Parsing is strict either way: NaN, Infinity and numbers beyond a double's range are refused
(forwarded, the provider could not parse them). orjson refuses lone surrogate escapes
(`"\\ud83d"`, what a JavaScript string cut in the middle of an emoji becomes), which the
standard library reads, so such a request is read, not refused. orjson reads an integer beyond
64 bits as a float.

Writing gives compact UTF-8 JSON; what orjson cannot write (a lone surrogate, an integer beyond
64 bits) the standard library writes as ASCII JSON, where a lone surrogate stays a valid `\\u`
escape.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


class InvalidJSON(ValueError):
    """Not JSON the gateway accepts; the message says where."""


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise InvalidJSON(str(exc)) from None


def dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text} is out of range")
    return number
