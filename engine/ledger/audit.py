"""Auditing a written ledger: its format, its hash chains, and plain-words explanations.

`check_ledger` is what an auditor runs: it needs only the ledger's bytes. Every line must be
written exactly as the engine writes it (SPEC §6): valid UTF-8, one canonical JSON object,
ending in LF alone, with no blank line between; every problem of form is reported with its
line and what is wrong. It then recomputes every hash and follows each agreement's `prev`
links and `seq` numbers, so that a changed, removed or inserted entry is found and named.
`find_entry` and `explain` are the lenient readers behind `backstop explain`: they read
any JSON line and check nothing, because explaining an entry is not vouching for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from engine.ledger.chain import GENESIS, canonical_bytes, entry_hash

# A ledger broken on every line would otherwise give a report as long as itself.
PROBLEMS_KEPT_MAX = 100

# The fields every entry needs for its chain to be followed, and the JSON type each must have.
CHAIN_FIELDS = (("id", str, "a string"), ("agreement", str, "a string"), ("seq", int, "an integer"),
                ("prev", str, "a string"), ("hash", str, "a string"))


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a written ledger: its line (None: the ledger as a whole) and what."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """What `check_ledger` found: the entries read, each agreement's head, and the problems.

    `problems` holds the first `PROBLEMS_KEPT_MAX` problems in line order; `problems_total`
    counts them all.
    """

    entries: int
    heads: dict[str, str]  # agreement → hash of its last entry
    problems: tuple[Problem, ...]
    problems_total: int

    @property
    def ok(self) -> bool:
        return self.problems_total == 0


def check_ledger(lines: Iterable[bytes], heads_expected: dict[str | None, str] | None = None) -> LedgerReport:
    """Check a written ledger's format and hash chains, line by line, and report every problem.

    `lines` are the ledger's physical lines as a binary file yields them: each with its LF,
    the last without one when the file does not end in LF. A line whose form is wrong but
    which still reads as an entry (a CRLF end, white space, unsorted keys) has its chain
    checked too. After a break the check follows the chain as written, so that each removed,
    inserted or changed entry is reported once, where it is. `heads_expected` maps an
    agreement id (or None: "the only agreement") to the head hash the summary gave, which
    catches a ledger cut short after its last intact entry.
    """
    problems: list[Problem] = []
    total = 0
    heads: dict[str, str] = {}
    lengths: dict[str, int] = {}
    first_line_of: dict[str, int] = {}
    entries = 0

    def report(line: int | None, message: str) -> None:
        nonlocal total
        total += 1
        if len(problems) < PROBLEMS_KEPT_MAX:
            problems.append(Problem(line, message))

    for number, raw in enumerate(lines, start=1):
        entry, faults = read_ledger_line(raw)
        for fault in faults:
            report(number, fault)
        if entry is None:
            continue
        entries += 1
        fault = _chain_fault(entry, heads, lengths, first_line_of)
        if fault is not None:
            report(number, fault)
        heads[entry["agreement"]] = entry["hash"]
        lengths[entry["agreement"]] = entry["seq"]
        first_line_of.setdefault(entry["id"], number)
    for agreement, expected in (heads_expected or {}).items():
        if agreement is None:
            if len(heads) != 1:
                report(None, "--head without an agreement id needs a ledger of exactly one agreement")
                continue
            agreement = next(iter(heads))
        if heads.get(agreement) != expected:
            report(None, f"{agreement}: the last entry's hash is {heads.get(agreement)}, not the expected head "
                         f"{expected} (the ledger was cut short or extended)")
    return LedgerReport(entries, heads, tuple(problems), total)


def _chain_fault(entry: dict, heads: dict[str, str], lengths: dict[str, int], first_line_of: dict[str, int]) -> str | None:
    """What breaks the chain at this entry, given the entries before it; None when it links."""
    agreement = entry["agreement"]
    if entry_hash(entry) != entry["hash"]:
        return "hash does not match the entry's content (it was changed)"
    expected_seq = lengths.get(agreement, 0) + 1
    if entry["seq"] != expected_seq:
        return (f"{agreement} entry has seq {entry['seq']}, expected {expected_seq} "
                "(an entry was removed or inserted before it)")
    if entry["prev"] != heads.get(agreement, GENESIS):
        return (f"{agreement} entry's prev does not link to the previous entry "
                "(an entry was removed, inserted or replaced)")
    if entry["id"] in first_line_of:
        return f"id {entry['id']} is already the id of line {first_line_of[entry['id']]}"
    return None


def read_ledger_line(raw: bytes) -> tuple[dict | None, list[str]]:
    """One physical ledger line read strictly: its entry (None if it cannot be read as one)
    and everything wrong with its form (SPEC §6), in the words `backstop verify` prints."""
    faults: list[str] = []
    body = raw
    if body.endswith(b"\n"):
        body = body[:-1]
    else:
        faults.append("the last line does not end in LF; every ledger line, the last one included, ends in LF")
    if body.endswith(b"\r"):
        body = body[:-1]
        faults.append("the line ends in CRLF; ledger lines end in LF alone")
    if not body.strip(b" \t\r"):
        return None, [*faults, "blank line; a ledger has no blank lines"]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [*faults, f"not valid UTF-8 (byte {error.start + 1} of the line is 0x{body[error.start]:02x})"]
    keys = _KeyOrder()
    try:
        entry = json.loads(text, object_pairs_hook=keys.read, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        return None, [*faults, f"not JSON: {error.msg} (column {error.colno})"]
    except _NotJSON as error:
        return None, [*faults, str(error)]
    except RecursionError:
        return None, [*faults, "nested too deeply to be read as an entry"]
    if not isinstance(entry, dict):
        return None, [*faults, f"not a JSON object but {_json_kind(entry)}"]
    try:
        canonical = canonical_bytes(entry)
    except (ValueError, TypeError, RecursionError):  # UnicodeEncodeError is a ValueError
        return None, [*faults, "a string holds a lone surrogate (an escape like \\ud800 without its pair), "
                               "which has no UTF-8 form"]
    if body != canonical:
        faults.append(keys.fault or _difference(text, canonical.decode("utf-8")))
    missing = [name for name, _, _ in CHAIN_FIELDS if name not in entry]
    if missing:
        return None, [*faults, "the entry has no " + ", no ".join(f'"{name}"' for name in missing)]
    for name, kind, words in CHAIN_FIELDS:
        value = entry[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            return None, [*faults, f'"{name}" must be {words}; got {canonical_bytes(value).decode("utf-8")}']
    return entry, faults


class _NotJSON(ValueError):
    """A constant Python's reader accepts but JSON does not (NaN, Infinity)."""


def _refuse_constant(name: str) -> None:
    raise _NotJSON(f"not JSON: {name} is not a JSON value")


class _KeyOrder:
    """Notes the first object whose keys repeat or are out of canonical (code point) order."""

    def __init__(self) -> None:
        self.fault: str | None = None

    def read(self, pairs: list[tuple[str, object]]) -> dict:
        if self.fault is None:
            keys = [key for key, _ in pairs]
            repeated = next((key for index, key in enumerate(keys) if key in keys[:index]), None)
            unsorted = next(((a, b) for a, b in zip(keys, keys[1:]) if a > b), None)
            if repeated is not None:
                self.fault = f"the key {_quoted(repeated)} is repeated in one object"
            elif unsorted is not None:
                self.fault = (f"the key {_quoted(unsorted[0])} comes before {_quoted(unsorted[1])}; "
                              "canonical JSON sorts keys by code point")
        return dict(pairs)


def _difference(text: str, canonical: str) -> str:
    """Where and how a line differs from its canonical form, columns counted in characters."""
    index = next((i for i, (a, b) in enumerate(zip(text, canonical)) if a != b), min(len(text), len(canonical)))
    column = index + 1
    if index < len(text) and text[index] in " \t\r\n":
        return f"white space at column {column}; canonical JSON has none between tokens"
    if "\\" in text[max(0, index - 5):index + 1]:
        return (f"an escape at column {column} that canonical JSON writes otherwise (it escapes only "
                '", \\ and control characters, as \\b \\f \\n \\r \\t or lowercase \\u00xx, and writes '
                "every other character as itself)")
    return (f"not in canonical JSON form from column {column}: written {text[index:index + 20]!r}, "
            f"canonical JSON has {canonical[index:index + 20]!r}")


def _quoted(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if value is None or isinstance(value, bool):
        return f"the JSON literal {json.dumps(value)}"
    return "a JSON number"


def find_entry(lines: Iterable[bytes], entry_id: str) -> tuple[dict | None, tuple[int, ...]]:
    """The entry with `entry_id`, read leniently, and the lines before it that are not JSON objects.

    `backstop explain` reads what it is given: any line end, blank lines, any JSON layout,
    and it checks neither the format nor the hashes (`check_ledger` does). Lines it cannot
    read are skipped and their numbers returned, so that the caller can say so.
    """
    unreadable: list[int] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            entry = None
        if not isinstance(entry, dict):
            unreadable.append(number)
        elif entry.get("id") == entry_id:
            return entry, tuple(unreadable)
    return None, tuple(unreadable)


DIRECTION_WORDS = {
    "lease_back": "lease-back the guarantor owes the provider for idle capacity",
    "revenue_share": "revenue share the provider owes the guarantor",
    "adjustment": "adjustment of an issued amount after its period's inputs changed",
    "payment": "payment",
    "late_interest": "late interest on an amount paid after it fell due",
    "warrant_vested": "warrant tranche vested",
    "split_adjustment": "change of a vested tranche's shares by a stock split",
    "exercise_price": "exercise price the guarantor owes for shares subscribed for cash",
    "share_delivery": "shares the provider delivers on an exercise",
    "cash_in_lieu": "cash the provider pays instead of a fraction of a share",
    "revenue_top_up": "revenue top-up the guarantor owes the provider, up to the revenue floor",
    "debt_service": "debt service the provider owes the lender",
    "guarantee_call": "guarantee call: the guarantor pays the lender the covered part of a debt service left unpaid",
    "discharge": "discharge of a called debt service: the lender looks to the guarantor for this part",
    "reimbursement": "reimbursement the provider owes the guarantor for what a guarantee call cost it",
}


def _call_story(entry: dict) -> list[str]:
    """(v2) A guarantee call told from its entries: which debt service defaulted, when it fell
    due, when the cure period ended, what the guarantee covered and what the cap left."""
    kind, inputs = entry.get("kind"), entry.get("basis", {}).get("inputs", {})
    if kind not in ("guarantee_call", "discharge", "reimbursement") or "obligation" not in inputs:
        return []
    if kind == "discharge":
        return [f"  story:    {inputs.get('call_amount')} of {inputs['obligation']} is discharged by the call "
                f"{inputs.get('call')}: the lender now looks to the guarantor for it; the rest stays with the provider"]
    if kind == "reimbursement":
        return [f"  story:    the guarantor paid the lender {inputs.get('call_amount')} on the call {inputs.get('call')} "
                f"on {inputs['obligation']}; the provider owes it back, due {inputs.get('payment_terms_days')} days "
                f"after the call (late interest: {inputs.get('late_interest')})"]
    story = [
        f"  story:    debt service {inputs['obligation']} (period {inputs.get('obligation_period')}) fell due on "
        f"{inputs.get('obligation_due')};",
        f"            {inputs.get('outstanding')} was still unpaid when its cure period of {inputs.get('cure_days')} "
        f"days ended on {inputs.get('cure_date')}, and the lender called on {inputs.get('called_on')}.",
        f"            The guarantee covers {inputs.get('covers')} of it: {inputs.get('covered')}.",
    ]
    if inputs.get("cap", "none") == "none":
        story.append(f"            The guarantee has no cap, so the guarantor pays {entry.get('amount')}.")
    else:
        story.append(
            f"            Of its cap of {inputs['cap']}, {inputs.get('called_before')} was called before and "
            f"{inputs.get('cap_left')} was left, so the guarantor pays {entry.get('amount')}."
        )
    return story


def explain(entry: dict) -> str:
    """One entry's derivation in plain words."""
    basis = entry.get("basis", {})
    lines = [
        f"{entry['id']}  (seq {entry['seq']} of {entry['agreement']})",
        f"  what:     {DIRECTION_WORDS.get(entry['kind'], entry['kind'])}"
        + (f" (of {entry['of']})" if "of" in entry else ""),
        f"  amount:   {entry['amount']} {entry['unit']}, owed by {entry['debtor']} to {entry['creditor']}",
        f"  dated:    {entry['date']}" + (f", due {entry['due']}" if entry.get("due") else "")
        + (f", for period {entry['period']}" if entry.get("period") else ""),
        f"  terms:    version {entry['version']} (document sha256 {entry['document']}), rule {basis.get('rule')}",
        f"  formula:  {basis.get('formula')}",
    ]
    for name, value in basis.get("inputs", {}).items():
        lines.append(f"            {name} = {value}")
    lines += _call_story(entry)
    if "uncapped" in entry and entry["kind"] == "guarantee_call":
        lines.append(f"  cap:      the guarantee covered {entry['uncapped']}; its cap cut the call to {entry['amount']}")
    elif "uncapped" in entry:
        lines.append(f"  cap:      the uncapped change was {entry['uncapped']}; the cap cut it to {entry['amount']}")
    if entry.get("adjusts") is not None or "adjusts" in entry:
        lines.append(f"  adjusts:  {entry.get('adjusts') or 'nothing issued earlier for this key'}")
    if "applied" in entry:
        for applied in entry["applied"]:
            lines.append(f"  applied:  {applied['amount']} to {applied['entry']}")
        lines.append(f"  unapplied credit left: {entry.get('unapplied')}")
    if "obligation" in entry:
        lines.append(f"  obligation: {entry['obligation']}")
    if "credit_applied" in entry:
        lines.append(f"  settled at once by unapplied credit: {entry['credit_applied']}")
    events = entry.get("events", [])
    lines.append(f"  events:   {', '.join(events) if events else '(none: issued by --close-through)'}")
    return "\n".join(lines)
