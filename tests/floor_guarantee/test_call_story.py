"""`backstop explain` tells a guarantee call's story from its entries alone: which debt service
defaulted, when it fell due, when the cure period ended, what the guarantee covered and what
the cap left."""

from __future__ import annotations

from pathlib import Path

from engine.cli import main
from engine.ledger.audit import explain
from v2_world import Log, agreement_text, call, close, write_agreement

GOLDEN = Path(__file__).parents[1] / "golden" / "spec9v2" / "ledger.jsonl"


def told(capsys, entry_id: str) -> str:
    assert main(["explain", str(GOLDEN), entry_id]) == 0
    return capsys.readouterr().out


def test_the_call_says_which_debt_service_defaulted_and_what_the_guarantee_covered(capsys):
    out = told(capsys, "spec9v2/call/call-1")
    for words in [
        "guarantee call: the guarantor pays the lender",
        "debt service spec9v2/2026-01/debt_service (period 2026-01) fell due on 2026-03-03",
        "400000.00 was still unpaid when its cure period of 30 days ended on 2026-04-02",
        "the lender called on 2026-04-02",
        "The guarantee covers 0.80 of it: 320000.00",
        "Of its cap of 1500000.00, 0.00 was called before and 1500000.00 was left, so the guarantor pays 320000.00",
        "obligation: spec9v2/2026-01/debt_service",
    ]:
        assert words in out, words


def test_the_discharge_and_the_reimbursement_name_their_call(capsys):
    discharge = told(capsys, "spec9v2/call/call-1/discharge")
    assert "320000.00 of spec9v2/2026-01/debt_service is discharged by the call spec9v2/call/call-1" in discharge
    assert "applied:  320000.00 to spec9v2/2026-01/debt_service" in discharge
    reimbursement = told(capsys, "spec9v2/call/call-1/reimbursement")
    assert "the provider owes it back, due 60 days after the call (late interest: 0.12 ACT/365F)" in reimbursement


def test_a_call_the_cap_cut_says_what_the_cap_left(tmp_path):
    text = agreement_text(floor=None, share_rate=None, debt_service="1000.00", covers="0.50", guarantee_cap="700")
    log = Log.of(write_agreement(tmp_path / "c", text))
    log.feed(close("c1", "2026-01"), close("c2", "2026-02"))
    log.feed(call("k1", "v2/2026-01/debt_service", "2026-04-02"), call("k2", "v2/2026-02/debt_service", "2026-04-30"))
    story = explain(log.entry("v2/call/k2"))
    assert "Of its cap of 700.00, 500.00 was called before and 200.00 was left, so the guarantor pays 200.00" in story
    assert "cap:      the guarantee covered 500.00; its cap cut the call to 200.00" in story


def test_a_call_without_a_cap_says_so(tmp_path):
    log = Log.of(write_agreement(tmp_path / "c", agreement_text(floor=None, share_rate=None, debt_service="1000.00")))
    log.feed(close("c1", "2026-01"), call("k1", "v2/2026-01/debt_service", "2026-04-02"))
    assert "The guarantee has no cap, so the guarantor pays 1000.00." in explain(log.entry("v2/call/k1"))
