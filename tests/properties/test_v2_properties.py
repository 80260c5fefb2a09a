"""Property tests of semantics backstop/v2 (revenue floors, guarantees), with the public kit.

Generated three-party agreements and logs (revenue under and over a floor, debt service,
payments among all three parties, guarantee calls around the cure date) replay into ledgers
whose every v2 promise is checked from the ledger and the documents alone.
"""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from engine.testing import (
    agreements_with_logs,
    check_cap_respected,
    check_chain_integrity,
    check_guarantee_calls,
    check_line_accounting,
    check_outstanding_rebuilt,
    check_totals,
    replay_lines,
)

V2_LOGS = {"max_lines": 60}


@given(agreements_with_logs(guarantee=True, log_options=V2_LOGS))
def test_guarantee_calls_follow_the_rules_and_what_is_owed_is_rebuilt_in_six_directions(case):
    """A call covers at most `covers` of what its debt service still owed and never passes
    the cap; its discharge never takes more than that; every reimbursement matches a call;
    and the outstanding and unapplied credit of all six directions rebuild from the ledger."""
    documents, lines = case
    replayed = replay_lines(documents, lines)
    check_line_accounting(replayed.summary, lines)
    check_chain_integrity(replayed.entries, summary=replayed.summary)
    check_guarantee_calls(replayed.entries, documents)
    check_outstanding_rebuilt(replayed.entries, replayed.summary)
    check_totals(replayed.entries, replayed.summary)
    assert len(replayed.summary["agreements"][documents[0]["agreement"]]["outstanding"]) == 6
    calls = sum(1 for entry in replayed.entries if entry.fields["kind"] == "guarantee_call")
    event("a call was paid out" if calls else "no call paid out")


@given(agreements_with_logs(versions=1, revenue_floor=True, log_options=V2_LOGS))
def test_top_ups_never_exceed_their_cap_nor_share_the_lease_back_cap(case):
    """The top-ups issued are always min(top-up cap, their entitlement), counted apart from
    the lease-back (whose own cap check counts only lease-back entries): the two caps never
    share a cent."""
    documents, lines = case
    replayed = replay_lines(documents, lines)
    floor_cap = documents[0]["revenue_floor"].get("cap")
    check_cap_respected(replayed.entries, floor_cap, of="revenue_top_up")
    backstop = documents[0].get("backstop")
    check_cap_respected(replayed.entries, backstop.get("cap") if backstop else None)
    check_outstanding_rebuilt(replayed.entries, replayed.summary)
    top_ups = [entry for entry in replayed.entries if entry.fields["kind"] == "revenue_top_up"]
    event("a top-up was issued" if top_ups else "no top-up")


@given(agreements_with_logs(versions=st.integers(1, 3), log_options=V2_LOGS))
def test_every_agreement_replays_into_a_ledger_whose_balances_rebuild(case):
    documents, lines = case
    replayed = replay_lines(documents, lines)
    check_line_accounting(replayed.summary, lines)
    check_outstanding_rebuilt(replayed.entries, replayed.summary)
    check_totals(replayed.entries, replayed.summary)
    event(documents[0]["schema"])
