"""A whole run: scenarios cut into chunks, chunks run on an executor, figures aggregated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from engine.simulate.aggregate import Facts, merged, scenario_rows, summarize
from engine.simulate.executors import LocalExecutor
from engine.simulate.scenario import Job, Simulation, run_chunk

#: Scenarios per task at most: enough to make a task's overhead small, few enough that
#: progress moves and the workers finish together.
CHUNK_MAX = 100


def chunk_size(scenarios: int, workers: int) -> int:
    """About eight chunks per worker, at most CHUNK_MAX scenarios each (the results do not depend on it)."""
    return max(1, min(CHUNK_MAX, -(-scenarios // (8 * workers))))


@dataclass
class Results:
    """What a run found: per agreement its facts and its figures over every scenario, in order."""

    seed: int
    scenarios: int
    model: object
    facts: list[Facts]
    arrays: dict[str, dict[str, np.ndarray]]
    reports: dict[str, dict] = field(default_factory=dict)

    def report(self, agreement: str) -> dict:
        if agreement not in self.reports:
            facts = next(f for f in self.facts if f.id == agreement)
            self.reports[agreement] = summarize(facts, self.arrays[agreement])
        return self.reports[agreement]

    def document(self, *, engine_version: str, semantics: str, model_file: str | None) -> dict:
        """The JSON report: the run's parameters, then each agreement's distributions."""
        return {
            "simulation": {
                "engine": {"name": "backstop", "version": engine_version},
                "semantics": semantics,
                "seed": self.seed,
                "scenarios": self.scenarios,
                "model_file": model_file,
                "model": self.model.model_dump(mode="json", by_alias=True),
                "quantiles": "nearest rank: pQ is the ⌈Q N / 100⌉-th smallest of the N scenarios' values",
            },
            "agreements": {facts.id: self.report(facts.id) for facts in self.facts},
        }

    def scenario_rows(self) -> list[list[str]]:
        rows = []
        for facts in self.facts:
            rows += scenario_rows(facts, self.arrays[facts.id])
        return sorted(rows, key=lambda row: (int(row[0]), row[1]))


def simulate(agreements, model, *, scenarios: int, seed: int, executor=None, chunk: int | None = None,
             on_chunk: Callable[[int], None] | None = None) -> Results:
    """Run `scenarios` scenarios of `seed` over `agreements` under `model`.

    Scenario k draws from `SeedSequence(seed).spawn(scenarios)[k]`, so the results are the
    same whatever the executor, its number of workers and `chunk`. `on_chunk(n)` is called
    with the number of scenarios done each time a chunk completes.
    """
    if scenarios < 1:
        raise ValueError(f"scenarios must be ≥ 1; got {scenarios}")
    if seed < 0:
        raise ValueError(f"seed must be ≥ 0; got {seed}")
    agreements = tuple(agreements)
    executor = executor or LocalExecutor(1)
    size = chunk or chunk_size(scenarios, executor.workers)
    jobs = [Job(agreements, model, seed, start, min(start + size, scenarios)) for start in range(0, scenarios, size)]
    chunks, done = [], 0
    for result in executor.map(run_chunk, jobs):
        chunks.append(result)
        done += result.stop - result.start
        if on_chunk is not None:
            on_chunk(done)
    simulation = Simulation(agreements, model)
    facts = [Facts.of(plan) for plan in simulation.plans]
    return Results(seed, scenarios, model, facts, {f.id: merged(chunks, f.id) for f in facts})


def scenario_log(agreements, model, *, seed: int, scenario: int) -> dict[str, list[bytes]]:
    """The event lines scenario `scenario` of `seed` feeds the engine, per agreement: replay
    them with `backstop replay` to audit any figure of the run."""
    logs: dict[str, list[bytes]] = {}
    Simulation(tuple(agreements), model).scenario(seed, scenario, logs=logs)
    return logs
