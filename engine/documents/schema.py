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

from engine.documents.model import CLAUSES
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


def _boolean(description: str) -> dict[str, Any]:
    return {"description": description, "type": "boolean"}


def _late_interest(description: str) -> dict[str, Any]:
    return _object(
        {
            "annual_rate": _decimal("Simple annual rate.", minimum=0, maximum=1),
            "day_count": _choice("Day count basis.", "ACT/365F", "ACT/360"),
        },
        "annual_rate",
        "day_count",
        description=description,
    )


def _amount_schedule(description: str) -> dict[str, Any]:
    """(v2) An amount per whole calendar month or quarter, by contract year."""
    return _list(
        _object(
            {
                "from_year": _integer("First contract year of this step.", 1),
                "amount": _decimal(
                    "Amount for a whole calendar month or quarter (a partial period gets its share of days); "
                    "at most settlement.rounding.places fraction digits.",
                    exclusiveMinimum=0,
                ),
            },
            "from_year",
            "amount",
        ),
        description + " from_year 1 first, years increasing; amounts may rise or fall.",
    )


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
            "late_interest": _late_interest("Interest on amounts paid after their due date (optional)."),
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
                ),
                "above_floor": _boolean(
                    "(backstop/v2) The share applies to the revenue above the period's floor (default false); "
                    "needs a revenue_floor in the same version."
                ),
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
        "revenue_floor": _object(
            {
                "steps": _amount_schedule("The revenue the provider is guaranteed per period:"),
                "cap": _decimal("Most the guarantor ever pays in top-ups (optional).", exclusiveMinimum=0),
            },
            "steps",
            description="(backstop/v2) Take-or-pay: the guarantor tops the provider's revenue up to a floor.",
        ),
        "guarantee": _object(
            {
                "debt_service": _amount_schedule("What the provider owes the lender per period:"),
                "covers": _decimal(
                    "Share of a defaulted amount the guarantor pays, 0 < c <= 1 (default 1).",
                    exclusiveMinimum=0,
                    maximum=1,
                ),
                "cure_days": _integer("Days after a debt service falls due before the lender may call (default 30).", 0, 365),
                "cap": _decimal("Most the guarantor ever pays on calls (optional).", exclusiveMinimum=0),
                "reimbursement": _object(
                    {
                        "payment_terms_days": _integer(
                            "Days from a call to the provider's reimbursement due date (default 0).", 0, 365
                        ),
                        "late_interest": _late_interest("Interest on a reimbursement paid late (optional; none when absent)."),
                    },
                    description="The terms on which the provider repays the guarantor.",
                ),
            },
            "debt_service",
            description="(backstop/v2) The guarantor's guarantee of the provider's debt service to parties.lender.",
        ),
    }


#: What a backstop/v1 file may not have, and what a guarantee needs (SPEC §3).
_V2_RULES = [
    {
        "if": {"properties": {"schema": {"const": "backstop/v1"}}, "required": ["schema"]},
        "then": {
            "properties": {
                "parties": {"properties": {"lender": False}},
                "revenue_share": {"properties": {"above_floor": False}},
                "revenue_floor": False,
                "guarantee": False,
            }
        },
    },
    {
        "if": {"required": ["guarantee"]},
        "then": {"properties": {"parties": {"required": ["lender"]}}},
    },
]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one agreement version file (YAML or JSON)."""
    properties = {
        "schema": _choice(
            "Document format; revenue_floor, guarantee, parties.lender and revenue_share.above_floor "
            "need backstop/v2.",
            "backstop/v1",
            "backstop/v2",
        ),
        "agreement": _string("Agreement id; same in every version.", ID_PATTERN),
        "version": _integer("Version number; an agreement's versions are 1..N.", 1),
        "effective": _date("Version 1: term.start; later versions: the start of a settlement period."),
        "title": _string("Free text."),
        "parties": _object(
            {
                "provider": _string("The GPU cloud provider.", NAME_PATTERN),
                "guarantor": _string("The guarantor (chip vendor); distinct from the provider.", NAME_PATTERN),
                "lender": _string(
                    "(backstop/v2) The lender whose debt service a guarantee covers; distinct from the others, "
                    "the same in every version.",
                    NAME_PATTERN,
                ),
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
        "title": "backstop agreement version (backstop/v1 or backstop/v2)",
        **_object(properties, *required),
        "anyOf": [{"required": [clause]} for clause in CLAUSES],
        "allOf": _V2_RULES,
        "$defs": {"condition": _condition()},
    }
