"""The audit report as one self-contained HTML file: inline CSS, charts as inline SVG drawn by
matplotlib (`charts`), no script, no font, no link outside the file, so it opens from disk on
a machine with no network and reads the same in ten years.

Every number in a table is one of `audit.audit_report`'s values, written with the agreement's
places and a comma between thousands; tables carry `class` and `data-` attributes naming what
they hold, so that a test (or an auditor's script) can read the numbers back.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from html import escape
from typing import Iterable, Sequence

from engine import __version__
from engine.numbers import round_fraction
from engine.reports import charts
from engine.reports.balances import SHARE_KINDS
from engine.reports.audit import AgreementReport, AuditReport, Listed
from engine.reports.statement import BUCKET_NAMES
from engine.reports.statement_forms import grouped

AMOUNT_CLASS = ' class="amount"'
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733; margin: 0; background: #f6f7f9; }
header, section { max-width: 1100px; margin: 0 auto; padding: 16px 28px; }
header { border-bottom: 3px solid #0072B2; background: #fff; max-width: none; }
section.agreement { background: #fff; margin: 24px auto; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h1 { font-size: 24px; margin: 4px 0; } h2 { font-size: 20px; border-bottom: 1px solid #ccd; padding-bottom: 4px; }
h3 { font-size: 16px; margin-top: 28px; color: #0b4f7c; }
nav a { margin-right: 14px; } p.note { color: #5a6573; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e3e6ea; text-align: left; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; }
td.amount, th.amount { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.changed { background: #fff4d6; } tr.total td { font-weight: 600; border-top: 2px solid #99a; }
code, .hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; word-break: break-all; }
figure { margin: 8px 0 16px; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #5a6573; font-size: 12px; }
"""


def render_html(report: AuditReport, *, ledger_name: str = "LEDGER") -> str:
    """The whole report; `ledger_name` is how the verify commands it shows name the ledger."""
    as_of = report.as_of.isoformat()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>backstop audit report as of {as_of}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<header><h1>Audit report</h1>",
        f"<p>As of <strong>{as_of}</strong>. Made by backstop {escape(__version__)} from the ledger and the agreement "
        "documents alone: anyone holding them makes the same report. Every entry's version and document hash were "
        "checked against the documents, and the ledger's hash chains verified.</p>",
        "<nav>" + "".join(f'<a href="#{_anchor(agreement.id)}">{escape(agreement.id)}</a>' for agreement in report.agreements) + "</nav>",
        "</header>",
    ]
    for agreement in report.agreements:
        parts.append(_agreement_html(agreement, report, ledger_name))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _agreement_html(agreement: AgreementReport, report: AuditReport, ledger_name: str) -> str:
    anchor = _anchor(agreement.id)
    parties = ", ".join(f"{role} <strong>{escape(name)}</strong>" for role, name in agreement.parties.items())
    title = f" — {escape(agreement.title)}" if agreement.title else ""
    return "\n".join([
        f'<section class="agreement" id="{anchor}" data-agreement="{escape(agreement.id)}">',
        f"<h2>{escape(agreement.id)}{title}</h2>",
        f"<p>Parties: {parties}. Amounts in {escape(agreement.currency)}; {agreement.entries} ledger entries.</p>",
        _terms_html(agreement),
        _usage_html(agreement, anchor),
        _lease_back_html(agreement, anchor),
        _revenue_html(agreement, anchor),
        _guarantee_html(agreement, anchor),
        _warrants_html(agreement, anchor),
        _aging_html(agreement, report),
        _totals_html(agreement),
        _chain_html(agreement, ledger_name),
        "</section>",
    ])


def _terms_html(agreement: AgreementReport) -> str:
    paths: dict[str, None] = {}
    for version in agreement.versions:
        paths.update((path, None) for path, _ in version.terms)
    values = [dict(version.terms) for version in agreement.versions]
    head = "".join(
        f"<th>version {version.number} ({escape(version.schema)})<br>effective {version.effective.isoformat()}<br>"
        f'<span class="hash" title="SHA-256 of the version file">{version.sha256}</span></th>'
        for version in agreement.versions
    )
    rows = []
    for path in paths:
        cells, before = [], None
        for index, value in enumerate(values):
            shown = value.get(path)
            changed = index > 0 and shown != before
            opening = '<td class="changed">' if changed else "<td>"
            cells.append(f"{opening}{escape(shown) if shown is not None else '—'}</td>")
            before = shown
        rows.append(f"<tr><td><code>{escape(path)}</code></td>{''.join(cells)}</tr>")
    return (
        "<h3>Terms in force per version</h3>"
        '<p class="note">Each version governs the periods from its effective date; a highlighted cell differs from the '
        "version before. Paths are those the ledger's <code>basis.rule</code> names.</p>"
        f'<table class="terms"><thead><tr><th>term</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _usage_html(agreement: AgreementReport, anchor: str) -> str:
    heading = "<h3>Usage against the threshold, per pool and period</h3>"
    if not agreement.usage:
        return heading + '<p class="note">No lease-back entry in the ledger.</p>'
    pools = list(dict.fromkeys(point.pool for point in agreement.usage))
    chart = charts.usage_chart(f"{anchor}-usage", pools, agreement.usage, agreement.periods)
    rows = [
        (point.pool, point.period, _number(point.available), _number(point.sold), _number(point.threshold * point.available),
         _percent(point.sold, point.available), _money(point.issued, agreement),
         point.entry)
        for point in agreement.usage
    ]
    return heading + _figure(chart, "Sold and available GPU-hours per period, with the threshold × available each lease-back "
                                    "was computed against. A period missing here had no lease-back: sold was at or above "
                                    "the threshold, or the period is not closed.") + _table(
        "usage", ("pool", "period", "available", "sold", "threshold × available", "sold / available",
                  "lease-back issued", "figures from entry"), rows, amounts={2, 3, 4, 5, 6})


def _lease_back_html(agreement: AgreementReport, anchor: str) -> str:
    heading = "<h3>Lease-back issued against the cap</h3>"
    if not agreement.lease_back:
        return heading + '<p class="note">No lease-back entry in the ledger.</p>'
    last = agreement.lease_back[-1]
    chart = charts.lease_back_chart(f"{anchor}-cap", agreement.lease_back, agreement.currency)
    cap = _money(last.cap, agreement) if last.cap is not None else "none"
    rows = [("lease-back issued (I)", _money(last.issued, agreement)), ("entitlement (E)", _money(last.entitled, agreement)),
            ("cap in force at the last lease-back entry", cap)]
    return heading + _figure(chart, "Cumulative lease-back issued and entitlement after each lease-back entry and "
                                    "adjustment, with the cap in force when it was issued.") + _table(
        "lease-back", ("", "amount"), rows, amounts={1})


def _revenue_html(agreement: AgreementReport, anchor: str) -> str:
    floors = any(point.floor is not None or point.top_up for point in agreement.revenue)
    heading = f"<h3>Revenue{', floor, top-ups' if floors else ''} and revenue share per period</h3>"
    if not agreement.revenue:
        return heading + '<p class="note">No revenue-share or top-up entry in the ledger.</p>'
    chart = charts.revenue_chart(f"{anchor}-revenue", agreement.revenue, agreement.currency)
    caption = ("Revenue and the revenue share issued per period" + (", the top-up the guarantor paid up to the floor "
               "(marked)" if floors else "") + "; the rate, on the right, steps down by version and contract year.")
    rows = []
    for point in agreement.revenue:
        row = [point.period, str(point.contract_year), _number(point.revenue)]
        if floors:
            row += [_scheduled(point.floor_text), _money(point.top_up, agreement)]
        row += ["—" if point.rate is None else f"{point.rate}", _money(point.share, agreement), point.entry]
        rows.append(row)
    header = ["period", "contract year", "revenue", *(["floor", "top-up issued"] if floors else []), "rate",
              "revenue share issued", "figures from entry"]
    amounts = {2, 3, 4, 5, 6} if floors else {2, 3, 4}
    return heading + _figure(chart, caption) + _table("revenue", header, rows, amounts=amounts)


def _guarantee_html(agreement: AgreementReport, anchor: str) -> str:
    heading = "<h3>Debt service, guarantee calls and reimbursements</h3>"
    if not agreement.debt_service:
        lender = "lender" in agreement.parties
        return heading + f'<p class="note">{"No debt-service entry in the ledger." if lender else "This agreement has no lender."}</p>'
    chart = charts.guarantee_chart(f"{anchor}-guarantee", agreement.debt_service, agreement.calls, agreement.currency)
    debts = [(debt.period, debt.due.isoformat(), _money(debt.amount, agreement), _money(debt.paid, agreement),
              _money(debt.discharged, agreement), _money(debt.owed, agreement), debt.entry) for debt in agreement.debt_service]
    parts = [heading, _figure(chart, "Each period's debt service to the lender: what the provider paid, what guarantee "
                                     "calls discharged (the guarantor then owes it to the lender, and the provider owes it "
                                     "back to the guarantor), and what is still owed; the calls so far against the cap."),
             _table("debt-service", ("period", "due", "debt service", "paid by the provider", "discharged by a call",
                                     "still owed", "entry"), debts, amounts={2, 3, 4, 5})]
    if agreement.calls:
        calls = [(call.date.isoformat(), call.entry, call.obligation, _money(call.amount, agreement),
                  _money(call.called, agreement), "none" if call.cap is None else _money(call.cap, agreement),
                  _money(call.reimbursement_owed, agreement)) for call in agreement.calls]
        parts.append(_table("calls", ("date", "call", "debt service called", "amount", "calls so far", "cap in force",
                                      "reimbursement still owed"), calls, amounts={3, 4, 5, 6}))
    return "".join(parts)


def _warrants_html(agreement: AgreementReport, anchor: str) -> str:
    heading = "<h3>Warrants: vesting, splits and exercises</h3>"
    if not agreement.warrants:
        return heading + '<p class="note">No warrant entry in the ledger.</p>'
    chart = charts.warrants_chart(f"{anchor}-warrants", agreement.warrants)
    return (heading + _figure(chart, "Warrant shares vested (as split adjustments changed them) and shares delivered on "
                                     "exercise; each dotted line is a tranche vesting.")
            + _listed_table("warrants", agreement.warrants, agreement))


def _aging_html(agreement: AgreementReport, report: AuditReport) -> str:
    parts = [f"<h3>Aging as of {report.as_of.isoformat()}</h3>",
             '<p class="note">Open obligations after the whole ledger, days past due on the report\'s date, and the late '
             "interest each would bear if paid that day (the terms of the version for that date).</p>"]
    for part in agreement.aging.directions:
        direction = part.direction
        parts.append(f"<h4>{escape(direction.debtor)} owes {escape(direction.creditor)} ({direction.name})</h4>")
        rows = [(line.id, line.kind, line.period or "—", line.due.isoformat(), str(line.days_past_due), line.bucket,
                 _money(line.outstanding, agreement), _money(line.accrued_interest, agreement)) for line in part.lines]
        total = ("Total", "", "", "", "", "", _money(part.outstanding, agreement), _money(part.accrued_interest, agreement))
        attributes = f'data-direction="{direction.name}"'
        parts.append(_table("aging", ("obligation", "kind", "period", "due", "days past due", "bucket", "outstanding",
                                      "accrued interest"), rows, amounts={4, 6, 7}, total=total, attributes=attributes))
        buckets = [(name, _money(part.buckets[name], agreement)) for name in BUCKET_NAMES]
        buckets.append(("unapplied credit", _money(part.unapplied_credit, agreement)))
        parts.append(_table("buckets", ("bucket", "outstanding"), buckets, amounts={1}, attributes=attributes))
    return "".join(parts)


def _totals_html(agreement: AgreementReport) -> str:
    rows = [(kind, grouped(total, 0) if kind in SHARE_KINDS else _money(total, agreement))
            for kind, total in agreement.totals.items()]
    return ("<h3>Totals per kind</h3>"
            '<p class="note">The sum of each kind\'s amounts (adjustments of every kind together; share kinds in shares), '
            "as the summary's <code>totals</code> gives them.</p>" + _table("totals", ("kind", "total"), rows, amounts={1}))


def _chain_html(agreement: AgreementReport, ledger_name: str) -> str:
    if agreement.head is None:
        return "<h3>Chain</h3><p>The ledger holds no entry of this agreement.</p>"
    command = f"backstop verify {ledger_name} --head {agreement.id}={agreement.head}"
    return (
        "<h3>Chain</h3>"
        f'<p>{agreement.entries} entries; the head (the hash of the last entry) is <span class="hash">{agreement.head}</span>.</p>'
        "<p>To check that the ledger is the one this report was made from, that no entry was changed, removed or inserted "
        "and that it was not cut short:</p>"
        f"<pre><code>{escape(command)}</code></pre>"
        "<p>To check that the ledger is what the documents and the event log give, byte for byte:</p>"
        f"<pre><code>backstop verify CONTRACTS EVENTS {escape(ledger_name)}</code></pre>"
    )


def _listed_table(name: str, listed: Sequence[Listed], agreement: AgreementReport) -> str:
    rows = [(item.date.isoformat(), item.kind, item.period or "—", item.subject or "—", item.debtor, item.creditor,
             grouped(item.amount, 0) if item.unit == "shares" else _money(item.amount, agreement), item.unit, item.id)
            for item in listed]
    return _table(name, ("date", "kind", "period", "concerns", "debtor", "creditor", "amount", "unit", "entry"), rows, amounts={6})


def _table(name: str, header: Sequence[str], rows: Iterable[Sequence[str]], *, amounts: set[int],
           total: Sequence[str] | None = None, attributes: str = "") -> str:
    def cells(row: Sequence[str], tag: str) -> str:
        return "".join(f"<{tag}{AMOUNT_CLASS if index in amounts else ''}>{escape(cell)}</{tag}>"
                       for index, cell in enumerate(row))

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    if total is not None:
        body += f'<tr class="total">{cells(total, "td")}</tr>'
    return f'<table class="{name}" {attributes}><thead><tr>{cells(header, "th")}</tr></thead><tbody>{body}</tbody></table>'


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _money(amount: Decimal, agreement: AgreementReport) -> str:
    return grouped(amount, agreement.places)


def _number(value: Decimal) -> str:
    """An input (GPU-hours, revenue) exactly, with the fraction digits it has and thousands
    grouped: inputs may carry more digits than the agreement's places."""
    return grouped(value, max(0, -value.as_tuple().exponent))


def _scheduled(text: str | None) -> str:
    """A scheduled amount as the ledger writes it, thousands grouped when it is a decimal."""
    if text is None:
        return "—"
    return text if "/" in text else _number(Decimal(text))


def _percent(part: Decimal, whole: Decimal) -> str:
    """part / whole as a percentage with one decimal, rounded once, exactly."""
    return f"{round_fraction(Fraction(part) * 100 / Fraction(whole), 1, 'half_even')} %" if whole else "—"


def _anchor(agreement_id: str) -> str:
    return "agreement-" + "".join(character if character.isalnum() or character in "-_" else "_" for character in agreement_id)

