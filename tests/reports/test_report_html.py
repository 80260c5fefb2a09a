"""The HTML audit report: one self-contained, reproducible file, and, opened in headless
Chromium, charts that render and tables whose numbers are the ledger's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.reports import audit_report, rebuild_balances, render_html
from engine.reports.parties import directions
from engine.testing import agreements_with_logs, replay_lines
from engine.testing.invariants import loaded_agreements
from tests.reports.support import BUNDLED, bundled, entries_of, spec9

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# What reaches outside the file: a script, a stylesheet or font link, an image or frame
# source, an import, a font face, or a URL that is not a reference inside the document.
OUTSIDE = re.compile(r"<script|<link|<img|<iframe|\bsrc=|@import|@font-face|url\((?!#)|href=\"(?!#)", re.IGNORECASE)
#: The charts' colours (engine.reports.charts): blue, green, orange, vermilion.
CHART_COLOURS = ((0x00, 0x72, 0xB2), (0x00, 0x9E, 0x73), (0xE6, 0x9F, 0x00), (0xD5, 0x5E, 0x00))


def report_of(folder: str, as_of: date | None = None) -> tuple[str, list[dict], dict, tuple]:
    agreements, ledger, summary = bundled(folder)
    entries = entries_of(ledger)
    return render_html(audit_report(entries, agreements, as_of), ledger_name=f"{folder}.ledger.jsonl"), entries, summary, agreements


@pytest.mark.slow
def test_the_report_is_self_contained_and_reproducible():
    html, *_ = report_of("warrants-milestones")
    assert OUTSIDE.search(html) is None, OUTSIDE.search(html)
    assert html.count("<svg") == 3  # usage, lease-back against the cap, warrants (no revenue share)
    assert report_of("warrants-milestones")[0] == html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "every element id is unique across the inlined charts"
    for reference in set(re.findall(r'(?:href="#|url\(#)([^")]+)', html)):
        assert reference in ids, f"a chart refers to #{reference}, which is not in the page"


def test_the_worked_example_shows_its_terms_hashes_and_chain():
    agreements, entries, summary = spec9()
    html = render_html(audit_report(entries, agreements, date(2026, 6, 30)))
    facts = summary["agreements"]["spec9"]
    assert facts["versions"]["1"] in html and facts["head"] in html
    assert f"backstop verify LEDGER --head spec9={facts['head']}" in html
    assert "<code>backstop.rate_per_gpu_hour.H200</code></td><td>2.50</td>" in html
    assert "As of <strong>2026-06-30</strong>" in html


class Tables(HTMLParser):
    """Every table of a page: its attributes and its rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[dict, list[list[str]]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append((dict(attrs), []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def named(self, name: str, **attributes: str) -> list[list[str]]:
        """The body rows (header left out) of the one table with that class and attributes."""
        (rows,) = [rows for attrs, rows in self.tables if attrs.get("class") == name
                   and all(attrs.get(key.replace("_", "-")) == value for key, value in attributes.items())]
        return rows[1:]


def _amount(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _chromium(*arguments: str, timeout: int = 120) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="backstop-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *arguments],
            capture_output=True, timeout=timeout, check=False,
        )


@pytest.mark.slow
@pytest.mark.parametrize("folder", BUNDLED)
def test_each_bundled_example_renders_in_chromium_with_the_ledgers_numbers(folder, tmp_path):
    html, entries, summary, agreements = report_of(folder)
    page = tmp_path / f"{folder}.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / f"{folder}.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1280,9000", page.as_uri())
    assert shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    dom = _chromium("--dump-dom", page.as_uri()).stdout.decode("utf-8")

    # The charts rendered: their SVGs are in the live DOM with drawn paths, and the charts'
    # colours are on the screen.
    svgs = re.findall(r"<svg\b.*?</svg>", dom, re.DOTALL)
    assert len(svgs) == html.count("<svg") >= 1
    assert all(svg.count("<path") > 20 for svg in svgs)
    import numpy
    from PIL import Image

    with Image.open(shot) as picture:
        assert picture.size == (1280, 9000)
        pixels = numpy.asarray(picture.convert("RGB"), dtype=numpy.int16)
    coloured = sum(int((numpy.abs(pixels - numpy.array(colour)) <= 12).all(axis=2).sum()) for colour in CHART_COLOURS)
    assert coloured > 5000, f"only {coloured} pixels of the charts' colours in the screenshot"

    # The tables hold the ledger's numbers: every open obligation's balance as rebuilt, each
    # direction's total and buckets as the summary's outstanding, the totals per kind.
    tables = Tables()
    tables.feed(dom)
    (agreement,) = agreements
    facts = summary["agreements"][agreement.id]
    balances = rebuild_balances(entries)
    for direction in directions(agreement):
        rows = tables.named("aging", data_direction=direction.name)
        *lines, total = rows
        assert {row[0]: _amount(row[6]) for row in lines} == {
            o.id: balances.outstanding[o.id] for o in balances.open_obligations(agreement.id, direction.debtor, direction.creditor)}
        assert _amount(total[6]) == Decimal(facts["outstanding"][direction.name])
        buckets = {row[0]: _amount(row[1]) for row in tables.named("buckets", data_direction=direction.name)}
        assert buckets.pop("unapplied credit") == Decimal(facts["unapplied_credit"][direction.name])
        assert sum(buckets.values()) == Decimal(facts["outstanding"][direction.name])
    assert {row[0]: _amount(row[1]) for row in tables.named("totals")} == {
        kind: Decimal(total) for kind, total in facts["totals"].items()}
    assert facts["head"] in dom


@pytest.mark.slow
@settings(max_examples=8)
@given(agreements_with_logs(versions=st.integers(1, 2)))
def test_generated_agreements_report_what_their_ledger_holds(case):
    """Any agreement and log: the report's figures are the ledger's, and the page renders."""
    documents, lines = case
    agreements = loaded_agreements(documents)
    replayed = replay_lines(agreements, lines)
    report = audit_report(replayed.entries, agreements)
    (part,) = report.agreements
    facts = replayed.summary["agreements"][part.id]
    assert {kind: str(total) for kind, total in part.totals.items()} == facts["totals"]
    assert (part.head, part.entries) == (facts["head"], facts["entries"])
    lease_back = [e.fields for e in replayed.entries if e.fields["kind"] == "lease_back" or e.fields.get("of") == "lease_back"]
    assert sum((point.issued for point in part.usage), Decimal(0)) == sum((Decimal(e["amount"]) for e in lease_back), Decimal(0))
    assert [point.entry for point in part.lease_back] == [e["id"] for e in lease_back]
    for direction in part.aging.directions:
        assert direction.outstanding == Decimal(facts["outstanding"][direction.direction.name])
    html = render_html(report)
    assert html.count("<svg") == sum(map(bool, (part.usage, part.lease_back, part.revenue, part.debt_service, part.warrants)))
    assert OUTSIDE.search(html) is None
