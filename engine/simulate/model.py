"""The simulation's model file (`--model FILE`): read exactly and validated like the documents.

A model file is YAML (or JSON) read by the documents' exact reader (decimals from their text,
YAML 1.2 core scalars, every problem located by file, line, column and field) and checked
against the frozen models below. Every field is required: a model file states all that it
assumes, and the shipped `default-model.yaml` is the one place defaults live.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from engine.documents.errors import DocumentError, DocumentErrors
from engine.documents.model import DecimalValue, Frozen, Integer, Text, shown
from engine.documents.reader import read_version_file
from engine.documents.validate import Located, validate_tree

MODEL_SCHEMA = "backstop-model/1"
DEFAULT_MODEL_NAME = "default-model.yaml"


class ModelErrors(DocumentErrors):
    """Every problem of a model file, located as document errors are."""


def _within(low: Decimal | None, high: Decimal | None, *, low_open: bool = False, high_open: bool = False):
    def check(value: Decimal) -> Decimal:
        if low is not None and (value <= low if low_open else value < low):
            raise ValueError(f"must be {'>' if low_open else '>='} {low}; got {shown(value)}")
        if high is not None and (value >= high if high_open else value > high):
            raise ValueError(f"must be {'<' if high_open else '<='} {high}; got {shown(value)}")
        return value

    return check


ZERO, ONE = Decimal(0), Decimal(1)
Unit = Annotated[DecimalValue, AfterValidator(_within(ZERO, ONE))]  # 0..1
OpenUnit = Annotated[DecimalValue, AfterValidator(_within(ZERO, ONE, low_open=True, high_open=True))]  # 0 < x < 1
NonNegative = Annotated[DecimalValue, AfterValidator(_within(ZERO, None))]
Positive = Annotated[DecimalValue, AfterValidator(_within(ZERO, None, low_open=True))]
Jump = Annotated[DecimalValue, AfterValidator(_within(Decimal(-10), Decimal(10)))]  # log or logit units
Drift = Annotated[DecimalValue, AfterValidator(_within(Decimal(-5), Decimal(5)))]
Volatility = Annotated[DecimalValue, AfterValidator(_within(ZERO, Decimal(5)))]


def _days(value: int) -> int:
    if not 0 <= value <= 36_500:
        raise ValueError(f"must be 0..36500; got {value}")
    return value


class Demand(Frozen):
    start: OpenUnit
    target: OpenUnit
    ramp_years: Annotated[DecimalValue, AfterValidator(_within(ZERO, Decimal(100)))]
    reversion: Annotated[DecimalValue, AfterValidator(_within(ZERO, Decimal(100)))]
    volatility: Volatility
    correlation: Unit
    availability: Annotated[DecimalValue, AfterValidator(_within(ZERO, ONE, low_open=True))]


class Shocks(Frozen):
    rate: Annotated[DecimalValue, AfterValidator(_within(ZERO, Decimal(100)))]
    demand: Jump
    demand_spread: Volatility
    recovery: Annotated[DecimalValue, AfterValidator(_within(ZERO, Decimal(100)))]
    price: Jump
    share_price: Jump


class Prices(Frozen):
    per_gpu_hour: dict[Text, Positive]
    default: Positive
    drift: Drift
    volatility: Volatility


class SharePrice(Frozen):
    initial: Positive
    drift: Drift
    volatility: Volatility
    volume: Positive
    observations: Literal["weekdays", "weekly"]


class Payments(Frozen):
    default_rate: Annotated[DecimalValue, AfterValidator(_within(ZERO, Decimal(100)))]
    sensitivity: Annotated[DecimalValue, AfterValidator(_within(ZERO, Decimal(100)))]
    pivot: Unit
    recovery: Unit
    recovery_days: Annotated[Integer, AfterValidator(_days)]


class WarrantPolicy(Frozen):
    exercise: Literal["term_end", "last_day"]
    method: Literal["net", "cash"]


class Model(Frozen):
    """A validated model file: the parameters of every draw (docs/simulation.md)."""

    schema_: Literal["backstop-model/1"] = Field(alias="schema")
    demand: Demand
    shocks: Shocks
    prices: Prices
    share_price: SharePrice
    payments: Payments
    warrants: WarrantPolicy

    def numbers(self) -> Numbers:
        """The parameters as floats, for NumPy (they shape draws, never an amount of the ledger)."""
        d, s, p, q, m = self.demand, self.shocks, self.prices, self.share_price, self.payments
        return Numbers(
            demand_start=float(d.start), demand_target=float(d.target), ramp_years=float(d.ramp_years),
            reversion=float(d.reversion), demand_volatility=float(d.volatility), correlation=float(d.correlation),
            availability=float(d.availability),
            shock_rate=float(s.rate), shock_demand=float(s.demand), shock_demand_spread=float(s.demand_spread),
            shock_recovery=float(s.recovery), shock_price=float(s.price), shock_share_price=float(s.share_price),
            prices={model: float(price) for model, price in p.per_gpu_hour.items()}, price_default=float(p.default),
            price_drift=float(p.drift), price_volatility=float(p.volatility),
            share_initial=float(q.initial), share_drift=float(q.drift), share_volatility=float(q.volatility),
            share_volume=q.volume, share_observations=q.observations,
            default_rate=float(m.default_rate), default_sensitivity=float(m.sensitivity), default_pivot=float(m.pivot),
            recovery=m.recovery, recovery_days=m.recovery_days,
            exercise=self.warrants.exercise, exercise_method=self.warrants.method,
        )

    def fingerprint(self) -> str:
        """A digest of the parameters, for caches keyed by model."""
        return hashlib.sha256(self.model_dump_json(by_alias=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Numbers:
    """The model's parameters in the form the draws use. `share_volume` and `recovery` stay
    exact: they are written into events or multiply an amount."""

    demand_start: float
    demand_target: float
    ramp_years: float
    reversion: float
    demand_volatility: float
    correlation: float
    availability: float
    shock_rate: float
    shock_demand: float
    shock_demand_spread: float
    shock_recovery: float
    shock_price: float
    shock_share_price: float
    prices: dict[str, float]
    price_default: float
    price_drift: float
    price_volatility: float
    share_initial: float
    share_drift: float
    share_volatility: float
    share_volume: Decimal
    share_observations: str
    default_rate: float
    default_sensitivity: float
    default_pivot: float
    recovery: Decimal
    recovery_days: int
    exercise: str
    exercise_method: str

    def price(self, gpu_model: str) -> float:
        return self.prices.get(gpu_model, self.price_default)


def default_model_path() -> str:
    """The shipped model file (`engine/simulate/default-model.yaml`)."""
    return str(resources.files(__package__).joinpath(DEFAULT_MODEL_NAME))


def read_model(data: bytes, file: str) -> Model:
    """A model from a file's bytes; raises `ModelErrors` naming file, line, column and field."""
    read = read_version_file(data, file, example=f"schema: {MODEL_SCHEMA}")
    if read.tree is None:
        raise ModelErrors(read.errors)
    model, errors = validate_tree(Model, read.tree, Located(file, read.positions, read.key_positions),
                                  read.invalid_paths)
    errors = list(read.errors) + errors
    if errors or model is None:
        raise ModelErrors(errors)
    return model


def load_model(path: str | os.PathLike[str] | None = None) -> Model:
    """The model at `path`, or the shipped default; raises `ModelErrors` with every problem."""
    file = default_model_path() if path is None else os.fspath(path)
    try:
        with open(file, "rb") as stream:
            data = stream.read()
    except OSError as error:
        raise ModelErrors([DocumentError(file, None, None, "", f"cannot read the model file: {error.strerror}")]) from None
    return read_model(data, file)
