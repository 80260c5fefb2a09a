"""One case per kind of bad line, with the words its reason must contain (SPEC §1, §2, §4).

Each case is (name, line, words). A line is rejected on its own: `event` is None and
`problem` holds every word listed (case-sensitive), with the rejection code of semantics §7
that `GROUP_CODES` and `CASE_CODES` give.
"""

from __future__ import annotations

import pytest

from engine.events.reader import DEPTH_MAX, LINE_BYTES_MAX, parse_line
from event_text import (
    CLOSE,
    DROP,
    EXERCISE,
    GUARANTEE_CALL,
    PAYMENT,
    REVENUE,
    SHARE_PRICE,
    STOCK_SPLIT,
    TRUE_UP,
    UTILIZATION,
    VOID,
    Num,
    event_line,
)


def nested(depth: int) -> bytes:
    """An event whose `meta` makes the line `depth` levels deep (the top object is level 1)."""
    inner = "[" * (depth - 2) + "]" * (depth - 2)
    return event_line(CLOSE)[:-1] + b',"meta":{"x":' + inner.encode() + b"}}"


JSON_CASES = [
    ("too long", b'{"id":"a","x":"' + b"a" * LINE_BYTES_MAX + b'"}', ["longer than 1048576 bytes"]),
    ("invalid UTF-8", b'{"id":"\xff"}', ["invalid UTF-8 at byte 8"]),
    ("UTF-8 encoded surrogate", b'{"id":"\xed\xa0\x80"}', ["invalid UTF-8"]),
    ("overlong UTF-8", b'{"id":"\xc0\xaf"}', ["invalid UTF-8"]),
    ("byte-order mark", b"\xef\xbb\xbf" + event_line(CLOSE), ["byte-order mark", "not valid JSON"]),
    ("missing comma", b'{"id": "a" "type": "close"}', ["not valid JSON", "Expecting ',' delimiter", "column 12"]),
    ("trailing garbage", event_line(CLOSE) + b" {}", ["not valid JSON", "extra data"]),
    ("two objects", event_line(CLOSE) + event_line(CLOSE), ["extra data"]),
    ("trailing comma", b'{"id":"a",}', ["not valid JSON"]),
    ("single quotes", b"{'id':'a'}", ["not valid JSON"]),
    ("unquoted key", b'{id:"a"}', ["not valid JSON"]),
    ("comment", b'{"id":"a"} // note', ["not valid JSON"]),
    ("leading zero", b'{"id":"a","n":01}', ["not valid JSON"]),
    ("plus sign", b'{"id":"a","n":+1}', ["not valid JSON"]),
    ("bare fraction", b'{"id":"a","n":.5}', ["not valid JSON"]),
    ("point without digits", b'{"id":"a","n":1.}', ["not valid JSON"]),
    ("hex number", b'{"id":"a","n":0x10}', ["not valid JSON"]),
    ("Python literal", b'{"id":"a","n":True}', ["not valid JSON"]),
    ("raw control character", b'{"id":"a\tb"}', ["not valid JSON"]),
    ("bad escape", b'{"id":"a\\x41"}', ["not valid JSON"]),
    ("short unicode escape", b'{"id":"a\\u41"}', ["not valid JSON"]),
    ("unterminated string", b'{"id":"a', ["not valid JSON"]),
    ("unicode digit", '{"id":"a","n":\u0663}'.encode(), ["not valid JSON"]),
    ("non-ASCII white space", '{"id":"a",\u00a0"n":1}'.encode(), ["not valid JSON"]),
    ("array", b"[1, 2]", ["one JSON object per line", "a JSON array"]),
    ("string", b'"close"', ["one JSON object per line", "string"]),
    ("number", b"42", ["one JSON object per line", "number 42"]),
    ("null", b"null", ["one JSON object per line", "null"]),
    ("NaN", event_line(CLOSE)[:-1] + b',"meta":{"x":NaN}}', ["NaN", "not valid JSON"]),
    ("Infinity", event_line(CLOSE)[:-1] + b',"meta":[Infinity]}', ["Infinity", "not valid JSON"]),
    ("-Infinity", b'{"id":"a","n":-Infinity}', ["-Infinity", "not valid JSON"]),
    ("lone high surrogate", b'{"id":"a","x":"\\ud800"}', ["lone surrogate", "\\ud800"]),
    ("lone low surrogate", b'{"id":"a","x":"\\uDC00 tail"}', ["lone surrogate", "\\udc00"]),
    ("reversed pair", b'{"id":"a","x":"\\udc00\\ud800"}', ["lone surrogate"]),
    ("two high surrogates", b'{"id":"a","x":"\\ud83d\\ud83d"}', ["lone surrogate"]),
    ("surrogate in a key", b'{"id":"a","\\ud800":1}', ["lone surrogate"]),
    ("surrogate deep down", b'{"id":"a","meta":{"x":[{"y":"\\ud800"}]}}', ["lone surrogate"]),
    ("repeated id", b'{"id":"a","type":"close","id":"a"}', ['repeated key "id" in an object']),
    ("repeated nested key", event_line(CLOSE)[:-1] + b',"meta":{"k":1,"k":1}}', ['repeated key "k"']),
    ("repeated key in an array", b'{"id":"a","meta":[{"k":1,"k":2}]}', ['repeated key "k"']),
    ("33 levels", nested(DEPTH_MAX + 1), ["nesting deeper than 32 levels"]),
    ("far too deep", b'{"id":"a","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", ["nesting deeper than 32"]),
    ("too deep and unclosed", b"[" * 100_000, ["nesting deeper than 32"]),
]

COMMON_CASES = [
    ("id missing", event_line(CLOSE, id=DROP), ["id: missing"]),
    ("id a number", event_line(CLOSE, id=Num("7")), ["id: expected a string", "JSON number 7"]),
    ("id empty", event_line(CLOSE, id=""), ["id: must not be empty"]),
    ("id too long", event_line(CLOSE, id="i" * 129), ["id: has 129 characters; at most 128"]),
    ("id null", event_line(CLOSE, id=None), ["id: null is not a value"]),
    ("type missing", event_line(CLOSE, type=DROP), ["type: missing", "utilization"]),
    ("type unknown", event_line(CLOSE, type="Close"), ['unknown event type "Close"', "close"]),
    ("type a number", event_line(CLOSE, type=Num("1")), ["type: expected a string"]),
    ("type null", event_line(CLOSE, type=None), ["type: null is not a value"]),
    ("agreement missing", event_line(CLOSE, agreement=DROP), ["agreement: missing"]),
    ("agreement a number", event_line(CLOSE, agreement=Num("5")), ["agreement: expected a string"]),
    ("agreement null", event_line(CLOSE, agreement=None), ["agreement: null is not a value"]),
    ("meta an array", event_line(CLOSE, meta=[1]), ["meta: expected a JSON object", "array"]),
    ("meta a string", event_line(CLOSE, meta="note"), ["meta: expected a JSON object"]),
    ("meta null", event_line(CLOSE, meta=None), ["meta: null is not a value", "leave the field out"]),
    ("unknown field", event_line(PAYMENT, amout="1"), ['unknown field "amout" in a payment event', '"amount"']),
    ("field of another type", event_line(CLOSE, pool="east"), ['unknown field "pool" in a close event']),
]

DECIMAL_CASES = [
    (
        "JSON fraction",
        event_line(UTILIZATION, available_gpu_hours=Num("2.1")),
        ["utilization.available_gpu_hours", "give decimal amounts as strings", 'like "2.1"', "JSON number 2.1"],
    ),
    (
        "JSON fraction in a payment",
        event_line(PAYMENT, amount=Num("1200.5")),
        ["payment.amount", "as strings", "got the JSON number 1200.5"],
    ),
    ("JSON exponent", event_line(REVENUE, amount=Num("1e3")), ["revenue.amount", "as strings", 'like "1000"', "1e3"]),
    ("JSON huge exponent", event_line(REVENUE, amount=Num("1e999999999999")), ["as strings", 'like "2.10"']),
    ("JSON fraction zero", event_line(REVENUE, amount=Num("5.0")), ["as strings", "5.0"]),
    ("21 integer digits", event_line(REVENUE, amount="1" * 21), ["21 digits before the point; at most 20"]),
    ("13 fraction digits", event_line(REVENUE, amount="0." + "1" * 13), ["13 digits after the point; at most 12"]),
    ("JSON integer, 21 digits", event_line(REVENUE, amount=Num("1" * 21)), ["revenue.amount", "21 digits"]),
    ("plus sign", event_line(REVENUE, amount="+5"), ["revenue.amount", 'expected a decimal string like "2.10"', '"+5"']),
    ("space", event_line(REVENUE, amount=" 5"), ["expected a decimal string"]),
    ("thousands separator", event_line(REVENUE, amount="1,200.00"), ["expected a decimal string", '"1,200.00"']),
    ("trailing point", event_line(REVENUE, amount="5."), ["expected a decimal string"]),
    ("leading point", event_line(REVENUE, amount=".5"), ["expected a decimal string"]),
    ("exponent in a string", event_line(REVENUE, amount="1e3"), ["expected a decimal string"]),
    ("NaN in a string", event_line(REVENUE, amount="NaN"), ["expected a decimal string"]),
    ("Infinity in a string", event_line(REVENUE, amount="Infinity"), ["expected a decimal string"]),
    ("empty string", event_line(REVENUE, amount=""), ["expected a decimal string"]),
    ("unicode digit", event_line(REVENUE, amount="\u0663"), ["expected a decimal string"]),
    ("boolean", event_line(REVENUE, amount=True), ['expected a decimal string like "2.10"', "true"]),
    ("object", event_line(REVENUE, amount={"value": "1"}), ["expected a decimal string", "a JSON object"]),
    ("null", event_line(REVENUE, amount=None), ["revenue.amount: null is not a value"]),
]

COUNT_CASES = [
    ("string", event_line(EXERCISE, shares="500"), ["exercise.shares", "JSON integer", "not a string", '"500"']),
    ("fraction", event_line(STOCK_SPLIT, numerator=Num("2.0")), ["stock_split.numerator", "whole number", "2.0"]),
    ("exponent", event_line(STOCK_SPLIT, denominator=Num("1e2")), ["stock_split.denominator", "whole number"]),
    ("zero", event_line(STOCK_SPLIT, denominator=Num("0")), ["stock_split.denominator: must be at least 1; got 0"]),
    ("negative", event_line(EXERCISE, shares=Num("-3")), ["exercise.shares: must be at least 1; got -3"]),
    ("negative zero", event_line(EXERCISE, shares=Num("-0")), ["must be at least 1"]),
    ("21 digits", event_line(EXERCISE, shares=Num("9" * 21)), ["exercise.shares: has 21 digits; at most 20"]),
    ("boolean", event_line(EXERCISE, shares=True), ["exercise.shares", "whole number"]),
]

DATE_CASES = [
    ("short month", event_line(TRUE_UP, date="2026-1-05"), ["true_up.date", "YYYY-MM-DD", '"2026-1-05"']),
    ("not a calendar date", event_line(PAYMENT, date="2026-02-30"), ['payment.date: "2026-02-30" is not a calendar date']),
    ("year zero", event_line(PAYMENT, date="0000-01-01"), ["is not a calendar date"]),
    ("month 13", event_line(PAYMENT, date="2026-13-01"), ["is not a calendar date"]),
    ("a timestamp", event_line(TRUE_UP, date="2026-01-05T00:00:00Z"), ["true_up.date", "YYYY-MM-DD"]),
    ("a number", event_line(TRUE_UP, date=Num("20260105")), ["true_up.date", "expected a date string"]),
    ("unicode digits", event_line(TRUE_UP, date="\u0662\u0660\u0662\u0666-01-05"), ["YYYY-MM-DD"]),
    ("very long", event_line(TRUE_UP, date="2026-01-05" * 100), ["YYYY-MM-DD"]),
]

TIMESTAMP_CASES = [
    ("no offset", event_line(UTILIZATION, start="2026-01-01T00:00:00"),
     ["utilization.start", 'timestamp needs a UTC offset like Z or +02:00; got "2026-01-01T00:00:00"']),
    ("lower-case t", event_line(UTILIZATION, start="2026-01-01t00:00:00Z"), ['upper-case "T"']),
    ("lower-case z", event_line(UTILIZATION, end="2026-01-02T00:00:00z"), ["utilization.end", 'upper-case "Z"']),
    ("space for T", event_line(UTILIZATION, start="2026-01-01 00:00:00Z"), ["expected a timestamp like"]),
    ("7 fraction digits", event_line(UTILIZATION, start="2026-01-01T00:00:00.1234567Z"), ["1 to 6 digits"]),
    ("point without digits", event_line(UTILIZATION, start="2026-01-01T00:00:00.Z"), ["1 to 6 digits"]),
    ("hour 24", event_line(UTILIZATION, start="2026-01-01T24:00:00Z"), ["time of day out of range"]),
    ("minute 60", event_line(UTILIZATION, start="2026-01-01T00:60:00Z"), ["time of day out of range"]),
    ("leap second", event_line(UTILIZATION, start="2026-01-01T23:59:60Z"), ["no leap second"]),
    ("offset hour 24", event_line(UTILIZATION, start="2026-01-01T00:00:00+24:00"), ["UTC offset out of range"]),
    ("offset minute 60", event_line(UTILIZATION, start="2026-01-01T00:00:00+05:60"), ["UTC offset out of range"]),
    ("offset without colon", event_line(UTILIZATION, start="2026-01-01T00:00:00+0200"), ["expected a timestamp"]),
    ("offset hours only", event_line(UTILIZATION, start="2026-01-01T00:00:00+02"), ["expected a timestamp"]),
    ("no seconds", event_line(UTILIZATION, start="2026-01-01T00:00Z"), ["expected a timestamp"]),
    ("not a calendar date", event_line(UTILIZATION, start="2025-02-29T00:00:00Z"), ['"2025-02-29" is not a calendar date']),
    ("before year 1 in UTC", event_line(UTILIZATION, start="0001-01-01T00:00:00+01:00"), ["out of range once converted to UTC"]),
    ("a number", event_line(UTILIZATION, start=Num("1767225600")), ["expected a timestamp string", "1767225600"]),
    ("a date", event_line(UTILIZATION, end="2026-01-02"), ["utilization.end", "expected a timestamp like"]),
]

PERIOD_CASES = [
    ("month 13", event_line(REVENUE, period="2026-13"), ["revenue.period", '"2026-01"', '"2026-Q1"', '"2026-13"']),
    ("quarter 5", event_line(CLOSE, period="2026-Q5"), ["close.period", "period id"]),
    ("one-digit month", event_line(CLOSE, period="2026-1"), ["close.period", "period id"]),
    ("lower-case q", event_line(CLOSE, period="2026-q1"), ["period id"]),
    ("a date", event_line(CLOSE, period="2026-01-01"), ["period id"]),
    ("a number", event_line(CLOSE, period=Num("202601")), ["close.period", "expected a period id string"]),
]

TYPE_CASES = [
    ("utilization without pool", event_line(UTILIZATION, pool=DROP), ["utilization.pool: missing"]),
    ("utilization pool a number", event_line(UTILIZATION, pool=Num("1")), ["utilization.pool: expected a string"]),
    ("start equals end", event_line(UTILIZATION, end=UTILIZATION["start"]), ["utilization.end: must be after start"]),
    ("start after end", event_line(UTILIZATION, start="2026-01-03T00:00:00Z"), ["must be after start"]),
    ("start after end by offset", event_line(UTILIZATION, start="2026-01-02T00:30:00+00:00", end="2026-01-02T01:00:00+01:00"),
     ["must be after start", "2026-01-02T00:30:00Z", "2026-01-02T00:00:00Z"]),
    ("available negative", event_line(UTILIZATION, available_gpu_hours="-1.5"),
     ["utilization.available_gpu_hours: must not be negative; got -1.5"]),
    ("sold negative", event_line(UTILIZATION, sold_gpu_hours="-0.01"), ["utilization.sold_gpu_hours: must not be negative"]),
    ("sold above available", event_line(UTILIZATION, sold_gpu_hours="2400.01"),
     ["utilization.sold_gpu_hours: sold above available", "2400.01 sold", "2400.00 available"]),
    ("revenue without currency", event_line(REVENUE, currency=DROP), ["revenue.currency: missing"]),
    ("revenue currency null", event_line(REVENUE, currency=None), ["revenue.currency: null is not a value"]),
    ("close without period", event_line(CLOSE, period=DROP), ["close.period: missing"]),
    ("true_up without date", event_line(TRUE_UP, date=DROP), ["true_up.date: missing"]),
    ("payment amount zero", event_line(PAYMENT, amount="0.00"), ["payment.amount: must be > 0; got 0.00"]),
    ("payment amount negative", event_line(PAYMENT, amount="-5"), ["payment.amount: must be > 0; got -5"]),
    ("payment amount JSON zero", event_line(PAYMENT, amount=Num("0")), ["payment.amount: must be > 0"]),
    ("payer is payee", event_line(PAYMENT, payee="Guarantor"), ['payment.payee: must differ from payer; both are "Guarantor"']),
    ("payment applies_to null", event_line(PAYMENT, applies_to=None),
     ["payment.applies_to: null is not a value; leave the field out"]),
    ("payment applies_to a number", event_line(PAYMENT, applies_to=Num("3")), ["payment.applies_to: expected a string"]),
    ("payment without payer", event_line(PAYMENT, payer=DROP), ["payment.payer: missing"]),
    ("payment currency a number", event_line(PAYMENT, currency=Num("840")), ["payment.currency: expected a string"]),
    ("price zero", event_line(SHARE_PRICE, price="0"), ["share_price.price: must be > 0; got 0"]),
    ("price negative", event_line(SHARE_PRICE, price="-41.25"), ["share_price.price: must be > 0"]),
    ("volume zero", event_line(SHARE_PRICE, volume=Num("0")), ["share_price.volume: must be > 0"]),
    ("volume a fraction", event_line(SHARE_PRICE, volume=Num("10.5")), ["share_price.volume", "as strings"]),
    ("split without denominator", event_line(STOCK_SPLIT, denominator=DROP), ["stock_split.denominator: missing"]),
    ("exercise method capitalised", event_line(EXERCISE, method="Cash"), ['exercise.method: expected "cash" or "net"; got "Cash"']),
    ("exercise method a number", event_line(EXERCISE, method=Num("1")), ["exercise.method: expected a string"]),
    ("net without fair value", event_line(EXERCISE, fair_market_value=DROP),
     ["exercise.fair_market_value: missing; a net exercise needs it"]),
    ("net fair value null", event_line(EXERCISE, fair_market_value=None), ["exercise.fair_market_value: null is not a value"]),
    ("net fair value zero", event_line(EXERCISE, fair_market_value="0"), ["exercise.fair_market_value: must be > 0"]),
    ("net fair value a float", event_line(EXERCISE, fair_market_value=Num("55.5")),
     ["exercise.fair_market_value", "as strings", 'like "55.5"']),
    ("exercise without tranche", event_line(EXERCISE, tranche=DROP), ["exercise.tranche: missing"]),
    ("correction with both", event_line(VOID, replacement={"amount": "1"}), ["exactly one of replacement or void; got both"]),
    ("correction with neither", event_line(VOID, void=DROP), ["exactly one of replacement", "got neither"]),
    ("void false", event_line(VOID, void=False), ["correction.void: must be true when present", "false"]),
    ("void a string", event_line(VOID, void="true"), ["correction.void: must be true", 'the string "true"']),
    ("void null", event_line(VOID, void=None), ["correction.void: null is not a value"]),
    ("replacement an array", event_line(VOID, void=DROP, replacement=[]), ["correction.replacement: expected a JSON object"]),
    ("replacement null", event_line(VOID, void=DROP, replacement=None), ["correction.replacement: null is not a value"]),
    ("corrects a number", event_line(VOID, corrects=Num("1")), ["correction.corrects: expected a string"]),
    ("corrects missing", event_line(VOID, corrects=DROP), ["correction.corrects: missing"]),
    ("call without obligation", event_line(GUARANTEE_CALL, obligation=DROP), ["guarantee_call.obligation: missing"]),
    ("call obligation a number", event_line(GUARANTEE_CALL, obligation=Num("7")),
     ["guarantee_call.obligation: expected a string"]),
    ("call without date", event_line(GUARANTEE_CALL, date=DROP), ["guarantee_call.date: missing"]),
    ("call date a timestamp", event_line(GUARANTEE_CALL, date="2026-04-02T00:00:00Z"), ["guarantee_call.date"]),
    ("call with an amount", event_line(GUARANTEE_CALL, amount="5.00"),
     ['unknown field "amount" in a guarantee_call event']),
]

GROUPS = {
    "json": JSON_CASES,
    "common": COMMON_CASES,
    "decimal": DECIMAL_CASES,
    "count": COUNT_CASES,
    "date": DATE_CASES,
    "timestamp": TIMESTAMP_CASES,
    "period": PERIOD_CASES,
    "rule": TYPE_CASES,
}
CASES = [(f"{group}: {name}", line, words) for group, cases in GROUPS.items() for name, line, words in cases]

# The rejection code (semantics §7) of each case: its group's, unless named here.
GROUP_CODES = {
    "json": "malformed", "common": "field", "decimal": "number", "count": "number", "date": "date",
    "timestamp": "date", "period": "field", "rule": "field",
}
CASE_CODES = {
    "json: too long": "too_long",
    "json: repeated id": "repeated_key",
    "json: repeated nested key": "repeated_key",
    "json: repeated key in an array": "repeated_key",
    "json: 33 levels": "too_deep",
    "json: far too deep": "too_deep",
    "json: too deep and unclosed": "too_deep",
    "decimal: boolean": "field",  # a value of the wrong JSON type
    "decimal: object": "field",
    "decimal: null": "field",
    "count: boolean": "field",
    "date: a number": "field",
    "timestamp: a number": "field",
    "period: month 13": "unknown_reference",  # shaped like a period id, naming no month
    "period: quarter 5": "unknown_reference",
    "rule: start equals end": "interval",
    "rule: start after end": "interval",
    "rule: start after end by offset": "interval",
    "rule: available negative": "number",
    "rule: sold negative": "number",
    "rule: sold above available": "capacity",
    "rule: payment amount zero": "number",
    "rule: payment amount negative": "number",
    "rule: payment amount JSON zero": "number",
    "rule: payer is payee": "unknown_reference",
    "rule: price zero": "number",
    "rule: price negative": "number",
    "rule: volume zero": "number",
    "rule: volume a fraction": "number",
    "rule: net fair value zero": "number",
    "rule: net fair value a float": "number",
    "rule: call date a timestamp": "date",  # a date out of §2's forms
}


@pytest.mark.parametrize(("line", "words"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_line_is_rejected_with_a_reason_that_says_why(line: bytes, words: list[str]) -> None:
    parsed = parse_line(7, line)
    assert parsed.event is None
    assert parsed.problem is not None
    for word in words:
        assert word in parsed.problem, f"{word!r} missing from {parsed.problem!r}"
    assert parsed.number == 7
    assert parsed.raw == line


@pytest.mark.parametrize("name, line", [case[:2] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_line_carries_the_rejection_code_of_its_fault(name: str, line: bytes) -> None:
    expected = CASE_CODES.get(name, GROUP_CODES[name.partition(":")[0]])
    assert parse_line(7, line).problem.code == expected


def test_case_names_are_unique() -> None:
    names = [case[0] for case in CASES]
    assert len(names) == len(set(names))
    assert set(CASE_CODES) <= set(names)


def test_every_problem_on_a_line_is_reported_together() -> None:
    line = event_line(PAYMENT, amout="1", amount=Num("1200.5"), date="2026-02-30")
    problem = parse_line(1, line).problem
    assert 'unknown field "amout"' in problem
    assert "payment.amount: give decimal amounts as strings" in problem
    assert "payment.date" in problem
    assert problem.code == "field"  # the first reported: the unknown field


def test_reason_never_holds_a_lone_surrogate() -> None:
    parsed = parse_line(1, b'{"id":"a","\\ud800":1,"\\ud800":2}')
    assert "repeated key" in parsed.problem
    parsed.problem.encode("utf-8")


def test_long_values_are_cut_short_in_reasons() -> None:
    parsed = parse_line(1, event_line(REVENUE, amount="x" * 10_000))
    assert len(parsed.problem) < 400
    assert "…" in parsed.problem


@pytest.mark.parametrize(
    ("line", "expected_id"),
    [
        (b'{"id":"a","x":NaN}', "a"),
        (b'{"id":"a","x":{"k":1,"k":2}}', "a"),
        (b'{"id":"a","x":"\\ud800"}', "a"),
        (b'{"id":"a","x":' + b"[" * 40 + b"]" * 40 + b"}", "a"),
        (event_line(PAYMENT, amount=Num("1.5")), "p-1"),
        (event_line(CLOSE, id="i" * 200), "i" * 200),
        (event_line(CLOSE, id=""), ""),
        (b'{"id":"a","id":"b"}', None),
        (b'{"id":"\\ud800"}', None),
        (b'{"id":7}', None),
        (b'{"id":"a"', None),
        (b'["a"]', None),
    ],
)
def test_id_is_read_whenever_the_object_has_one_string_id(line: bytes, expected_id: str | None) -> None:
    assert parse_line(1, line).id == expected_id


def test_fingerprint_only_for_strict_json() -> None:
    assert parse_line(1, b'{"id":"a","x":NaN}').fingerprint is None
    assert parse_line(1, b'{"id":"a","x":"\\ud800"}').fingerprint is None
    assert parse_line(1, b'{"id":"a"').fingerprint is None
    # A strict-JSON line that is no valid event still has one, so a repeat can be compared.
    assert parse_line(1, event_line(PAYMENT, amount=Num("1.5"))).fingerprint is not None


def test_a_reason_names_a_few_unknown_fields_and_counts_the_rest() -> None:
    line = event_line(CLOSE, **{f"extra{index}": "x" for index in range(40)})
    problem = parse_line(1, line).problem
    assert 'unknown field "extra0"' in problem
    assert 'unknown field "extra4"' in problem
    assert "extra5" not in problem
    assert "and 35 more unknown fields" in problem
