"""The documentation stands alone: it links only to files of the repository, and every section
of the semantics that the code cites ("SPEC §5.3") is a section of `docs/semantics.md`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", ROOT / "contracts" / "README.md", ROOT / "examples" / "README.md",
               *(ROOT / "docs").glob("*.md")])
SEMANTICS = ROOT / "docs" / "semantics.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def headings(path: Path) -> list[str]:
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            lines.append(line.lstrip("#").strip())
    return lines


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=[str(doc.relative_to(ROOT)) for doc in DOCS])
def test_links_stay_inside_the_repository_and_reach_their_target(doc):
    text = doc.read_text(encoding="utf-8")
    assert "SPEC.md" not in text and "../shared" not in text
    for target in LINK.findall(re.sub(r"`[^`]*`", "", text)):  # code spans hold no links
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, fragment = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.is_relative_to(ROOT) and file.exists(), f"{doc.relative_to(ROOT)} links to {target}: no such file"
        if fragment and file.suffix == ".md":
            anchors = {anchor(heading) for heading in headings(file)}
            assert fragment in anchors, f"{doc.relative_to(ROOT)} links to {target}: no such section"


def test_the_readme_lists_the_semantics():
    assert "[docs/semantics.md](docs/semantics.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_semantics_keep_the_section_numbers_the_code_cites():
    numbered = [m.group(1) for m in map(re.compile(r"(\d+(?:\.\d+)?)\.? ").match, headings(SEMANTICS)) if m]
    assert numbered == ["0", "1", "2", "3", "4", "5", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "6", "7", "8", "9"]
    cited = set()
    for folder in ("engine", "tests", "benchmarks", "examples"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".c", ".yaml", ".md"} and path.is_file():
                for citation in re.findall(r"SPEC[^§\n]{0,12}(§[^\s,;:)\"']+)", path.read_text(encoding="utf-8", errors="replace")):
                    cited.update(re.findall(r"\d+(?:\.\d+)?", citation))
    assert cited, "no citation found: the pattern is wrong"
    assert cited <= set(numbered), f"cited but not in docs/semantics.md: {sorted(cited - set(numbered))}"


def test_the_worked_examples_give_every_figure():
    """Both examples of §9 keep every number a reader checks the engine against."""
    text = SEMANTICS.read_text(encoding="utf-8").split("## 9. Worked examples", 1)[1]
    for figure in ["74400", "52080", "7440", "18600.00", "15000.00", "2026-03-03", "67200", "43680", "10080",
                   "25200.00", "1400.00", "2026-03-31", "2026-03-13", "40.767", "40.77", "2026-04-12",
                   "17 / 31", "170000", "50000.00", "548387.0967", "548387.10", "9000.00", "1000000.00",
                   "148387.10", "400000.00", "2026-04-02", "320000.00", "2026-05-02", "−320000.00", "80000.00",
                   "2026-06-01", "2026-06-11", "1052.054", "1052.05", "2026-07-11"]:
        assert figure in text, figure
