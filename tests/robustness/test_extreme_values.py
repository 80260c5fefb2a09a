"""No line stops the replay: generated logs with every value at or past its bound (dates at
0001-01-01 and 9999-12-31, 20-digit amounts, 128-character ids, huge share counts) are
applied, ignored or rejected line by line; the replay never raises."""

from __future__ import annotations

import json
from datetime import date

from hypothesis import given, strategies as st

from engine.replay import Engine

LATE = """\
schema: backstop/v1
agreement: late
version: 1
effective: 9999-01-01
parties: {provider: Prov, guarantor: Guar}
currency: USD
term: {start: 9999-01-01, end: 9999-12-31}
settlement:
  period: monthly
  payment_terms_days: 0
  late_interest: {annual_rate: 1, day_count: ACT/360}
pools:
  - {id: p1, gpu_model: H200, gpus: 999999999}
backstop:
  rate_per_gpu_hour: {H200: 99999999999999999999.999999}
  threshold: 1
  covers: idle
revenue_share:
  steps: [{from_year: 1, rate: 1}]
warrants:
  strike: 0.000001
  expires: 9999-12-31
  tranches:
    - {id: t1, shares: 99999999999999999999, vests: {on_or_after: 0001-01-01}}
    - {id: t2, shares: 1, vests: {vwap_at_least: 0.000000000001, days: 1}}
"""

EARLY = """\
schema: backstop/v1
agreement: early
version: 1
effective: 0001-01-01
parties: {provider: Prov, guarantor: Guar}
currency: USD
term: {start: 0001-01-01, end: 0001-07-01}
settlement:
  period: quarterly
  payment_terms_days: 365
  rounding: {places: 6, mode: half_up}
  late_interest: {annual_rate: 0.5, day_count: ACT/365F}
  lock_after_periods: 0
pools:
  - {id: p1, gpu_model: H200, gpus: 1}
backstop:
  rate_per_gpu_hour: {H200: 0.000001}
  threshold: 0.000001
  cap: 0.000001
revenue_share:
  steps: [{from_year: 1, rate: 0.000000000001}]
warrants:
  strike: 99999999999999999999
  expires: 0001-03-01
  tranches:
    - {id: t1, shares: 1, vests: {lease_back_total_at_least: 0}}
"""

DATES = st.sampled_from(["0001-01-01", "0001-01-02", "0001-03-31", "0001-06-30", "0001-07-01", "9999-01-01",
                         "9999-11-30", "9999-12-30", "9999-12-31", "0000-12-31", "10000-01-01"]) | st.dates().map(str)
TIMES = st.sampled_from(["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59",
                         "0001-04-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59-23:59",
                         "9999-12-31T00:00:00Z", "9999-12-30T00:00:00+00:00", "9999-01-01T00:00:00Z",
                         "9999-02-01T00:00:00.000001Z"])
DECIMALS = st.sampled_from(["99999999999999999999.999999999999", "0.000000000001", "-99999999999999999999",
                            "0", "1", "1.5", "99999999999999999999", "100000000000000000000", "0.0000000000001"]) | \
    st.sampled_from([99999999999999999999, -99999999999999999999, 10**20, 0, 1])
COUNTS = st.sampled_from([1, 2, 2**63, 10**20 - 1, 10**30, 99999999999999999999])
IDS = st.sampled_from(["a", "é" * 128, "x" * 128, "y" * 129, "b", "c", "d"])
AGREEMENTS = st.sampled_from(["late", "early"])
PARTIES = st.sampled_from(["Prov", "Guar"])
PERIODS = st.sampled_from(["0001-Q1", "0001-Q2", "0001-Q3", "9999-01", "9999-11", "9999-12", "9999-Q4", "0001-01"])


@st.composite
def events(draw) -> dict:
    kind = draw(st.sampled_from(["utilization", "revenue", "correction", "close", "true_up", "payment",
                                 "share_price", "stock_split", "exercise"]))
    event = {"id": draw(IDS), "type": kind, "agreement": draw(AGREEMENTS)}
    if kind == "utilization":
        event.update(pool="p1", start=draw(TIMES), end=draw(TIMES), available_gpu_hours=draw(DECIMALS),
                     sold_gpu_hours=draw(DECIMALS))
    elif kind == "revenue":
        event.update(period=draw(PERIODS), amount=draw(DECIMALS), currency="USD")
    elif kind == "correction":
        event["corrects"] = draw(IDS)
        if draw(st.booleans()):
            event["void"] = True
        else:
            event["replacement"] = {"period": draw(PERIODS), "amount": draw(DECIMALS), "currency": "USD"}
    elif kind == "close":
        event["period"] = draw(PERIODS)
    elif kind == "true_up":
        event["date"] = draw(DATES)
    elif kind == "payment":
        event.update(payer=draw(PARTIES), payee=draw(PARTIES), amount=draw(DECIMALS), currency="USD",
                     date=draw(DATES))
    elif kind == "share_price":
        event.update(date=draw(DATES), price=draw(DECIMALS), volume=draw(DECIMALS))
    elif kind == "stock_split":
        event.update(date=draw(DATES), numerator=draw(COUNTS), denominator=draw(COUNTS))
    else:
        event.update(tranche=draw(st.sampled_from(["t1", "t2"])), shares=draw(COUNTS),
                     method=draw(st.sampled_from(["cash", "net"])), date=draw(DATES),
                     fair_market_value=draw(DECIMALS))
    return event


def engine_of(tmp_path_factory) -> Engine:
    folder = tmp_path_factory.mktemp("contracts")
    for name, text in (("late", LATE), ("early", EARLY)):
        (folder / name).mkdir()
        (folder / name / "v1.yaml").write_text(text)
    return Engine.from_path(folder)


@given(logs=st.lists(events(), max_size=40), close_through=st.sampled_from([date.min, date(1, 4, 1), date.max]))
def test_extreme_values_never_stop_the_replay(tmp_path_factory, logs, close_through):
    engine = engine_of(tmp_path_factory)
    for event in logs:
        outcome = engine.feed_line(json.dumps(event, ensure_ascii=False))
        assert outcome.status in ("applied", "duplicate", "rejected")
    engine.close_through(close_through)
    summary = engine.summary()
    assert summary["lines"] == len(logs)
    assert summary["applied"] + summary["duplicates"] + len(summary["rejected"]) == len(logs)
    json.dumps(summary)
