# The example of docs/testing.md, verbatim: a settlement team's own property test.
from hypothesis import given, settings

from engine.documents.loader import load_agreements
from engine.testing import event_logs, replay_lines
from engine.testing import check_chain_integrity, check_outstanding_rebuilt, check_duplicates_harmless

AGREEMENT = next(a for a in load_agreements("contracts") if a.id == "gb300-monthly")


@settings(max_examples=20, deadline=None)
@given(event_logs(AGREEMENT))
def test_our_agreement_settles_soundly(lines):
    replayed = replay_lines([AGREEMENT], lines)
    check_chain_integrity(replayed.ledger, summary=replayed.summary)
    check_outstanding_rebuilt(replayed.entries, replayed.summary)
    check_duplicates_harmless([AGREEMENT], lines)


def test_the_docs_show_this_file():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    block = (root / "docs" / "testing.md").read_text().split("```python\n")[1].split("```")[0]
    assert block.strip() in Path(__file__).read_text()
