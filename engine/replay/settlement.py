"""Obligations, payments and credits between two parties in one direction (SPEC §5.5).

A `Book` holds one direction's open obligations (debtor → creditor) and that debtor's
unapplied credit toward the creditor. Money is applied first to a named obligation, then
in (due date, seq) order; what is left over becomes unapplied credit. A discharge (v2) is
the exception: it settles its own obligation and no other.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from engine.numbers import EXACT, ZERO


@dataclass(slots=True)
class Obligation:
    entry_id: str
    seq: int
    due: date
    kind: str
    outstanding: Decimal


@dataclass(frozen=True, slots=True)
class Application:
    """An amount applied to one obligation, with the due date it was applied against."""

    obligation: Obligation
    amount: Decimal


@dataclass(slots=True)
class Book:
    """One direction's open obligations and unapplied credit."""

    open: dict[str, Obligation] = field(default_factory=dict)
    queue: list[tuple[date, int, str]] = field(default_factory=list)
    outstanding: Decimal = ZERO
    unapplied: Decimal = ZERO

    def add(self, obligation: Obligation) -> None:
        self.open[obligation.entry_id] = obligation
        heapq.heappush(self.queue, (obligation.due, obligation.seq, obligation.entry_id))
        self.outstanding = EXACT.add(self.outstanding, obligation.outstanding)

    def apply(self, amount: Decimal, first: str | None = None) -> tuple[list[Application], Decimal]:
        """Apply `amount` to open obligations: `first` if open, then oldest due first.

        Returns the applications and what is left over (not yet added to unapplied credit).
        """
        applications: list[Application] = []
        remaining = amount
        if first is not None and first in self.open and remaining > 0:
            remaining = self._apply_to(self.open[first], remaining, applications)
        while remaining > 0 and self.queue:
            _, _, entry_id = self.queue[0]
            obligation = self.open.get(entry_id)
            if obligation is None:  # settled earlier through `first`; drop its stale queue slot
                heapq.heappop(self.queue)
                continue
            remaining = self._apply_to(obligation, remaining, applications)
        return applications, remaining

    def discharge(self, entry_id: str, amount: Decimal) -> Application:
        """(v2) Settle `amount` of one named obligation and of no other (a call's discharge, SPEC §5.7).

        The caller has checked that the obligation is open for at least `amount`; anything
        else is an engine bug, so it fails loudly rather than spill onto other obligations.
        """
        obligation = self.open.get(entry_id)
        if obligation is None or not 0 < amount <= obligation.outstanding:
            raise RuntimeError(f"engine bug: a discharge of {amount} on {entry_id}, which is not open for that much")
        applications: list[Application] = []
        self._apply_to(obligation, amount, applications)
        return applications[0]

    def state(self) -> tuple:
        """What applying money or adding an obligation may change, to put back with `restore`:
        copies of the open obligations and the queue (their items are kept, not copied), each
        open obligation's balance, and the two sums."""
        return dict(self.open), list(self.queue), [o.outstanding for o in self.open.values()], self.outstanding, self.unapplied

    def restore(self, state: tuple) -> None:
        """Put back what `state` kept, in place."""
        open_before, queue_before, balances, self.outstanding, self.unapplied = state
        self.open.clear()
        self.open.update(open_before)
        self.queue[:] = queue_before
        for obligation, balance in zip(open_before.values(), balances):
            obligation.outstanding = balance

    def preview(self, amount: Decimal, first: str | None = None) -> list[tuple[Obligation, Decimal]]:
        """What `apply` would settle, as (obligation, amount) pairs, changing nothing."""
        settled: list[tuple[Obligation, Decimal]] = []
        remaining = amount
        if first is not None and first in self.open and remaining > 0:
            part = min(remaining, self.open[first].outstanding)
            settled.append((self.open[first], part))
            remaining = EXACT.subtract(remaining, part)
        for _, _, entry_id in sorted(self.queue):
            if remaining <= 0:
                break
            obligation = self.open.get(entry_id)
            if obligation is None or entry_id == first:
                continue
            part = min(remaining, obligation.outstanding)
            settled.append((obligation, part))
            remaining = EXACT.subtract(remaining, part)
        return settled

    def _apply_to(self, obligation: Obligation, available: Decimal, applications: list[Application]) -> Decimal:
        amount = min(available, obligation.outstanding)
        obligation.outstanding = EXACT.subtract(obligation.outstanding, amount)
        self.outstanding = EXACT.subtract(self.outstanding, amount)
        applications.append(Application(obligation, amount))
        if obligation.outstanding.is_zero():
            del self.open[obligation.entry_id]
            if self.queue and self.queue[0][2] == obligation.entry_id:
                heapq.heappop(self.queue)
        return EXACT.subtract(available, amount)

    def take_credit(self, amount_max: Decimal) -> Decimal:
        """Use unapplied credit, up to `amount_max`, against a new obligation."""
        used = min(self.unapplied, amount_max)
        self.unapplied = EXACT.subtract(self.unapplied, used)
        return used

    def add_credit(self, amount: Decimal) -> None:
        self.unapplied = EXACT.add(self.unapplied, amount)
