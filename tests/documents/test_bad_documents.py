"""One broken fixture per kind of error, each with where its error is and the words it must say.

The table is `bad/cases.yaml`. A fixture that is a file is loaded alone; a folder is loaded
as CONTRACTS. Each fixture has exactly one problem, so each must yield exactly one error:
a second one would be noise.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.documents.errors import DocumentErrors
from engine.documents.loader import load_agreements, load_version_file

BAD = Path(__file__).parent / "bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text(encoding="utf-8"))


def _load(path: Path) -> None:
    if path.is_dir():
        load_agreements(path)
    else:
        load_version_file(path)


@pytest.mark.parametrize("case", CASES, ids=[case["path"] for case in CASES])
def test_bad_document_reports_one_located_error(case):
    path = BAD / case["path"]
    with pytest.raises(DocumentErrors) as raised:
        _load(path)
    errors = raised.value.errors
    assert len(errors) == 1, str(raised.value)
    error = errors[0]
    expected_file = path / case["file"] if "file" in case else path
    assert Path(error.file) == expected_file
    assert error.line == case.get("line")
    if "column" in case:
        assert error.column == case["column"]
    assert error.field == case["field"]
    for words in case["words"]:
        assert words in error.message, str(error)


def test_every_fixture_has_a_case():
    listed = {case["path"] for case in CASES}
    present = {entry.name for entry in BAD.iterdir() if entry.name != "cases.yaml"}
    assert present == listed
