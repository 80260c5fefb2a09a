"""The run's files: `simulation.json`, CSV tables and plots (PNG and SVG).

This is an edge: it writes files, each whole or not at all (a temporary file renamed into
place). JSON and CSV are the same bytes for the same seed and scenarios whatever ran them;
the plots are drawn from the same numbers with Matplotlib, without time stamps.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile

from engine.simulate.aggregate import SCENARIO_COLUMNS
from engine.simulate.executors import require

STATISTICS = ("mean", "p50", "p90", "p99", "max", "min")


def write_bytes(path: str, data: bytes) -> None:
    """Write a file whole or not at all."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".backstop-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def json_bytes(document: dict) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _csv_bytes(header: list[str], rows: list[list]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def distributions_csv(document: dict) -> bytes:
    """One row per agreement, figure and scope (a contract year, or the term)."""
    rows = []
    for agreement, report in document["agreements"].items():
        for metric, scopes in report["distributions"].items():
            for year, stats in scopes["years"].items():
                rows.append([agreement, metric, year] + [stats[name] for name in STATISTICS])
            rows.append([agreement, metric, "term"] + [scopes["term"][name] for name in STATISTICS])
    return _csv_bytes(["agreement", "figure", "contract_year", *STATISTICS], rows)


def caps_csv(document: dict) -> bytes:
    rows = []
    for agreement, report in document["agreements"].items():
        for cap, found in report["caps"].items():
            amount = found["cap"] if isinstance(found["cap"], str) else "varies"
            rows.append([agreement, cap, amount, found["probability"], found["scenarios"],
                         found.get("first_period_p50", "")])
    return _csv_bytes(["agreement", "cap", "amount", "probability", "scenarios", "first_period_p50"], rows)


def warrants_csv(document: dict) -> bytes:
    rows = []
    for agreement, report in document["agreements"].items():
        for tranche, found in report.get("warrants", {}).get("tranches", {}).items():
            value = found["value_at_exercise"]
            rows.append([agreement, tranche, found["shares"], found["vested_probability"]]
                        + [value[name] for name in STATISTICS])
    return _csv_bytes(["agreement", "tranche", "shares", "vested_probability",
                       *[f"value_{name}" for name in STATISTICS]], rows)


def scenarios_csv(rows: list[list[str]]) -> bytes:
    return _csv_bytes(SCENARIO_COLUMNS, rows)


def write_tables(folder: str, document: dict, scenario_rows: list[list[str]]) -> list[str]:
    """simulation.json and the CSV tables; returns the paths written."""
    os.makedirs(folder, exist_ok=True)
    files = {
        "simulation.json": json_bytes(document),
        "distributions.csv": distributions_csv(document),
        "caps.csv": caps_csv(document),
        "warrants.csv": warrants_csv(document),
        "scenarios.csv": scenarios_csv(scenario_rows),
    }
    written = []
    for name, data in files.items():
        path = os.path.join(folder, name)
        write_bytes(path, data)
        written.append(path)
    return written


# ---- plots ---------------------------------------------------------------------------------


def write_plots(folder: str, document: dict, payouts: dict[str, list[int]]) -> list[str]:
    """Per agreement, a fan chart of cumulative payout against the cap and a histogram of the
    payout over the term, each as PNG and SVG. `payouts`: minor units per scenario."""
    matplotlib = require("matplotlib", "the plots of backstop simulate")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    written = []
    with matplotlib.rc_context({"svg.hashsalt": "backstop", "font.size": 9}):
        for agreement, report in document["agreements"].items():
            places = _places(report)
            for name, draw in (("fan", _fan_chart), ("payout", _histogram)):
                figure = pyplot.figure(figsize=(9.5, 4.5))
                try:
                    draw(figure, agreement, report, payouts.get(agreement, []), places)
                    for extension in ("png", "svg"):
                        path = os.path.join(folder, f"{agreement}-{name}.{extension}")
                        data = io.BytesIO()
                        metadata = {"Software": None} if extension == "png" else {"Date": None, "Creator": None}
                        figure.savefig(data, format=extension, dpi=120, metadata=metadata)
                        write_bytes(path, data.getvalue())
                        written.append(path)
                finally:
                    pyplot.close(figure)
    return written


def _places(report: dict) -> int:
    mean = report["fan"]["mean"][0] if report["fan"]["mean"] else "0"
    return len(mean.partition(".")[2])


def _millions(text: str | None) -> float | None:
    return None if text is None else float(text) / 1e6


def _fan_chart(figure, agreement: str, report: dict, payouts: list[int], places: int) -> None:
    fan = report["fan"]
    axes = figure.add_subplot()
    periods = fan["periods"]
    x = list(range(len(periods)))
    series = {name: [_millions(v) for v in fan[name]] for name in ("p10", "p50", "p90", "p99", "mean")}
    axes.fill_between(x, series["p10"], series["p99"], color="#c6dbef", label="P10–P99")
    axes.fill_between(x, series["p10"], series["p90"], color="#6baed6", label="P10–P90")
    axes.plot(x, series["p50"], color="#08519c", label="P50")
    axes.plot(x, series["mean"], color="#08519c", linestyle="--", linewidth=0.8, label="mean")
    for cap, values in fan["caps"].items():
        axes.step(x, [_millions(v) for v in values], where="mid", color="#cb181d", linewidth=1.2,
                  label=f"{cap.replace('_', '-')} cap")
    step = max(1, len(periods) // 12)
    axes.set_xticks(x[::step], periods[::step], rotation=45, ha="right")
    axes.set_ylabel(f"cumulative payout, millions {report['currency']}")
    axes.set_title(f"{agreement}: the guarantor's cumulative payout (lease-back, top-ups, calls)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    axes.grid(alpha=0.3)
    figure.tight_layout()


def _histogram(figure, agreement: str, report: dict, payouts: list[int], places: int) -> None:
    axes = figure.add_subplot()
    values = [value / 10**places / 1e6 for value in payouts]
    axes.hist(values, bins=50, color="#6baed6", edgecolor="#08519c", linewidth=0.3)
    term = report["distributions"]["payout"]["term"]
    for name, style in (("p50", ":"), ("p90", "--"), ("p99", "-.")):
        axes.axvline(float(term[name]) / 1e6, color="#08519c", linestyle=style, label=f"{name.upper()} {term[name]}")
    for cap, found in report["caps"].items():
        if isinstance(found["cap"], str):
            axes.axvline(float(found["cap"]) / 1e6, color="#cb181d", label=f"{cap.replace('_', '-')} cap")
    axes.set_xlabel(f"payout over the term, millions {report['currency']}")
    axes.set_ylabel("scenarios")
    axes.set_title(f"{agreement}: the guarantor's payout over the term ({len(payouts):,} scenarios)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    axes.grid(alpha=0.3)
    figure.tight_layout()
