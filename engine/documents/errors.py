"""Document errors as values: where a problem is (file, line, column, field path) and why.

A bad document is an expected condition, not a bug, so the stages of a load collect these
values and the loader raises them all together in one `DocumentErrors` (SPEC §3: "all errors
of a load are reported together").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable, Union

#: A field path inside one document: mapping keys and list indices, from the top.
FieldPath = tuple[Union[str, int], ...]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def field_text(path: FieldPath) -> str:
    """A field path as users write it: `backstop.rate_per_gpu_hour.H200`, `pools[1].gpus`.

    List indices count from 0. A key that would read ambiguously after a dot (it holds a dot,
    a space, …) is written in brackets as a JSON string: `rate_per_gpu_hour["A100 80GB"]`.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text


@dataclass(frozen=True, slots=True)
class DocumentError:
    """One problem of one document, located as precisely as the format allows.

    `line` and `column` count from 1 and are None where the input has no lines (a Python
    mapping) or the problem belongs to a whole file or folder. `field` is "" for those too.
    """

    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def sort_key(self) -> tuple:
        """Errors are shown by file, then in reading order within a file."""
        return (self.file, self.line or 0, self.column or 0, self.field, self.message)


class DocumentErrors(Exception):
    """Every error of one load; raised only after every document has been checked."""

    def __init__(self, errors: Iterable[DocumentError]) -> None:
        self.errors: tuple[DocumentError, ...] = tuple(sorted(set(errors), key=DocumentError.sort_key))
        super().__init__("\n".join(str(error) for error in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)
