"""The exact reader: every scalar form of SPEC §1, keys, positions, and the JSON path."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.documents.reader import (
    DEPTH_MAX,
    FILE_BYTES_MAX,
    INVALID,
    NULL_MESSAGE,
    ScalarProblem,
    plain_value,
    read_mapping,
    read_version_file,
)


def read(text: str, file: str = "doc.yaml"):
    return read_version_file(text.encode("utf-8"), file)


def value_of(scalar: str, file: str = "doc.yaml"):
    """The value `scalar` reads as, written as the value of field `a`."""
    document = read(f"a: {scalar}\n" if file.endswith(".yaml") else f'{{"a": {scalar}}}', file)
    assert document.errors == (), document.errors
    return document.tree["a"]


def messages(document) -> list[str]:
    return [error.message for error in document.errors]


# ---------------------------------------------------------------------------------------------
# Plain scalars


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("007", 7),  # YAML 1.2 has no 0-prefixed octal: this is decimal 7
        ("2.10", Decimal("2.10")),
        ("-0.5", Decimal("-0.5")),
        ("100.000", Decimal("100.000")),
        ("2026-01-01", date(2026, 1, 1)),
        ("2028-02-29", date(2028, 2, 29)),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("Yes", "Yes"),
        ("1_000", "1_000"),  # no underscores in YAML 1.2 numbers: a string
        ("1:30", "1:30"),  # no sexagesimal: a string
        ("0b101", "0b101"),  # no binary in the core schema: a string
        ("2026-1-1", "2026-1-1"),  # not a date form: a string
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("ACT/365F", "ACT/365F"),
        ("NaN", "NaN"),  # only .nan is the core schema's
        ("tRUE", "tRUE"),
    ],
)
def test_plain_scalar_is_typed_by_the_core_schema(text, expected):
    value = plain_value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_decimal_keeps_the_digits_as_written():
    assert plain_value("2.10").as_tuple() == Decimal("2.10").as_tuple()
    assert str(plain_value("0.000000000001")) == "1E-12"  # the value is exact, whatever str shows


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("~", "explicit null"),
        ("null", "explicit null"),
        ("Null", "explicit null"),
        ("NULL", "explicit null"),
        ("", "explicit null"),
        ("+5", "leading +"),
        ("+2.5", "leading +"),
        (".5", "no digit before the point"),
        ("-.5", "no digit before the point"),
        ("5.", "no digit after the point"),
        ("0x1F", "hexadecimal"),
        ("0o17", "octal"),
        ("1e3", "exponent"),
        ("1E3", "exponent"),
        ("2.5e-3", "exponent"),
        ("-1e+3", "exponent"),
        (".inf", "infinity"),
        ("-.inf", "infinity"),
        ("+.INF", "infinity"),
        (".nan", "not a number"),
        (".NaN", "not a number"),
        ("2026-02-30", "not a calendar date"),
        ("2026-13-01", "not a calendar date"),
    ],
)
def test_forbidden_plain_scalar_is_an_error_naming_its_form(text, words):
    with pytest.raises(ScalarProblem, match=words):
        plain_value(text)


def test_exponent_message_shows_the_number_written_out():
    with pytest.raises(ScalarProblem, match="write 1000$"):
        plain_value("1e3")
    with pytest.raises(ScalarProblem, match="write 0.0025$"):
        plain_value("2.5e-3")


@given(
    negative=st.booleans(),
    whole=st.text("0123456789", min_size=1, max_size=20),
    fraction=st.text("0123456789", min_size=1, max_size=12),
)
def test_plain_decimal_is_exactly_its_text(negative, whole, fraction):
    text = ("-" if negative else "") + whole + "." + fraction
    value = value_of(text)
    assert value.as_tuple() == Decimal(text).as_tuple()


# ---------------------------------------------------------------------------------------------
# Quoted, block, tagged, anchored


@pytest.mark.parametrize("text", ["'5'", '"5"', '"2026-01-01"', "'true'", '"~"', "''", '"1e3"', "|\n  x\n", ">\n  x\n"])
def test_quoted_and_block_scalars_are_strings(text):
    document = read(f"a: {text}\n")
    assert document.errors == ()
    assert isinstance(document.tree["a"], str)


def test_null_value_is_reported_at_its_position_and_left_invalid():
    document = read("a: 1\nb: ~\nc:\n")
    assert [(error.line, error.column, error.field) for error in document.errors] == [(2, 4, "b"), (3, 3, "c")]
    assert messages(document) == [NULL_MESSAGE, NULL_MESSAGE]
    assert document.tree == {"a": 1, "b": INVALID, "c": INVALID}
    assert document.invalid_paths == {("b",), ("c",)}


@pytest.mark.parametrize(
    ("text", "shown"), [("!!float 1", "!!float"), ("!!str 1", "!!str"), ("!custom x", "!custom"), ("! 5", "!")]
)
def test_explicit_tags_are_errors(text, shown):
    document = read(f"a: {text}\n")
    assert messages(document) == [f"explicit tags ({shown}) are not allowed; write the value without a tag"]


def test_anchors_and_aliases_are_errors():
    document = read("a: &x 1\nb: *x\nc: *undefined\n")
    assert [(error.line, error.field) for error in document.errors] == [(1, "a"), (2, "b"), (3, "c")]
    assert "anchors (&x)" in document.errors[0].message
    assert "aliases (*x)" in document.errors[1].message


def test_merge_key_is_an_ordinary_key():
    document = read("a: {b: 1}\n<<: {b: 2}\n")
    assert document.errors == ()
    assert document.tree == {"a": {"b": 1}, "<<": {"b": 2}}


# ---------------------------------------------------------------------------------------------
# Keys


@pytest.mark.parametrize(
    ("key", "kind"), [("2026", "a number"), ("2.5", "a number"), ("true", "a boolean"), ("FALSE", "a boolean")]
)
def test_plain_key_read_as_no_string_must_be_quoted(key, kind):
    document = read(f"{key}: x\n")
    assert messages(document) == [f'the key {key} reads as {kind}; map keys must be strings: quote it ("{key}")']
    assert document.tree == {key: "x"}  # kept as its text, so nothing else is reported for it


@pytest.mark.parametrize("key", ["~", "null", "+5", "0x10"])
def test_null_or_forbidden_number_key_must_be_quoted(key):
    document = read(f"{key}: x\n")
    assert "quote it" in messages(document)[0]


def test_quoted_keys_and_plain_date_keys_are_strings():
    document = read("'2026': a\n\"true\": b\n2026-01-01: c\nyes: d\n")
    assert document.errors == ()
    assert document.tree == {"2026": "a", "true": "b", "2026-01-01": "c", "yes": "d"}


def test_empty_key_must_be_quoted():
    document = read("? \n: x\n")
    assert messages(document) == ['the key (empty) reads as null; map keys must be strings: quote it ("")']


def test_complex_key_is_an_error():
    document = read("? [a, b]\n: x\n")
    assert messages(document) == ["map keys must be strings"]


def test_repeated_key_names_both_lines_and_keeps_the_first():
    document = read("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n")
    assert [(error.line, error.column, error.field) for error in document.errors] == [(4, 3, "b.c"), (5, 1, "a")]
    assert messages(document) == [
        "repeated key (first on line 3, again on line 4); keep one",
        "repeated key (first on line 1, again on line 5); keep one",
    ]
    assert document.tree == {"a": 1, "b": {"c": 2}}


# ---------------------------------------------------------------------------------------------
# Positions


def test_positions_are_one_based_at_values_and_at_keys_of_collections():
    document = read("top: 1\nnested:\n  list:\n    - first\n    - {k: 2.5}\n")
    assert document.positions[()] == (1, 1)
    assert document.positions[("top",)] == (1, 6)
    assert document.positions[("nested",)] == (2, 1)
    assert document.positions[("nested", "list")] == (3, 3)
    assert document.positions[("nested", "list", 0)] == (4, 7)
    assert document.positions[("nested", "list", 1)] == (5, 7)
    assert document.positions[("nested", "list", 1, "k")] == (5, 11)
    assert document.key_positions[("nested", "list", 1, "k")] == (5, 8)


# ---------------------------------------------------------------------------------------------
# Whole files


def test_file_that_is_not_utf8_is_an_error_at_its_byte():
    document = read_version_file(b"a: 1\nb: caf\xe9\n", "doc.yaml")
    assert document.tree is None
    assert [(error.line, error.column) for error in document.errors] == [(2, 7)]
    assert "not valid UTF-8" in document.errors[0].message


@pytest.mark.parametrize(
    ("text", "words"),
    [("- a\n", "top level must be a mapping"), ("x\n", "top level"), ("", "empty"), ("# only\n", "empty")],
)
def test_top_level_must_be_a_mapping(text, words):
    document = read(text)
    assert document.tree is None
    assert words in messages(document)[0]


def test_yaml_syntax_error_is_located():
    document = read("a: 1\n b: 2\n")
    assert document.tree is None
    assert document.errors[0].line == 2
    assert "not valid YAML" in document.errors[0].message


def test_several_yaml_documents_are_an_error():
    document = read("a: 1\n---\nb: 2\n")
    assert "not valid YAML" in messages(document)[0]


def test_large_file_is_refused_before_parsing():
    document = read_version_file(b"a: 1\n" + b"#" * FILE_BYTES_MAX, "doc.yaml")
    assert "at most" in messages(document)[0]


def test_deep_nesting_is_an_error_not_a_crash():
    deep = "[" * (DEPTH_MAX + 5) + "]" * (DEPTH_MAX + 5)
    for file in ("doc.yaml", "doc.json"):
        document = read(f'{{"a": {deep}}}', file)
        assert any("nested" in message for message in messages(document)), messages(document)


# ---------------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("-0", 0),
        ("2.10", Decimal("2.10")),
        ('"2.10"', "2.10"),
        ("true", True),
        ('"2026-01-01"', "2026-01-01"),
    ],
)
def test_json_numbers_are_read_exactly_and_strings_stay_strings(text, expected):
    value = value_of(text, "doc.json")
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("text", "words"), [("1e3", "exponent"), ("1.5E-2", "exponent"), ("null", "explicit null")])
def test_json_forbidden_values_are_errors(text, words):
    document = read(f'{{"a": {text}}}', "doc.json")
    assert words in messages(document)[0]
    assert document.errors[0].field == "a"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_are_not_json(constant):
    document = read(f'{{"a": [1, {constant}]}}', "doc.json")
    assert document.tree is None
    assert (document.errors[0].line, document.errors[0].column) == (1, 11)
    assert "is not a JSON number" in document.errors[0].message


@pytest.mark.parametrize("text", ['{"a": 1,}', "{'a': 1}", '{"a": 01}', '\ufeff{"a": 1}', '{"a": 1} x'])
def test_json_must_be_strict(text):
    document = read(text, "doc.json")
    assert document.tree is None
    assert "not valid JSON" in messages(document)[0]


def test_json_repeated_key_names_both_lines():
    document = read('{"a": 1,\n "a": 2}', "doc.json")
    assert messages(document) == ["repeated key (first on line 1, again on line 2); keep one"]


def test_json_tabs_escapes_and_surrogate_pairs():
    document = read('{\t"a":\t"x\\/y\\ud83d\\ude00",\n\t"b": [1, 2.50]}', "doc.json")
    assert document.errors == ()
    assert document.tree == {"a": "x/y\U0001f600", "b": [1, Decimal("2.50")]}
    assert document.positions[("b", 1)] == (2, 11)


def test_lone_surrogate_is_an_error():
    document = read('{"a": "\\ud800"}', "doc.json")
    assert "lone surrogate" in messages(document)[0]


def test_json_and_yaml_read_the_same_text_alike():
    text = '{\n  "a": {"b": [1, 2.50, "x"], "c": true},\n  "d": "2026-01-01",\n  "e": -3\n}\n'
    as_json, as_yaml = read(text, "doc.json"), read(text, "doc.yaml")
    assert as_json.errors == as_yaml.errors == ()
    assert as_json.tree == as_yaml.tree
    assert as_json.positions == as_yaml.positions


# ---------------------------------------------------------------------------------------------
# Python values


def test_python_mapping_values_are_checked_like_scalars():
    document = read_mapping({"a": 1.5, "b": None, "c": [Decimal("1"), date(2026, 1, 1), "x", True], 5: "k"}, "<m>")
    assert [(error.field, error.line) for error in document.errors] == [("a", None), ("b", None), ("5", None)]
    assert "binary float" in document.errors[0].message
    assert document.errors[1].message == NULL_MESSAGE
    assert "map keys must be strings" in document.errors[2].message


def test_python_value_that_is_no_mapping_is_an_error():
    document = read_mapping(["schema"], "<m>")
    assert document.tree is None
    assert "expected a mapping" in messages(document)[0]


# ---------------------------------------------------------------------------------------------
# Robustness


@given(data=st.binary(max_size=200), json_format=st.booleans())
def test_any_bytes_give_a_result_never_an_exception(data, json_format):
    document = read_version_file(data, "doc.json" if json_format else "doc.yaml")
    assert document.tree is not None or document.errors


@given(
    text=st.text(alphabet=st.sampled_from(list("{}[]:,-?!&*'\"#|> \n\tab01.eE+~")), max_size=80),
    json_format=st.booleans(),
)
def test_any_yaml_like_text_gives_a_result_never_an_exception(text, json_format):
    document = read(text, "doc.json" if json_format else "doc.yaml")
    assert document.tree is not None or document.errors
