"""The loader: folder layouts of SPEC §3, valid documents, errors collected and located,
cross-version rules, and the Python API."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.documents.errors import DocumentError, DocumentErrors
from engine.documents.loader import (
    LoadedAgreement,
    LoadedVersion,
    load_agreements,
    load_agreements_from_files,
    load_agreements_from_mappings,
    load_version_file,
)
from engine.documents.model import AgreementDocument, OnOrAfter

HERE = Path(__file__).parent
GOOD = HERE / "good"
CONTRACTS = HERE.parents[1] / "contracts"
BACKSTOP = (GOOD / "backstop.yaml").read_text(encoding="utf-8")


def document_text(agreement: str = "good-backstop", *, version: int = 1, effective: str = "2026-01-01") -> str:
    return (
        BACKSTOP.replace("agreement: good-backstop", f"agreement: {agreement}")
        .replace("version: 1", f"version: {version}")
        .replace("effective: 2026-01-01", f"effective: {effective}")
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path) -> tuple[DocumentError, ...]:
    """The errors of loading `path` as CONTRACTS, or of loading one version file."""
    with pytest.raises(DocumentErrors) as raised:
        load_version_file(path) if Path(path).suffix else load_agreements(path)
    return raised.value.errors


# ---------------------------------------------------------------------------------------------
# Valid documents


@pytest.mark.parametrize("path", sorted(GOOD.glob("*.*")), ids=lambda path: path.name)
def test_good_documents_load(path):
    version = load_version_file(path)
    assert version.number == 1
    assert version.path == str(path)
    assert version.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_defaults_are_filled_in():
    document = load_version_file(GOOD / "backstop.yaml").document
    assert document.settlement.payment_terms_days == 30
    assert (document.settlement.rounding.places, document.settlement.rounding.mode) == (2, "half_even")
    assert document.settlement.late_interest is None
    assert document.settlement.lock_after_periods is None
    assert document.backstop.covers == "shortfall"
    assert document.backstop.cap is None
    assert document.title is None


def test_values_are_exact_and_typed():
    document = load_version_file(GOOD / "backstop_revenue_share.yaml").document
    assert document.backstop.rate_per_gpu_hour == {"H200": Decimal("2.10"), "B300 (air-cooled)": Decimal(2)}
    assert document.backstop.cap.as_tuple() == Decimal("9000000.125").as_tuple()
    assert document.revenue_share.steps[0].rate == Decimal("0.10")
    assert document.term.start == date(2026, 1, 1)
    assert isinstance(document.pools, tuple)


def test_nested_conditions_are_typed():
    tranches = load_version_file(GOOD / "warrants.yaml").document.warrants.tranches
    combined = tranches[3].vests
    assert combined.all[0] == OnOrAfter(on_or_after=date(2027, 1, 1))
    assert combined.all[1].any[2].all[0].on_or_after == date(2028, 1, 1)
    assert tranches[2].vests.days == 20


def test_two_version_agreement():
    (agreement,) = load_agreements(GOOD / "two_versions")
    assert isinstance(agreement, LoadedAgreement)
    assert agreement.id == "good-two-versions"
    assert [version.number for version in agreement.versions] == [1, 2]
    assert all(isinstance(version, LoadedVersion) for version in agreement.versions)
    assert agreement.versions[1].document.warrants.strike == Decimal("40.00")


@pytest.mark.skipif(not CONTRACTS.is_dir(), reason="no bundled contracts")
def test_bundled_contracts_load():
    agreements = load_agreements(CONTRACTS)
    assert [agreement.id for agreement in agreements] == sorted(agreement.id for agreement in agreements)


# ---------------------------------------------------------------------------------------------
# Folder layouts


def test_one_agreement_folder_ignores_its_sub_folders_and_other_files(tmp_path):
    write(tmp_path / "v1.yaml", document_text("a"))
    write(tmp_path / "notes.txt", "not a version")
    write(tmp_path / "V2.YAML", "ignored: upper-case extension")
    write(tmp_path / ".v3.yaml", "ignored: hidden")
    write(tmp_path / "old" / "v9.yaml", "ignored: sub-folder of an agreement folder")
    (agreement,) = load_agreements(tmp_path)
    assert agreement.id == "a"
    assert [version.path for version in agreement.versions] == [str(tmp_path / "v1.yaml")]


def test_folder_of_agreement_folders_sorted_by_id(tmp_path):
    write(tmp_path / "first" / "v1.yml", document_text("zeta"))
    write(tmp_path / "second" / "v1.json", json.dumps(json.loads(json.dumps(_as_json(document_text("alpha"))))))
    write(tmp_path / ".hidden" / "junk.txt", "ignored")
    write(tmp_path / "README.md", "ignored")
    agreements = load_agreements(str(tmp_path))
    assert [agreement.id for agreement in agreements] == ["alpha", "zeta"]


def _as_json(yaml_text: str) -> dict:
    """A YAML document as the equivalent JSON value, decimals and dates as strings."""
    from engine.documents.reader import read_version_file

    tree = read_version_file(yaml_text.encode(), "x.yaml").tree
    return json.loads(json.dumps(tree, default=str))


def test_yaml_and_json_versions_of_a_document_are_equal(tmp_path):
    text = document_text("same")
    from_yaml = load_version_file(write(tmp_path / "a.yaml", text)).document
    from_json = load_version_file(write(tmp_path / "b.json", json.dumps(_as_json(text)))).document
    assert from_yaml == from_json


def test_missing_path_is_an_error(tmp_path):
    (error,) = errors_of(tmp_path / "nope")
    assert (error.file, error.line, error.field) == (str(tmp_path / "nope"), None, "")
    assert "no such folder" in error.message


def test_file_instead_of_folder_is_an_error(tmp_path):
    file = write(tmp_path / "v1.yaml", document_text())
    with pytest.raises(DocumentErrors) as raised:
        load_agreements(file)
    (error,) = raised.value.errors
    assert "not a folder" in error.message


def test_empty_folder_yields_no_agreement(tmp_path):
    write(tmp_path / "notes.txt", "")
    (error,) = errors_of(tmp_path)
    assert "no agreement found" in error.message


def test_sub_folder_without_version_file_is_an_error(tmp_path):
    write(tmp_path / "a" / "v1.yaml", document_text("a"))
    (tmp_path / "b").mkdir()
    (error,) = errors_of(tmp_path)
    assert error.file == str(tmp_path / "b")
    assert "without a version file" in error.message


def test_folder_name_need_not_equal_the_agreement_id(tmp_path):
    write(tmp_path / "whatever" / "v1.yaml", document_text("a"))
    assert load_agreements(tmp_path)[0].id == "a"


# ---------------------------------------------------------------------------------------------
# Errors collected together


def test_three_problems_in_one_file_are_reported_at_once(tmp_path):
    text = (
        document_text()
        .replace("currency: USD", "currency: usd")  # 1: pattern
        .replace("  period: monthly\n", "  period: monthly\n  rounding: {mode: half_up, extra: 1}\n")  # 2: unknown
        .replace("threshold: 0.80", "threshold: ~")  # 3: explicit null
    )
    errors = errors_of(write(tmp_path / "v1.yaml", text))
    assert [(error.line, error.field) for error in errors] == [
        (10, "currency"),
        (16, "settlement.rounding.extra"),
        (25, "backstop.threshold"),
    ]
    assert "currency code" in errors[0].message
    assert "unknown field" in errors[1].message
    assert "explicit null" in errors[2].message


def test_errors_of_every_file_and_folder_are_reported_together(tmp_path):
    write(tmp_path / "a" / "v1.yaml", document_text("a").replace("gpus: 64", "gpus: 0"))
    write(tmp_path / "b" / "v1.yaml", document_text("b").replace("H200: 2.50", "H200: 0"))
    write(tmp_path / "c" / "v1.yaml", document_text("c"))
    (tmp_path / "d").mkdir()
    errors = errors_of(tmp_path)
    assert [Path(error.file).relative_to(tmp_path).as_posix() for error in errors] == ["a/v1.yaml", "b/v1.yaml", "d"]


def test_numbering_rules_wait_until_every_version_reads(tmp_path):
    # v2 is broken on its own; "version 2 is missing" would only repeat that, so it is not said.
    write(tmp_path / "v1.yaml", document_text("a"))
    write(tmp_path / "v2.yaml", document_text("a", version=2, effective="2026-07-01").replace("gpus: 64", "gpus: x"))
    write(tmp_path / "v3.yaml", document_text("a", version=3, effective="2026-09-01"))
    (error,) = errors_of(tmp_path)
    assert error.field == "pools[0].gpus"


def test_a_nested_error_yields_no_noise_about_its_list(tmp_path):
    text = document_text().replace("gpus: 64", "gpus: -1")
    (error,) = errors_of(write(tmp_path / "v1.yaml", text))
    assert error.field == "pools[0].gpus"


def test_effective_must_be_a_later_period_start(tmp_path):
    write(tmp_path / "v1.yaml", document_text("a"))
    write(tmp_path / "v2.yaml", document_text("a", version=2, effective="2026-03-01"))
    write(tmp_path / "v3.yaml", document_text("a", version=3, effective="2026-02-01"))
    (error,) = errors_of(tmp_path)
    assert (Path(error.file).name, error.field) == ("v3.yaml", "effective")
    assert "must be later than version 2's effective date (2026-03-01)" in error.message


def test_same_fields_compare_after_defaults(tmp_path):
    write(tmp_path / "v1.yaml", document_text("a"))
    explicit = document_text("a", version=2, effective="2026-07-01").replace(
        "  period: monthly\n", "  period: monthly\n  rounding:\n    places: 2\n    mode: half_even\n"
    )
    write(tmp_path / "v2.yaml", explicit)
    assert [version.number for version in load_agreements(tmp_path)[0].versions] == [1, 2]


# ---------------------------------------------------------------------------------------------
# Error values


def test_document_error_text():
    located = DocumentError("a.yaml", 3, 7, "backstop.cap", "must be > 0; got 0")
    assert str(located) == "a.yaml:3:7: backstop.cap: must be > 0; got 0"
    assert str(DocumentError("a.yaml", None, None, "", "the file is empty")) == "a.yaml: the file is empty"
    without_lines = DocumentError("<mapping>[0]", None, None, "pools[1].gpus", "must be >= 1")
    assert str(without_lines) == "<mapping>[0]: pools[1].gpus: must be >= 1"


def test_document_errors_are_sorted_one_per_line():
    errors = DocumentErrors(
        [DocumentError("b", 1, 1, "x", "m"), DocumentError("a", 9, 1, "", "n"), DocumentError("a", 2, 5, "y", "o")]
    )
    assert str(errors) == "a:2:5: y: o\na:9:1: n\nb:1:1: x: m"


def test_model_rules_hold_for_documents_built_in_python():
    with pytest.raises(ValidationError, match="must differ from parties.provider"):
        AgreementDocument.model_validate(_mapping() | {"parties": {"provider": "P", "guarantor": "P"}})


# ---------------------------------------------------------------------------------------------
# Python API


def _mapping(**changes) -> dict:
    mapping = {
        "schema": "backstop/v1",
        "agreement": "py",
        "version": 1,
        "effective": date(2026, 1, 1),
        "parties": {"provider": "P", "guarantor": "G"},
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": date(2027, 1, 1)},
        "settlement": {"period": "monthly"},
        "pools": [{"id": "p1", "gpu_model": "H200", "gpus": 8}],
        "backstop": {"rate_per_gpu_hour": {"H200": Decimal("2.50")}, "threshold": "0.80"},
    }
    return mapping | changes


def test_mappings_load_like_files():
    second = _mapping(version=2, effective=date(2026, 4, 1))
    other = _mapping(agreement="another")
    agreements = load_agreements_from_mappings([second, other, _mapping()])
    assert [agreement.id for agreement in agreements] == ["another", "py"]
    assert [version.path for version in agreements[1].versions] == ["<mapping>[2]", "<mapping>[0]"]
    assert agreements[1].versions[0].document.backstop.threshold == Decimal("0.80")


def test_mapping_sha256_is_that_of_its_canonical_json():
    (agreement,) = load_agreements_from_mappings([_mapping()])
    canonical = json.dumps(_mapping(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert agreement.versions[0].sha256 == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_mapping_errors_name_the_document_and_field():
    backstop = {"rate_per_gpu_hour": {"H200": 2.5}, "threshold": "0.80", "cap": None}
    with pytest.raises(DocumentErrors) as raised:
        load_agreements_from_mappings([_mapping(), _mapping(backstop=backstop)], source="api")
    assert [(error.file, error.line, error.field) for error in raised.value.errors] == [
        ("api[1]", None, "backstop.cap"),
        ("api[1]", None, "backstop.rate_per_gpu_hour.H200"),
    ]
    assert "binary float" in raised.value.errors[1].message


def test_mapping_cross_version_rules():
    with pytest.raises(DocumentErrors) as raised:
        load_agreements_from_mappings([_mapping(), _mapping(version=3, effective=date(2026, 4, 1), currency="EUR")])
    located = [(error.file, error.field) for error in raised.value.errors]
    assert located == [("<mapping>[1]", "currency"), ("<mapping>[1]", "version")]


def test_mapping_datetime_is_no_date():
    from datetime import datetime

    with pytest.raises(DocumentErrors, match="datetime"):
        load_agreements_from_mappings([_mapping(effective=datetime(2026, 1, 1))])


# ---- version files given as bytes (as a store keeps them) ----------------------------------------


def stored_files(root: Path) -> list[tuple[str, bytes]]:
    return [(str(path.relative_to(root)), path.read_bytes()) for path in sorted(root.rglob("*.yaml"))]


def test_files_given_as_bytes_load_as_the_folder_does():
    from_folder = load_agreements(CONTRACTS)
    from_files = load_agreements_from_files(stored_files(CONTRACTS))
    assert [a.id for a in from_files] == [a.id for a in from_folder]
    for stored, loaded in zip(from_files, from_folder):
        assert [(v.number, v.sha256, v.document) for v in stored.versions] == \
               [(v.number, v.sha256, v.document) for v in loaded.versions]
        assert stored.versions[0].path == f"{stored.versions[0].path.split('/')[0]}/v1.yaml"


def test_files_given_as_bytes_are_checked_by_the_rules_of_a_folder():
    files = dict(stored_files(CONTRACTS))
    files["amended-h200/v3.yaml"] = files["amended-h200/v2.yaml"].replace(b"version: 2", b"version: 3")
    files["gb300-monthly/v1.yaml"] = files["gb300-monthly/v1.yaml"].replace(b"GB300: 3.40", b"GB300: 0")
    files["copy/v1.yaml"] = files["residual-quarterly/v1.yaml"]
    with pytest.raises(DocumentErrors) as raised:
        load_agreements_from_files(files.items())
    text = str(raised.value)
    assert "gb300-monthly/v1.yaml:" in text and "backstop.rate_per_gpu_hour.GB300: must be > 0" in text
    assert "amended-h200/v3.yaml:" in text
    assert 'agreement "residual-quarterly" is also defined in copy; ids are unique' in text


def test_files_given_as_bytes_need_version_file_names_and_at_least_one_file():
    with pytest.raises(ValueError, match="'notes.txt' is not the name of a version file"):
        load_agreements_from_files([("notes.txt", b"")])
    with pytest.raises(DocumentErrors, match="no version file was given"):
        load_agreements_from_files([])
