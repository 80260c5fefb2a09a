"""Good lines of every type become the expected event; fingerprints and replacements (SPEC §4, §7)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from engine.events.model import (
    Close,
    Correction,
    Exercise,
    GuaranteeCall,
    JsonNumber,
    Payment,
    Revenue,
    SharePrice,
    StockSplit,
    TrueUp,
    Utilization,
)
from engine.events.reader import DEPTH_MAX, LINE_BYTES_MAX, parse_line, parse_lines, replacement
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
    encode,
    event_line,
)

UTC = timezone.utc


def event_of(line: bytes):
    parsed = parse_line(3, line)
    assert parsed.problem is None, parsed.problem
    assert parsed.fingerprint is not None
    return parsed.event


def same_decimal(actual: Decimal, text: str) -> bool:
    """Equal and written alike: "2.10" keeps its two fraction digits."""
    return actual == Decimal(text) and actual.as_tuple() == Decimal(text).as_tuple()


GOOD = [
    (
        "utilization",
        event_line(UTILIZATION),
        Utilization(
            "u-1", "acme", "east",
            datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC),
            Decimal("2400.00"), Decimal("1200.50"),
        ),
    ),
    ("revenue", event_line(REVENUE), Revenue("r-1", "acme", "2026-01", Decimal("-15.25"), "USD")),
    ("void", event_line(VOID), Correction("c-1", "acme", "u-1", None)),
    ("close", event_line(CLOSE), Close("k-1", "acme", "2026-Q1")),
    ("true_up", event_line(TRUE_UP), TrueUp("t-1", "acme", date(2026, 3, 1))),
    (
        "payment",
        event_line(PAYMENT),
        Payment("p-1", "acme", "Guarantor", "Provider", Decimal("1200.00"), "USD", date(2026, 2, 15),
                "acme/2026-01/lease_back"),
    ),
    (
        "payment without applies_to",
        event_line(PAYMENT, applies_to=DROP),
        Payment("p-1", "acme", "Guarantor", "Provider", Decimal("1200.00"), "USD", date(2026, 2, 15), None),
    ),
    ("share_price", event_line(SHARE_PRICE), SharePrice("s-1", "acme", date(2026, 1, 5), Decimal("41.25"), Decimal(1000))),
    ("stock_split", event_line(STOCK_SPLIT), StockSplit("x-1", "acme", date(2026, 1, 6), 2, 1)),
    (
        "net exercise",
        event_line(EXERCISE),
        Exercise("e-1", "acme", "T1", 500, "net", date(2026, 1, 7), Decimal("55.50")),
    ),
    (
        "cash exercise",
        event_line(EXERCISE, method="cash", fair_market_value=DROP),
        Exercise("e-1", "acme", "T1", 500, "cash", date(2026, 1, 7), None),
    ),
    (
        "guarantee call",
        event_line(GUARANTEE_CALL),
        GuaranteeCall("g-1", "acme", date(2026, 4, 2), "acme/2026-01/debt_service"),
    ),
    (
        "revenue of zero, as a JSON integer",
        event_line(REVENUE, amount=Num("0")),
        Revenue("r-1", "acme", "2026-01", Decimal(0), "USD"),
    ),
    (
        "utilization of zero hours",
        event_line(UTILIZATION, available_gpu_hours="0", sold_gpu_hours=Num("0")),
        Utilization("u-1", "acme", "east", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC),
                    Decimal(0), Decimal(0)),
    ),
]


@pytest.mark.parametrize(("line", "expected"), [case[1:] for case in GOOD], ids=[case[0] for case in GOOD])
def test_good_line_becomes_its_event(line: bytes, expected) -> None:
    assert event_of(line) == expected


@pytest.mark.parametrize(
    "value",
    ["not a number", None, Num("1.5"), {"nested": [1, None]}, True, "-3"],
    ids=["string", "null", "float", "object", "true", "negative"],
)
def test_cash_exercise_does_not_read_fair_market_value(value) -> None:
    event = event_of(event_line(EXERCISE, method="cash", fair_market_value=value))
    assert event.method == "cash"
    assert event.fair_market_value is None


def test_decimals_keep_their_text() -> None:
    event = event_of(event_line(UTILIZATION, available_gpu_hours="2.10", sold_gpu_hours="0.000000000001"))
    assert same_decimal(event.available_gpu_hours, "2.10")
    assert same_decimal(event.sold_gpu_hours, "0.000000000001")
    payment = event_of(event_line(PAYMENT, amount="100.000"))
    assert same_decimal(payment.amount, "100.000")


def test_decimal_bounds_are_inclusive() -> None:
    widest = "9" * 20 + "." + "9" * 12
    assert same_decimal(event_of(event_line(REVENUE, amount=widest)).amount, widest)
    assert same_decimal(event_of(event_line(REVENUE, amount="-" + widest)).amount, "-" + widest)
    assert event_of(event_line(REVENUE, amount=Num("-" + "9" * 20))).amount == Decimal("-" + "9" * 20)
    assert event_of(event_line(REVENUE, amount="007")).amount == Decimal(7)


def test_counts_read_as_integers() -> None:
    event = event_of(event_line(STOCK_SPLIT, numerator=Num("9" * 20), denominator=Num("3")))
    assert event.numerator == int("9" * 20)
    assert type(event.denominator) is int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T02:30:00+02:30", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2025-12-31T19:00:00-05:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T00:00:00.5Z", datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)),
        ("2026-01-01T00:00:00.000001+00:00", datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        ("2026-01-01T00:00:00-00:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T23:59:59+23:59", datetime(2026, 1, 1, 0, 0, 59, tzinfo=UTC)),
        ("2024-02-29T12:00:00Z", datetime(2024, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_timestamps_are_converted_to_utc(text: str, expected: datetime) -> None:
    end = (expected + timedelta(hours=1)).isoformat()
    event = event_of(event_line(UTILIZATION, start=text, end=end))
    assert event.start == expected
    assert event.start.utcoffset() == timedelta(0)
    assert event.start.tzinfo is UTC


def test_timestamps_compared_as_instants() -> None:
    # 01:00+01:00 is midnight UTC, before 00:30Z.
    event = event_of(event_line(UTILIZATION, start="2026-01-01T01:00:00+01:00", end="2026-01-01T00:30:00Z"))
    assert event.end - event.start == timedelta(minutes=30)


def test_meta_is_carried_and_ignored() -> None:
    with_meta = event_of(event_line(CLOSE, meta={"source": "ops", "tags": [1, "x", None, {"n": Num("1.5")}]}))
    assert with_meta == event_of(event_line(CLOSE))


def test_id_bounds_count_code_points() -> None:
    assert event_of(event_line(CLOSE, id="i" * 128)).id == "i" * 128
    astral = "\U0001f600" * 128  # 512 bytes of UTF-8, 128 code points
    assert event_of(event_line(CLOSE, id=astral)).id == astral
    escaped = b'{"id":"' + b"\\ud83d\\ude00" * 128 + b'","type":"close","agreement":"a","period":"2026-01"}'
    assert event_of(escaped).id == astral


def test_white_space_around_and_inside_is_fine() -> None:
    line = b' \t{ "id" : "k-1",\r"type":"close" ,"agreement":"acme","period":"2026-Q1" }\t\r '
    assert event_of(line) == Close("k-1", "acme", "2026-Q1")


def test_nesting_of_32_levels_is_allowed() -> None:
    inner = "[" * (DEPTH_MAX - 2) + "]" * (DEPTH_MAX - 2)
    line = event_line(CLOSE)[:-1] + b',"meta":{"x":' + inner.encode() + b"}}"
    assert event_of(line) == Close("k-1", "acme", "2026-Q1")


def test_a_line_of_exactly_one_mebibyte_is_read() -> None:
    head = event_line(CLOSE)[:-1] + b',"meta":{"pad":"'
    line = head + b"x" * (LINE_BYTES_MAX - len(head) - 3) + b'"}}'
    assert len(line) == LINE_BYTES_MAX
    assert event_of(line) == Close("k-1", "acme", "2026-Q1")
    assert "longer than" in parse_line(1, line[:-3] + b'x"}}').problem


def test_parse_lines_reads_a_stream() -> None:
    stream = io.BytesIO(event_line(CLOSE) + b"\n\n" + b"oops\r\n" + event_line(TRUE_UP))
    parsed = list(parse_lines(stream))
    assert [line.number for line in parsed] == [1, 3, 4]
    assert parsed[1].problem.startswith("line is not valid JSON")
    assert parsed[2].event == TrueUp("t-1", "acme", date(2026, 3, 1))


# --- Fingerprints (SPEC §7) ----------------------------------------------------------------


def fingerprint(line: bytes) -> bytes:
    parsed = parse_line(1, line)
    assert parsed.fingerprint is not None, parsed.problem
    return parsed.fingerprint


def test_fingerprint_ignores_member_order_and_white_space() -> None:
    a = b'{"id":"p-1","type":"close","agreement":"acme","period":"2026-01","meta":{"a":1,"b":[1,{"y":2,"x":3}]}}'
    b = b'{ "meta" : { "b" : [ 1 , { "x" : 3 , "y" : 2 } ] ,"a":1 },\t"period":"2026-01","agreement":"acme",' \
        b'"type":"close","id":"p-1"}'
    assert fingerprint(a) == fingerprint(b)


def test_fingerprint_compares_strings_exactly_after_unescaping() -> None:
    assert fingerprint(b'{"id":"\\u00e9"}') == fingerprint('{"id":"\u00e9"}'.encode())
    assert fingerprint(b'{"id":"\\/"}') == fingerprint(b'{"id":"/"}')
    assert fingerprint(b'{"id":"e\\u0301"}') != fingerprint('{"id":"\u00e9"}'.encode())  # no normalisation
    assert fingerprint(b'{"id":"a"}') != fingerprint(b'{"id":"A"}')


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (b'{"x":1.0}', b'{"x":1.00}'),
        (b'{"x":1.0}', b'{"x":1}'),
        (b'{"x":"5"}', b'{"x":5}'),
        (b'{"x":100}', b'{"x":1e2}'),
        (b'{"x":1e2}', b'{"x":1E2}'),
        (b'{"x":0}', b'{"x":-0}'),
        (b'{"x":[1,2]}', b'{"x":[2,1]}'),
        (b'{"x":null}', b'{}'),
        (b'{"x":true}', b'{"x":"true"}'),
        (b'{"x":{}}', b'{"x":[]}'),
        (b'{"x":["a","b"]}', b'{"x":["a,\\"b"]}'),
        (b'{"a":"b","c":"d"}', b'{"a":"b\\",\\"c\\":\\"d"}'),
    ],
)
def test_fingerprint_tells_apart(a: bytes, b: bytes) -> None:
    assert fingerprint(a) != fingerprint(b)


# --- Replacements --------------------------------------------------------------------------


def correction_with(replacement_value: dict) -> Correction:
    event = event_of(event_line(VOID, id="c-9", void=DROP, replacement=replacement_value))
    assert isinstance(event, Correction)
    return event


UTILIZATION_FIELDS = {key: value for key, value in UTILIZATION.items() if key not in ("id", "type", "agreement")}
REVENUE_FIELDS = {key: value for key, value in REVENUE.items() if key not in ("id", "type", "agreement")}


def test_replacement_is_kept_with_numbers_as_text() -> None:
    correction = correction_with({**REVENUE_FIELDS, "amount": Num("12")})
    assert correction.replacement == {"period": "2026-01", "amount": JsonNumber("12"), "currency": "USD"}


def test_replacement_types_as_the_corrected_utilization() -> None:
    correction = correction_with({**UTILIZATION_FIELDS, "pool": "west", "sold_gpu_hours": "10.0"})
    typed = replacement(correction, Utilization)
    assert typed == Utilization(
        "u-1", "acme", "west", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC),
        Decimal("2400.00"), Decimal("10.0"),
    )
    assert same_decimal(typed.sold_gpu_hours, "10.0")


def test_replacement_types_as_the_corrected_revenue() -> None:
    correction = correction_with({**REVENUE_FIELDS, "period": "2026-02", "amount": Num("-7")})
    assert replacement(correction, Revenue) == Revenue("u-1", "acme", "2026-02", Decimal(-7), "USD")


@pytest.mark.parametrize(
    ("fields", "kind", "words"),
    [
        ({**UTILIZATION_FIELDS, "id": "u-2"}, Utilization, ['replacement: unknown field "id"', "holds exactly pool"]),
        ({**UTILIZATION_FIELDS, "type": "utilization"}, Utilization, ['replacement: unknown field "type"']),
        ({**REVENUE_FIELDS, "agreement": "acme"}, Revenue, ['replacement: unknown field "agreement"']),
        ({**REVENUE_FIELDS, "meta": {}}, Revenue, ['replacement: unknown field "meta"']),
        ({**REVENUE_FIELDS, "amout": "1"}, Revenue, ['unknown field "amout"', 'did you mean "amount"']),
        (REVENUE_FIELDS, Utilization, ['replacement: unknown field "period"', "replacement.pool: missing"]),
        ({**UTILIZATION_FIELDS, "sold_gpu_hours": DROP}, Utilization, ["replacement.sold_gpu_hours: missing"]),
        ({**UTILIZATION_FIELDS, "sold_gpu_hours": "2400.01"}, Utilization,
         ["replacement.sold_gpu_hours: sold above available"]),
        ({**UTILIZATION_FIELDS, "end": UTILIZATION["start"]}, Utilization, ["replacement.end: must be after start"]),
        ({**UTILIZATION_FIELDS, "start": "2026-01-01T00:00:00"}, Utilization,
         ["replacement.start: timestamp needs a UTC offset"]),
        ({**REVENUE_FIELDS, "amount": Num("1.5")}, Revenue, ["replacement.amount: give decimal amounts as strings"]),
        ({**REVENUE_FIELDS, "amount": None}, Revenue, ["replacement.amount: null is not a value"]),
        ({**REVENUE_FIELDS, "period": "2026-13"}, Revenue, ["replacement.period: expected a period id"]),
    ],
)
def test_bad_replacement_is_rejected_with_a_reason(fields: dict, kind: type, words: list[str]) -> None:
    fields = {key: value for key, value in fields.items() if value is not DROP}
    reason = replacement(correction_with(fields), kind)
    assert isinstance(reason, str)
    for word in words:
        assert word in reason, f"{word!r} missing from {reason!r}"


def test_replacement_of_a_void_is_an_engine_bug() -> None:
    with pytest.raises(ValueError):
        replacement(event_of(event_line(VOID)), Utilization)
    with pytest.raises(ValueError):
        replacement(correction_with(REVENUE_FIELDS), Payment)


def test_replacement_lines_are_fingerprinted_by_their_numbers_text() -> None:
    a = event_line(VOID, void=DROP, replacement={**REVENUE_FIELDS, "amount": Num("5")})
    b = event_line(VOID, void=DROP, replacement={**REVENUE_FIELDS, "amount": "5"})
    assert encode({"x": Num("5")}) == b'{"x":5}'
    assert fingerprint(a) != fingerprint(b)
