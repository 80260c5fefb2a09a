"""Agreement documents (SPEC §1, §3): read exactly, validated, every error located.

Stages, one module each: `reader` (bytes or Python values to a plain tree with positions),
`model` (the frozen document and its one-document rules), `validate` (model errors located
and explained), `versions` (rules across an agreement's versions), `loader` (the only one
touching files; runs the others). `schema` gives editors a JSON Schema of the file format.
"""

from engine.documents.errors import DocumentError, DocumentErrors
from engine.documents.loader import (
    LoadedAgreement,
    LoadedVersion,
    load_agreements,
    load_agreements_from_files,
    load_agreements_from_mappings,
    load_version_file,
)
from engine.documents.model import AgreementDocument
from engine.documents.schema import json_schema

__all__ = [
    "AgreementDocument",
    "DocumentError",
    "DocumentErrors",
    "LoadedAgreement",
    "LoadedVersion",
    "json_schema",
    "load_agreements",
    "load_agreements_from_files",
    "load_agreements_from_mappings",
    "load_version_file",
]
