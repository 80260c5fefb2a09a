"""A JSON Schema (draft 2020-12) of the version file format, for editors (SPEC §1, §3).

It describes the *file*, not the Python model: a decimal is a number or a string of the
SPEC form, a date is a `YYYY-MM-DD` string, every object forbids unknown fields. It cannot
say everything the loader checks (a plain YAML `2.10` is exact only to our reader; ids unique,
steps stepping down, versions agreeing with each other…), so it helps writing documents and
never replaces loading them. `tests/documents/test_schema.py` keeps its field names and
required fields equal to the models'.
"""

from __future__ import annotations

from typing import Any

from engine.numbers import FRACTION_DIGITS_MAX, INTEGER_DIGITS_MAX

DECIMAL_TEXT_PATTERN = rf"^-?[0-9]{{1,{INTEGER_DIGITS_MAX}}}(\.[0-9]{{1,{FRACTION_DIGITS_MAX}}})?$"
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _decimal(description: str, **bounds: Any) -> dict[str, Any]:
    """A decimal: a number, or a string like "2.10". JSON Schema bounds apply to the number form only."""
    return {
        "description": description,
        "type": ["number", "string"],
        "pattern": DECIMAL_TEXT_PATTERN,
        **bounds,
    }


def _integer(description: str, minimum: int, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": description, "type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _date(description: str) -> dict[str, Any]:
    return {"description": description, "type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}


def _string(description: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": description, "type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return schema


def _choice(description: str, *values: str) -> dict[str, Any]:
    return {"description": description, "enum": list(values)}


def _object(properties: dict[str, Any], *required: str, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def _list(items: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "type": "array", "items": items, "minItems": 1}


def _condition() -> dict[str, Any]:
    condition = {"$ref": "#/$defs/condition"}
    return {
        "description": "When a tranche vests: exactly one kind of condition.",
        "oneOf": [
            _object({"on_or_after": _date("Holds on and after this date.")}, "on_or_after"),
            _object(
                {"lease_back_total_at_least": _decimal("Holds once the lease-back issued reaches this.", minimum=0)},
                "lease_back_total_at_least",
            ),
            _object(
                {
                    "vwap_at_least": _decimal("Volume-weighted average share price to reach.", exclusiveMinimum=0),
                    "days": _integer("How many of the latest share-price observations the average uses.", 1),
                },
                "vwap_at_least",
                "days",
            ),
            _object({"all": _list(condition, "Holds when every condition holds.")}, "all"),
            _object({"any": _list(condition, "Holds when at least one condition holds.")}, "any"),
        ],
    }


def _settlement() -> dict[str, Any]:
    return _object(
        {
            "period": _choice("Settlement period; same in every version.", "monthly", "quarterly"),
            "payment_terms_days": _integer("Days from a period's end date to its due date (default 30).", 0, 365),
            "rounding": _object(
                {
                    "places": _integer("Fraction digits of cash amounts (default 2); same in every version.", 0, 6),
                    "mode": _choice(
                        "Rounding mode (default half_even); same in every version.", "half_even", "half_up", "down"
                    ),
                },
                description="How every cash amount is rounded, once.",
            ),
            "late_interest": _object(
                {
                    "annual_rate": _decimal("Simple annual rate.", minimum=0, maximum=1),
                    "day_count": _choice("Day count basis.", "ACT/365F", "ACT/360"),
                },
                "annual_rate",
                "day_count",
                description="Interest on amounts paid after their due date (optional).",
            ),
            "lock_after_periods": _integer("A closed period locks once this many later ones are closed (optional).", 0),
        },
        "period",
    )


def _clauses() -> dict[str, Any]:
    return {
        "backstop": _object(
            {
                "rate_per_gpu_hour": {
                    "description": "Lease-back rate per GPU-hour, by GPU model; every pool's model needs one.",
                    "type": "object",
                    "additionalProperties": _decimal("Rate per GPU-hour.", exclusiveMinimum=0),
                },
                "threshold": _decimal("Utilization floor, 0 < t <= 1.", exclusiveMinimum=0, maximum=1),
                "covers": _choice("What is leased back (default shortfall).", "shortfall", "idle"),
                "cap": _decimal("Most the guarantor ever pays in lease-back (optional).", exclusiveMinimum=0),
            },
            "rate_per_gpu_hour",
            "threshold",
        ),
        "revenue_share": _object(
            {
                "steps": _list(
                    _object(
                        {
                            "from_year": _integer("First contract year of this step.", 1),
                            "rate": _decimal("Share of revenue.", minimum=0, maximum=1),
                        },
                        "from_year",
                        "rate",
                    ),
                    "A step-down schedule: from_year 1 first, years increasing, rates never rising.",
                )
            },
            "steps",
        ),
        "warrants": _object(
            {
                "strike": _decimal("Price per share; same in every version.", exclusiveMinimum=0),
                "expires": _date("First day on which no exercise is possible; same in every version."),
                "tranches": _list(
                    _object(
                        {
                            "id": _string("Tranche id, unique.", NAME_PATTERN),
                            "shares": _integer("Shares in the tranche.", 1),
                            "vests": {"$ref": "#/$defs/condition"},
                        },
                        "id",
                        "shares",
                        "vests",
                    ),
                    "Warrant tranches; ids and shares are the same in every version.",
                ),
            },
            "strike",
            "expires",
            "tranches",
        ),
    }


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one agreement version file (YAML or JSON)."""
    properties = {
        "schema": {"description": "Document format.", "const": "backstop/v1"},
        "agreement": _string("Agreement id; same in every version.", ID_PATTERN),
        "version": _integer("Version number; an agreement's versions are 1..N.", 1),
        "effective": _date("Version 1: term.start; later versions: the start of a settlement period."),
        "title": _string("Free text."),
        "parties": _object(
            {
                "provider": _string("The GPU cloud provider.", NAME_PATTERN),
                "guarantor": _string("The guarantor (chip vendor); distinct from the provider.", NAME_PATTERN),
            },
            "provider",
            "guarantor",
        ),
        "currency": _string("ISO 4217 code; same in every version.", r"^[A-Z]{3}$"),
        "term": _object(
            {"start": _date("First day of the term."), "end": _date("Day after the term.")}, "start", "end"
        ),
        "settlement": _settlement(),
        "pools": _list(
            _object(
                {
                    "id": _string("Pool id, unique.", NAME_PATTERN),
                    "gpu_model": _string("GPU model; keys backstop.rate_per_gpu_hour."),
                    "gpus": _integer("Number of GPUs.", 1),
                },
                "id",
                "gpu_model",
                "gpus",
            ),
            "GPU pools under the agreement.",
        ),
        **_clauses(),
    }
    required = ("schema", "agreement", "version", "effective", "parties", "currency", "term", "settlement", "pools")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "backstop/v1 agreement version",
        **_object(properties, *required),
        "anyOf": [{"required": ["backstop"]}, {"required": ["revenue_share"]}, {"required": ["warrants"]}],
        "$defs": {"condition": _condition()},
    }
