"""The JSON Schema for editors: it accepts the bundled and good documents, rejects some bad
ones, and names exactly the models' fields."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel

from engine.documents import model
from engine.documents.reader import read_version_file
from engine.documents.schema import json_schema

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
# The good fixtures and the bundled example documents.
DOCUMENTS = sorted(
    path
    for folder in (HERE / "good", ROOT / "contracts", ROOT / "examples")
    for path in folder.rglob("*")
    if path.suffix in (".yaml", ".yml", ".json")
)


def _file_value(path: Path):
    """A document as the schema sees it: dates are strings, as in a JSON file."""
    tree = read_version_file(path.read_bytes(), str(path)).tree

    def plain(value):
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value.isoformat() if isinstance(value, date) else value

    return plain(tree)


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_documents_validate_against_the_schema(validator, path):
    errors = [error.message for error in validator.iter_errors(_file_value(path))]
    assert errors == []


@pytest.mark.parametrize(
    "name",
    [
        "unknown_field.yaml",
        "threshold_above_one.yaml",
        "no_clause.yaml",
        "unknown_condition.yaml",
        "empty_all.yaml",
        "quoted_integer.yaml",
        "v2_clause_in_v1.yaml",
        "v2_field_in_v1.yaml",
        "guarantee_without_lender.yaml",
        "above_floor_not_boolean.yaml",
        "covers_above_one.yaml",
        "debt_service_empty.yaml",
    ],
)
def test_schema_rejects_bad_documents(validator, name):
    assert list(validator.iter_errors(_file_value(HERE / "bad" / name)))


# The schema object that describes each model, by its path of properties from the top.
OBJECTS = {
    (): model.AgreementDocument,
    ("parties",): model.Parties,
    ("term",): model.Term,
    ("settlement",): model.Settlement,
    ("settlement", "rounding"): model.Rounding,
    ("settlement", "late_interest"): model.LateInterest,
    ("pools", "items"): model.Pool,
    ("backstop",): model.Backstop,
    ("revenue_share",): model.RevenueShare,
    ("revenue_share", "steps", "items"): model.Step,
    ("warrants",): model.Warrants,
    ("warrants", "tranches", "items"): model.Tranche,
    ("revenue_floor",): model.RevenueFloor,
    ("revenue_floor", "steps", "items"): model.AmountStep,
    ("guarantee",): model.Guarantee,
    ("guarantee", "debt_service", "items"): model.AmountStep,
    ("guarantee", "reimbursement"): model.Reimbursement,
    ("guarantee", "reimbursement", "late_interest"): model.LateInterest,
}
CONDITIONS = [model.OnOrAfter, model.LeaseBackTotalAtLeast, model.VwapAtLeast, model.AllOf, model.AnyOf]


def _object_at(schema: dict, path: tuple[str, ...]) -> dict:
    for part in path:
        schema = schema[part] if part == "items" else schema["properties"][part]
    return schema


def _fields(model_class: type[BaseModel]) -> tuple[set[str], set[str]]:
    fields = model_class.model_fields
    return {field.alias or name for name, field in fields.items()}, {
        field.alias or name for name, field in fields.items() if field.is_required()
    }


@pytest.mark.parametrize("path", list(OBJECTS), ids=lambda path: ".".join(path) or "document")
def test_schema_objects_name_the_model_fields(path):
    schema = _object_at(json_schema(), path)
    names, required = _fields(OBJECTS[path])
    assert set(schema["properties"]) == names
    assert set(schema.get("required", ())) == required
    assert schema["additionalProperties"] is False


def test_schema_conditions_name_the_condition_fields():
    branches = json_schema()["$defs"]["condition"]["oneOf"]
    named = [(set(branch["properties"]), set(branch["required"])) for branch in branches]
    assert named == [_fields(condition) for condition in CONDITIONS]
