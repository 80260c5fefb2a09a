"""Every bundled agreement is checked against the second implementation in `examples/generate_logs.py`.

The generator holds a small model of the rules (SPEC §4-§5), written apart from the engine,
and prices every payment of the sample logs from it. For each agreement folder in
`contracts/` this test checks that the generator's copy of the terms is the documents' terms,
that `examples/AGREEMENT.jsonl` is exactly what the generator writes, that the log replays
with no rejected line, and that the engine's ledger and the model's agree entry by entry:
ids, kinds, periods, dates, due dates, amounts, parties, and the cap, adjustment, credit and
payment details. The folders are listed, not named, so a new bundled agreement is covered the
day it is added, and fails, naming itself, until the generator models it.
"""

from __future__ import annotations

import importlib.util
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import pytest

from engine.documents.loader import LoadedAgreement, load_agreements
from engine.replay import Engine

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted(path.name for path in (ROOT / "contracts").iterdir() if path.is_dir() and not path.name.startswith("."))


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_logs", ROOT / "examples" / "generate_logs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_logs", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models(generator) -> dict[str, tuple]:
    """Each scenario of the generator, replayed by its model: agreement id → (timeline, lines, books)."""
    replayed = {}
    for scenario in generator.SCENARIOS:
        timeline = scenario()
        replayed[timeline.agr.id] = (timeline, *generator.replay(timeline))
    return replayed


def test_every_folder_of_contracts_is_an_agreement():
    assert BUNDLED, "contracts/ holds no agreement folder"
    for folder in BUNDLED:
        assert len(load_agreements(ROOT / "contracts" / folder)) == 1


@pytest.mark.parametrize("folder", BUNDLED)
def test_the_generator_models_the_agreement_and_agrees_with_the_engine(folder, generator, models):
    (agreement,) = load_agreements(ROOT / "contracts" / folder)
    if agreement.id not in models:
        pytest.fail(f"examples/generate_logs.py has no model of the bundled agreement {agreement.id} "
                    f"(contracts/{folder}/): add a scenario for it to SCENARIOS, with its terms, and "
                    "run python3 examples/generate_logs.py", pytrace=False)
    timeline, lines, books = models[agreement.id]
    assert timeline.agr == terms_of(agreement, generator), (
        f"the terms at the top of examples/generate_logs.py differ from contracts/{folder}/: change them together")
    log = ROOT / "examples" / f"{agreement.id}.jsonl"
    assert log.read_text(encoding="utf-8") == "".join(line + "\n" for _, _, line in lines), (
        f"{log.relative_to(ROOT)} is not what the generator writes: run python3 examples/generate_logs.py")

    engine = Engine([agreement])
    issued: list[dict] = []
    with open(log, "rb") as stream:
        for outcome in engine.feed_stream(stream):
            assert outcome.status != "rejected", f"{log.name} line {outcome.line}: {outcome.reason}"
            issued += [entry.fields for entry in outcome.entries]
    roles = {"provider": timeline.agr.provider, "guarantor": timeline.agr.guarantor, "lender": timeline.agr.lender}
    parties = {direction: tuple(roles[role] for role in direction.split("->")) for direction in generator.DIRECTIONS}
    expected = [modelled(entry, parties, timeline.agr.places, generator) for entry in books.entries]
    actual = [engine_view(entry) for entry in issued]
    assert len(actual) == len(expected)
    for mine, theirs in zip(actual, expected):
        assert mine == theirs, f"the engine's entry {mine['id']} differs from the model's"


# ---- the two sides in one shape ----

COMPARED = ("seq", "id", "kind", "period", "date", "due", "amount", "debtor", "creditor", "tranche", "of", "adjusts",
            "uncapped", "credit_applied", "applied", "unapplied", "obligation")


def engine_view(entry: dict) -> dict:
    """The fields the model also derives. A credit's `applied` is left out: the model does not list it."""
    view = {name: entry[name] for name in COMPARED if name in entry}
    if entry["kind"] != "payment":
        view.pop("applied", None), view.pop("unapplied", None)
    if view.get("adjusts") is None:
        view.pop("adjusts", None)
    return view


def modelled(entry: dict, parties: dict, places: int, generator: ModuleType) -> dict:
    """A model entry as the engine would write it (SPEC §6 names, amounts as decimal strings)."""
    def money(amount: Fraction) -> str:
        return generator.money(amount, places)

    view = {name: entry[name] for name in ("seq", "id", "kind", "period", "date", "due", "amount", "tranche", "of", "adjusts",
                                           "obligation")
            if entry.get(name) is not None or name in ("period", "due")}
    view["debtor"], view["creditor"] = parties[entry["direction"]]
    if "uncapped" in entry:
        view["uncapped"] = money(entry["uncapped"])
    if entry.get("credit_applied"):  # the engine writes it only when credit settled something
        view["credit_applied"] = money(entry["credit_applied"])
    if entry["kind"] == "payment":
        view["applied"] = [{"entry": obligation, "amount": money(amount)} for obligation, amount in entry["applied"]]
        view["unapplied"] = money(entry["unapplied"])
    return view


def terms_of(agreement: LoadedAgreement, generator: ModuleType):
    """The agreement's documents in the generator's own form (its `Agreement` dataclass)."""
    first = agreement.versions[0].document
    versions = tuple(version_of(version.number, version.document, generator) for version in agreement.versions)
    return generator.Agreement(
        id=first.agreement, provider=first.parties.provider, guarantor=first.parties.guarantor,
        currency=first.currency, start=first.term.start, end=first.term.end, period=first.settlement.period,
        places=first.settlement.rounding.places, mode=first.settlement.rounding.mode,
        lock_after=first.settlement.lock_after_periods, versions=versions,
        lender=first.parties.lender,
        warrants=None if first.warrants is None else generator.Warrants(
            strike=Fraction(first.warrants.strike), expires=first.warrants.expires,
            tranches=tuple(generator.Tranche(t.id, t.shares, condition_of(t.vests.model_dump()))
                           for t in first.warrants.tranches)),
    )


def version_of(number: int, document, generator: ModuleType):
    backstop, share, late = document.backstop, document.revenue_share, document.settlement.late_interest
    floor, guarantee = document.revenue_floor, document.guarantee
    return generator.Version(
        number=number, effective=document.effective,
        pools=tuple(generator.Pool(pool.id, pool.gpu_model, pool.gpus) for pool in document.pools),
        rates=None if backstop is None else {model: Fraction(rate) for model, rate in backstop.rate_per_gpu_hour.items()},
        threshold=None if backstop is None else Fraction(backstop.threshold),
        covers=None if backstop is None else backstop.covers,
        cap=None if backstop is None or backstop.cap is None else Fraction(backstop.cap),
        steps=() if share is None else tuple((step.from_year, Fraction(step.rate)) for step in share.steps),
        payment_terms_days=document.settlement.payment_terms_days,
        late_interest=late_interest_of(late),
        floor=() if floor is None else tuple((step.from_year, Fraction(step.amount)) for step in floor.steps),
        floor_cap=None if floor is None or floor.cap is None else Fraction(floor.cap),
        above_floor=share is not None and share.above_floor,
        guarantee=None if guarantee is None else generator.Guarantee(
            debt_service=tuple((step.from_year, Fraction(step.amount)) for step in guarantee.debt_service),
            covers=Fraction(guarantee.covers), cure_days=guarantee.cure_days,
            cap=None if guarantee.cap is None else Fraction(guarantee.cap),
            reimbursement_days=guarantee.reimbursement.payment_terms_days,
            reimbursement_late_interest=late_interest_of(guarantee.reimbursement.late_interest),
        ),
    )


def late_interest_of(late) -> tuple | None:
    return None if late is None else (Fraction(late.annual_rate), 365 if late.day_count == "ACT/365F" else 360)


def condition_of(vests: dict) -> tuple:
    """A vesting condition as the generator writes it: ("all", (...)), ("vwap_at_least", price, days) …"""
    for combinator in ("all", "any"):
        if combinator in vests:
            return combinator, tuple(condition_of(part) for part in vests[combinator])
    if "vwap_at_least" in vests:
        return "vwap_at_least", Fraction(vests["vwap_at_least"]), vests["days"]
    if "on_or_after" in vests:
        return "on_or_after", vests["on_or_after"]
    return "lease_back_total_at_least", Fraction(vests["lease_back_total_at_least"])
