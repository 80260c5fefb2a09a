"""The readings of docs/decisions.md, one test each, so a change of reading is a visible change."""

from engine.replay import Engine
from tests.replay.support import agreement_text, close, correction, engine_for, feed, payment, utilization

JAN = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
FEB = ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")


def test_events_list_inputs_in_force_and_the_corrections_that_moved_them(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    moved = {"pool": "p1", "start": FEB[0], "end": FEB[1], "available_gpu_hours": "100", "sold_gpu_hours": "0"}
    _, entries = feed(
        engine,
        utilization("u1", *JAN, "100", "0"), utilization("u2", *JAN, "100", "0"), correction("k1", "u2", moved),
        close("c1", "2026-01"), utilization("u3", *FEB, "100", "0"), close("c2", "2026-02"),
    )
    assert entries["a1/2026-01/lease_back/p1"]["events"] == ["u1", "k1", "c1"]
    assert entries["a1/2026-02/lease_back/p1"]["events"] == ["u2", "k1", "u3", "c2"]


def test_ids_are_shared_by_every_agreement_in_the_log(tmp_path):
    folder = tmp_path / "contracts"
    for name in ("a1", "b1"):
        (folder / name).mkdir(parents=True)
        (folder / name / "v1.yaml").write_text(agreement_text(agreement=name))
    engine = Engine.from_path(folder)
    assert engine.feed_line(utilization("same", *JAN, "1", "0", agreement="a1")).status == "applied"
    outcome = engine.feed_line(utilization("same", *JAN, "1", "0", agreement="b1"))
    assert "already applied from line 1 with different content" in outcome.reason


def test_a_void_of_a_void_touches_nothing_and_is_never_released(tmp_path):
    engine = engine_for(tmp_path, agreement_text(lock=0))
    outcomes, _ = feed(engine, utilization("u1", *JAN, "1", "0"), correction("k1", "u1"), correction("k2", "u1"))
    assert [o.status for o in outcomes] == ["applied", "applied", "applied"]
    feed(engine, close("c1", "2026-01"), close("c2", "2026-02"))
    assert engine.feed_line(correction("k2", "u1")).status == "duplicate"
    assert engine.feed_line(correction("k1", "u1")).status == "rejected"  # k1 touched January, now locked


def test_late_interest_paid_late_bears_no_interest(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    feed(engine, utilization("u1", *JAN, "7440", "0"), close("c1", "2026-01"))
    _, entries = feed(engine, payment("p1", "Guar", "Prov", "11904.00", "2026-04-02"))
    assert entries["a1/late_interest/p1/1"]["amount"] == "97.84"  # 11904 × 0.10 × 30 / 365
    _, entries = feed(engine, payment("p2", "Guar", "Prov", "97.84", "2026-12-31"))
    assert list(entries) == ["a1/payment/p2"]
