"""Every rejected line carries one rejection code of semantics §7, in the outcome, the typed
error, the summary, the printed summary and a snapshot: one single-fault line per code, the
code of each rule whose code the table decides by its wording, and every generated bad line."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import orjson
import pytest
from hypothesis import given

from engine.cli.replaying import render_summary
from engine.documents.loader import load_agreements
from engine.rejection_codes import CODES, Code
from engine.replay import Engine, RejectedLine, SnapshotError
from engine.replay.snapshot import MAGIC
from engine.testing import coded_bad_lines

from support import agreement_text, engine_for

UTILIZATION = dict(type="utilization", pool="p1", start="2026-01-01T00:00:00Z", end="2026-01-02T00:00:00Z",
                   available_gpu_hours="100", sold_gpu_hours="50")
REVENUE = dict(type="revenue", period="2026-01", amount="1000.00", currency="USD")
PAYMENT = dict(type="payment", payer="Guar", payee="Prov", amount="10.00", currency="USD", date="2026-03-01")
SHARE_PRICE = dict(type="share_price", date="2026-01-05", price="1", volume="1")
EXERCISE = dict(type="exercise", shares=10, method="cash", date="2026-06-01")
CALL = dict(type="guarantee_call", date="2026-04-02", obligation="a1/2026-01/debt_service")
GUARANTEE = """\
guarantee:
  debt_service:
    - from_year: 1
      amount: 1000.00
  covers: 0.50
  cap: 600
"""
GUARANTEED = {"lender": "Lend", "extra_clauses": GUARANTEE}
WARRANTS = """\
warrants:
  strike: 4
  expires: 2030-01-01
  tranches:
    - id: t1
      shares: 100
      vests: {on_or_after: 2027-01-01}
"""


def event(event_id: str, **fields) -> str:
    return json.dumps({"id": event_id, "agreement": "a1", **fields})


def close(event_id: str, period: str) -> str:
    return event(event_id, type="close", period=period)


def replacing(corrects: str, fields: dict, **changes) -> str:
    """A correction of `corrects` whose replacement is `fields` (an event's, less its type) changed."""
    replacement = {key: value for key, value in fields.items() if key != "type"} | changes
    return event("x", type="correction", corrects=corrects, replacement=replacement)


# Each code: the agreement (keywords of `agreement_text`), the lines before it (all applied)
# and a line with that one fault.
SINGLE_FAULTS = {
    "malformed": ({}, [], '{"id":"x","type":"close","agreement":"a1","period":"2026-01",}'),
    "too_long": ({}, [], '{"id":"x","type":"close","agreement":"a1","period":"2026-01","meta":{"pad":"'
                 + "x" * (1 << 20) + '"}}'),
    "too_deep": ({}, [], '{"id":"x","type":"close","agreement":"a1","period":"2026-01","meta":'
                 + "[" * 40 + "]" * 40 + "}"),
    "repeated_key": ({}, [], '{"id":"x","type":"close","agreement":"a1","period":"2026-01","period":"2026-02"}'),
    "field": ({}, [], event("x", type="close")),
    "number": ({}, [], event("x", **{**PAYMENT, "amount": "10.001"})),  # more fraction digits than places
    "date": ({}, [], event("x", type="true_up", date="2026-02-30")),
    "conflict": ({}, [event("x", **REVENUE)], event("x", **{**REVENUE, "amount": "2.00"})),
    "unknown_agreement": ({}, [], json.dumps({"id": "x", "agreement": "nobody", **REVENUE})),
    "locked": ({"lock": 0}, [close("c1", "2026-01")], event("x", **REVENUE)),
    "not_applicable": ({"backstop": False}, [], event("x", **UTILIZATION)),
    "unknown_reference": ({}, [], event("x", **{**UTILIZATION, "pool": "p9"})),
    "interval": ({}, [], event("x", **{**REVENUE, "period": "2031-01"})),  # the term ends 2027-12
    "capacity": ({}, [], event("x", **{**UTILIZATION, "available_gpu_hours": "10000"})),  # 10 GPUs × 744 h
    "currency": ({}, [], event("x", **{**REVENUE, "currency": "EUR"})),
    "order": ({}, [], close("x", "2026-02")),
    "warrant": ({"extra_clauses": WARRANTS}, [], event("x", **{**EXERCISE, "tranche": "t1", "shares": 101,
                                                                "date": "2027-06-01"})),
    # January's debt service falls due 2026-03-03; the lender may call from 2026-04-02 on.
    "guarantee": (GUARANTEED, [close("c1", "2026-01")], event("x", **{**CALL, "date": "2026-04-01"})),
}


def replayed(tmp_path, document: dict, before: list[str]) -> Engine:
    engine = engine_for(tmp_path, agreement_text(**document))
    for raw in before:
        assert engine.feed_line(raw).status == "applied", raw
    return engine


def test_every_code_of_the_table_has_a_single_fault_line():
    assert {code.value for code in Code} == CODES and len(CODES) == 18
    assert set(SINGLE_FAULTS) == CODES


@pytest.mark.parametrize("code", sorted(SINGLE_FAULTS))
def test_a_single_fault_line_carries_its_code_everywhere_a_rejection_appears(tmp_path, code):
    document, before, line = SINGLE_FAULTS[code]
    engine = replayed(tmp_path, document, before)
    outcome = engine.feed_line(line)
    assert (outcome.status, outcome.code) == ("rejected", code), outcome.reason
    number, shown = len(before) + 1, "" if outcome.id is None else f" ({outcome.id})"
    item = {"line": number, "id": outcome.id, "reason": outcome.reason, "code": code}
    assert engine.summary()["rejected"] == [item]
    assert json.loads(json.dumps(engine.summary()))["rejected"] == [item]
    assert f"  line {number}{shown} [{code}]: {outcome.reason}" in render_summary(engine.summary()).splitlines()
    # A rejected line reserves nothing, so sent again it is rejected alike; strictly, it raises.
    with pytest.raises(RejectedLine) as raised:
        engine.feed_line(line, strict=True)
    assert raised.value.code == code and raised.value.outcome.code == code
    assert str(raised.value) == f"line {number + 1}{shown} [{code}]: {outcome.reason}"


def test_an_applied_or_repeated_line_has_no_code(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    assert engine.feed_line(event("r", **REVENUE)).code is None
    assert engine.feed_line(event("r", **REVENUE)).code is None  # a duplicate


# Rules whose code the wording of §7's table decides: (agreement, lines before, line, code).
WORDED_RULES = {
    "a period id of the other kind": ({}, [], event("x", **{**REVENUE, "period": "2026-Q1"}), "unknown_reference"),
    "a quarter id naming no quarter": ({"period": "quarterly"}, [], event("x", **{**REVENUE, "period": "2026-Q5"}),
                                       "unknown_reference"),
    "a month id naming no month": ({}, [], event("x", **{**REVENUE, "period": "2026-13"}), "unknown_reference"),
    "a text that is no period id": ({}, [], event("x", **{**REVENUE, "period": "January"}), "field"),
    "utilization across two periods": ({}, [], event("x", **{**UTILIZATION, "end": "2026-02-02T00:00:00Z"}),
                                       "interval"),
    "a quarter outside the term": ({"period": "quarterly"}, [], event("x", **{**REVENUE, "period": "2031-Q1"}),
                                   "interval"),
    "a close of a period outside the term": ({}, [], close("x", "2031-01"), "interval"),
    "a close of a quarter on a monthly agreement": ({}, [], close("x", "2026-Q1"), "unknown_reference"),
    "a close twice": ({"end": "2026-03-01"}, [close("c1", "2026-01"), close("c2", "2026-02")], close("x", "2026-02"),
                      "order"),
    "a true-up before the last closed period's end": ({}, [close("c1", "2026-01")],
                                                      event("x", type="true_up", date="2026-01-15"), "order"),
    "a close of a period already closed": ({}, [close("c1", "2026-01")], close("x", "2026-01"), "order"),
    "start equal to end": ({}, [], event("x", **{**UTILIZATION, "end": UTILIZATION["start"]}), "interval"),
    "utilization outside the term": ({}, [], event("x", **{**UTILIZATION, "start": "2025-12-31T00:00:00Z"}),
                                     "interval"),
    "sold above available": ({}, [], event("x", **{**UTILIZATION, "sold_gpu_hours": "101"}), "capacity"),
    "sold below zero": ({}, [], event("x", **{**UTILIZATION, "sold_gpu_hours": "-1"}), "number"),
    "an amount out of form": ({}, [], event("x", **{**REVENUE, "amount": "1e3"}), "number"),
    "an amount of zero": ({}, [], event("x", **{**PAYMENT, "amount": "0.00"}), "number"),
    "a count given as a string": ({}, [], event("x", **{**EXERCISE, "tranche": "t1", "shares": "10"}), "number"),
    "a payer who is no party": ({}, [], event("x", **{**PAYMENT, "payer": "Stranger"}), "unknown_reference"),
    "a payer equal to the payee": ({}, [], event("x", **{**PAYMENT, "payer": "Prov"}), "unknown_reference"),
    "a payment in another currency": ({}, [], event("x", **{**PAYMENT, "currency": "EUR"}), "currency"),
    "an unknown method": ({}, [], event("x", **{**EXERCISE, "tranche": "t1", "method": "stock"}), "field"),
    "a number where a date is due": ({}, [], event("x", type="true_up", date=20260131), "field"),
    "a timestamp where a date is due": ({}, [], event("x", type="true_up", date="2026-01-31T00:00:00Z"), "date"),
    "an id too long": ({}, [], event("x" * 129, **REVENUE), "field"),
    "a meta that is no object": ({}, [], event("x", **REVENUE, meta=[]), "field"),
    "a lone surrogate": ({}, [], '{"id":"x","type":"close","agreement":"a1","period":"2026-01","meta":"\\ud800"}',
                         "malformed"),
    "a NaN": ({}, [], '{"id":"x","type":"close","agreement":"a1","period":"2026-01","meta":{"n":NaN}}', "malformed"),
    "a byte-order mark": ({}, [], '\ufeff{"id":"x","type":"close","agreement":"a1","period":"2026-01"}',
                          "malformed"),
    "another top-level value": ({}, [], '["close"]', "malformed"),
    "revenue without revenue_share": ({"revenue_share": False}, [], event("x", **REVENUE), "not_applicable"),
    "a share price without warrants": ({}, [], event("x", **SHARE_PRICE), "not_applicable"),
    "a split without warrants": ({}, [], event("x", type="stock_split", date="2026-01-05", numerator=2, denominator=1),
                                 "not_applicable"),
    "an exercise without warrants": ({}, [], event("x", tranche="t1", **EXERCISE), "not_applicable"),
    "a share price not after the previous": ({"extra_clauses": WARRANTS}, [event("s1", **SHARE_PRICE)],
                                             event("x", **SHARE_PRICE), "order"),
    "an unknown tranche": ({"extra_clauses": WARRANTS}, [], event("x", tranche="t9", **EXERCISE),
                           "unknown_reference"),
    "an exercise of a tranche not vested": ({"extra_clauses": WARRANTS}, [], event("x", tranche="t1", **EXERCISE),
                                            "warrant"),
    "an exercise at expiry": ({"extra_clauses": WARRANTS}, [],
                              event("x", **{**EXERCISE, "tranche": "t1", "date": "2030-01-01"}), "warrant"),
    "a correction of no event": ({}, [], event("x", type="correction", corrects="nothing", void=True),
                                 "unknown_reference"),
    "a correction of a close": ({}, [close("c1", "2026-01")], event("x", type="correction", corrects="c1", void=True),
                                "unknown_reference"),
    "a correction of a released event": ({"lock": 0}, [event("r1", **REVENUE), close("c1", "2026-01")],
                                         event("x", type="correction", corrects="r1", void=True), "unknown_reference"),
    "a correction into a locked period": ({"lock": 0}, [event("r3", **{**REVENUE, "period": "2026-03"}),
                                                        close("c1", "2026-01")],
                                          replacing("r3", REVENUE, period="2026-01"), "locked"),
    "a re-sent revenue of a locked period": ({"lock": 0}, [event("r1", **REVENUE), close("c1", "2026-01")],
                                             event("r1", **REVENUE), "locked"),
    "a replacement with an unknown field": ({}, [event("r1", **REVENUE)],
                                            replacing("r1", REVENUE, colour="red"), "field"),
    "a replacement with a number out of form": ({}, [event("r1", **REVENUE)],
                                                replacing("r1", REVENUE, amount=1.5), "number"),
    "a replacement over capacity": ({}, [event("u1", **UTILIZATION)],
                                    replacing("u1", UTILIZATION, available_gpu_hours="7441"), "capacity"),
    "a call without a guarantee": ({}, [close("c1", "2026-01")], event("x", **CALL), "not_applicable"),
    "a call on an entry that is not debt service": (GUARANTEED, [close("c1", "2026-01")],
                                                    event("x", **{**CALL, "obligation": "a1/2026-01/lease_back/p1"}),
                                                    "unknown_reference"),
    "a call on a debt service not yet issued": (GUARANTEED, [], event("x", **CALL), "unknown_reference"),
    "a call on a debt service already called": (GUARANTEED, [close("c1", "2026-01"), event("k1", **CALL)],
                                                event("x", **CALL), "guarantee"),
    "a call on a debt service paid": (GUARANTEED, [close("c1", "2026-01"),
                                                   event("p1", **{**PAYMENT, "payer": "Prov", "payee": "Lend",
                                                                  "amount": "1000.00"})],
                                      event("x", **CALL), "guarantee"),
    "a call the cap leaves nothing of": (GUARANTEED, [close("c1", "2026-01"), close("c2", "2026-02"),
                                                      close("c3", "2026-03"), event("k1", **CALL),
                                                      event("k2", **{**CALL, "obligation": "a1/2026-02/debt_service",
                                                                     "date": "2026-05-01"})],
                                         event("x", **{**CALL, "obligation": "a1/2026-03/debt_service",
                                                       "date": "2026-06-01"}), "guarantee"),
    "a payment to a lender the agreement does not have": ({}, [], event("x", **{**PAYMENT, "payee": "Lend"}),
                                                          "unknown_reference"),
    # A floor alone takes revenue (v2): this line's one fault is its currency.
    "revenue with a floor and no revenue share": ({"revenue_share": False, "lender": "Lend",
                                                   "extra_clauses": "revenue_floor:\n  steps:\n    - from_year: 1\n"
                                                                    "      amount: 10.00\n"},
                                                  [], event("x", **{**REVENUE, "currency": "EUR"}), "currency"),
}


@pytest.mark.parametrize("name", sorted(WORDED_RULES))
def test_each_rule_gets_the_code_the_table_words(tmp_path, name):
    document, before, line, code = WORDED_RULES[name]
    outcome = replayed(tmp_path, document, before).feed_line(line)
    assert (outcome.status, outcome.code) == ("rejected", code), outcome.reason


def test_several_faults_carry_the_code_of_the_first_reported(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    outcome = engine.feed_line(event("x", **{**PAYMENT, "amount": 1.5, "date": "2026-02-30"}))
    assert outcome.code == "number"
    assert "payment.amount" in outcome.reason and "payment.date" in outcome.reason


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory) -> Engine:
    """One engine for every generated bad line: a rejected line changes nothing."""
    return engine_for(tmp_path_factory.mktemp("codes"), agreement_text())


@given(coded=coded_bad_lines(agreement="a1"))
def test_every_generated_bad_line_is_rejected_with_the_code_of_its_fault(shared_engine, coded):
    line, code = coded
    outcome = shared_engine.feed_line(line)
    assert outcome.status == "rejected"
    assert outcome.code in CODES and outcome.code == code, (line[:200], outcome.reason)
    assert shared_engine.summary()["rejected"][-1]["code"] == code


def test_the_code_survives_a_snapshot_and_an_unknown_code_is_refused(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    for code in ("currency", "capacity"):
        engine.feed_line(SINGLE_FAULTS[code][2])
    agreements = load_agreements(tmp_path / "contracts")
    restored = Engine.restore(engine.snapshot(), agreements)
    assert [r["code"] for r in restored.summary()["rejected"]] == ["currency", "capacity"]
    assert restored.summary() == engine.summary()
    document = orjson.loads(zlib.decompress(engine.snapshot()[len(MAGIC):]))
    document["rejections"][0][3] = "unlucky"
    damaged = MAGIC + zlib.compress(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
    with pytest.raises(SnapshotError, match=r"snapshot.rejections\[0\]\[3\] is 'unlucky'; expected a rejection code"):
        Engine.restore(damaged, agreements)


def test_the_events_page_shows_every_code_with_the_reason_its_single_fault_line_gets(tmp_path):
    page = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text(encoding="utf-8")
    table = page.partition("| code | the line … | an example reason |\n|---|---|---|\n")[2].partition("\n\n")[0]
    rows = [row.removeprefix("| ").removesuffix(" |").split(" | ") for row in table.splitlines()]
    examples = {code.strip("`"): example.strip("`") for code, _, example in rows}
    assert list(examples) == [code.value for code in Code]
    for code, (document, before, line) in SINGLE_FAULTS.items():
        assert replayed(tmp_path / code, document, before).feed_line(line).reason == examples[code]
