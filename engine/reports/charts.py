"""The audit report's charts, drawn by matplotlib into SVG text for inlining in the HTML.

matplotlib is an optional extra (`pip install 'backstop[reports]'`) and is imported only
when a chart is drawn. Figures are made with the object API (no pyplot, no global figure
state), glyphs are written as paths (the page needs no font), and the SVG carries no date and
a fixed hash salt, so the same report is the same bytes. Each chart's element ids are prefixed
with its own name, since several SVGs share one HTML document.

Amounts are exact `Decimal` values everywhere else; they become floats here only to be drawn.
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from datetime import date
from typing import Any, Iterator, Sequence

from engine.reports.audit import CallPoint, CapPoint, DebtServicePoint, Listed, RevenuePoint, UsagePoint
from engine.reports.errors import ReportError

INSTALL_HINT = "pip install 'backstop[reports]'"
# Colours that stay apart for readers with the common colour-vision deficiencies (Okabe–Ito).
BLUE, ORANGE, GREEN, VERMILION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"
WIDTH_INCHES = 9.0
_SVG_HEAD = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
_ID_REFERENCE = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportError(f"the HTML report draws its charts with matplotlib, an optional extra: {INSTALL_HINT}") from None
    return matplotlib


@contextmanager
def _figure(name: str, height_inches: float, rows: int = 1) -> Iterator[tuple[Any, Any]]:
    matplotlib = _matplotlib()
    from matplotlib.figure import Figure

    style = {"svg.hashsalt": name, "svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
             "axes.spines.right": False, "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.6,
             "axes.axisbelow": True, "legend.frameon": False}
    with matplotlib.rc_context(style):
        figure = Figure(figsize=(WIDTH_INCHES, height_inches), layout="constrained")
        axes = figure.subplots(rows, 1, squeeze=False)[:, 0]
        yield figure, axes


def _svg(figure: Any, name: str) -> str:
    """The figure as an `<svg>` element: no XML prologue, every id prefixed with `name`."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = _SVG_HEAD.sub("", buffer.getvalue(), count=1)
    return _ID_REFERENCE.sub(lambda match: f"{match.group(1)}{name}-{match.group(2)}", text)


def _thousands(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))


def _dates(axis: Any) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    axis.set_major_locator(locator)
    axis.set_major_formatter(ConciseDateFormatter(locator))


def usage_chart(name: str, pools: Sequence[str], points: Sequence[UsagePoint], periods: Sequence[str]) -> str:
    """Per pool, sold against available GPU-hours per period, with threshold × available marked.

    Every pool shares the periods from the term's first to the last one with figures, so that
    a period without a lease-back entry shows as a gap in the same place in each pool."""
    last = max(point.period for point in points)
    shown = [period for period in periods if period <= last]
    x = {period: index for index, period in enumerate(shown)}
    with _figure(name, 0.9 + 1.7 * len(pools), rows=len(pools)) as (figure, axes):
        for axis, pool in zip(axes, pools):
            mine = [point for point in points if point.pool == pool]
            positions = [x[point.period] for point in mine]
            axis.bar(positions, [float(point.available) for point in mine], width=0.8, color=GREY, alpha=0.45, label="available")
            axis.bar(positions, [float(point.sold) for point in mine], width=0.5, color=BLUE, label="sold")
            axis.scatter(positions, [float(point.threshold * point.available) for point in mine], marker="_", s=260,
                         color=VERMILION, linewidths=2, label="threshold × available", zorder=3)
            axis.set_xticks(range(len(shown)), shown, rotation=90, fontsize=7)
            axis.set_xlim(-0.6, len(shown) - 0.4)
            axis.set_ylabel("GPU-hours")
            axis.set_title(f"pool {pool}", loc="left", fontsize=9)
            _thousands(axis.yaxis)
        figure.legend(*axes[0].get_legend_handles_labels(), loc="outside upper right", ncols=3, fontsize=8)
        return _svg(figure, name)


def lease_back_chart(name: str, points: Sequence[CapPoint], currency: str) -> str:
    """Lease-back issued (I) and entitlement (E) after each entry, against the cap in force."""
    with _figure(name, 3.4) as (figure, axes):
        axis = axes[0]
        days = [point.date for point in points]
        axis.step(days, [float(point.entitled) for point in points], where="post", color=GREY, linestyle="--",
                  label="entitlement E (uncapped)")
        axis.step(days, [float(point.issued) for point in points], where="post", color=BLUE, linewidth=2,
                  label="lease-back issued I")
        capped = [(point.date, float(point.cap)) for point in points if point.cap is not None]
        if capped:
            axis.step([day for day, _ in capped], [cap for _, cap in capped], where="post", color=VERMILION,
                      linewidth=1.5, label="cap in force")
        axis.set_ylabel(currency)
        axis.set_ylim(bottom=0)
        figure.legend(*axis.get_legend_handles_labels(), loc="outside upper right", ncols=3, fontsize=8)
        _thousands(axis.yaxis)
        _dates(axis.xaxis)
        return _svg(figure, name)


def revenue_chart(name: str, points: Sequence[RevenuePoint], currency: str) -> str:
    """Revenue, the revenue share and (v2) the top-up per period, the floor marked on each
    period that has one, and the rate (its step-downs) on a second axis."""
    with _figure(name, 3.6) as (figure, axes):
        axis = axes[0]
        x = list(range(len(points)))
        series = [("revenue", GREY, [point.revenue for point in points]),
                  ("revenue share issued", GREEN, [point.share for point in points])]
        if any(point.top_up for point in points):
            series.append(("top-up issued", VERMILION, [point.top_up for point in points]))
        width = 0.8 / len(series)
        for index, (label, colour, values) in enumerate(series):
            offset = (index - (len(series) - 1) / 2) * width
            axis.bar([i + offset for i in x], [float(value) for value in values], width=width, color=colour, label=label)
        floors = [(i, point.floor) for i, point in zip(x, points) if point.floor is not None]
        if floors:
            axis.scatter([i for i, _ in floors], [float(floor) for _, floor in floors], marker="_", s=300, linewidths=2,
                         color=BLUE, label="floor", zorder=3)
        axis.set_xticks(x, [point.period for point in points], rotation=90, fontsize=7)
        axis.set_ylabel(currency)
        _thousands(axis.yaxis)
        handles = axis.get_legend_handles_labels()[0]
        if any(point.rate is not None for point in points):
            rate_axis = axis.twinx()
            rates = [float(point.rate) * 100 if point.rate is not None else float("nan") for point in points]
            rate_axis.step(x, rates, where="mid", color=ORANGE, linewidth=2, label="rate (%)")
            rate_axis.set_ylim(bottom=0)
            rate_axis.set_ylabel("rate (%)")
            rate_axis.grid(False)
            handles += rate_axis.get_legend_handles_labels()[0]
        for index, (before, point) in enumerate(zip(points, points[1:]), start=1):
            if point.contract_year != before.contract_year:
                axis.axvline(index - 0.5, color=ORANGE, linestyle=":", linewidth=1)
                axis.annotate(f"year {point.contract_year}", (index - 0.45, 1), xycoords=("data", "axes fraction"),
                              va="top", fontsize=7, color=ORANGE)
        figure.legend(handles=handles, loc="outside upper right", fontsize=8, ncols=len(handles))
        return _svg(figure, name)


def guarantee_chart(name: str, debts: Sequence[DebtServicePoint], calls: Sequence[CallPoint], currency: str) -> str:
    """(v2) Per period, the debt service as the provider paid it, as guarantee calls discharged
    it, and what is still owed; below, the calls so far against the guarantee's cap."""
    rows = 2 if calls else 1
    with _figure(name, 1.2 + 2.4 * rows, rows=rows) as (figure, axes):
        axis = axes[0]
        x = list(range(len(debts)))
        bottom = [0.0] * len(debts)
        for label, colour, values in (("paid by the provider", GREEN, [debt.paid for debt in debts]),
                                      ("discharged by a call", ORANGE, [debt.discharged for debt in debts]),
                                      ("still owed", VERMILION, [debt.owed for debt in debts])):
            heights = [float(value) for value in values]
            axis.bar(x, heights, bottom=bottom, width=0.7, color=colour, label=label)
            bottom = [low + height for low, height in zip(bottom, heights)]
        axis.set_xticks(x, [debt.period for debt in debts], rotation=90, fontsize=7)
        axis.set_ylabel(currency)
        axis.set_title("debt service per period", loc="left", fontsize=9)
        _thousands(axis.yaxis)
        handles = axis.get_legend_handles_labels()[0]
        if calls:
            lower = axes[1]
            days = [call.date for call in calls]
            lower.step(days, [float(call.called) for call in calls], where="post", color=BLUE, linewidth=2,
                       marker="o", label="guarantee calls so far")
            capped = [(call.date, float(call.cap)) for call in calls if call.cap is not None]
            if capped:
                lower.step([day for day, _ in capped], [cap for _, cap in capped], where="post", color=VERMILION,
                           linewidth=1.5, label="guarantee cap in force")
            lower.set_ylim(bottom=0)
            lower.set_ylabel(currency)
            lower.set_title("calls against the cap", loc="left", fontsize=9)
            _thousands(lower.yaxis)
            _dates(lower.xaxis)
            handles += lower.get_legend_handles_labels()[0]
        figure.legend(handles=handles, loc="outside upper right", fontsize=8, ncols=min(len(handles), 5))
        return _svg(figure, name)


def warrants_chart(name: str, listed: Sequence[Listed]) -> str:
    """Warrant shares vested (with split adjustments) and delivered over time, each event marked."""
    with _figure(name, 3.4) as (figure, axes):
        axis = axes[0]
        vested, delivered = _cumulative(listed, ("warrant_vested", "split_adjustment")), _cumulative(listed, ("share_delivery",))
        if vested:
            axis.step([day for day, _ in vested], [count for _, count in vested], where="post", color=BLUE, linewidth=2,
                      label="vested (after splits)")
        if delivered:
            axis.step([day for day, _ in delivered], [count for _, count in delivered], where="post", color=GREEN,
                      linewidth=2, label="shares delivered")
        for item in listed:
            if item.kind == "warrant_vested":
                axis.axvline(item.date, color=GREY, linestyle=":", linewidth=0.8)
                axis.annotate(item.subject, (item.date, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                              fontsize=7, color="#555555", va="bottom", ha="right")
        axis.set_ylabel("shares")
        axis.set_ylim(bottom=0)
        figure.legend(*axis.get_legend_handles_labels(), loc="outside upper right", ncols=2, fontsize=8)
        _thousands(axis.yaxis)
        _dates(axis.xaxis)
        return _svg(figure, name)


def _cumulative(listed: Sequence[Listed], kinds: tuple[str, ...]) -> list[tuple[date, float]]:
    total, points = 0, []
    for item in sorted((item for item in listed if item.kind in kinds), key=lambda item: item.date):
        total += int(item.amount)
        points.append((item.date, float(total)))
    return points
