"""Exposure simulation: what could a backstop cost? Monte Carlo through the real engine.

Each scenario draws a path (`paths`: utilization per pool, revenue, share prices, the
provider's default), writes it as the event log a settlement system would send, and replays
it through `engine.replay.Engine` (`scenario`); the figures come from the issued entries and
are aggregated into distributions (`aggregate`). Scenarios run on local processes or a Dask
cluster (`executors`); the model's parameters are a YAML file (`model`); `output` writes
JSON, CSV and plots. See docs/simulation.md.

    from engine.simulate import load_model, simulate, executor_for
    results = simulate(load_agreements("contracts"), load_model(), scenarios=1000, seed=1,
                       executor=executor_for("local:2"))

Needs the `simulate` extra (NumPy, Dask, Matplotlib): pip install 'backstop[simulate]'.
"""

from engine.simulate.executors import (
    EXTRA_HINT, DaskExecutor, LocalExecutor, MissingExtra, SchedulerError, executor_for, require,
)

require("numpy", "backstop simulate")

from engine.simulate.model import Model, ModelErrors, default_model_path, load_model, read_model  # noqa: E402
from engine.simulate.run import Results, scenario_log, simulate  # noqa: E402
from engine.simulate.scenario import SimulationError  # noqa: E402

__all__ = [
    "EXTRA_HINT", "DaskExecutor", "LocalExecutor", "MissingExtra", "Model", "ModelErrors", "Results",
    "SchedulerError", "SimulationError", "default_model_path", "executor_for", "load_model", "read_model",
    "require", "scenario_log", "simulate",
]
