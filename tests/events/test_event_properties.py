"""Property tests of the reader: it never raises, and its fingerprints mean SPEC §7 equality."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events.model import Correction, Exercise, Payment, Revenue, SharePrice, Utilization
from engine.events.reader import DEPTH_MAX, EVENT_TYPES, _FIELDS, parse_line, replacement
from event_text import REVENUE, Num, encode

# --- Strategies ----------------------------------------------------------------------------

number_texts = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["0", "-0", "1.0", "1.00", "1e2", "1E2", "100", "2.10"]),
)
numbers = number_texts.map(Num)
strict_strings = st.text(max_size=8)
strict_scalars = st.none() | st.booleans() | numbers | strict_strings


def json_trees(scalars: st.SearchStrategy, keys: st.SearchStrategy = strict_strings) -> st.SearchStrategy:
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
        max_leaves=24,
    )


strict_values = json_trees(strict_scalars)
strict_objects = st.dictionaries(strict_strings, strict_values, max_size=6)

# Values Python's json would accept but RFC 8259 does not.
lax_scalars = strict_scalars | st.sampled_from([Num("NaN"), Num("Infinity"), Num("-Infinity")]) | st.text(
    alphabet=st.characters(categories=["Cs"]) | st.sampled_from("ab"), max_size=3
)
lax_values = json_trees(lax_scalars, keys=st.text(alphabet=st.characters(categories=["Cs"]) | st.sampled_from("ab")))


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(inner) for inner in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(inner) for inner in value), default=0)
    return 0


def shuffled(value, random):
    """The same JSON value with every object's members in another order."""
    if isinstance(value, dict):
        keys = list(value)
        random.shuffle(keys)
        return {key: shuffled(value[key], random) for key in keys}
    if isinstance(value, list):
        return [shuffled(inner, random) for inner in value]
    return value


def model(value):
    """A test-side normal form: equal exactly when SPEC §7 calls two JSON values equal."""
    if isinstance(value, dict):
        return ("object", frozenset((key, model(inner)) for key, inner in value.items()))
    if isinstance(value, list):
        return ("array", tuple(model(inner) for inner in value))
    if isinstance(value, Num):
        return ("number", value.text)
    return (type(value).__name__, value)


# --- Never raises --------------------------------------------------------------------------


@given(st.binary(max_size=400))
def test_parse_line_never_raises_on_bytes(raw: bytes) -> None:
    parsed = parse_line(1, raw)
    assert (parsed.event is None) != (parsed.problem is None)


@given(lax_values, st.booleans())
def test_parse_line_never_raises_on_json_values(value, ensure_ascii: bool) -> None:
    parsed = parse_line(1, encode(value, ensure_ascii=ensure_ascii))
    assert (parsed.event is None) != (parsed.problem is None)
    if parsed.problem is not None:
        parsed.problem.encode("utf-8")  # a reason is always printable


@given(st.lists(st.sampled_from(["{", "}", "[", "]", '"', "\\", ",", ":", "1", "-", ".", "e", " ", "a", "u", "d8"]), max_size=60))
def test_parse_line_never_raises_on_json_like_noise(pieces: list[str]) -> None:
    parse_line(1, "".join(pieces).encode())


# --- Fingerprints --------------------------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=100)
@given(strict_objects, st.randoms(use_true_random=False), st.sampled_from([(",", ":"), (", ", ": "), (" ,\t", " :\r")]))
def test_fingerprint_is_invariant_under_member_order_and_white_space(value, random, separators) -> None:
    first = parse_line(1, encode(value))
    second = parse_line(2, encode(shuffled(value, random), separators=separators, ensure_ascii=True))
    if depth(value) > DEPTH_MAX:
        assert "nesting" in first.problem
        return
    assert first.fingerprint is not None
    assert first.fingerprint == second.fingerprint
    assert first.problem == second.problem  # the reasons do not depend on member order
    assert first.event == second.event


small_scalars = st.none() | st.booleans() | st.sampled_from(["1", "1.0", "1.00", "5", "-0", "0"]).map(Num) | st.sampled_from(
    ["5", "a", "1"]
)
small_objects = st.dictionaries(st.sampled_from(["a", "b"]), json_trees(small_scalars, st.sampled_from(["a", "b"])), max_size=2)


@settings(max_examples=200)
@given(small_objects, small_objects)
def test_fingerprints_are_equal_exactly_when_values_are(a, b) -> None:
    assert (parse_line(1, encode(a)).fingerprint == parse_line(1, encode(b)).fingerprint) == (model(a) == model(b))


# --- Event-shaped objects ------------------------------------------------------------------

FIELD_NAMES = sorted({name for fields in _FIELDS.values() for name in fields} | {"meta", "void", "amout"})
plausible_values = st.sampled_from(
    [
        "2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", "2026-01-02T00:00:00.5-02:00", "2026-01-01",
        "2026-02-29", "2026-Q1", "2026-01", "1.50", "-2", "0", "100.000", Num("3"), Num("0"), Num("1.5"),
        "cash", "net", "USD", "east", True, False, None, {}, {"amount": "1", "period": "2026-01", "currency": "USD"},
    ]
)
event_objects = st.fixed_dictionaries(
    {"type": st.sampled_from(EVENT_TYPES)},
    optional={
        "id": st.text(max_size=3),
        "agreement": st.just("acme"),
        **{name: plausible_values | strict_scalars for name in FIELD_NAMES},
    },
)


@settings(max_examples=200)
@given(event_objects)
def test_event_shaped_objects_never_raise_and_events_obey_line_rules(value) -> None:
    parsed = parse_line(1, encode(value))
    assert (parsed.event is None) != (parsed.problem is None)
    event = parsed.event
    if event is None:
        return
    assert type(event).__name__.lower().replace("trueup", "true_up").replace("shareprice", "share_price").replace(
        "stocksplit", "stock_split"
    ) == value["type"]
    assert 1 <= len(event.id) <= 128
    if isinstance(event, Utilization):
        assert event.start < event.end
        assert 0 <= event.sold_gpu_hours <= event.available_gpu_hours
    if isinstance(event, Payment):
        assert event.amount > 0
        assert event.payer != event.payee
    if isinstance(event, SharePrice):
        assert event.price > 0 and event.volume > 0
    if isinstance(event, Exercise):
        assert event.shares >= 1
        assert (event.fair_market_value is not None) == (event.method == "net")
    if isinstance(event, Correction) and event.replacement is not None:
        for kind in (Utilization, Revenue):
            typed = replacement(event, kind)
            assert isinstance(typed, (str, kind))


# --- Decimals and timestamps ---------------------------------------------------------------


@given(st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{1,12})?", fullmatch=True))
def test_decimal_strings_are_read_exactly(text: str) -> None:
    parsed = parse_line(1, encode({**REVENUE, "amount": text}))
    assert parsed.event.amount.as_tuple() == Decimal(text).as_tuple()


@given(st.from_regex(r"-?([0-9]{21,30}(\.[0-9]{1,12})?|[0-9]{1,20}\.[0-9]{13,20})", fullmatch=True))
def test_decimal_strings_beyond_the_bounds_are_rejected(text: str) -> None:
    assert "at most" in parse_line(1, encode({**REVENUE, "amount": text})).problem


offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))


def timestamp_text(moment: datetime, fraction_digits: int, zulu: bool) -> str:
    # strftime("%Y") does not pad years before 1000 on every platform.
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if fraction_digits:
        text += "." + f"{moment.microsecond:06d}"[:fraction_digits]
    offset = moment.utcoffset()
    if zulu and offset == timedelta(0):
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets),
    st.integers(min_value=0, max_value=6),
    st.booleans(),
)
def test_timestamps_are_read_as_the_same_instant_in_utc(moment: datetime, fraction_digits: int, zulu: bool) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 10 ** (6 - fraction_digits) * 10 ** (6 - fraction_digits))
    text = timestamp_text(moment, fraction_digits, zulu)
    line = encode({"id": "u", "type": "utilization", "agreement": "a", "pool": "p", "start": text,
                   "end": "9999-12-31T00:00:00Z", "available_gpu_hours": "1", "sold_gpu_hours": "1"})
    parsed = parse_line(1, line)
    assert parsed.problem is None, (text, parsed.problem)
    assert parsed.event.start == moment
    assert parsed.event.start.tzinfo is timezone.utc


@given(st.text(alphabet=string.digits + "-:TZ+.tz ", max_size=32))
def test_timestamp_noise_never_raises(text: str) -> None:
    line = encode({"id": "u", "type": "utilization", "agreement": "a", "pool": "p", "start": text,
                   "end": text, "available_gpu_hours": "1", "sold_gpu_hours": "1"})
    parsed = parse_line(1, line)
    assert parsed.problem is not None  # start is never before end when both are the same text


@given(st.text(alphabet="-0123456789.e+ ", max_size=40))
def test_decimal_fast_pattern_agrees_with_the_numbers_module(text: str) -> None:
    from engine.events.reader import _DECIMAL_WITHIN_BOUNDS
    from engine.numbers import decimal_text_problem

    assert (_DECIMAL_WITHIN_BOUNDS.fullmatch(text) is not None) == (decimal_text_problem(text) is None)
