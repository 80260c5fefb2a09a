"""Property tests of the replay, written with the public kit `engine.testing`.

Each test states one promise of SPEC in the agreement's own terms and checks it on
generated agreements and logs. Example counts come from the Hypothesis profile (see
`tests/conftest.py`): `ci` by default, `--hypothesis-profile=deep` for many more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from engine.documents.loader import load_agreements, load_agreements_from_mappings
from engine.replay import Engine
from engine.testing import (
    agreements,
    agreements_with_logs,
    bad_lines,
    check_cap_respected,
    check_chain_integrity,
    check_chunking_invariance,
    check_correction_equivalence,
    check_duplicates_harmless,
    check_line_accounting,
    check_outstanding_rebuilt,
    check_replay_deterministic,
    check_step_downs_only,
    check_terms_applied,
    check_totals,
    decimals,
    event_logs,
    period_ids,
    replay_lines,
    timestamps,
    write_agreement_folder,
)
from engine.testing.invariants import amount_views, correctable_inputs, input_period

REPO = Path(__file__).resolve().parents[2]
GOLDEN = settings.get_profile("golden")

#: One to three versions: amendments change the governing terms per period.
any_agreement_with_log = agreements_with_logs(versions=st.integers(1, 3))


def physical_lines(lines: list[str]) -> list[bytes]:
    return [line.encode("utf-8") for line in lines]


# =============================================================================================
# The generated logs themselves
# =============================================================================================


@given(any_agreement_with_log)
def test_generated_logs_replay_without_rejections(case):
    """A log the kit calls valid is applied line by line: only exercises and guarantee calls,
    which the warrant and guarantee state decide, may be refused.

    The kit computes periods, capacity, locks and close order itself; a rejected line here
    means the engine and the kit read SPEC differently about one of them.
    """
    documents, lines = case
    replayed = replay_lines(documents, lines)
    for outcome in replayed.outcomes:
        if outcome.status == "rejected":
            assert json.loads(outcome.raw)["type"] in ("exercise", "guarantee_call"), (
                f"line {outcome.line} rejected: {outcome.reason}\n{outcome.raw!r}")
    event(f"entries: {min(len(replayed.entries) // 5 * 5, 30)}+")


# =============================================================================================
# The ledger alone
# =============================================================================================


@given(any_agreement_with_log)
def test_every_ledger_is_an_intact_hash_chain(case):
    """Each agreement's entries link by `prev` and `seq` and hash their own canonical JSON,
    and the summary's head is the last entry's hash: an auditor can verify the ledger alone."""
    documents, lines = case
    replayed = replay_lines(documents, lines)
    check_chain_integrity(replayed.ledger, summary=replayed.summary)


@given(any_agreement_with_log)
def test_outstanding_is_obligations_less_settlements(case):
    """What each party still owes the other, and the credit it holds, can be rebuilt from the
    ledger alone: obligations, less what payments and credits applied to them, less credit
    taken when they were written. The summary's totals are the sums of the entries' amounts."""
    documents, lines = case
    replayed = replay_lines(documents, lines)
    check_outstanding_rebuilt(replayed.entries, replayed.summary)
    check_totals(replayed.entries, replayed.summary)


@given(any_agreement_with_log)
def test_each_entry_uses_the_terms_of_the_version_that_governs(case):
    """Amendments apply from their effective date: each period's entries use the rates,
    threshold, cover and payment terms of the version governing that period, payments and
    late interest those of the version for their date, and the arithmetic is SPEC's."""
    documents, lines = case
    replayed = replay_lines(documents, lines)
    check_terms_applied(replayed.entries, documents)


@given(st.data())
def test_lease_back_never_exceeds_a_constant_cap(data):
    """With one cap for the whole agreement, the guarantor's lease-back issued so far is always
    min(cap, entitlement): never above the cap, nothing cut by it paid later, and a lowered
    entitlement claws back only what the cap let through."""
    places = data.draw(st.integers(0, 6), label="places")
    cap = data.draw(decimals(places=data.draw(st.integers(0, places)), min_value=1, max_value=300_000), label="cap")
    documents, lines = data.draw(
        agreements_with_logs(versions=st.integers(1, 3), cap=cap, places=places, backstop=True), label="case"
    )
    replayed = replay_lines(documents, lines)
    check_cap_respected(replayed.entries, cap)
    event("the cap cut an amount" if any("uncapped" in e.fields for e in replayed.entries) else "the cap did not bind")


@given(agreements_with_logs(versions=st.integers(1, 3), revenue_share=True, log_options={"max_lines": 60}))
def test_revenue_share_rate_never_rises(case):
    """The provider's share of revenue steps down over the contract years, never up: each
    revenue-share entry uses its version's step for the contract year of its period, counted
    from the term's start (a term starting on 29 February has years ending on 28 February)."""
    documents, lines = case
    replayed = replay_lines(documents, lines)
    check_step_downs_only(replayed.entries, documents=documents)
    years = {e.fields["basis"]["inputs"]["contract_year"] for e in replayed.entries if e.fields["kind"] == "revenue_share"}
    event(f"contract years seen: {len(years)}")


# =============================================================================================
# Replays compared
# =============================================================================================


@given(any_agreement_with_log)
def test_replay_is_deterministic(case):
    """The ledger is a pure function of the documents and the log: the same bytes every time."""
    documents, lines = case
    check_replay_deterministic(documents, lines)


@given(any_agreement_with_log, st.lists(st.integers(1, 59), max_size=4))
def test_chunking_does_not_change_the_ledger(case, cuts):
    """Feeding the log line by line, as one stream, with CRLF ends, a few bytes at a time, or in
    pieces across snapshot/restore gives the same ledger and the same line outcomes.

    Chunked `feed_stream` calls are left out until the engine keeps log order across streams
    (`test_events_keep_log_order_across_streams`)."""
    documents, lines = case
    check_chunking_invariance(documents, lines, chunks=cuts)


@given(any_agreement_with_log, st.booleans())
def test_resending_applied_lines_is_harmless(case, reformat):
    """Re-sending every applied event right after itself (also with its members reordered and
    spaced out) is counted as duplicates and changes no entry."""
    documents, lines = case
    check_duplicates_harmless(documents, lines, reformat=reformat)


@pytest.mark.slow
@given(any_agreement_with_log, st.data())
def test_order_of_inputs_within_an_open_period_does_not_matter(case, data):
    """Utilization and revenue of a period that is still open add up: sending them in another
    order before the period closes settles the same amounts for every entry."""
    documents, lines = case
    groups = permutable_input_groups(lines, documents[0]["settlement"]["period"])
    assume(groups)
    permuted = list(lines)
    for group in groups:
        order = data.draw(st.permutations(group), label="order")
        for position, source in zip(group, order):
            permuted[position] = lines[source]
    original, changed = replay_lines(documents, lines), replay_lines(documents, permuted)
    assert [o.status for o in changed.outcomes].count("rejected") == [o.status for o in original.outcomes].count("rejected")
    if amount_views(changed.entries) != amount_views(original.entries):
        for (a_id, a), (b_id, b) in zip(amount_views(original.entries), amount_views(changed.entries)):
            assert (a_id, a) == (b_id, b), {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        assert len(original.entries) == len(changed.entries)


@given(any_agreement_with_log, st.data())
def test_a_corrected_wrong_value_settles_like_the_right_value(case, data):
    """In an open period, sending a wrong utilization or revenue figure and then a correction
    with the right one gives the same amounts as sending the right figure in the first place."""
    documents, lines = case
    candidates = correctable_inputs(lines, documents[0]["settlement"]["period"])
    assume(candidates)
    index, last = data.draw(st.sampled_from(candidates), label="input")
    correct_after = data.draw(st.integers(index, last), label="correct_after")
    original = json.loads(lines[index])
    if original["type"] == "utilization":
        available = Decimal(str(original["available_gpu_hours"]))
        wrong_available = data.draw(decimals(places=2, min_value=0, max_value=available), label="wrong available")
        wrong_sold = data.draw(decimals(places=2, min_value=0, max_value=wrong_available), label="wrong sold")
        wrong = {"available_gpu_hours": f"{wrong_available:f}", "sold_gpu_hours": f"{wrong_sold:f}"}
    else:
        wrong = {"amount": f"{data.draw(decimals(places=2, min_value=-10**6, max_value=10**7), label='wrong amount'):f}"}
    check_correction_equivalence(documents, lines, index=index, wrong=wrong, correct_after=correct_after)


@given(st.data())
def test_agreements_settle_independently(data):
    """Two agreements replayed from one interleaved log issue, each, exactly the entries (the
    same bytes, the same chain) they issue when replayed alone: one agreement's events never
    touch another's state."""
    alpha_docs, alpha = data.draw(agreements_with_logs(agreement="alpha", versions=st.integers(1, 2),
                                                       log_options={"id_prefix": "a:", "max_lines": 30}), label="alpha")
    beta_docs, beta = data.draw(agreements_with_logs(agreement="beta", versions=st.integers(1, 2),
                                                     log_options={"id_prefix": "b:", "max_lines": 30}), label="beta")
    sources = data.draw(st.permutations([0] * len(alpha) + [1] * len(beta)), label="interleaving")
    queues = [list(alpha), list(beta)]
    merged = [queues[source].pop(0) for source in sources]
    together = replay_lines([*alpha_docs, *beta_docs], merged)
    for name, documents, lines in (("alpha", alpha_docs, alpha), ("beta", beta_docs, beta)):
        alone = replay_lines(documents, lines)
        assert b"".join(e.line for e in together.entries if e.agreement == name) == alone.ledger
        assert together.summary["agreements"][name] == alone.summary["agreements"][name]


@given(any_agreement_with_log, st.data())
def test_close_through_settles_like_explicit_closes(case, data):
    """`--close-through D` closes, after the last event, every open period ending by D, exactly
    as close events for those periods would (only the entries' `events` lack a close id)."""
    documents, lines = case
    periods = agreement_periods(documents)
    closed = len({item["id"] for item in map(json.loads, lines) if item["type"] == "close"})  # re-sends count once
    day = data.draw(st.dates(periods[0].start, periods[-1].end + timedelta(days=40)), label="close_through")
    closes = [json.dumps({"id": f"close-through-{p.id}", "type": "close", "agreement": documents[0]["agreement"], "period": p.id})
              for p in periods[closed:] if p.end <= day]
    instructed = replay_lines(documents, lines, close_through=day)
    explicit = replay_lines(documents, [*lines, *closes])
    assert amount_views(instructed.entries) == amount_views(explicit.entries)


@given(any_agreement_with_log, st.data())
def test_voiding_and_reviving_an_input_issues_nothing(case, data):
    """Voiding an input and then reviving it with the same values leaves every target where it
    was: the true-up that follows issues nothing more than it would have anyway."""
    documents, lines = case
    kind, lock = documents[0]["settlement"]["period"], documents[0]["settlement"].get("lock_after_periods")
    periods = agreement_periods(documents)
    index_of = {p.id: p.index for p in periods}
    items = [json.loads(line) for line in lines]
    closed = len({item["id"] for item in items if item["type"] == "close"})  # re-sends count once
    corrected = {item.get("corrects") for item in items}
    candidates = [
        item for item in items
        if item["type"] in ("utilization", "revenue") and item["id"] not in corrected
        and (lock is None or closed < index_of[input_period(item, kind)] + 1 + lock)
    ]
    assume(candidates)
    target = data.draw(st.sampled_from(candidates), label="input")
    values = {k: v for k, v in target.items() if k not in ("id", "type", "agreement", "meta")}
    agreement = documents[0]["agreement"]
    day = periods[closed - 1].end if closed else periods[0].start
    true_up = json.dumps({"id": "true-up-after", "type": "true_up", "agreement": agreement, "date": day.isoformat()})
    void = json.dumps({"id": "void-it", "type": "correction", "agreement": agreement, "corrects": target["id"], "void": True})
    revive = json.dumps({"id": "revive-it", "type": "correction", "agreement": agreement, "corrects": target["id"],
                         "replacement": values})
    plain, round_trip = replay_lines(documents, [*lines, true_up]), replay_lines(documents, [*lines, void, revive, true_up])
    assert [o.status for o in round_trip.outcomes[-3:]] == ["applied"] * 3, [o.reason for o in round_trip.outcomes[-3:]]
    assert amount_views(round_trip.entries) == amount_views(plain.entries)


# =============================================================================================
# Every line accounted for
# =============================================================================================


@pytest.mark.slow
@given(any_agreement_with_log, st.data())
def test_bad_and_blank_lines_are_accounted_for_and_change_nothing(case, data):
    """Every non-blank line is applied, a duplicate or rejected; a bad line is rejected with a
    reason, never stops the replay and changes no entry; blank lines are not counted."""
    documents, lines = case
    agreement = documents[0]["agreement"]
    inserts = data.draw(
        st.lists(st.tuples(st.integers(0, len(lines)), bad_lines(agreement=agreement) | st.sampled_from([b"", b"  ", b"\t "])), max_size=6),
        label="inserts",
    )
    tagged = [(raw, False) for raw in physical_lines(lines)]
    for position, raw in sorted(inserts, key=lambda item: item[0], reverse=True):
        tagged.insert(position, (raw, bool(raw.strip(b" \t"))))
    mixed = [raw for raw, _ in tagged]
    bad_positions = [number for number, (_, bad) in enumerate(tagged, start=1) if bad]
    clean, noisy = replay_lines(documents, lines), replay_lines(documents, mixed)
    check_line_accounting(noisy.summary, mixed)
    assert noisy.ledger == clean.ledger
    rejected = {outcome.line for outcome in noisy.outcomes if outcome.status == "rejected"}
    assert set(bad_positions) <= rejected
    assert len(rejected) == len(bad_positions) + len(clean.summary["rejected"])


@pytest.mark.slow
@given(any_agreement_with_log, st.data())
def test_a_bad_line_is_rejected_whatever_came_before(case, data):
    """A line SPEC §4 rejects on its own is rejected on a fresh engine and after a whole log."""
    documents, lines = case
    bad = data.draw(bad_lines(agreement=documents[0]["agreement"]), label="bad line")
    engine = Engine(load_agreements_from_mappings(documents))
    assert engine.feed_line(bad).status == "rejected"
    list(engine.feed_lines(lines))
    outcome = engine.feed_line(bad)
    assert outcome.status == "rejected" and outcome.reason
    assert not outcome.entries


# =============================================================================================
# The command line, the files and the environment
# =============================================================================================


@pytest.mark.slow  # starts processes
@settings(GOLDEN, max_examples=3)
@given(agreements_with_logs(versions=st.integers(1, 2), log_options={"max_lines": 40}), st.data())
def test_cli_writes_the_same_bytes_under_any_hash_seed_and_time_zone(case, data):
    """`backstop replay` writes the same ledger and summary bytes whatever PYTHONHASHSEED, TZ
    and locale the process runs with, and the same ledger as the engine in this process."""
    documents, lines = case
    term_end = documents[0]["term"]["end"]
    close_through = data.draw(st.dates(term_end - timedelta(days=200), term_end), label="close_through")
    environments = [
        {"PYTHONHASHSEED": "0", "TZ": "UTC", "LC_ALL": "C.UTF-8"},
        {"PYTHONHASHSEED": "4242", "TZ": "Pacific/Kiritimati", "LC_ALL": "C"},
        {"PYTHONHASHSEED": "random", "TZ": "America/St_Johns", "LC_ALL": "C.UTF-8"},
    ]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        contracts = write_agreement_folder(documents, root / "contracts")
        events = root / "events.jsonl"
        events.write_bytes(b"".join(raw + b"\n" for raw in physical_lines(lines)))
        outputs = []
        for index, extra in enumerate(environments):
            ledger, summary = root / f"ledger{index}.jsonl", root / f"summary{index}.json"
            env = {**os.environ, **extra, "PYTHONPATH": str(REPO)}
            result = subprocess.run(
                [sys.executable, "-m", "engine.cli", "replay", str(contracts), str(events), "--ledger", str(ledger),
                 "--summary", str(summary), "--close-through", close_through.isoformat()],
                env=env, capture_output=True, cwd=root, timeout=120,
            )
            assert result.returncode in (0, 1), result.stderr.decode()
            outputs.append((ledger.read_bytes(), summary.read_bytes()))
        assert all(output == outputs[0] for output in outputs[1:])
        in_process = replay_lines(load_agreements(contracts), lines, close_through=close_through)
        assert in_process.ledger == outputs[0][0]
        check_chain_integrity(outputs[0][0], summary=json.loads(outputs[0][1]))


@given(any_agreement_with_log, st.sampled_from(["yaml", "json"]))
def test_a_written_agreement_folder_settles_like_its_mappings(case, format):
    """An agreement written out as version files (decimals as their exact text, dates plain,
    names quoted) loads to the same terms: the same entries, only the document hash differs."""
    documents, lines = case
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_agreements(write_agreement_folder(documents, folder, format=format))
    from_files, from_mappings = replay_lines(loaded, lines), replay_lines(documents, lines)

    def without_document(entries):
        return [{k: v for k, v in fields.items() if k != "document"} for _, fields in amount_views(entries)]

    assert without_document(from_files.entries) == without_document(from_mappings.entries)


# =============================================================================================
# The sample agreements and logs (derandomized: the same examples on every run)
# =============================================================================================


def sample_lines(name: str) -> list[bytes]:
    return (REPO / "examples" / name).read_bytes().split(b"\n")[:-1]


@pytest.fixture(scope="module")
def samples():
    loaded = load_agreements(REPO / "contracts")
    lines = sample_lines("all.jsonl")
    return loaded, lines, replay_lines(loaded, lines)


def test_sample_ledgers_obey_every_ledger_invariant(samples):
    loaded, lines, replayed = samples
    check_chain_integrity(replayed.ledger, summary=replayed.summary)
    check_line_accounting(replayed.summary, lines)
    check_outstanding_rebuilt(replayed.entries, replayed.summary)
    check_totals(replayed.entries, replayed.summary)
    check_step_downs_only(replayed.entries, documents=loaded)
    check_terms_applied(replayed.entries, loaded)
    for agreement in loaded:
        caps = {version.document.backstop.cap for version in agreement.versions if version.document.backstop}
        if len(caps) == 1:  # amended-h200 raises its cap in v2: not a constant cap
            check_cap_respected([e for e in replayed.entries if e.agreement == agreement.id], caps.pop())


def test_spec9_worked_example_obeys_the_cap_and_the_chain():
    contracts = REPO / "tests" / "golden" / "spec9" / "contracts"
    lines = (REPO / "tests" / "golden" / "spec9" / "events.jsonl").read_bytes().split(b"\n")
    replayed = replay_lines(load_agreements(contracts), lines)
    check_cap_respected(replayed.entries, Decimal("20000"))
    check_chain_integrity(replayed.ledger, summary=replayed.summary)
    check_outstanding_rebuilt(replayed.entries, replayed.summary)


@settings(GOLDEN)
@given(st.lists(st.integers(1, 599), max_size=6))
def test_sample_log_in_chunks_gives_the_same_ledger(samples, cuts):
    loaded, lines, _ = samples
    check_chunking_invariance(loaded, lines[:600], chunks=[cut % 600 for cut in cuts])


def test_sample_log_resent_in_full_is_harmless(samples):
    loaded, lines, _ = samples
    check_duplicates_harmless(loaded, lines[:1500])
    check_replay_deterministic(loaded, lines[:800])


# =============================================================================================
# The kit itself
# =============================================================================================


def test_the_kit_needs_hypothesis_and_says_how_to_install_it():
    code = "import sys; sys.modules['hypothesis'] = None\ntry:\n import engine.testing\nexcept ImportError as e:\n print(e)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "pip install 'backstop[testing]'" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    "make",
    [
        lambda: agreements(places=7),
        lambda: agreements(period="weekly"),
        lambda: agreements(cap=Decimal("1.005"), places=2),
        lambda: agreements(cap=Decimal("5"), backstop=False),
        lambda: agreements(backstop=False, revenue_share=False, warrants=False, revenue_floor=False, guarantee=False),
        lambda: agreements(guarantee="yes"),
        lambda: agreements(versions=0),
        lambda: decimals(min_value=2, max_value=1),
        lambda: decimals(min_value=0.5),
        lambda: period_ids(period="yearly"),
        lambda: event_logs({"schema": "backstop/v1"}),
        lambda: agreements_with_logs(lock_after_periods=-1),
    ],
)
def test_the_kit_names_a_bad_argument(make):
    with pytest.raises(InvalidArgument):
        make().validate()


@pytest.fixture(scope="module")
def spec9():
    contracts = load_agreements(REPO / "tests" / "golden" / "spec9" / "contracts")
    lines = (REPO / "tests" / "golden" / "spec9" / "events.jsonl").read_bytes().split(b"\n")
    return contracts, lines, replay_lines(contracts, lines)


def tampered(entries, entry_index, **changes):
    fields = [dict(entry.fields) for entry in entries]
    fields[entry_index].update(changes)
    return fields


def test_each_check_catches_a_tampered_ledger(spec9):
    """The checks are not vacuous: each fails, naming its invariant, on a ledger broken its way."""
    contracts, lines, replayed = spec9
    entries, summary = replayed.entries, replayed.summary
    ledger = replayed.ledger.replace(b'"amount":"18600.00"', b'"amount":"18600.01"', 1)
    with pytest.raises(AssertionError, match="chain integrity"):
        check_chain_integrity(ledger)
    with pytest.raises(AssertionError, match="chain integrity"):
        check_chain_integrity(b"".join(entry.line for entry in entries[1:]))
    with pytest.raises(AssertionError, match="cap"):
        check_cap_respected(entries, Decimal("19999"))
    with pytest.raises(AssertionError, match="step-downs only"):
        rising = [dict(e.fields, basis={"inputs": {"rate": "0.10", "contract_year": "1"}}) for e in entries if e.fields["kind"] == "revenue_share"]
        check_step_downs_only([*rising, {**rising[0], "basis": {"inputs": {"rate": "0.11", "contract_year": "2"}}}])
    with pytest.raises(AssertionError, match="outstanding rebuilt"):
        broken = json.loads(json.dumps(summary))
        broken["agreements"]["spec9"]["outstanding"]["guarantor_to_provider"] = "0.00"
        check_outstanding_rebuilt(entries, broken)
    payment = next(i for i, e in enumerate(entries) if e.fields["kind"] == "payment")
    with pytest.raises(AssertionError, match="outstanding rebuilt"):
        check_outstanding_rebuilt(tampered(entries, payment, applied=[]), summary)
    with pytest.raises(AssertionError, match="line accounting"):
        check_line_accounting(summary, len(lines) + 1)
    with pytest.raises(AssertionError, match="terms applied"):
        check_terms_applied(tampered(entries, 0, due="2026-03-04"), contracts)
    with pytest.raises(AssertionError, match="totals"):
        check_totals(entries[1:], summary)


def test_every_kind_of_bad_line_is_rejected_on_its_own(spec9):
    """Each defect `bad_lines()` can produce is rejected by the engine, with a reason and the
    rejection code the defect calls for."""
    from engine.testing.strategies import _BAD_MAKERS

    contracts, lines, _ = spec9
    engine = Engine(contracts)
    list(engine.feed_lines(lines))
    for index, (code, make) in enumerate(_BAD_MAKERS):
        raw = make(f"bad-{index}", "spec9")
        assert b"\n" not in raw and raw.strip(b" \t"), raw[:80]
        outcome = engine.feed_line(raw)
        assert outcome.status == "rejected" and outcome.reason, (index, raw[:200], outcome.status)
        assert outcome.code == code, (index, raw[:200], outcome.code, outcome.reason)


@given(timestamps(), period_ids(), decimals(places=3, min_value=-5, max_value=5))
def test_building_blocks_have_the_spec_shapes(stamp, period, amount):
    from engine.events.reader import parse_line

    line = {"id": "u", "type": "utilization", "agreement": "a", "pool": "p", "start": stamp, "end": "2099-01-01T00:00:00Z",
            "available_gpu_hours": "1", "sold_gpu_hours": "0"}
    assert parse_line(1, json.dumps(line).encode()).problem is None
    revenue = {"id": "r", "type": "revenue", "agreement": "a", "period": period, "amount": f"{amount:f}", "currency": "USD"}
    assert parse_line(1, json.dumps(revenue).encode()).problem is None
    assert len(f"{amount:f}".partition(".")[2]) == 3


# =============================================================================================
# Regressions: engine issues this suite once found
# =============================================================================================


def test_feed_line_skips_a_blank_line():
    engine = Engine(load_agreements(REPO / "tests" / "golden" / "spec9" / "contracts"))
    assert engine.feed_line(b"  \t") is None
    assert engine.summary()["lines"] == 0 and engine.summary()["rejected"] == []


SPEC9_JANUARY = ('{"id":"ID","type":"utilization","agreement":"spec9","pool":"p1","start":"2026-01-DDT00:00:00Z",'
                 '"end":"2026-01-EET00:00:00Z","available_gpu_hours":"2400","sold_gpu_hours":"1000"}')


def january(event_id: str, day: int) -> bytes:
    return SPEC9_JANUARY.replace("ID", event_id).replace("DD", f"{day:02d}").replace("EE", f"{day + 1:02d}").encode()


def test_events_keep_log_order_across_streams():
    import io

    contracts = load_agreements(REPO / "tests" / "golden" / "spec9" / "contracts")
    close = b'{"id":"close-jan","type":"close","agreement":"spec9","period":"2026-01"}'
    log = [january("u-a", 1), january("u-b", 2), january("u-c", 3), close]
    whole = replay_lines(contracts, log, how="stream")
    engine = Engine(contracts)
    outcomes = [*engine.feed_stream(io.BytesIO(b"".join(raw + b"\n" for raw in log[:2]))),
                *engine.feed_stream(io.BytesIO(b"".join(raw + b"\n" for raw in log[2:])))]
    split = b"".join(entry.line for outcome in outcomes for entry in outcome.entries)
    assert json.loads(whole.ledger.splitlines()[0])["events"] == ["u-a", "u-b", "u-c", "close-jan"]
    assert split == whole.ledger  # today: events ["u-a", "u-c", "u-b", "close-jan"]


# =============================================================================================
# Helpers that read generated logs
# =============================================================================================


def permutable_input_groups(lines: list[str], kind: str) -> list[list[int]]:
    """Positions of first-time utilization/revenue lines of one open period that may trade
    places: no correction or re-send comes between them, and the period is not closed."""
    groups: dict[str, list[int]] = {}
    done: list[list[int]] = []
    closed: set[str] = set()
    seen: set[str] = set()

    def flush(period: str | None = None) -> None:
        for key in [period] if period is not None else list(groups):
            if key in groups:
                done.append(groups.pop(key))

    for index, line in enumerate(lines):
        item = json.loads(line)
        event_type = item["type"]
        if item["id"] in seen or event_type == "correction":
            flush()
        elif event_type in ("utilization", "revenue"):
            period = input_period(item, kind)
            if period not in closed:
                groups.setdefault(period, []).append(index)
        elif event_type == "close":
            closed.add(item["period"])
            flush(item["period"])
        seen.add(item["id"])
    flush()
    return [group for group in done if len(group) > 1]


def agreement_periods(documents):
    from engine.testing.strategies import settlement_periods

    first = documents[0]
    return settlement_periods(first["term"]["start"], first["term"]["end"], first["settlement"]["period"])
