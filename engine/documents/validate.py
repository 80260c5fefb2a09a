"""Validation of one read document against the model, with every error located and explained.

Pydantic reports errors by a location tuple in its own words. This stage turns each into a
`DocumentError`: the location becomes a field path (without the union tags pydantic inserts
for conditions), the path finds a line and column in the reader's position map (or, for a
missing field, the nearest enclosing field that has one), and the message is rewritten to say
what was expected and what was found. Errors that only echo a problem already reported are
dropped (a field the reader rejected; a list reported too short because its items failed).
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from pydantic import BaseModel, ValidationError

from engine.documents.errors import DocumentError, FieldPath, field_text
from engine.documents.model import AgreementDocument, RuleError, shown
from engine.documents.reader import Position


@dataclass(frozen=True)
class Located:
    """How to locate a field of one document: its file, and its positions when it has lines."""

    file: str
    positions: Mapping[FieldPath, Position]
    key_positions: Mapping[FieldPath, Position]

    def position(self, path: FieldPath, *, at_key: bool = False) -> tuple[int | None, int | None]:
        """The field's own position, or that of its nearest enclosing field that has one."""
        if at_key and path in self.key_positions:
            return self.key_positions[path]
        for length in range(len(path), -1, -1):
            if path[:length] in self.positions:
                return self.positions[path[:length]]
        return (None, None)

    def error(self, path: FieldPath, message: str, *, at_key: bool = False) -> DocumentError:
        line, column = self.position(path, at_key=at_key)
        return DocumentError(self.file, line, column, field_text(path), message)


def validate_document(
    tree: Mapping[str, Any], where: Located, invalid_paths: frozenset[FieldPath] = frozenset()
) -> tuple[AgreementDocument | None, list[DocumentError]]:
    """The document of a read tree, or None with its errors; `invalid_paths` were reported already."""
    return validate_tree(AgreementDocument, tree, where, invalid_paths)


def validate_tree(
    model: type[BaseModel], tree: Mapping[str, Any], where: Located, invalid_paths: frozenset[FieldPath] = frozenset()
) -> tuple[Any, list[DocumentError]]:
    """`validate_document` for another file read the same way (a simulation model): the
    `model` of a read tree, or None with its errors located and explained alike."""
    try:
        return model.model_validate(tree), []
    except ValidationError as exc:
        errors = [
            where.error(path, message, at_key=at_key)
            for error in exc.errors(include_url=False)
            for path, message, at_key in _explained(error, model)
            if not _under(path, invalid_paths)
        ]
        return None, errors


def _under(path: FieldPath, invalid_paths: frozenset[FieldPath]) -> bool:
    return any(path[: len(invalid)] == invalid for invalid in invalid_paths)


# ---------------------------------------------------------------------------------------------
# Messages


def _explained(error: Mapping[str, Any], root: type[BaseModel]) -> Iterator[tuple[FieldPath, str, bool]]:
    """(field path, message, whether to point at the key) for one pydantic error; maybe none."""
    path, owner, is_key = _field_path(error["loc"], root)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), RuleError):
        for relative, message in ctx["error"].problems:
            yield path + relative, message, False
        return
    if kind == "too_short" and _has_items(error["input"], ctx.get("min_length", 1)):
        return  # the items are there but some failed: each of them is reported on its own
    explain = _EXPLAIN.get(kind, _pydantic_message)
    message = explain(error, owner)
    yield path, (f"map key: {message}" if is_key else message), kind == "extra_forbidden" or is_key


def _has_items(value: Any, count: int) -> bool:
    return isinstance(value, (list, tuple)) and len(value) >= count


def _pydantic_message(error: Mapping[str, Any], owner: type[BaseModel] | None) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _unknown_field(error: Mapping[str, Any], owner: type[BaseModel] | None) -> str:
    name = str(error["loc"][-1])
    known = _field_names(owner) if owner else []
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown field (did you mean {close[0]}?)"
    return f"unknown field; expected one of {', '.join(known)}" if known else "unknown field"


def _missing(error: Mapping[str, Any], owner: type[BaseModel] | None) -> str:
    return "required field is missing"


def _literal(error: Mapping[str, Any], owner: type[BaseModel] | None) -> str:
    expected = str(error["ctx"]["expected"]).replace("'", "")
    return f"must be {expected}; got {shown(error['input'])}"


def _not_mapping(error: Mapping[str, Any], owner: type[BaseModel] | None) -> str:
    return f"expected a mapping of fields; got {shown(error['input'])}"


def _not_list(error: Mapping[str, Any], owner: type[BaseModel] | None) -> str:
    return f"expected a list; got {shown(error['input'])}"


def _empty(error: Mapping[str, Any], owner: type[BaseModel] | None) -> str:
    return "must not be empty; give at least one item"


def _condition(error: Mapping[str, Any], owner: type[BaseModel] | None) -> str:
    value = error["input"]
    got = f"the fields {', '.join(value)}" if isinstance(value, dict) else shown(value)
    return f"{error['msg']}; got {got}"


_EXPLAIN: dict[str, Callable[[Mapping[str, Any], type[BaseModel] | None], str]] = {
    "extra_forbidden": _unknown_field,
    "missing": _missing,
    "literal_error": _literal,
    "model_type": _not_mapping,
    "model_attributes_type": _not_mapping,
    "dict_type": _not_mapping,
    "tuple_type": _not_list,
    "list_type": _not_list,
    "too_short": _empty,
    "condition": _condition,
}


# ---------------------------------------------------------------------------------------------
# Locations


def _field_path(loc: tuple, root: type[BaseModel]) -> tuple[FieldPath, type[BaseModel] | None, bool]:
    """A pydantic location as a document field path, the model owning its last field, and
    whether it names a map key (`[key]`).

    The location is walked along the model's types, which tells a union tag (not a field:
    dropped) from a field and names the model whose fields an unknown field is compared to.
    """
    annotation: Any = root
    path: list[str | int] = []
    owner: type[BaseModel] | None = None
    for segment in loc:
        annotation = _without_wrappers(annotation)
        tagged = _tagged_member(annotation, segment)
        if tagged is not None:
            annotation = tagged
            continue
        if segment == "[key]":
            return tuple(path), owner, True
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            owner = annotation
        annotation = _child_annotation(annotation, segment)
        path.append(segment)
    return tuple(path), owner, False


def _without_wrappers(annotation: Any) -> Any:
    """`Annotated[X, …]` and `X | None` to X, repeatedly."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            members = [member for member in typing.get_args(annotation) if member is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _tagged_member(annotation: Any, segment: Any) -> Any:
    """The member of a tagged union (the conditions) whose tag is `segment`, or None."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    for member in typing.get_args(annotation):
        metadata = getattr(member, "__metadata__", ())
        if any(getattr(item, "tag", None) == segment for item in metadata):
            return member
    return None


def _child_annotation(annotation: Any, segment: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {field.alias or name: field for name, field in annotation.model_fields.items()}
        return fields[segment].annotation if segment in fields else None
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and arguments:
        return arguments[0]
    if origin is dict and arguments:
        return arguments[1]
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]
