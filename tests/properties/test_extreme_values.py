"""No line stops the replay (semantics §0, §2 "Range"): agreements at the calendar's two ends
and logs with every value at or past its bound are replayed line by line, every line applied,
a duplicate or rejected, and the ledger stays whole.

The agreements run near 0001-01-01 or 9999-12-31, with payment terms up to 365 days,
20-digit rates, gpus and shares, and locks; the logs mix lines that pass every rule (inputs
at a pool's full capacity, 20-digit amounts with 12 fraction digits, ids of 128 code points,
closes in order, huge exercises and splits) with lines just past a bound, re-sent lines and
lines bad on their own. A document whose periods would fall due past 9999-12-31 must be
refused with a document error, never crash the load.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import event, given
from hypothesis import strategies as st

from engine.calendar import settlement_periods
from engine.documents.errors import DocumentErrors
from engine.documents.loader import load_agreements_from_mappings
from engine.replay import Engine
from engine.testing import (
    bad_lines, check_chain_integrity, check_line_accounting, check_outstanding_rebuilt, check_totals,
)

BIG = Decimal("99999999999999999999")  # 20 digits: the largest integer part an event or document may write
FINEST = Decimal("0.000000000001")  # 12 fraction digits: the finest an event may write
COUNT_MAX = 10**20 - 1
LAST_ORDINAL = date.max.toordinal()


# ---- agreements at the ends of the calendar ----------------------------------------------


@st.composite
def edge_agreements(draw) -> list[dict]:
    """The version documents of one agreement whose term lies near 0001-01-01 or 9999-12-31."""
    kind = draw(st.sampled_from(["monthly", "quarterly"]))
    if draw(st.booleans()):
        start = draw(st.dates(date(9998, 10, 1), date(9999, 12, 29)))
        end = draw(st.dates(start + timedelta(days=1), date.max))
    else:
        start = draw(st.dates(date.min, date(1, 3, 1)))
        end = draw(st.dates(start + timedelta(days=1), date(1, 12, 31)))
    periods = settlement_periods(start, end, kind)
    later = draw(st.lists(st.sampled_from(periods[1:]), max_size=2, unique=True)) if len(periods) > 1 else []
    effective = [start] + sorted(period.start for period in later)
    rounding = {"places": draw(st.integers(0, 6)), "mode": draw(st.sampled_from(["half_even", "half_up", "down"]))}
    lock = draw(st.sampled_from([None, 0, 1, COUNT_MAX]))
    strike = draw(st.sampled_from([Decimal("0.000001"), BIG]))  # the same in every version
    pools = [{"id": "p1", "gpu_model": "H200", "gpus": draw(st.sampled_from([1, 64, COUNT_MAX]))},
             {"id": "p2", "gpu_model": "B200", "gpus": 1}]
    tranches = [
        {"id": "t1", "shares": COUNT_MAX, "vests": {"on_or_after": draw(st.sampled_from([date.min, start, date.max]))}},
        {"id": "t2", "shares": 1, "vests": {"lease_back_total_at_least": Decimal(0)}},
        {"id": "t3", "shares": 7, "vests": {"any": [{"vwap_at_least": FINEST, "days": 1},
                                                     {"on_or_after": date.max}]}},
    ]
    v2 = draw(st.booleans())  # a lender, a revenue floor and a guarantee of debt service too
    documents = []
    for number, day in enumerate(effective, start=1):
        settlement: dict = {
            "period": kind,
            "payment_terms_days": draw(st.sampled_from([0, 1, 30, 365]) | st.integers(0, 365)),
            "rounding": rounding,
            "late_interest": {"annual_rate": draw(st.sampled_from([Decimal(1), FINEST])), "day_count": "ACT/360"},
        }
        if lock is not None:
            settlement["lock_after_periods"] = lock
        document = {
            "schema": "backstop/v1", "agreement": "edge", "version": number, "effective": day,
            "parties": {"provider": "Prov", "guarantor": "Guar"}, "currency": "USD",
            "term": {"start": start, "end": end}, "settlement": settlement, "pools": pools,
            "backstop": {
                "rate_per_gpu_hour": {"H200": draw(st.sampled_from([BIG + Decimal("0.999999"), Decimal("0.000001")])),
                                      "B200": Decimal(1)},
                "threshold": draw(st.sampled_from([Decimal(1), Decimal("0.000001")])),
                "covers": draw(st.sampled_from(["shortfall", "idle"])),
                **({"cap": draw(st.sampled_from([Decimal(1), BIG]))} if draw(st.booleans()) else {}),
            },
            "revenue_share": {"steps": [{"from_year": 1, "rate": Decimal(1)}, {"from_year": COUNT_MAX, "rate": FINEST}]},
            "warrants": {"strike": strike, "expires": date.max,
                         "tranches": tranches},
        }
        if v2:
            document["schema"] = "backstop/v2"
            document["parties"]["lender"] = "Lend"
            document["revenue_floor"] = {"steps": [{"from_year": 1, "amount": draw(st.sampled_from([BIG, Decimal(1)]))}],
                                         **({"cap": Decimal(1)} if draw(st.booleans()) else {})}
            document["revenue_share"]["above_floor"] = draw(st.booleans())
            document["guarantee"] = {
                "debt_service": [{"from_year": 1, "amount": draw(st.sampled_from([BIG, Decimal(1)]))}],
                "covers": draw(st.sampled_from([Decimal(1), Decimal("0.000001")])),
                "cure_days": draw(st.sampled_from([0, 30, 365]) | st.integers(0, 365)),
                **({"cap": BIG} if draw(st.booleans()) else {}),
                "reimbursement": {"payment_terms_days": draw(st.sampled_from([0, 365]) | st.integers(0, 365)),
                                  "late_interest": {"annual_rate": Decimal(1), "day_count": "ACT/365F"}},
            }
        documents.append(document)
    return documents


def periods_past_the_calendar(documents: list[dict]) -> list[str]:
    """The periods whose due date would fall after 9999-12-31, by day numbers (an
    independent reading of semantics §2: a period's due date is its end + the payment terms
    of the version governing it)."""
    first = documents[0]
    periods = settlement_periods(first["term"]["start"], first["term"]["end"], first["settlement"]["period"])
    late = []
    for period in periods:
        governing = [document for document in documents if document["effective"] <= period.start][-1]
        if period.end.toordinal() + governing["settlement"]["payment_terms_days"] > LAST_ORDINAL:
            late.append(period.id)
    return late


@given(edge_agreements())
def test_a_document_is_invalid_exactly_when_a_period_would_fall_due_past_the_calendar(documents):
    late = periods_past_the_calendar(documents)
    event("refused" if late else "loaded")
    try:
        Engine(load_agreements_from_mappings(documents))
    except DocumentErrors as errors:
        assert late, str(errors)
        assert all(error.field == "settlement.payment_terms_days" for error in errors.errors), str(errors)
        assert any(f"period {late[0]} " in error.message for error in errors.errors), str(errors)
        return
    assert not late


# ---- logs with every value at its bound -----------------------------------------------------

def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """`valid` nine times in ten, else `invalid`: lines past a bound are rejected, and the
    rest must go far enough to reach the rules that need dates and sums at their bounds."""
    return st.integers(0, 9).flatmap(lambda draw: invalid if draw == 0 else valid)


def date_texts(term_start: date, term_end: date) -> st.SearchStrategy[str]:
    """Dates at the calendar's ends and the term's, where a due date or an interval is
    most likely to fall past the calendar (else any date; one time in ten, none at all)."""
    edges = [date.min, date(1, 1, 2), date(9999, 12, 1), date(9999, 12, 29), date(9999, 12, 30), date.max,
             term_start, term_end]
    days = st.sampled_from(edges) | st.dates(term_start, term_end) | st.dates()
    return mostly(days.map(str), st.sampled_from(["0000-12-31", "10000-01-01", "9999-12-32"]))


OFFSETS = st.sampled_from(["Z", "+00:00", "+23:59", "-23:59", "+05:30"])
IDS = mostly(st.one_of(
    st.integers(0, 10**6).map(lambda n: f"{n}".rjust(128, "é")),  # 128 code points, 256 bytes
    st.integers(0, 10**6).map(lambda n: f"{n}".rjust(128, "\U0001D518")),  # 128 code points, 512 bytes
    st.integers(0, 10**6).map(str),
), st.just("x" * 129))  # one past the bound
AMOUNTS = st.sampled_from([BIG + Decimal("0.999999999999"), BIG, FINEST, Decimal(1), Decimal("0.01"), Decimal(0)]) \
    | st.decimals(min_value=-BIG, max_value=BIG, places=12, allow_nan=False, allow_infinity=False)
POSITIVE = mostly(st.sampled_from([BIG + Decimal("0.999999999999"), FINEST, Decimal(1)])
                  | st.decimals(min_value=FINEST, max_value=BIG, places=12), AMOUNTS)
COUNTS = mostly(st.sampled_from([1, 1, 2, 3, COUNT_MAX]) | st.integers(1, COUNT_MAX), st.just(COUNT_MAX + 1))


def money(places: int) -> st.SearchStrategy[Decimal]:
    """Payments an agreement settling to `places` digits accepts, from one unit to 20 digits
    (nine times in ten; else any amount)."""
    largest = 10 ** (20 + places) - 1
    units = st.sampled_from([1, largest, 10**places]) | st.integers(1, largest)
    return mostly(units.map(lambda count: Decimal(count).scaleb(-places)), AMOUNTS)


def decimal_text(value: Decimal) -> str:
    return f"{value:f}"


def timestamp(day: date, offset: str) -> str:
    """00:00 UTC of `day`, written in `offset` (the local date and time shift with it)."""
    if offset == "Z":
        return f"{day}T00:00:00Z"
    sign, hours, minutes = offset[0], int(offset[1:3]), int(offset[4:6])
    shift = timedelta(hours=hours, minutes=minutes)
    ordinal_seconds = day.toordinal() * 86_400 + (shift.seconds if sign == "+" else -shift.seconds)
    local_day = date.fromordinal(max(1, min(LAST_ORDINAL, ordinal_seconds // 86_400)))
    seconds = ordinal_seconds % 86_400
    return f"{local_day}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:00{offset}"


@st.composite
def edge_logs(draw, engine: Engine) -> list[str]:
    """Lines for the one agreement of `engine`: many pass every rule, many miss one by a hair."""
    terms = engine.agreements["edge"].terms
    periods = terms.periods
    pools = {pool.id: pool.gpus for pool in terms.first.pools}
    places = terms.places
    parties = ["Prov", "Guar"] + (["Lend"] if terms.first.parties.lender is not None else [])
    dates = date_texts(terms.first.term.start, terms.first.term.end)
    lines: list[str] = []
    applied_inputs: list[str] = []
    closes = 0
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["utilization", "utilization", "revenue", "correction", "close", "close",
                                     "true_up", "payment", "payment", "share_price", "stock_split", "exercise",
                                     "guarantee_call", "repeat", "bad"]))
        if kind == "bad":
            lines.append(draw(bad_lines(agreement="edge")).decode("utf-8", "replace"))
            continue
        if kind == "repeat":
            if lines:
                lines.append(draw(st.sampled_from(lines)))
            continue
        line: dict = {"id": draw(IDS), "type": kind, "agreement": "edge"}
        if kind == "utilization":
            period = draw(st.sampled_from(periods))
            pool = draw(st.sampled_from(sorted(pools)))
            capacity = Decimal(pools[pool] * period.hours)
            available = draw(mostly(st.sampled_from([min(capacity, BIG), FINEST]), st.just(capacity + FINEST)))
            sold = draw(mostly(st.sampled_from([Decimal(0), Decimal(0), available, FINEST]), st.just(available + FINEST)))
            line.update(pool=pool, start=timestamp(period.start, draw(OFFSETS)), end=timestamp(period.end, draw(OFFSETS)),
                        available_gpu_hours=decimal_text(available), sold_gpu_hours=decimal_text(sold))
            applied_inputs.append(line["id"])
        elif kind == "revenue":
            line.update(period=draw(st.sampled_from(periods)).id, amount=decimal_text(draw(AMOUNTS)), currency="USD")
            applied_inputs.append(line["id"])
        elif kind == "correction":
            line["corrects"] = draw(st.sampled_from(applied_inputs)) if applied_inputs else draw(IDS)
            if draw(st.booleans()):
                line["void"] = True
            else:
                line["replacement"] = {"period": draw(st.sampled_from(periods)).id,
                                       "amount": decimal_text(draw(AMOUNTS)), "currency": "USD"}
        elif kind == "close":
            in_order = closes < len(periods) and draw(st.integers(0, 9)) > 0
            line["period"] = periods[closes].id if in_order else draw(st.sampled_from(periods)).id
            closes += in_order
        elif kind == "true_up":
            line["date"] = draw(dates)
        elif kind == "guarantee_call":
            line.update(date=draw(dates), obligation=f"edge/{draw(st.sampled_from(periods)).id}/debt_service")
        elif kind == "payment":
            payer, payee = draw(st.permutations(parties))[:2]
            line.update(payer=payer, payee=payee, amount=decimal_text(draw(money(places))), currency="USD",
                        date=draw(dates))
            if draw(st.booleans()):
                line["applies_to"] = f"edge/{draw(st.sampled_from(periods)).id}/lease_back/p1"
        elif kind == "share_price":
            line.update(date=draw(dates), price=decimal_text(draw(POSITIVE)), volume=decimal_text(draw(POSITIVE)))
        elif kind == "stock_split":
            line.update(date=draw(dates), numerator=draw(COUNTS), denominator=draw(COUNTS))
        else:
            line.update(tranche=draw(st.sampled_from(["t1", "t2", "t3"])), shares=draw(COUNTS),
                        method=draw(st.sampled_from(["cash", "net"])), date=draw(dates),
                        fair_market_value=decimal_text(draw(POSITIVE)))
        lines.append(json.dumps(line, ensure_ascii=False))
    return lines


@given(st.data())
def test_extreme_values_never_stop_the_replay(data):
    documents = data.draw(edge_agreements().filter(lambda documents: not periods_past_the_calendar(documents)))
    agreements = load_agreements_from_mappings(documents)
    engine = Engine(agreements)
    lines = data.draw(edge_logs(engine))
    entries = []
    for line in lines:
        outcome = engine.feed_line(line)
        assert outcome.status in ("applied", "duplicate", "rejected")
        entries += outcome.entries
    entries += engine.close_through(data.draw(st.sampled_from([date.min, date(1, 4, 1), date(9999, 6, 1), date.max])))
    summary = engine.summary()
    check_line_accounting(summary, lines)
    check_chain_integrity([entry.line for entry in entries], summary=summary)
    check_outstanding_rebuilt([entry.line for entry in entries], summary)
    for entry in entries:
        assert entry.fields["due"] is None or date.fromisoformat(entry.fields["due"]) >= date.fromisoformat(entry.fields["date"])
    event(f"applied {min(summary['applied'] // 5 * 5, 20)}+, entries {min(len(entries) // 5 * 5, 20)}+")
    json.dumps(summary)


def test_the_kits_checks_sum_amounts_of_40_digits_exactly():
    """Two lease-backs of about 10^40 each: their sum needs more digits than Decimal's
    default 28, which the checks must not round to."""
    documents = [{
        "schema": "backstop/v1", "agreement": "edge", "version": 1, "effective": date(2026, 1, 1),
        "parties": {"provider": "Prov", "guarantor": "Guar"}, "currency": "USD",
        "term": {"start": date(2026, 1, 1), "end": date(2026, 3, 1)},
        "settlement": {"period": "monthly"},
        "pools": [{"id": "p1", "gpu_model": "H200", "gpus": COUNT_MAX}],
        "backstop": {"rate_per_gpu_hour": {"H200": BIG + Decimal("0.99")}, "threshold": Decimal(1)},
    }]
    engine = Engine(load_agreements_from_mappings(documents))
    for month in (1, 2):
        engine.feed_event({"id": f"u{month}", "type": "utilization", "agreement": "edge", "pool": "p1",
                           "start": f"2026-0{month}-01T00:00:00Z", "end": f"2026-0{month}-02T00:00:00Z",
                           "available_gpu_hours": BIG, "sold_gpu_hours": Decimal(0)})
    entries = [entry.line for entry in engine.close_through(date(2026, 3, 1))]
    summary = engine.summary()
    assert summary["agreements"]["edge"]["totals"]["lease_back"] == "19999999999999999999798000000000000000000.02"  # 2 × (10^20 − 1) × (10^20 − 0.01)
    check_totals(entries, summary)
    check_outstanding_rebuilt(entries, summary)
