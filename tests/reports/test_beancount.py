"""The Beancount export: `bean-check` accepts the books of every bundled example, and each
account's balance, as Beancount computes it, is the summary's outstanding, credit and totals
(for the bundled examples and for generated agreements and logs)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.reports import beancount_books, beancount_text
from engine.reports.beancount_text import entry_link
from engine.reports.parties import directions
from engine.testing import agreements_with_logs, replay_lines
from engine.testing.invariants import loaded_agreements
from tests.reports.support import BUNDLED, bundled, entries_of, spec9

beancount = pytest.importorskip("beancount")
from beancount import loader  # noqa: E402
from beancount.core import data  # noqa: E402

BEAN_CHECK = Path(sys.executable).parent / "bean-check"


def books_text(agreements, entries) -> str:
    return beancount_text(beancount_books(entries, agreements))


def balances(text: str) -> tuple[dict[str, Decimal], dict[str, dict], list]:
    """(account → balance, account → its open metadata, transactions) as Beancount reads the file."""
    loaded, errors, _ = loader.load_string(text)
    assert not errors, [str(error.message) for error in errors[:5]]
    sums: dict[str, Decimal] = defaultdict(Decimal)
    opened, transactions = {}, []
    for directive in loaded:
        if isinstance(directive, data.Open):
            opened[directive.account] = directive.meta
        elif isinstance(directive, data.Transaction):
            transactions.append(directive)
            for posting in directive.postings:
                sums[posting.account] += posting.units.number
    return sums, opened, transactions


def check_against_summary(text: str, agreements, summary: dict) -> None:
    """Each direction's receivable, payable and advances, each kind's income and expense
    (share kinds: warrants held), and the payments, against the summary. Accounts are found by
    the metadata the export opens them with, so the test does not repeat its naming."""
    sums, opened, transactions = balances(text)

    def account(root: str, word: str, **meta: str) -> str:
        (found,) = [name for name, info in opened.items() if name.startswith(root + ":") and f":{word}:" in name + ":"
                    and all(info.get(key) == value for key, value in meta.items())]
        return found

    def total(root: str, agreement: str, kinds) -> Decimal:
        return sum((sums[name] for name, info in opened.items()
                    if name.startswith(root + ":") and info["agreement"] == agreement and kinds(info.get("kind", ""))), Decimal(0))

    for agreement in agreements:
        facts, mine = summary["agreements"][agreement.id], agreement.id
        for direction in directions(agreement):
            debtor, creditor, name = direction.debtor, direction.creditor, direction.name
            owed, credit = Decimal(facts["outstanding"][name]), Decimal(facts["unapplied_credit"][name])
            held = (sums[account("Assets", "Receivable", party=creditor, counterparty=debtor, agreement=mine)],
                    sums[account("Liabilities", "Payable", party=debtor, counterparty=creditor, agreement=mine)],
                    sums[account("Assets", "Advances", party=debtor, counterparty=creditor, agreement=mine)],
                    sums[account("Liabilities", "Advances", party=creditor, counterparty=debtor, agreement=mine)])
            assert held == (owed, -owed, credit, -credit), (agreement.id, name)
        for kind, amount in facts["totals"].items():
            if kind == "payment":
                paid = sum((posting.units.number for transaction in transactions
                            if transaction.meta["kind"] == "payment" and mine in transaction.tags
                            for posting in transaction.postings if posting.account.endswith(":Cash") and posting.units.number > 0),
                           Decimal(0))
                assert paid == Decimal(amount)
            elif kind in ("warrant_vested", "split_adjustment", "share_delivery"):
                assert total("Assets", mine, kind.__eq__) == Decimal(amount) == -total("Equity", mine, kind.__eq__)
            elif kind == "adjustment":
                adjusted = lambda found: found.startswith("adjustment of ")  # noqa: E731
                assert total("Expenses", mine, adjusted) == Decimal(amount) == -total("Income", mine, adjusted)
            else:
                assert total("Expenses", mine, kind.__eq__) == Decimal(amount) == -total("Income", mine, kind.__eq__)


@pytest.mark.slow
@pytest.mark.parametrize("folder", BUNDLED)
def test_bean_check_accepts_each_bundled_example(folder, tmp_path):
    agreements, ledger, summary = bundled(folder)
    path = tmp_path / f"{folder}.beancount"
    path.write_text(books_text(agreements, entries_of(ledger)), encoding="utf-8")
    done = subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize("folder", BUNDLED)
def test_each_bundled_example_balances_to_its_summary(folder):
    agreements, ledger, summary = bundled(folder)
    text = books_text(agreements, entries_of(ledger))
    check_against_summary(text, agreements, summary)
    assert text.count("\n  id: ") == summary["agreements"][agreements[0].id]["entries"]


def test_the_worked_example_as_books():
    agreements, entries, summary = spec9()
    text = books_text(agreements, entries)
    check_against_summary(text, agreements, summary)
    assert ('2026-03-13 * "Guarantor → Provider" "payment" #spec9 ^spec9/payment/pay-1 ^spec9/2026-01/lease_back/p1\n'
            '  id: "spec9/payment/pay-1"\n  kind: "payment"\n') in text
    # After February's close (dated 2026-03-01): January's 18600.00 and February's 1400.00 owed.
    assert "2026-03-02 balance Assets:Provider:Spec9:Receivable:Guarantor  20000.00 ~ 0 USD" in text
    assert "2026-03-02 balance Liabilities:Guarantor:Spec9:Payable:Provider  -20000.00 ~ 0 USD" in text


def test_a_wrong_balance_assertion_fails_the_books():
    """The assertions are checked by Beancount, so they state what the books really hold."""
    agreements, entries, _ = spec9()
    text = books_text(agreements, entries).replace(
        "2026-03-02 balance Assets:Provider:Spec9:Receivable:Guarantor  20000.00 ~ 0 USD",
        "2026-03-02 balance Assets:Provider:Spec9:Receivable:Guarantor  19999.99 ~ 0 USD")
    _, errors, _ = loader.load_string(text)
    assert any("Balance failed" in str(error.message) for error in errors)


@pytest.mark.parametrize("entry_id, link", [
    ("spec9/2026-01/lease_back/p1", "spec9/2026-01/lease_back/p1"),
    ("a.b/payment/pay:1 ü", "a.2Eb/payment/pay.3A1.20.C3.BC"),
])
def test_entry_ids_become_links_one_to_one(entry_id, link):
    assert entry_link(entry_id) == link


@settings(max_examples=15)
@given(agreements_with_logs(versions=st.integers(1, 2)))
def test_generated_books_check_and_balance_to_the_summary(case):
    documents, lines = case
    agreements = loaded_agreements(documents)
    replayed = replay_lines(agreements, lines)
    check_against_summary(books_text(agreements, replayed.entries), agreements, replayed.summary)


def test_share_commodities_never_take_a_currencys_name():
    """A provider named like a currency gets a commodity of its own for its shares."""
    from engine.reports.beancount_text import _Names

    names = _Names()
    assert names.currency("USD") == "USD"
    assert names.shares("USD") == "USD-2" and names.shares("usd") == "USD-3" and names.shares("USD") == "USD-2"
    assert names.party("alto.compute") == "Alto-compute" and names.party("alto_compute") == "Alto-compute-2"
    assert names.agreement("alto.compute") == "Alto-compute"
