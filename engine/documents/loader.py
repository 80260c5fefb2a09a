"""The loader: the only part of `engine.documents` that touches files (SPEC §3).

Stages, each collecting errors rather than stopping at the first:
find the agreement folders → read each version file exactly (`reader`) → validate it alone
(`validate`, the model's own rules) → check each agreement's versions together (`versions`)
→ check agreement ids across folders. Errors of every stage are raised together at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from engine.documents.errors import DocumentError, DocumentErrors
from engine.documents.model import AgreementDocument
from engine.documents.reader import ReadDocument, read_mapping, read_version_file
from engine.documents.validate import Located, validate_document
from engine.documents.versions import CheckedVersion, repeated_agreement_problems, version_problems

#: A version file's name ends in one of these, exactly (lower case).
VERSION_SUFFIXES = (".yaml", ".yml", ".json")
_SUFFIXES_TEXT = ", ".join("*" + suffix for suffix in VERSION_SUFFIXES)


@dataclass(frozen=True)
class LoadedVersion:
    """One version of an agreement; `sha256` (lowercase hex) identifies its exact bytes."""

    number: int
    document: AgreementDocument
    sha256: str
    path: str


@dataclass(frozen=True)
class LoadedAgreement:
    """An agreement's versions, sorted by number (they are exactly 1..N)."""

    id: str
    versions: tuple[LoadedVersion, ...]


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_agreements(path: str | os.PathLike[str]) -> tuple[LoadedAgreement, ...]:
    """Every agreement under CONTRACTS, sorted by id; raises `DocumentErrors` with every error.

    CONTRACTS is one agreement folder (it directly holds a version file; its sub-folders are
    ignored) or a folder of agreement folders. Error file names are `path` joined with the
    names found, so they read as the user gave the path.
    """
    folders, errors = agreement_folders(os.fspath(path))
    checked: list[tuple[str, list[CheckedVersion]]] = []
    for folder in folders:
        versions, folder_errors = _load_folder(folder)
        errors += folder_errors + version_problems(versions, complete=not folder_errors)
        checked.append((folder, versions))
    errors += repeated_agreement_problems(checked)
    if errors:
        raise DocumentErrors(errors)
    return _agreements(versions for _, versions in checked)


def load_version_file(path: str | os.PathLike[str]) -> LoadedVersion:
    """One version file checked on its own (no cross-version rules), for editors and tests."""
    file = os.fspath(path)
    version, errors = _load_file(file)
    if errors or version is None:
        raise DocumentErrors(errors)
    return _loaded(version)


def load_agreements_from_files(files: Iterable[tuple[str, bytes]]) -> tuple[LoadedAgreement, ...]:
    """Agreements from version files given as (name, bytes), as a store keeps them.

    Files whose names share a folder (`spec9/v1.yaml`, `spec9/v2.yaml`) are one agreement
    folder, and every rule of `load_agreements` holds; a name without a folder is one of a
    single agreement. A version's `sha256` is that of its bytes and its `path` is its name, so
    an engine of these agreements issues exactly what one loaded from the files on disk does.
    """
    folders: dict[str, tuple[list[CheckedVersion], list[DocumentError]]] = {}
    for name, data in sorted(files):
        if not name.endswith(VERSION_SUFFIXES):
            raise ValueError(f"{name!r} is not the name of a version file ({_SUFFIXES_TEXT})")
        read = read_version_file(data, name)
        where = Located(name, read.positions, read.key_positions)
        version, file_errors = _checked(read, where, lambda data=data: hashlib.sha256(data).hexdigest())
        versions, errors = folders.setdefault(name.rpartition("/")[0], ([], []))
        errors += file_errors
        if version is not None:
            versions.append(version)
    if not folders:
        raise DocumentErrors([_file_error("<files>", "no agreement found: no version file was given")])
    problems: list[DocumentError] = []
    for versions, errors in folders.values():
        problems += errors + version_problems(versions, complete=not errors)
    problems += repeated_agreement_problems([(folder, versions) for folder, (versions, _) in folders.items()])
    if problems:
        raise DocumentErrors(problems)
    return _agreements(versions for versions, _ in folders.values())


def load_agreements_from_mappings(
    documents: Iterable[Mapping[str, Any]], *, source: str = "<mapping>"
) -> tuple[LoadedAgreement, ...]:
    """Agreements from version documents given as Python values, under the rules of files.

    Each mapping is one version document holding `str`, `int`, `bool`, `Decimal`, `date`,
    lists and mappings (a `float` or `None` is an error). Documents are grouped into
    agreements by their `agreement` id. Errors name the document as `{source}[{index}]`
    and have no line or column. A version's `sha256` is that of the canonical JSON of its
    mapping (keys sorted, separators `,` and `:`, UTF-8, decimals and dates written as
    strings: `Decimal("2.10")` as `"2.10"`, a date as `"2026-01-01"`), and its `path` is
    `{source}[{index}]`.
    """
    versions: list[CheckedVersion] = []
    errors: list[DocumentError] = []
    failed_ids: set[str | None] = set()  # None: a failed document whose agreement is unknown
    for index, mapping in enumerate(documents):
        name = f"{source}[{index}]"
        read = read_mapping(mapping, name)
        version, document_errors = _checked(read, Located(name, {}, {}), lambda tree=read.tree: _canonical_sha256(tree))
        errors += document_errors
        if version is None:
            failed_ids.add(_raw_agreement_id(read.tree))
        else:
            versions.append(version)
    by_agreement: dict[str, list[CheckedVersion]] = defaultdict(list)
    for version in versions:
        by_agreement[version.document.agreement].append(version)
    for agreement, group in by_agreement.items():
        complete = agreement not in failed_ids and None not in failed_ids
        errors += version_problems(group, complete=complete)
    if errors:
        raise DocumentErrors(errors)
    return _agreements(by_agreement.values())


# ---------------------------------------------------------------------------------------------
# Folders


def agreement_folders(root: str) -> tuple[list[str], list[DocumentError]]:
    """The agreement folders of CONTRACTS, and what is wrong with its layout."""
    if not os.path.exists(root):
        return [], [_file_error(root, "no such folder; CONTRACTS is a folder of agreement version files")]
    if not os.path.isdir(root):
        return [], [_file_error(root, "not a folder; CONTRACTS is a folder of version files or of agreement folders")]
    names, error = _listing(root)
    if error:
        return [], [error]
    if version_files(root, names):
        return [root], []
    subfolders = [os.path.join(root, name) for name in names if os.path.isdir(os.path.join(root, name))]
    if not subfolders:
        message = f"no agreement found: expected version files ({_SUFFIXES_TEXT}) or agreement folders"
        return [], [_file_error(root, message + _case_hint(names))]
    return _folders_with_versions(subfolders)


def _folders_with_versions(subfolders: Sequence[str]) -> tuple[list[str], list[DocumentError]]:
    folders, errors = [], []
    for folder in subfolders:
        names, error = _listing(folder)
        if error:
            errors.append(error)
        elif version_files(folder, names):
            folders.append(folder)
        else:
            message = f"agreement folder without a version file ({_SUFFIXES_TEXT})"
            errors.append(_file_error(folder, message + _case_hint(names)))
    return folders, errors


def version_files(folder: str, names: Sequence[str]) -> list[str]:
    """The version files among a folder's (non-hidden, sorted) names."""
    return [
        os.path.join(folder, name)
        for name in names
        if name.endswith(VERSION_SUFFIXES) and os.path.isfile(os.path.join(folder, name))
    ]


def _listing(folder: str) -> tuple[list[str], DocumentError | None]:
    """A folder's names, hidden ones left out, in code-point order so loads are reproducible."""
    try:
        return sorted(name for name in os.listdir(folder) if not name.startswith(".")), None
    except OSError as error:
        return [], _file_error(folder, f"cannot list the folder: {error.strerror}")


def _case_hint(names: Sequence[str]) -> str:
    upper = [name for name in names if name.lower().endswith(VERSION_SUFFIXES) and not name.endswith(VERSION_SUFFIXES)]
    return f" (extensions are lower case; found {', '.join(upper)})" if upper else ""


def _file_error(file: str, message: str) -> DocumentError:
    return DocumentError(file, None, None, "", message)


# ---------------------------------------------------------------------------------------------
# Files and documents


def _load_folder(folder: str) -> tuple[list[CheckedVersion], list[DocumentError]]:
    names, error = _listing(folder)
    if error:
        return [], [error]
    versions, errors = [], []
    for file in version_files(folder, names):
        version, file_errors = _load_file(file)
        errors += file_errors
        if version is not None:
            versions.append(version)
    return versions, errors


def _load_file(file: str) -> tuple[CheckedVersion | None, list[DocumentError]]:
    try:
        with open(file, "rb") as stream:
            data = stream.read()
    except OSError as error:
        return None, [_file_error(file, f"cannot read the file: {error.strerror}")]
    read = read_version_file(data, file)
    return _checked(read, Located(file, read.positions, read.key_positions), lambda: hashlib.sha256(data).hexdigest())


def _checked(read: ReadDocument, where: Located, sha256) -> tuple[CheckedVersion | None, list[DocumentError]]:
    """A read document validated on its own; the reader's errors and the model's together."""
    if read.tree is None:
        return None, list(read.errors)
    document, errors = validate_document(read.tree, where, read.invalid_paths)
    errors = list(read.errors) + errors
    if errors or document is None:
        return None, errors
    return CheckedVersion(document, sha256(), where), []


def _raw_agreement_id(tree: Mapping[str, Any] | None) -> str | None:
    """The agreement id a failed document claims, to know which agreement is incomplete."""
    agreement = tree.get("agreement") if isinstance(tree, Mapping) else None
    return agreement if isinstance(agreement, str) else None


def _canonical_sha256(tree: Mapping[str, Any] | None) -> str:
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_as_text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _as_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no canonical JSON for {type(value).__name__}")


# ---------------------------------------------------------------------------------------------
# Results


def _loaded(version: CheckedVersion) -> LoadedVersion:
    return LoadedVersion(version.document.version, version.document, version.sha256, version.where.file)


def _agreements(groups: Iterable[Sequence[CheckedVersion]]) -> tuple[LoadedAgreement, ...]:
    """The result of a load without errors; its invariants are checked, since the replay trusts them."""
    agreements = []
    for group in groups:
        versions = tuple(sorted((_loaded(version) for version in group), key=lambda loaded: loaded.number))
        numbers = [version.number for version in versions]
        if numbers != list(range(1, len(versions) + 1)):
            raise RuntimeError(f"engine bug: versions {numbers} passed the numbering rule")
        agreements.append(LoadedAgreement(versions[0].document.agreement, versions))
    return tuple(sorted(agreements, key=lambda agreement: agreement.id))
