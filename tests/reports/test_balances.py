"""Balances rebuilt from the ledger alone (SPEC §5.5), and a ledger whose records do not add up."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from engine.reports import LedgerInconsistent, directions, rebuild_balances
from tests.reports.support import BUNDLED, bundled, entries_of, spec9


def test_the_worked_example_rebuilds_to_its_summary():
    _, entries, summary = spec9()
    balances = rebuild_balances(entries)
    assert balances.outstanding == {
        "spec9/2026-01/lease_back/p1": Decimal("0.00"),
        "spec9/2026-01/revenue_share": Decimal("15000.00"),
        "spec9/2026-02/lease_back/p1": Decimal("1400.00"),
        "spec9/late_interest/pay-1/1": Decimal("40.77"),
    }
    assert balances.owed("spec9", "Guarantor", "Provider") == Decimal(summary["agreements"]["spec9"]["outstanding"]["guarantor_to_provider"])
    assert balances.owed("spec9", "Provider", "Guarantor") == Decimal("15000.00")
    assert [o.id for o in balances.open_obligations("spec9", "Guarantor", "Provider")] == [
        "spec9/2026-02/lease_back/p1", "spec9/late_interest/pay-1/1"]


@pytest.mark.parametrize("folder", BUNDLED)
def test_every_bundled_example_rebuilds_to_its_summary(folder):
    agreements, ledger, summary = bundled(folder)
    balances = rebuild_balances(entries_of(ledger))
    (agreement,) = agreements
    facts = summary["agreements"][agreement.id]
    assert [direction.name for direction in directions(agreement)] == list(facts["outstanding"])
    for direction in directions(agreement):
        assert balances.owed(agreement.id, direction.debtor, direction.creditor) == Decimal(facts["outstanding"][direction.name])
        assert balances.credit(agreement.id, direction.debtor, direction.creditor) == Decimal(facts["unapplied_credit"][direction.name])


def _entry(seq, entry_id, kind, debtor, creditor, amount, **extra):
    return {"agreement": "v2", "seq": seq, "id": entry_id, "kind": kind, "debtor": debtor, "creditor": creditor,
            "amount": amount, "date": "2026-03-01", "due": "2026-03-31", "period": None, **extra}


def test_the_guarantee_entries_of_v2_settle_from_the_ledger_alone():
    """SPEC §5.7 / §9: a discharge is applied to its own debt service; the call and the
    reimbursement are obligations of their own directions, and take unapplied credit."""
    entries = [
        _entry(1, "v2/2026-01/debt_service", "debt_service", "P", "L", "548387.10", due="2026-03-03"),
        _entry(2, "v2/payment/p1", "payment", "P", "L", "148387.10", due=None,
               applied=[{"entry": "v2/2026-01/debt_service", "amount": "148387.10"}], unapplied="0.00"),
        _entry(3, "v2/payment/p2", "payment", "P", "G", "100.00", due=None, applied=[], unapplied="100.00"),
        _entry(4, "v2/call/c1", "guarantee_call", "G", "L", "320000.00", due="2026-05-02", obligation="v2/2026-01/debt_service"),
        _entry(5, "v2/call/c1/discharge", "discharge", "P", "L", "-320000.00", due=None, obligation="v2/2026-01/debt_service",
               applied=[{"entry": "v2/2026-01/debt_service", "amount": "320000.00"}], unapplied="0.00"),
        _entry(6, "v2/call/c1/reimbursement", "reimbursement", "P", "G", "320000.00", due="2026-06-01",
               obligation="v2/2026-01/debt_service", credit_applied="100.00"),
    ]
    balances = rebuild_balances(entries)
    assert balances.outstanding["v2/2026-01/debt_service"] == Decimal("80000.00")
    assert balances.owed("v2", "G", "L") == Decimal("320000.00")
    assert balances.owed("v2", "P", "G") == Decimal("319900.00")
    assert balances.credit("v2", "P", "G") == Decimal("0.00")


@pytest.mark.parametrize("change, words", [
    (lambda es: es[3].update(applied=[{"entry": "spec9/nowhere", "amount": "18600.00"}]), "no earlier obligation"),
    (lambda es: es[3].update(applied=[{"entry": "spec9/2026-01/revenue_share", "amount": "18600.00"}]), "owed Provider → Guarantor"),
    (lambda es: es[3].update(applied=[{"entry": "spec9/2026-01/lease_back/p1", "amount": "18600.01"}]), "owed only 18600.00"),
    (lambda es: es[3].update(unapplied="0.01"), "applied 18600.00 + unapplied 0.01"),
    (lambda es: es[3].update(applied=[{"entry": "spec9/2026-01/lease_back/p1", "amount": "0.00"}], unapplied="18600.00"), "not > 0"),
    (lambda es: es[3].pop("applied"), "without 'applied'"),
    (lambda es: es[4].update(credit_applied="1.00"), "only 0.00 was unapplied"),
    (lambda es: es[2].update(applied=[]), "neither obligation nor credit"),
    (lambda es: es[4].update(amount="forty"), "not a decimal string"),
    (lambda es: es[4].update(due="someday"), "not a date"),
])
def test_a_ledger_whose_records_do_not_add_up_is_refused_naming_the_entry(change, words):
    _, entries, _ = spec9()
    broken = copy.deepcopy(entries)
    broken[2]["amount"], broken[2]["kind"] = "0.00", "lease_back"  # for the "neither obligation nor credit" case
    change(broken)
    with pytest.raises(LedgerInconsistent, match="seq") as raised:
        rebuild_balances(broken)
    assert words in str(raised.value)
