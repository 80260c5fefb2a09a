"""Agreement documents as files: exact YAML (or JSON) text and an agreement folder (SPEC §3).

The strategies make version documents as Python mappings; the command line reads folders of
version files. These writers turn one into the other without losing exactness: a `Decimal`
is written as its own text (`Decimal("2.50")` as the plain scalar `2.50`, never a binary
float), a date as a plain `YYYY-MM-DD`, integers plain, and every string quoted, so that a
name such as `2080` or `yes` stays a string under the YAML 1.2 core schema.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Sequence

#: A key written without quotes: plain words that the core schema reads as strings.
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_STRING_WORDS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "y", "n"})
_INDENT = "  "


def agreement_yaml_text(document: Mapping[str, Any]) -> str:
    """One version document as YAML text that reads back to the same values, exactly."""
    _check_mapping(document, "document")
    return "\n".join(_yaml_mapping_lines(document, 0)) + "\n"


def agreement_json_text(document: Mapping[str, Any]) -> str:
    """One version document as JSON text; decimals are JSON numbers written as their text."""
    _check_mapping(document, "document")
    return _json_value(document, 0) + "\n"


def write_agreement_folder(
    documents: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    parent: str | os.PathLike[str],
    *,
    format: str = "yaml",
    folder_name: str | None = None,
) -> Path:
    """Write an agreement's version documents as `v1.yaml`, `v2.yaml`, … in a new folder.

    The folder is `parent/folder_name` (default: the agreement id) and is returned; pass it,
    or `parent` when it holds only agreement folders, as CONTRACTS. `format` is `"yaml"` or
    `"json"`.
    """
    if format not in ("yaml", "json"):
        raise ValueError(f'format must be "yaml" or "json"; got {format!r}')
    versions = [documents] if isinstance(documents, Mapping) else list(documents)
    if not versions:
        raise ValueError("documents must hold at least one version document")
    for index, document in enumerate(versions):
        _check_mapping(document, f"documents[{index}]")
    agreement = versions[0].get("agreement")
    name = folder_name or (agreement if isinstance(agreement, str) and agreement else "agreement")
    folder = Path(parent) / name
    folder.mkdir(parents=True, exist_ok=False)
    for index, document in enumerate(versions, start=1):
        number = document.get("version", index)
        if format == "yaml":
            (folder / f"v{number}.yaml").write_text(agreement_yaml_text(document), encoding="utf-8")
        else:
            (folder / f"v{number}.json").write_text(agreement_json_text(document), encoding="utf-8")
    return folder


# ---- YAML ------------------------------------------------------------------------------------


def _yaml_mapping_lines(mapping: Mapping[str, Any], depth: int) -> list[str]:
    pad = _INDENT * depth
    lines: list[str] = []
    for key, value in mapping.items():
        head = f"{pad}{_yaml_key(key)}:"
        if isinstance(value, Mapping) and value:
            lines.append(head)
            lines.extend(_yaml_mapping_lines(value, depth + 1))
        elif isinstance(value, (list, tuple)) and value:
            lines.append(head)
            lines.extend(_yaml_list_lines(value, depth + 1))
        else:
            lines.append(f"{head} {_yaml_scalar(value)}")
    return lines


def _yaml_list_lines(items: Sequence[Any], depth: int) -> list[str]:
    pad = _INDENT * depth
    lines: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            # The item's mapping is written two columns in, its first line behind the dash.
            inner = _yaml_mapping_lines(item, depth + 1)
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines.extend(inner[1:])
        elif isinstance(item, (list, tuple)) and item:
            inner = _yaml_list_lines(item, depth + 1)
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines.extend(inner[1:])
        else:
            lines.append(f"{pad}- {_yaml_scalar(item)}")
    return lines


def _yaml_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"map keys must be strings; got {key!r}")
    if _PLAIN_KEY.fullmatch(key) and key not in _NOT_STRING_WORDS:
        return key
    return _quoted(key)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} exactly; use str, int, Decimal, date, lists and mappings")


def _quoted(text: str) -> str:
    """A double-quoted YAML scalar: JSON escapes are YAML escapes for these characters."""
    return json.dumps(text, ensure_ascii=False)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"a document decimal must be finite; got {value}")
    return f"{value:f}"


# ---- JSON ------------------------------------------------------------------------------------


def _json_value(value: Any, depth: int) -> str:
    pad, inner = _INDENT * depth, _INDENT * (depth + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        members = [f"{inner}{json.dumps(key, ensure_ascii=False)}: {_json_value(item, depth + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(members) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(f"{inner}{_json_value(item, depth + 1)}" for item in value) + f"\n{pad}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} exactly; use str, int, Decimal, date, lists and mappings")


def _check_mapping(document: Any, name: str) -> None:
    if not isinstance(document, Mapping):
        raise TypeError(f"{name} must be a mapping (one version document); got {type(document).__name__}")
