from datetime import date
from decimal import Decimal

from engine.replay.rules import capped_change
from engine.replay.settlement import Book, Obligation

D = Decimal


def book_with(*obligations):
    book = Book()
    for entry_id, seq, due, amount in obligations:
        book.add(Obligation(entry_id, seq, due, "lease_back", D(amount)))
    return book


def test_named_obligation_first_then_by_due_date_then_seq():
    book = book_with(("a", 1, date(2026, 3, 1), "10"), ("b", 2, date(2026, 2, 1), "10"), ("c", 3, date(2026, 2, 1), "10"))
    applications, left = book.apply(D("25"), first="a")
    assert [(a.obligation.entry_id, a.amount) for a in applications] == [("a", D(10)), ("b", D(10)), ("c", D(5))]
    assert left == 0 and book.outstanding == D(5)


def test_a_settled_named_obligation_is_skipped_later_and_the_rest_is_left_over():
    book = book_with(("a", 1, date(2026, 1, 1), "10"), ("b", 2, date(2026, 2, 1), "10"))
    book.apply(D("10"), first="b")
    applications, left = book.apply(D("15"), first="b")  # b is settled: the name is ignored
    assert [(a.obligation.entry_id, a.amount) for a in applications] == [("a", D(10))]
    assert left == D(5) and book.outstanding == 0 and not book.open


def test_cap_formula_of_the_spec():
    # SPEC §9: d = 25200, cap 20000, I = 18600 → 1400.
    assert capped_change(D("25200.00"), D("20000"), D("18600.00"), D("18600.00")) == D("1400.00")
    # A cut claws back only what was issued above the remaining entitlement.
    assert capped_change(D("-10000"), D("5000"), D("11904"), D("5000")) == D("-3096")
    assert capped_change(D("-100"), D("5000"), D("11904"), D("5000")) == D("0")
    assert capped_change(D("100"), None, D("0"), D("0")) == D("100")
    assert capped_change(D("100"), D("50"), D("0"), D("80")) == D("0")
