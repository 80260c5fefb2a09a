"""Every line takes effect whole or not at all: should anything unexpected go wrong while a
line is applied, its changes are rolled back and the engine says which line it was.

A fault is injected by making a function the replay calls raise on its n-th call. The engine
that met it must then be, member for member, the engine that never saw the line (`state`),
and go on to issue the same bytes.
"""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from engine.documents.loader import load_agreements_from_mappings
from engine.ledger.chain import Chain
from engine.replay import Engine, InternalError
from engine.replay import agreement as agreement_module
from engine.replay import engine as engine_module
from engine.replay import rules
from engine.replay.agreement import AgreementReplay
from engine.replay.guarantee import GuaranteeBook
from engine.replay.settlement import Book
from engine.replay.warrants import WarrantBook
from engine.testing import agreements_with_logs

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "tests" / "golden" / "spec9" / "contracts"
EVENTS = (ROOT / "tests" / "golden" / "spec9" / "events.jsonl").read_text().splitlines()

#: Two pools, a lock one period behind, late interest and warrants: a close here adjusts,
#: issues per pool, vests and locks.
ATOM = """\
schema: backstop/v1
agreement: atom
version: 1
effective: 2026-01-01
parties: {provider: Prov, guarantor: Guar}
currency: USD
term: {start: 2026-01-01, end: 2027-01-01}
settlement:
  period: monthly
  payment_terms_days: 30
  late_interest: {annual_rate: 0.10, day_count: ACT/365F}
  lock_after_periods: 1
pools:
  - {id: p1, gpu_model: H200, gpus: 10}
  - {id: p2, gpu_model: H200, gpus: 10}
backstop:
  rate_per_gpu_hour: {H200: 2.00}
  threshold: 0.80
revenue_share:
  steps: [{from_year: 1, rate: 0.10}]
warrants:
  strike: 4
  expires: 2030-01-01
  tranches:
    - {id: t1, shares: 100, vests: {lease_back_total_at_least: 1}}
    - {id: t2, shares: 50, vests: {on_or_after: 2026-01-01}}
"""


def utilization(event_id: str, pool: str, month: int, sold: str) -> str:
    return json.dumps({"id": event_id, "type": "utilization", "agreement": "atom", "pool": pool,
                       "start": f"2026-{month:02d}-01T00:00:00Z", "end": f"2026-{month:02d}-02T00:00:00Z",
                       "available_gpu_hours": "240", "sold_gpu_hours": sold})


def line(**fields) -> str:
    return json.dumps({"agreement": "atom", **fields})


ATOM_LOG = [
    utilization("u-jan-1", "p1", 1, "100"),
    utilization("u-jan-2", "p2", 1, "50"),
    line(id="r-jan", type="revenue", period="2026-01", amount="1000.00", currency="USD"),
    line(id="close-jan", type="close", period="2026-01"),
    utilization("u-feb-1", "p1", 2, "10"),
    line(id="k-jan-1", type="correction", corrects="u-jan-1",  # restates January: p1 is adjusted at the next close
         replacement={"pool": "p1", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z",
                      "available_gpu_hours": "240", "sold_gpu_hours": "0"}),
    line(id="k-jan-2", type="correction", corrects="u-jan-2", void=True),  # and p2
    line(id="close-feb", type="close", period="2026-02"),  # adjusts p1, p2; February's lease-back; locks January
    line(id="pay-1", type="payment", payer="Guar", payee="Prov", amount="500.00", currency="USD", date="2026-04-15"),
    line(id="x-1", type="exercise", tranche="t2", shares=10, method="cash", date="2026-04-20"),
    utilization("u-mar-1", "p1", 3, "0"),
    line(id="close-mar", type="close", period="2026-03"),
]


def atom_engine(tmp_path: Path, lines=()) -> Engine:
    folder = tmp_path / "atom"
    folder.mkdir(exist_ok=True)
    (folder / "v1.yaml").write_text(ATOM)
    engine = Engine.from_path(folder)
    for raw in lines:
        engine.feed_line(raw)
    return engine


def fed(lines) -> Engine:
    engine = Engine.from_path(CONTRACTS)
    for raw in lines:
        engine.feed_line(raw)
    return engine


def index_of(lines, event_id: str) -> int:
    return next(index for index, raw in enumerate(lines) if json.loads(raw)["id"] == event_id)


# ---- faults and state ------------------------------------------------------------------------


class Fault(RuntimeError):
    pass


@contextmanager
def failing(owner, name: str, call: int = 1):
    """Make `owner.name` raise `Fault` on its `call`-th call (1-based) while in the block.
    Yields the calls made so far, a list."""
    original, calls = getattr(owner, name), []

    def fail(*args, **kwargs):
        calls.append(None)
        if len(calls) == call:
            raise Fault("injected fault")
        return original(*args, **kwargs)

    setattr(owner, name, fail)
    try:
        yield calls
    finally:
        setattr(owner, name, original)


def fail_on_call(monkeypatch, owner, name: str, call: int) -> None:
    """`failing` for a whole test."""
    original, calls = getattr(owner, name), []

    def fail(*args, **kwargs):
        calls.append(None)
        if len(calls) == call:
            raise Fault("injected fault")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, fail)


#: Members that are not state: the agreement's terms and the callable entries go to, and
#: references back to an owner (the engine's list of its replays, a warrant book's replay).
NOT_STATE = frozenset({"terms", "emit", "_replays", "replay"})


def state(value) -> object:
    """Everything an engine holds, member by member, maps in their order: two engines with
    equal states issue the same bytes from any further input."""
    if value is None or isinstance(value, (bool, int, str, bytes, date, Fraction)):
        return value
    if isinstance(value, Decimal):
        return ("Decimal", str(value))  # 1.0 and 1 are equal, but written differently
    if isinstance(value, dict):
        return ("dict", [(state(key), state(item)) for key, item in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [state(item) for item in value])
    if isinstance(value, (set, frozenset)):
        return ("set", sorted(value))
    if callable(value) and not is_dataclass(value):  # wiring (the lane's own methods), not state
        return ("callable", value.__qualname__)
    if is_dataclass(value):
        names = [f.name for f in fields(value)]
    else:  # slots across the class hierarchy (the lane's state), then the instance's own members
        slots = [name for cls in type(value).__mro__ for name in getattr(cls, "__slots__", ()) if name != "__dict__"]
        names = slots + [name for name in getattr(value, "__dict__", {}) if name not in slots]
    return (type(value).__name__, [(name, state(getattr(value, name))) for name in names if name not in NOT_STATE])


def assert_same_state(engine: Engine, reference: Engine) -> None:
    assert engine.summary() == reference.summary()
    assert state(engine) == state(reference)


# ---- the engine ------------------------------------------------------------------------------


def test_a_close_that_fails_after_issuing_entries_is_rolled_back_whole(monkeypatch):
    cut = index_of(EVENTS, "close-jan")
    engine, reference = fed(EVENTS[:cut]), fed(EVENTS[:cut])
    # The close issues the lease-back first, then fails while computing the revenue share.
    fail_on_call(monkeypatch, rules, "revenue_share_target", 1)
    with pytest.raises(InternalError) as raised:
        engine.feed_line(EVENTS[cut])
    assert raised.value.line == cut + 1
    assert str(raised.value) == f"internal error at line {cut + 1}: Fault: injected fault; please report it"
    assert isinstance(raised.value.error, Fault)
    assert_same_state(engine, reference)
    monkeypatch.undo()
    # The same lines again: the engine goes on exactly as one that never saw the failure.
    assert ledger_of(engine, EVENTS[cut:]) == ledger_of(reference, EVENTS[cut:])
    assert_same_state(engine, reference)


def ledger_of(engine: Engine, lines) -> list[bytes]:
    return [entry.line for outcome in engine.feed_lines(lines) for entry in outcome.entries]


def test_a_close_that_adjusts_locks_and_fails_at_the_second_pool_is_rolled_back_whole(tmp_path, monkeypatch):
    cut = index_of(ATOM_LOG, "close-feb")
    engine, reference = atom_engine(tmp_path, ATOM_LOG[:cut]), atom_engine(tmp_path, ATOM_LOG[:cut])
    sealed = sealed_ids(monkeypatch)
    fail_on_call(monkeypatch, rules, "lease_back_target", 2)  # January's p1 adjusted, then p2 fails
    with pytest.raises(InternalError):
        engine.feed_line(ATOM_LOG[cut])
    assert sealed == ["atom/2026-01/lease_back/p1/adj1"]  # an entry was issued, then undone
    monkeypatch.undo()
    assert_same_state(engine, reference)
    assert ledger_of(engine, ATOM_LOG[cut:]) == ledger_of(reference, ATOM_LOG[cut:])
    assert_same_state(engine, reference)


def sealed_ids(monkeypatch) -> list[str]:
    """The ids of the entries sealed into any chain from now on."""
    seal, sealed = Chain.seal, []

    def noted(chain, fields):
        sealed.append(fields["id"])
        return seal(chain, fields)

    monkeypatch.setattr(Chain, "seal", noted)
    return sealed


def test_a_close_that_fails_after_its_lock_keeps_the_locked_period_and_its_ids(tmp_path, monkeypatch):
    cut = index_of(ATOM_LOG, "close-feb")
    engine, reference = atom_engine(tmp_path, ATOM_LOG[:cut]), atom_engine(tmp_path, ATOM_LOG[:cut])
    # The id record of the close is the very last thing its line writes, after January is locked.
    fail_on_call(monkeypatch, engine_module, "IdRecord", 1)
    with pytest.raises(InternalError):
        engine.feed_line(ATOM_LOG[cut])
    monkeypatch.undo()
    assert_same_state(engine, reference)
    assert "u-jan-1" in engine.ids and 0 in engine.agreements["atom"].keys  # January is not locked
    assert engine.feed_line(ATOM_LOG[0]).status == reference.feed_line(ATOM_LOG[0]).status == "duplicate"
    assert ledger_of(engine, ATOM_LOG[cut:]) == ledger_of(reference, ATOM_LOG[cut:])
    assert "u-jan-1" not in engine.ids and 0 not in engine.agreements["atom"].keys  # now it is
    assert_same_state(engine, reference)


def test_a_payment_that_fails_after_settling_is_rolled_back_whole(monkeypatch):
    payment = index_of(EVENTS, "pay-1")
    engine, reference = fed(EVENTS[:payment]), fed(EVENTS[:payment])
    # The payment entry is sealed and applied to January's lease-back before late interest fails.
    fail_on_call(monkeypatch, rules, "late_interest", 1)
    with pytest.raises(InternalError):
        engine.feed_line(EVENTS[payment])
    monkeypatch.undo()
    assert_same_state(engine, reference)
    assert ledger_of(engine, EVENTS[payment:]) == ledger_of(reference, EVENTS[payment:])


def test_an_exercise_that_fails_after_vesting_is_rolled_back_whole(tmp_path, monkeypatch):
    cut = index_of(ATOM_LOG, "x-1")
    engine, reference = atom_engine(tmp_path, ATOM_LOG[:cut]), atom_engine(tmp_path, ATOM_LOG[:cut])
    fail_on_call(monkeypatch, WarrantBook, "_settle_cash", 1)
    with pytest.raises(InternalError):
        engine.feed_line(ATOM_LOG[cut])
    monkeypatch.undo()
    assert_same_state(engine, reference)
    assert ledger_of(engine, ATOM_LOG[cut:]) == ledger_of(reference, ATOM_LOG[cut:])


def test_a_guarantee_call_that_fails_after_its_first_entry_is_rolled_back_whole(monkeypatch):
    lines = (ROOT / "tests" / "golden" / "spec9v2" / "events.jsonl").read_text().splitlines()
    contracts = ROOT / "tests" / "golden" / "spec9v2" / "contracts"
    cut = index_of(lines, "call-1")
    engine, reference = Engine.from_path(contracts), Engine.from_path(contracts)
    for raw in lines[:cut]:
        engine.feed_line(raw)
        reference.feed_line(raw)
    sealed = sealed_ids(monkeypatch)
    fail_on_call(monkeypatch, Book, "discharge", 1)  # the call is issued and applied, its discharge fails
    with pytest.raises(InternalError):
        engine.feed_line(lines[cut])
    assert sealed == ["spec9v2/call/call-1"]
    monkeypatch.undo()
    assert_same_state(engine, reference)
    assert ledger_of(engine, lines[cut:]) == ledger_of(reference, lines[cut:])
    assert_same_state(engine, reference)


def test_an_input_that_fails_half_way_is_rolled_back_and_its_id_stays_free(monkeypatch):
    engine, reference = fed(EVENTS[:1]), fed(EVENTS[:1])
    revenue = EVENTS[1]
    assert json.loads(revenue)["type"] == "revenue"  # revenue always takes the general path
    fail_on_call(monkeypatch, AgreementReplay, "_mark_restated", 1)  # after the key's sums changed
    with pytest.raises(InternalError):
        engine.feed_line(revenue)
    monkeypatch.undo()
    assert_same_state(engine, reference)
    assert "r-jan" not in engine.ids


def test_a_correction_that_fails_between_its_two_periods_is_rolled_back_whole(tmp_path, monkeypatch):
    cut = index_of(ATOM_LOG, "k-jan-1")
    engine, reference = atom_engine(tmp_path, ATOM_LOG[:cut]), atom_engine(tmp_path, ATOM_LOG[:cut])
    fail_on_call(monkeypatch, AgreementReplay, "_mark_restated", 2)  # the old value removed, the new not yet added
    with pytest.raises(InternalError):
        engine.feed_line(ATOM_LOG[cut])
    monkeypatch.undo()
    assert_same_state(engine, reference)
    assert ledger_of(engine, ATOM_LOG[cut:]) == ledger_of(reference, ATOM_LOG[cut:])


def test_after_an_internal_error_the_next_line_takes_the_failed_lines_number(monkeypatch):
    engine = fed(EVENTS[:1])
    fail_on_call(monkeypatch, AgreementReplay, "_mark_restated", 1)
    with pytest.raises(InternalError) as raised:
        engine.feed_line(EVENTS[1])
    monkeypatch.undo()
    assert raised.value.line == 2
    assert engine.feed_line(EVENTS[1]).line == 2  # the line again, numbered as it was


def test_feed_log_stops_at_the_failed_line_with_the_lines_before_it_applied(monkeypatch):
    engine, reference = Engine.from_path(CONTRACTS), fed(EVENTS[:index_of(EVENTS, "close-jan")])
    fail_on_call(monkeypatch, rules, "revenue_share_target", 1)
    log = ("\n".join(EVENTS) + "\n").encode()
    with pytest.raises(InternalError) as raised:
        list(engine.feed_log(io.BytesIO(log)))
    monkeypatch.undo()
    assert raised.value.line == index_of(EVENTS, "close-jan") + 1
    assert_same_state(engine, reference)


def test_close_through_that_fails_is_rolled_back_for_every_agreement(tmp_path, monkeypatch):
    engine, reference = atom_engine(tmp_path, ATOM_LOG[:4]), atom_engine(tmp_path, ATOM_LOG[:4])
    # February closes and locks January; March fails once its lease-back is computed.
    fail_on_call(monkeypatch, rules, "lease_back_target", 3)
    with pytest.raises(InternalError) as raised:
        engine.close_through(date(2026, 4, 1))
    assert raised.value.line is None
    assert "at the close of atom period 2026-03 (--close-through 2026-04-01)" in str(raised.value)
    monkeypatch.undo()
    assert_same_state(engine, reference)
    day = date(2026, 4, 1)
    assert [e.line for e in engine.close_through(day)] == [e.line for e in reference.close_through(day)]
    assert_same_state(engine, reference)


# ---- any fault, anywhere ----------------------------------------------------------------------

#: Functions the general path calls while it changes state (never the plain lane's).
FAULTS = [
    (rules, "lease_back_target"), (rules, "revenue_share_target"), (rules, "capped_change"),
    (rules, "late_interest"), (Chain, "seal"), (Book, "apply"), (Book, "add"), (Book, "take_credit"),
    (AgreementReplay, "issue"), (AgreementReplay, "_mark_restated"), (AgreementReplay, "_remove"),
    (agreement_module, "pack_input"), (WarrantBook, "vest"), (WarrantBook, "_issue"),
    (engine_module, "IdRecord"),
    # v2: top-ups, debt service and calls
    (rules, "top_up_target"), (rules, "call_amount"), (GuaranteeBook, "issue_debt_service"), (GuaranteeBook, "call"),
    (Book, "discharge"),
]


@contextmanager
def counting(targets):
    """Count the calls of each (owner, name) of `targets` while in the block."""
    counts: dict[tuple, int] = {}
    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]
    for owner, name, original in originals:
        def counted(*args, _original=original, _target=(owner, name), **kwargs):
            counts[_target] = counts.get(_target, 0) + 1
            return _original(*args, **kwargs)

        setattr(owner, name, counted)
    try:
        yield counts
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


@given(agreements_with_logs(versions=st.integers(1, 2)), st.data())
def test_a_fault_anywhere_leaves_the_engine_as_if_the_line_never_came(case, data):
    documents, lines = case
    assume(lines)
    loaded = load_agreements_from_mappings(documents)
    engine, reference, probe = Engine(loaded), Engine(loaded), Engine(loaded)
    cut = data.draw(st.integers(0, len(lines) - 1), label="failing line")
    for raw in lines[:cut]:
        for replaying in (engine, reference, probe):
            replaying.feed_line(raw)
    with counting(FAULTS) as calls:  # which of the functions the line calls, and how often
        probe.feed_line(lines[cut])
    assume(calls)  # a plain utilization line or a duplicate calls none of them
    owner, name = data.draw(st.sampled_from(list(calls)), label="fault")
    call = data.draw(st.integers(1, calls[owner, name]), label="call")
    event(f"fault in {name}")
    with failing(owner, name, call), pytest.raises(InternalError) as raised:
        engine.feed_line(lines[cut])
    assert raised.value.line == cut + 1 and isinstance(raised.value.error, Fault)
    assert_same_state(engine, reference)
    rest = lines[cut:]
    assert ledger_of(engine, rest) == ledger_of(reference, rest)
    assert_same_state(engine, reference)
