"""The exact reader: the bytes of one version file to a plain tree, with positions (SPEC §1, §3).

PyYAML types scalars by YAML 1.1 rules (`yes` is true, `010` is octal, `2.10` is a binary
float), which is not what SPEC asks. So PyYAML only *composes* here — nodes with positions and
scalar styles, no implicit typing — and `plain_value` types every plain scalar by the YAML 1.2
core schema as SPEC §1 restricts it:

| plain scalar                                   | value                                   |
|------------------------------------------------|-----------------------------------------|
| digits, maybe after `-` (`30`, `-1`, `007`)    | `int`                                   |
| digits `.` digits, maybe after `-` (`2.10`)    | `Decimal` of the text, exactly          |
| `YYYY-MM-DD`                                   | `date` (an impossible date is an error) |
| `true` `True` `TRUE` `false` `False` `FALSE`   | `bool`                                  |
| `~` `null` `Null` `NULL`, nothing              | error: explicit null                    |
| `+5` `.5` `5.` `0x1F` `0o17` `1e3` `.inf` `.nan` (the core schema's other numbers) | error naming the form |
| anything else (`yes`, `off`, `1_000`, `1:30`)  | `str`                                   |

Quoted and block scalars are always `str`. Explicit tags (`!!float 1`, `!x`) are errors, and
so are anchors and aliases (`&base`, `*base`): a version file is meant to be read top to
bottom by people who sign it, so every value is written out where it applies. Since YAML 1.2
gives the merge key `<<` no meaning, it is an ordinary (and unknown) field. Map keys must be
strings (a plain date reads as its text); a repeated key is an error naming both lines.

A `*.json` file must first be strict JSON (RFC 8259: no NaN or Infinity, no repeated key, no
byte-order mark); its values are then composed into the same nodes by a small JSON reader
(PyYAML does not read all JSON: a tab between tokens stops it) and typed by the same rules,
so `2.10` is the decimal 2.10 and `1e3` is an error in both formats.

The result is a plain tree of dict/list/scalars and two position maps, from a field path to
its (line, column), 1-based: `positions` holds where each value starts (for a value that is a
mapping or list, where its key starts, so that the line is the one its field is named on) and
`key_positions` where each mapping key starts.
"""

from __future__ import annotations

import bisect
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping

import yaml
from yaml.error import Mark
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.documents.errors import DocumentError, FieldPath, field_text

#: Position of a field: (line, column), both counted from 1.
Position = tuple[int, int]

#: Version files are a few kilobytes; a limit keeps a stray large file from being parsed.
FILE_BYTES_MAX = 1 << 20
#: No document integer comes near this; the bound keeps `int()` from its own (raising) limit.
INTEGER_TEXT_DIGITS_MAX = 100
#: Documents nest about five levels; the limit keeps recursion far from Python's own.
DEPTH_MAX = 64

NULL_MESSAGE = "explicit null is not allowed; leave the optional field out"

_UNTAGGED = "tag:backstop,2026:untagged"
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
# The YAML 1.2 core schema's other numeric forms, which SPEC §1 forbids.
_CORE_INFINITY = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_CORE_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
_CORE_HEXADECIMAL = re.compile(r"0x[0-9a-fA-F]+")
_CORE_OCTAL = re.compile(r"0o[0-7]+")
_CORE_NUMBER = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


class Invalid:
    """Stands in the tree for a value the reader rejected, so the model reports nothing twice."""

    def __repr__(self) -> str:
        return "<invalid>"


INVALID = Invalid()


@dataclass(frozen=True)
class ReadDocument:
    """One version file as read: its tree (None when unreadable), positions and errors.

    `invalid_paths` are the fields whose value or key the reader already reported; later
    stages stay silent about them and everything below them.
    """

    tree: dict[str, Any] | None
    positions: dict[FieldPath, Position]
    key_positions: dict[FieldPath, Position]
    invalid_paths: frozenset[FieldPath]
    errors: tuple[DocumentError, ...]


# ---------------------------------------------------------------------------------------------
# Scalars


class ScalarProblem(ValueError):
    """A plain scalar that SPEC §1 does not allow; the message names the form and the fix."""


def plain_value(text: str) -> Any:
    """The value of a plain (unquoted) scalar by the YAML 1.2 core schema as SPEC §1 restricts it.

    Raises `ScalarProblem` for nulls, impossible dates and the numeric forms SPEC forbids.
    """
    if _INTEGER.fullmatch(text):
        return _integer(text)
    if _DECIMAL.fullmatch(text):
        return Decimal(text)
    if _DATE.fullmatch(text):
        return _calendar_date(text)
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    if text in _NULLS:
        raise ScalarProblem(NULL_MESSAGE)
    problem = _forbidden_number_problem(text)
    if problem:
        raise ScalarProblem(problem)
    return text


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > INTEGER_TEXT_DIGITS_MAX:
        raise ScalarProblem(f"has {digits} digits; no number here has more than {INTEGER_TEXT_DIGITS_MAX}")
    return int(text)


def _calendar_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ScalarProblem(f"{text} is not a calendar date") from None


def _forbidden_number_problem(text: str) -> str | None:
    """Why `text`, a core-schema number in a form SPEC forbids, is an error; None if it is not one."""
    if _CORE_NAN.fullmatch(text):
        return f"{text} (not a number) is not allowed; write a decimal like 2.10"
    if _CORE_INFINITY.fullmatch(text):
        return f"{text} (infinity) is not allowed; write a decimal like 2.10"
    if _CORE_HEXADECIMAL.fullmatch(text):
        return f"{text} is a hexadecimal number, which is not allowed; write {int(text, 16)}"
    if _CORE_OCTAL.fullmatch(text):
        return f"{text} is an octal number, which is not allowed; write {int(text[2:], 8)}"
    if not _CORE_NUMBER.fullmatch(text):
        return None
    if "e" in text or "E" in text:
        return f"{text} has an exponent, which is not allowed; {_written_out(text)}"
    if text.startswith("+"):
        return f"{text} has a leading +, which is not allowed; write {text[1:]}"
    if text.lstrip("-").startswith("."):
        return f"{text} has no digit before the point; write {text.replace('.', '0.', 1)}"
    return f"{text} has no digit after the point; write {text[:-1]} or {text}0"


def _written_out(text: str) -> str:
    """The fix for an exponent: the same number written out, when it is short enough to show."""
    exponent = int(re.split("[eE]", text)[1])
    if abs(exponent) > 30:
        return "write the number out in digits"
    return f"write {Decimal(text.lstrip('+')):f}"


def _key_problem(text: str) -> str | None:
    """Why a plain map key is no string; None when it is one (a plain date reads as its text)."""
    try:
        value = plain_value(text)
    except ScalarProblem:
        value = None  # a null or a number in a form SPEC forbids
    if isinstance(value, (str, date)):
        return None
    if isinstance(value, bool):
        kind = "a boolean"
    elif value is None and text in _NULLS:
        kind = "null"
    else:
        kind = "a number"
    return f'the key {text or "(empty)"} reads as {kind}; map keys must be strings: quote it ("{text}")'


def _surrogate_problem(text: str) -> str | None:
    if any(unicodedata.category(character) == "Cs" for character in text):
        return "holds a lone surrogate code point, which is not Unicode text"
    return None


# ---------------------------------------------------------------------------------------------
# Composing YAML


class _ComposingLoader(yaml.SafeLoader):
    """PyYAML's safe composer with no implicit typing; it marks tags, anchors and aliases.

    Implicit resolvers are emptied so that no scalar is typed by YAML 1.1 rules; every
    untagged node gets `_UNTAGGED`, so any other tag was written explicitly.
    """

    yaml_implicit_resolvers: dict = {}

    def resolve(self, kind, value, implicit):  # noqa: ARG002 - every untagged node is the same
        return _UNTAGGED

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            # Aliases are rejected, so an alias becomes a marked placeholder and is never
            # looked up (an undefined alias is then reported the same way).
            self.get_event()
            node = ScalarNode(_UNTAGGED, "", event.start_mark, event.end_mark)
            node.backstop_problem = f"aliases (*{event.anchor}) are not allowed; write the value out"
            return node
        node = super().compose_node(parent, index)
        node.backstop_problem = _node_event_problem(event)
        return node


def _node_event_problem(event) -> str | None:
    if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.tag is not None:
        tag = event.tag.replace("tag:yaml.org,2002:", "!!", 1)
        return f"explicit tags ({tag}) are not allowed; write the value without a tag"
    if getattr(event, "anchor", None):
        return f"anchors (&{event.anchor}) are not allowed; write each value out where it applies"
    return None


def _compose_yaml(text: str) -> Node | None:
    return yaml.compose(text, Loader=_ComposingLoader)


def _yaml_syntax_error(file: str, error: yaml.YAMLError) -> DocumentError:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return DocumentError(file, None, None, "", message)
    return DocumentError(file, mark.line + 1, mark.column + 1, "", message)


# ---------------------------------------------------------------------------------------------
# Composing JSON


class _JsonProblem(ValueError):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_JSON_LITERALS = ("true", "false", "null")
_JSON_CONSTANTS = ("NaN", "Infinity", "-Infinity")


class _JsonComposer:
    """Strict JSON text (already checked by `json.loads`) to the nodes PyYAML would compose.

    Numbers, `true`, `false` and `null` become plain scalars and strings double-quoted ones,
    so the one tree builder types both formats alike.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def compose(self) -> Node:
        node, _ = self._node(_JSON_SPACE.match(self.text, 0).end(), depth=1)
        return node

    def mark(self, offset: int) -> Mark:
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return Mark("<json>", offset, line, offset - self.line_starts[line], None, None)

    def _node(self, offset: int, *, depth: int) -> tuple[Node, int]:
        if depth > DEPTH_MAX:
            raise _JsonProblem(offset, f"nested more than {DEPTH_MAX} levels deep")
        character = self.text[offset]
        if character == "{":
            return self._mapping(offset, depth)
        if character == "[":
            return self._sequence(offset, depth)
        if character == '"':
            value, end = json.decoder.scanstring(self.text, offset + 1)
            return ScalarNode(_UNTAGGED, value, self.mark(offset), self.mark(end), style='"'), end
        return self._plain(offset)

    def _plain(self, offset: int) -> tuple[Node, int]:
        for constant in _JSON_CONSTANTS:
            if self.text.startswith(constant, offset):
                raise _JsonProblem(offset, f"{constant} is not a JSON number; write a decimal like \"2.10\"")
        literal = next((word for word in _JSON_LITERALS if self.text.startswith(word, offset)), None)
        end = offset + len(literal) if literal else _JSON_NUMBER.match(self.text, offset).end()
        text = self.text[offset:end]
        return ScalarNode(_UNTAGGED, text, self.mark(offset), self.mark(end), style=None), end

    def _mapping(self, offset: int, depth: int) -> tuple[Node, int]:
        pairs = []
        position = self._skip(offset + 1)
        while self.text[position] != "}":
            key, position = self._node(position, depth=depth + 1)
            value, position = self._node(self._skip(self._skip(position) + 1), depth=depth + 1)
            pairs.append((key, value))
            position = self._skip(position)
            if self.text[position] == ",":
                position = self._skip(position + 1)
        node = MappingNode(_UNTAGGED, pairs, self.mark(offset), self.mark(position + 1), flow_style=True)
        return node, position + 1

    def _sequence(self, offset: int, depth: int) -> tuple[Node, int]:
        items = []
        position = self._skip(offset + 1)
        while self.text[position] != "]":
            item, position = self._node(position, depth=depth + 1)
            items.append(item)
            position = self._skip(position)
            if self.text[position] == ",":
                position = self._skip(position + 1)
        node = SequenceNode(_UNTAGGED, items, self.mark(offset), self.mark(position + 1), flow_style=True)
        return node, position + 1

    def _skip(self, offset: int) -> int:
        return _JSON_SPACE.match(self.text, offset).end()


def _strict_json_error(file: str, text: str) -> DocumentError | None:
    """The first way `text` is not RFC 8259 JSON, located; None when it is (NaN aside)."""
    try:
        json.loads(text, parse_int=str, parse_float=str)  # syntax only: numbers are typed later
    except json.JSONDecodeError as error:
        return DocumentError(file, error.lineno, error.colno, "", f"not valid JSON: {error.msg}")
    except RecursionError:
        return DocumentError(file, None, None, "", f"not valid JSON: nested more than {DEPTH_MAX} levels deep")
    return None


def _compose_json(file: str, text: str) -> tuple[Node | None, DocumentError | None]:
    syntax_error = _strict_json_error(file, text)
    if syntax_error:
        return None, syntax_error
    composer = _JsonComposer(text)
    try:
        return composer.compose(), None
    except _JsonProblem as problem:
        mark = composer.mark(problem.offset)
        return None, DocumentError(file, mark.line + 1, mark.column + 1, "", f"not valid JSON: {problem}")


# ---------------------------------------------------------------------------------------------
# Nodes to the tree


def _position(node: Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _TreeBuilder:
    """Walks composed nodes into a plain tree, typing scalars and collecting every problem."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[FieldPath, Position] = {}
        self.key_positions: dict[FieldPath, Position] = {}
        self.invalid: set[FieldPath] = set()
        self.errors: list[DocumentError] = []

    def problem(self, node: Node, path: FieldPath, message: str, *, invalid: bool = True) -> Invalid:
        line, column = _position(node)
        self.errors.append(DocumentError(self.file, line, column, field_text(path), message))
        if invalid:
            self.invalid.add(path)
        return INVALID

    def value(self, node: Node, path: FieldPath, depth: int = 1) -> Any:
        if getattr(node, "backstop_problem", None):
            return self.problem(node, path, node.backstop_problem)
        if depth > DEPTH_MAX:
            return self.problem(node, path, f"nested more than {DEPTH_MAX} levels deep")
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return self.sequence(node, path, depth)
        return self.scalar(node, path)

    def scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        problem = _surrogate_problem(node.value)
        if problem:
            return self.problem(node, path, problem)
        if node.style is not None:
            return node.value
        try:
            return plain_value(node.value)
        except ScalarProblem as error:
            return self.problem(node, path, str(error))

    def sequence(self, node: SequenceNode, path: FieldPath, depth: int) -> list[Any]:
        items = []
        for index, item in enumerate(node.value):
            self.positions[path + (index,)] = _position(item)
            items.append(self.value(item, path + (index,), depth + 1))
        return items

    def mapping(self, node: MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        entries: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            child = path + (key,)
            if key in entries:
                self.repeated(key_node, child)
                continue
            self.key_positions[child] = _position(key_node)
            is_collection = isinstance(value_node, (MappingNode, SequenceNode))
            self.positions[child] = _position(key_node if is_collection else value_node)
            entries[key] = self.value(value_node, child, depth + 1)
        return entries

    def key(self, node: Node, path: FieldPath) -> str | None:
        """The text of a map key; None (reported) when the key is a mapping, list, tag or alias.

        A plain key that reads as a number, boolean or null is reported but kept as its text,
        so that the rest of the document is checked as if it had been quoted.
        """
        problem = getattr(node, "backstop_problem", None)
        if problem or not isinstance(node, ScalarNode):
            self.problem(node, path, problem or "map keys must be strings", invalid=False)
            return None
        if node.style is None:
            problem = _key_problem(node.value)
            if problem:
                self.problem(node, path + (node.value,), problem)
        return node.value

    def repeated(self, node: Node, path: FieldPath) -> None:
        first_line = self.key_positions[path][0]
        line = _position(node)[0]
        message = f"repeated key (first on line {first_line}, again on line {line}); keep one"
        self.problem(node, path, message, invalid=False)


# ---------------------------------------------------------------------------------------------
# The stage


def read_version_file(data: bytes, file: str, *, example: str = "schema: backstop/v1") -> ReadDocument:
    """Read one version file's bytes exactly; `file` names it in errors and picks the format.

    Pure: the caller reads the bytes (and hashes them), so this never touches the disk.
    `example` is the first line of such a file, for the message about a file that is not a
    mapping (other files read the same way, such as a simulation model, give their own).
    """
    text, error = _decoded(data, file)
    if error is None:
        root, error = _composed(text, file)
    if error is None and root is None:
        message = f"the file is empty; expected a mapping like `{example}`"
        error = DocumentError(file, None, None, "", message)
    if error is None and not isinstance(root, MappingNode):
        line, column = _position(root)
        message = f"the top level must be a mapping of fields like `{example}`"
        error = DocumentError(file, line, column, "", message)
    if error is not None:
        return ReadDocument(None, {}, {}, frozenset(), (error,))
    builder = _TreeBuilder(file)
    builder.positions[()] = _position(root)
    tree = builder.value(root, ())
    invalid = frozenset(builder.invalid)
    return ReadDocument(tree, builder.positions, builder.key_positions, invalid, tuple(builder.errors))


def _decoded(data: bytes, file: str) -> tuple[str, DocumentError | None]:
    if len(data) > FILE_BYTES_MAX:
        message = f"the file has {len(data)} bytes; at most {FILE_BYTES_MAX} allowed"
        return "", DocumentError(file, None, None, "", message)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = len(data[data.rfind(b"\n", 0, error.start) + 1 : error.start].decode("utf-8", "replace")) + 1
        message = f"not valid UTF-8 (byte 0x{data[error.start]:02x}); save the file as UTF-8"
        return "", DocumentError(file, line, column, "", message)


def _composed(text: str, file: str) -> tuple[Node | None, DocumentError | None]:
    if file.endswith(".json"):
        return _compose_json(file, text)
    try:
        return _compose_yaml(text), None
    except yaml.YAMLError as error:
        return None, _yaml_syntax_error(file, error)
    except RecursionError:
        return None, DocumentError(file, None, None, "", f"nested too deeply; at most {DEPTH_MAX} levels allowed")


# ---------------------------------------------------------------------------------------------
# Python values (the Python API)


def read_mapping(value: Any, name: str) -> ReadDocument:
    """One version document given as Python values, checked as the file reader checks text.

    Accepted: `str`, `int`, `bool`, `Decimal`, `date`, lists or tuples, and mappings with
    string keys. A `float` is rejected because it is not exact, `None` because null is never
    a value, a `datetime` because a date field holds a day. There are no lines to point at.
    """
    if not isinstance(value, Mapping):
        message = f"expected a mapping (one version document); got {type(value).__name__}"
        return ReadDocument(None, {}, {}, frozenset(), (DocumentError(name, None, None, "", message),))
    builder = _ValueBuilder(name)
    tree = builder.value(value, (), 1)
    return ReadDocument(tree, {}, {}, frozenset(builder.invalid), tuple(builder.errors))


class _ValueBuilder:
    """Copies Python values into a plain tree, collecting every value SPEC does not allow."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.invalid: set[FieldPath] = set()
        self.errors: list[DocumentError] = []

    def problem(self, path: FieldPath, message: str) -> Invalid:
        self.errors.append(DocumentError(self.name, None, None, field_text(path), message))
        self.invalid.add(path)
        return INVALID

    def value(self, value: Any, path: FieldPath, depth: int) -> Any:
        if depth > DEPTH_MAX:
            return self.problem(path, f"nested more than {DEPTH_MAX} levels deep")
        if isinstance(value, Mapping):
            return self.mapping(value, path, depth)
        if isinstance(value, (list, tuple)):
            return [self.value(item, path + (index,), depth + 1) for index, item in enumerate(value)]
        problem = _python_scalar_problem(value)
        return self.problem(path, problem) if problem else value

    def mapping(self, value: Mapping, path: FieldPath, depth: int) -> dict[str, Any]:
        entries = {}
        for key, item in value.items():
            text = key if isinstance(key, str) else str(key)
            if not isinstance(key, str):
                self.problem(path + (text,), f"map keys must be strings; got {key!r} ({type(key).__name__})")
            entries[text] = self.value(item, path + (text,), depth + 1)
        return entries


def _python_scalar_problem(value: Any) -> str | None:
    if value is None:
        return NULL_MESSAGE
    if isinstance(value, float):
        return f'{value!r} is a binary float, which is not exact; give decimals as strings like "2.10" or as Decimal'
    if isinstance(value, datetime):
        return f"expected a date; got the datetime {value.isoformat()} (give a date or \"YYYY-MM-DD\")"
    if isinstance(value, str):
        return _surrogate_problem(value)
    if isinstance(value, (bool, int, Decimal, date)):
        return None
    return f"unsupported value of type {type(value).__name__}; use str, int, Decimal, date, lists and mappings"
