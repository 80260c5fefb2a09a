"""The model file: the shipped default loads, and each kind of mistake is one error naming the
file, the line, the field and what was expected."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.simulate import ModelErrors, load_model, read_model
from engine.simulate.model import default_model_path
from tests.simulate.support import DEFAULT_TEXT, model_text


def test_the_shipped_model_loads_with_exact_parameters():
    model = load_model()
    assert model.demand.start == Decimal("0.60")
    assert model.prices.per_gpu_hour["GB300"] == Decimal("4.50")
    assert model.share_price.observations == "weekdays"
    assert load_model(default_model_path()) == model
    assert model.numbers().price("no such model") == float(model.prices.default)


def _line_of(text: str, section: str, name: str) -> int:
    """The line (from 1) of `name:` in `section:`."""
    lines = text.splitlines()
    start = lines.index(f"{section}:")
    return next(number for number, line in enumerate(lines[start:], start + 1) if line.startswith(f"  {name}:"))


# (what to change, the field named, words the message must contain)
CASES = [
    (dict(demand__start="1.2"), "demand.start", ["must be < 1", "1.2"]),
    (dict(demand__correlation="-0.1"), "demand.correlation", ["must be >= 0"]),
    (dict(demand__volatility='"high"'), "demand.volatility", ["expected a decimal", '"high"']),
    (dict(demand__ramp_years="1e3"), "demand.ramp_years", ["1e3"]),
    (dict(prices__default="0"), "prices.default", ["must be > 0"]),
    (dict(payments__recovery_days="2.5"), "payments.recovery_days", ["expected an integer"]),
    (dict(share_price__observations="daily"), "share_price.observations", ["weekdays", "weekly", "daily"]),
    (dict(warrants__exercise="never"), "warrants.exercise", ["term_end", "last_day"]),
    (dict(shocks__rate="~"), "shocks.rate", ["null"]),
]


@pytest.mark.parametrize("changes, field, words", CASES, ids=[case[1] for case in CASES])
def test_a_bad_value_is_one_located_error(changes, field, words):
    text = model_text(**changes)
    section, name = field.split(".")
    with pytest.raises(ModelErrors) as raised:
        read_model(text.encode("utf-8"), "my-model.yaml")
    errors = raised.value.errors
    assert len(errors) == 1, str(raised.value)
    error = errors[0]
    assert (error.file, error.field) == ("my-model.yaml", field)
    assert error.line == _line_of(text, section, name)
    for word in words:
        assert word in error.message, str(error)


def test_an_unknown_field_suggests_the_one_meant():
    text = DEFAULT_TEXT.replace("  reversion:", "  reversoin:")
    with pytest.raises(ModelErrors) as raised:
        read_model(text.encode(), "m.yaml")
    messages = {error.field: error.message for error in raised.value.errors}
    assert "did you mean reversion?" in messages["demand.reversoin"]
    assert messages["demand.reversion"] == "required field is missing"


def test_a_missing_section_and_a_wrong_schema_are_reported_together():
    text = DEFAULT_TEXT.replace("schema: backstop-model/1", "schema: backstop-model/9")
    text = text[: text.index("\nwarrants:")] + "\n"
    with pytest.raises(ModelErrors) as raised:
        read_model(text.encode(), "m.yaml")
    fields = {error.field: error for error in raised.value.errors}
    assert set(fields) == {"schema", "warrants"}
    assert "backstop-model/1" in fields["schema"].message and fields["schema"].line == 4


@pytest.mark.parametrize("data, words", [
    (b"", "the file is empty; expected a mapping like `schema: backstop-model/1`"),
    (b"- 1\n- 2\n", "the top level must be a mapping"),
    (b"demand: [\n", "YAML"),
])
def test_a_file_that_is_no_model_says_so(data, words):
    with pytest.raises(ModelErrors) as raised:
        read_model(data, "m.yaml")
    assert words in str(raised.value)


def test_an_unreadable_model_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ModelErrors) as raised:
        load_model(tmp_path / "absent.yaml")
    assert "absent.yaml" in str(raised.value) and "cannot read the model file" in str(raised.value)
