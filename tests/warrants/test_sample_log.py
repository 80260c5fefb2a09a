"""The sample agreement `contracts/warrants-milestones` and its log replay cleanly and show
what `contracts/README.md` says they show. (That the engine's ledger agrees entry by entry with
the model in `examples/generate_logs.py` is checked for every bundled agreement in
`tests/examples/test_sample_logs.py`.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.documents.loader import load_agreements
from engine.replay import Engine

ROOT = Path(__file__).resolve().parents[2]
AGREEMENT = "warrants-milestones"


@pytest.fixture(scope="module")
def replayed() -> tuple[Engine, list[dict]]:
    engine = Engine(load_agreements(ROOT / "contracts" / AGREEMENT))
    entries: list[dict] = []
    with open(ROOT / "examples" / f"{AGREEMENT}.jsonl", "rb") as stream:
        for outcome in engine.feed_stream(stream):
            assert outcome.status != "rejected", f"line {outcome.line}: {outcome.reason}"
            entries += [entry.fields for entry in outcome.entries]
    return engine, entries


def by_id(entries: list[dict]) -> dict[str, dict]:
    return {entry["id"]: entry for entry in entries}


def test_every_line_applies(replayed):
    engine, _ = replayed
    assert engine.rejections == []
    assert engine.summary()["agreements"][AGREEMENT]["unapplied_credit"]["guarantor_to_provider"] == "0.00"


def test_the_log_shows_what_the_readme_says(replayed):
    engine, entries = replayed
    entry = by_id(entries)
    prefix = f"{AGREEMENT}/warrants"
    # Capacity tranches vest at closes; 40 million is never reached.
    assert entry[f"{prefix}/capacity-10m/vested"]["events"] == [f"{AGREEMENT}:close:2026-02"]
    assert entry[f"{prefix}/capacity-20m/vested"]["events"] == [f"{AGREEMENT}:close:2026-06"]
    assert f"{prefix}/capacity-40m/vested" not in entry
    # price-180's 20-day window spans the 4-for-1 split of 15 June.
    window = entry[f"{prefix}/price-180/vested"]["basis"]["inputs"]["vwap_window"]
    assert window.split(" ")[0] < "2026-06-15" <= entry[f"{prefix}/price-180/vested"]["date"]
    # price-250-year-2 vests at the December close, as of 2027-01-01.
    year_2 = entry[f"{prefix}/price-250-year-2/vested"]
    assert (year_2["date"], year_2["events"]) == ("2027-01-01", [f"{AGREEMENT}:close:2026-12"])
    # The reverse split costs price-150 (3,999,999 shares) half a share.
    assert entry[f"{prefix}/price-150/split/{AGREEMENT}:split:2026-11-16:1-for-2-reverse"]["amount"] == "-2000000"
    kinds = [e["kind"] for e in entries]
    assert {"warrant_vested", "split_adjustment", "exercise_price", "share_delivery", "cash_in_lieu",
            "late_interest"} <= set(kinds)
    late = [e for e in entries if e["kind"] == "late_interest"]
    assert [e["basis"]["inputs"]["obligation"] for e in late] == [
        f"{prefix}/capacity-10m/exercise/{AGREEMENT}:exercise:2026-04-15:capacity-10m/price"]
    credited = [e["id"] for e in entries if e["kind"] == "exercise_price" and "credit_applied" in e]
    assert len(credited) == 2
    book = engine.agreements[AGREEMENT].warrants
    assert book.factor == 2 and not book.tranches["capacity-40m"].vested
    assert book.tranches["capacity-40m"].remaining == 5_000_000
