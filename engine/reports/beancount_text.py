"""The ledger as a Beancount (v3) file: double-entry books of every party, one transaction per
ledger entry, so that finance tools read the settlement as accounts.

Each party keeps its own books under each agreement (`{Party}:{Agreement}`):

- an obligation of D to C (kind K, amount a, `credit_applied` k): C books the receivable
  `Assets:C:A:Receivable:D` (a − k) and the income `Income:C:A:K` (−a); D books the expense
  `Expenses:D:A:K` (a) and the payable `Liabilities:D:A:Payable:C` (−(a − k)); the credit k
  taken comes out of `Assets:D:A:Advances:C` and `Liabilities:C:A:Advances:D`;
- a payment settles what its `applied` list names (receivable and payable) and books its
  `unapplied` rest as an advance, the money moving between the two `Assets:…:Cash` accounts;
- a credit (a negative adjustment, a v2 discharge) reverses income and expense and settles
  like a payment;
- warrant shares are a commodity named after the provider, booked under
  `Assets:G:A:Warrants:K` and `Equity:P:A:Warrants:K`.

An adjustment counts under `Adjustment:{the kind it adjusts}`. Every transaction carries the
entry id as a link (encoded to the characters links allow, `.XX` for any other byte) and as
`id` metadata, with its `kind`, `hash`, `seq`, `version` and `document`; a payment or credit
also links the obligations it settles. Each account is opened with metadata naming, as the
ledger spells them, its party, agreement, and counterparty or entry kind. After each period's end, balance assertions state every
receivable, payable and advance of the agreement, as Beancount sums them (by date), exactly.
So each receivable's final balance is the summary's `outstanding` for that direction, each
advance its `unapplied_credit`, and each income account the negative of the kind's total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping

from engine.calendar import settlement_periods
from engine.numbers import EXACT, ZERO, format_amount
from engine.reports.balances import CREDIT_KINDS, OBLIGATION_KINDS, SHARE_KINDS
from engine.reports.parties import directions, roles
from engine.reports.sources import by_agreement, entry_fields, match_documents

_LINK_SAFE = re.compile(r"[A-Za-z0-9\-_/]")
_COMPONENT_UNSAFE = re.compile(r"[^A-Za-z0-9\-]")
_CURRENCY_UNSAFE = re.compile(r"[^A-Z0-9'._-]")
SHARE_ACCOUNT = {"warrant_vested": "Vested", "split_adjustment": "SplitAdjustment", "share_delivery": "ShareDelivery"}


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: Decimal
    unit: str


@dataclass(frozen=True)
class Transaction:
    date: date
    payee: str
    narration: str
    tags: tuple[str, ...]
    links: tuple[str, ...]
    meta: tuple[tuple[str, Any], ...]  # key → str, int or date
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class Assertion:
    date: date
    account: str
    amount: Decimal
    unit: str


@dataclass(frozen=True)
class BeancountBooks:
    """Everything the file states, in the order it is written."""

    currencies: tuple[str, ...]
    commodities: tuple[tuple[date, str, str], ...]  # (date, commodity, what it is)
    opens: tuple[tuple[date, str, str, tuple[tuple[str, str], ...]], ...]  # (date, account, its one unit, metadata)
    transactions: tuple[Transaction, ...]
    assertions: tuple[Assertion, ...]
    places: Mapping[str, int] = field(default_factory=dict)  # unit → fraction digits written


def beancount_books(entries: Iterable[Mapping[str, Any]], agreements: Iterable[Any]) -> BeancountBooks:
    """The books of every agreement of `agreements` (loaded agreements), from the ledger's `entries`."""
    fields = entry_fields(entries)
    loaded = match_documents(fields, agreements)
    grouped = by_agreement(fields)
    names = _Names()
    for agreement in loaded.values():
        names.currency(agreement.versions[0].document.currency)
    currencies, commodities, opens, transactions, assertions = [], {}, {}, [], []
    places: dict[str, int] = {}
    for agreement_id in sorted(loaded):
        agreement, mine = loaded[agreement_id], grouped.get(agreement_id, [])
        first = agreement.versions[0].document
        books = _AgreementBooks(agreement, names)
        for entry in mine:
            transactions.append(books.transaction(entry))
        opened = min([first.term.start, *(date.fromisoformat(entry["date"]) for entry in mine)])
        assertions.extend(books.assertions(transactions[len(transactions) - len(mine):], _period_ends(first, mine)))
        for account, unit in books.accounts.items():
            opens.setdefault(account, (opened, account, unit, books.meta[account]))
        if first.currency not in currencies:
            currencies.append(first.currency)
        commodities.setdefault(first.currency, (opened, first.currency, "a currency of the ledger's amounts"))
        places[first.currency] = first.settlement.rounding.places
        if books.shares_used:
            commodities.setdefault(books.share_unit, (opened, books.share_unit, f"shares of {first.parties.provider}"))
            places[books.share_unit] = 0
    return BeancountBooks(tuple(currencies), tuple(sorted(commodities.values())), tuple(sorted(opens.values())),
                          tuple(transactions), tuple(assertions), places)


def beancount_text(books: BeancountBooks, *, title: str = "backstop ledger") -> str:
    """The books as a Beancount v3 file."""
    lines = [f"option \"title\" {_string(title)}"]
    lines += [f"option \"operating_currency\" {_string(currency)}" for currency in books.currencies]
    lines.append("")
    for day, commodity, what in books.commodities:
        lines += [f"{day.isoformat()} commodity {commodity}", f"  name: {_string(what)}"]
    lines.append("")
    for day, account, unit, meta in books.opens:
        lines.append(f"{day.isoformat()} open {account} {unit}")
        lines += [f"  {key}: {_string(value)}" for key, value in meta]
    assertions_by_date: dict[date, list[Assertion]] = {}
    for assertion in books.assertions:
        assertions_by_date.setdefault(assertion.date, []).append(assertion)
    for transaction in books.transactions:
        lines.append("")
        head = f"{transaction.date.isoformat()} * {_string(transaction.payee)} {_string(transaction.narration)}"
        head += "".join(f" #{tag}" for tag in transaction.tags) + "".join(f" ^{link}" for link in transaction.links)
        lines.append(head)
        lines += [f"  {key}: {_meta_value(value)}" for key, value in transaction.meta]
        lines += [f"  {posting.account}  {_amount(posting, books)}" for posting in transaction.postings]
    for day in sorted(assertions_by_date):
        lines.append("")
        # `~ 0`: the assertion holds to the last digit; Beancount's inferred tolerance would let
        # a cent through.
        lines += [f"{day.isoformat()} balance {assertion.account}  "
                  f"{format_amount(assertion.amount, books.places[assertion.unit])} ~ 0 {assertion.unit}"
                  for assertion in assertions_by_date[day]]
    return "\n".join(lines) + "\n"


def entry_link(entry_id: str) -> str:
    """An entry id as a Beancount link: the characters links allow kept, `.XX` (UTF-8 bytes in
    hex) for every other one, `.` included, so that two ids never share a link."""
    return "".join(
        character if _LINK_SAFE.fullmatch(character) else "".join(f".{byte:02X}" for byte in character.encode("utf-8"))
        for character in entry_id
    )


class _Names:
    """Account components and commodity names made from party and agreement names, each name
    always giving the same one and two names of one kind never the same one (a clash gets
    `-2`, `-3` …, in the order names are met)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, str]] = {"party": {}, "agreement": {}, "commodity": {}}

    def party(self, name: str) -> str:
        return self._unique("party", name, _component(name))

    def agreement(self, name: str) -> str:
        return self._unique("agreement", name, _component(name))

    def currency(self, code: str) -> str:
        """An agreement's currency: the commodity of its code, taken before any share commodity."""
        return self._unique("commodity", f"currency {code}", code)

    def shares(self, provider: str) -> str:
        """The commodity of a provider's shares: never a currency's, nor another provider's."""
        return self._unique("commodity", f"shares {provider}", _currency(provider))

    def _unique(self, space: str, name: str, wanted: str) -> str:
        table = self.tables[space]
        if name not in table:
            taken, candidate, number = set(table.values()), wanted, 1
            while candidate in taken:
                number += 1
                candidate = f"{wanted}-{number}"
            table[name] = candidate
        return table[name]


class _AgreementBooks:
    """The accounts and transactions of one agreement."""

    def __init__(self, agreement: Any, names: _Names) -> None:
        document = agreement.versions[0].document
        self.agreement_id = agreement_id = agreement.id
        self.currency = document.currency
        self.party = {name: names.party(name) for name in roles(agreement).values()}
        self.part = names.agreement(agreement_id)
        self.share_unit = names.shares(document.parties.provider)
        self.directions = directions(agreement)
        self.accounts: dict[str, str] = {}  # account → unit, in the order they are first used
        self.meta: dict[str, tuple[tuple[str, str], ...]] = {}  # account → what it holds, by name
        self.shares_used = False
        for direction in self.directions:
            self._settlement_accounts(direction.debtor, direction.creditor)

    def account(self, root: str, party: str, what: tuple[str, ...], *, unit: str | None = None,
                counterparty: str | None = None, kind: str | None = None) -> str:
        """An account of `party` under this agreement, opened with metadata naming the party,
        the agreement, and the counterparty or the entry kind it holds, as the ledger spells them."""
        name = ":".join((root, self.party[party], self.part, *what))
        if name not in self.accounts:
            self.accounts[name] = unit or self.currency
            meta = [("party", party), ("agreement", self.agreement_id)]
            meta += [("counterparty", counterparty)] if counterparty is not None else []
            meta += [("kind", kind)] if kind is not None else []
            self.meta[name] = tuple(meta)
        return name

    def _settlement_accounts(self, debtor: str, creditor: str) -> tuple[str, str, str, str]:
        """The receivable and payable of a direction, and the advances on either side."""
        return (self.account("Assets", creditor, ("Receivable", self.party[debtor]), counterparty=debtor),
                self.account("Liabilities", debtor, ("Payable", self.party[creditor]), counterparty=creditor),
                self.account("Assets", debtor, ("Advances", self.party[creditor]), counterparty=creditor),
                self.account("Liabilities", creditor, ("Advances", self.party[debtor]), counterparty=debtor))

    def _kind_account(self, root: str, party: str, entry: Mapping[str, Any]) -> str:
        """The income or expense account of an entry's kind (an adjustment: of the kind it adjusts)."""
        if entry["kind"] == "adjustment":
            return self.account(root, party, ("Adjustment", _camel(entry["of"])), kind=f"adjustment of {entry['of']}")
        return self.account(root, party, (_camel(entry["kind"]),), kind=entry["kind"])

    def transaction(self, entry: Mapping[str, Any]) -> Transaction:
        kind, debtor, creditor = entry["kind"], entry["debtor"], entry["creditor"]
        amount = Decimal(entry["amount"])
        links = [entry_link(entry["id"])]
        if kind in SHARE_KINDS:
            postings = self._shares(entry, amount)
        elif kind == "payment" or (kind in CREDIT_KINDS and amount < 0):
            postings = self._settlement(entry, amount)
            links += [entry_link(item["entry"]) for item in entry["applied"]]
        else:
            postings = self._obligation(entry, amount if kind in OBLIGATION_KINDS and amount > 0 else ZERO, amount)
        meta = [("id", entry["id"]), ("kind", kind), ("hash", entry["hash"]), ("seq", entry["seq"]),
                ("version", entry["version"]), ("document", entry["document"])]
        if entry.get("due") is not None:
            meta.append(("due", date.fromisoformat(entry["due"])))
        return Transaction(date.fromisoformat(entry["date"]), f"{debtor} → {creditor}", _narration(entry),
                           (self.agreement_id,), tuple(dict.fromkeys(links)), tuple(meta), tuple(postings))

    def _obligation(self, entry: Mapping[str, Any], owed: Decimal, amount: Decimal) -> list[Posting]:
        """An obligation (or an entry the cap made 0: income and expense of 0, nothing owed)."""
        debtor, creditor = entry["debtor"], entry["creditor"]
        receivable, payable, paid_ahead, held = self._settlement_accounts(debtor, creditor)
        taken = Decimal(entry.get("credit_applied", "0"))
        postings = [Posting(self._kind_account("Income", creditor, entry), -amount, self.currency),
                    Posting(self._kind_account("Expenses", debtor, entry), amount, self.currency)]
        if owed > 0:
            postings += [Posting(receivable, EXACT.subtract(owed, taken), self.currency),
                         Posting(payable, -EXACT.subtract(owed, taken), self.currency)]
        if taken > 0:
            postings += [Posting(held, taken, self.currency), Posting(paid_ahead, -taken, self.currency)]
        return postings

    def _settlement(self, entry: Mapping[str, Any], amount: Decimal) -> list[Posting]:
        """A payment (cash moves) or a credit (income and expense reversed), settling what its
        `applied` names; the rest becomes an advance of the debtor toward the creditor."""
        debtor, creditor = entry["debtor"], entry["creditor"]
        receivable, payable, paid_ahead, held = self._settlement_accounts(debtor, creditor)
        applied = ZERO
        for item in entry["applied"]:
            applied = EXACT.add(applied, Decimal(item["amount"]))
        rest = Decimal(entry["unapplied"])
        if entry["kind"] == "payment":
            postings = [Posting(self.account("Assets", creditor, ("Cash",)), amount, self.currency),
                        Posting(self.account("Assets", debtor, ("Cash",)), -amount, self.currency)]
        else:
            postings = [Posting(self._kind_account("Income", creditor, entry), -amount, self.currency),
                        Posting(self._kind_account("Expenses", debtor, entry), amount, self.currency)]
        postings += [Posting(receivable, -applied, self.currency), Posting(payable, applied, self.currency)]
        if rest > 0:
            postings += [Posting(held, -rest, self.currency), Posting(paid_ahead, rest, self.currency)]
        return postings

    def _shares(self, entry: Mapping[str, Any], amount: Decimal) -> list[Posting]:
        self.shares_used = True
        what, unit, kind = ("Warrants", SHARE_ACCOUNT[entry["kind"]]), self.share_unit, entry["kind"]
        return [Posting(self.account("Assets", entry["creditor"], what, unit=unit, kind=kind), amount, unit),
                Posting(self.account("Equity", entry["debtor"], what, unit=unit, kind=kind), -amount, unit)]

    def assertions(self, transactions: list[Transaction], ends: list[date]) -> list[Assertion]:
        """Each direction's receivable, payable and advances the day after each period's end
        (a balance assertion holds at the start of its day), as Beancount sums them by date."""
        watched = [account for direction in self.directions
                   for account in self._settlement_accounts(direction.debtor, direction.creditor)]
        found = []
        ordered = sorted(transactions, key=lambda transaction: transaction.date)
        sums = {account: ZERO for account in watched}
        position = 0
        for end in ends:
            day = end + timedelta(days=1)
            while position < len(ordered) and ordered[position].date < day:
                for posting in ordered[position].postings:
                    if posting.account in sums:
                        sums[posting.account] = EXACT.add(sums[posting.account], posting.amount)
                position += 1
            found += [Assertion(day, account, sums[account], self.currency) for account in watched]
        return found


def _period_ends(document: Any, entries: list[Mapping[str, Any]]) -> list[date]:
    """The end dates of the agreement's periods up to its last entry's date: the closes."""
    if not entries:
        return []
    last = max(date.fromisoformat(entry["date"]) for entry in entries)
    periods = settlement_periods(document.term.start, document.term.end, document.settlement.period)
    return [period.end for period in periods if period.end <= last]


def _camel(kind: str) -> str:
    return "".join(word.capitalize() for word in kind.split("_"))


def _narration(entry: Mapping[str, Any]) -> str:
    words = [entry["kind"].replace("_", " ")]
    if entry["kind"] == "adjustment":
        words.append(f"of {entry['of'].replace('_', ' ')}")
    words += [text for text in (entry.get("period"), entry.get("pool"), entry.get("tranche")) if text]
    return " ".join(words)


def _component(name: str) -> str:
    """A party or agreement name as an account component: letters, digits and `-`, starting
    with a capital letter or a digit (`alto-compute` → `Alto-compute`, `a.b_c` → `A-b-c`)."""
    text = _COMPONENT_UNSAFE.sub("-", name)
    return text[:1].upper() + text[1:]


def _currency(name: str) -> str:
    """A name as a commodity: capitals, digits and `'._-`, starting with a letter and ending
    with a letter or digit, two characters at least (`9Volt_AI` → `S9VOLT_AI`)."""
    text = _CURRENCY_UNSAFE.sub("-", name.upper()).rstrip("'._-")
    if not text[:1].isalpha():
        text = "S" + text
    return text if len(text) >= 2 else text + "S"


def _amount(item: Posting, books: BeancountBooks) -> str:
    return f"{format_amount(item.amount, books.places[item.unit])} {item.unit}"


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _meta_value(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
