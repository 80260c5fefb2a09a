"""Helpers shared by the event reader tests: build event lines as text (imported as `event_text`)."""

from __future__ import annotations

import json
from typing import Any

DROP = object()  # a change that removes the field


class Num:
    """A JSON number written exactly as `text` (json.dumps would reformat a float)."""

    def __init__(self, text: str) -> None:
        self.text = text


def event_line(base: dict[str, Any], **changes: Any) -> bytes:
    """`base` with `changes` applied, as one compact JSON line; `Num` values stay as written."""
    merged = {**base}
    for key, value in changes.items():
        if value is DROP:
            merged.pop(key, None)
        else:
            merged[key] = value
    return encode(merged)


def encode(value: Any, *, separators: tuple[str, str] = (",", ":"), ensure_ascii: bool = False) -> bytes:
    """`value` as one JSON line; `Num` values are written as their text."""
    numbers: dict[str, str] = {}

    def swap(item: Any) -> Any:
        if isinstance(item, Num):
            marker = f"@@number{len(numbers)}@@"
            numbers[marker] = item.text
            return marker
        if isinstance(item, dict):
            return {key: swap(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [swap(inner) for inner in item]
        return item

    text = json.dumps(swap(value), ensure_ascii=ensure_ascii, separators=separators, allow_nan=False)
    # Longest markers first, so "@@number1@@" never replaces the start of "@@number12@@".
    for marker in sorted(numbers, key=len, reverse=True):
        text = text.replace(f'"{marker}"', numbers[marker])
    return text.encode("utf-8", "surrogatepass")


UTILIZATION = {
    "id": "u-1",
    "type": "utilization",
    "agreement": "acme",
    "pool": "east",
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-01-02T00:00:00Z",
    "available_gpu_hours": "2400.00",
    "sold_gpu_hours": "1200.50",
}
REVENUE = {"id": "r-1", "type": "revenue", "agreement": "acme", "period": "2026-01", "amount": "-15.25", "currency": "USD"}
VOID = {"id": "c-1", "type": "correction", "agreement": "acme", "corrects": "u-1", "void": True}
CLOSE = {"id": "k-1", "type": "close", "agreement": "acme", "period": "2026-Q1"}
TRUE_UP = {"id": "t-1", "type": "true_up", "agreement": "acme", "date": "2026-03-01"}
PAYMENT = {
    "id": "p-1",
    "type": "payment",
    "agreement": "acme",
    "payer": "Guarantor",
    "payee": "Provider",
    "amount": "1200.00",
    "currency": "USD",
    "date": "2026-02-15",
    "applies_to": "acme/2026-01/lease_back",
}
SHARE_PRICE = {
    "id": "s-1",
    "type": "share_price",
    "agreement": "acme",
    "date": "2026-01-05",
    "price": "41.25",
    "volume": Num("1000"),
}
STOCK_SPLIT = {
    "id": "x-1",
    "type": "stock_split",
    "agreement": "acme",
    "date": "2026-01-06",
    "numerator": Num("2"),
    "denominator": Num("1"),
}
EXERCISE = {
    "id": "e-1",
    "type": "exercise",
    "agreement": "acme",
    "tranche": "T1",
    "shares": Num("500"),
    "method": "net",
    "date": "2026-01-07",
    "fair_market_value": "55.50",
}
GUARANTEE_CALL = {
    "id": "g-1",
    "type": "guarantee_call",
    "agreement": "acme",
    "date": "2026-04-02",
    "obligation": "acme/2026-01/debt_service",
}
