"""Where the work runs: this process, local processes, or a Dask cluster (`--scheduler`).

An executor runs independent tasks and hands back their results as they complete; callers
put them in order, so results never depend on which worker ran what, or when. Addresses:

- none: local processes (`LocalExecutor`), one per core by default, or this process alone
  with one worker;
- `local:N`: a `dask.distributed.LocalCluster` of N single-threaded worker processes,
  started for the run and closed after it;
- `tcp://HOST:PORT` (or any address `distributed.Client` accepts): a running cluster.

`run_jobs` is the seam of `engine.replay.parallel`: it runs that module's worker functions,
which read the log and write their records in a scratch folder, so a Dask cluster's workers
must see the log and the scratch folder (`sees`); a LocalCluster always does.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
from typing import Callable, Iterable, Iterator

EXTRA_HINT = "pip install 'backstop[simulate]'"


class MissingExtra(ImportError):
    """An optional dependency of the simulation is not installed; the message says how to get it."""


class SchedulerError(Exception):
    """The scheduler address is malformed, or its cluster cannot be reached or used."""


def require(module: str, purpose: str):
    """Import an optional dependency, or raise `MissingExtra` naming the install command."""
    import importlib

    package = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] == package:
            raise MissingExtra(f"{purpose} needs {package}, which is not installed: {EXTRA_HINT}") from error
        raise MissingExtra(f"{purpose} needs {package}, which cannot be imported ({error}): {EXTRA_HINT}") from error
    except ImportError as error:
        raise MissingExtra(f"{purpose} needs {package}, which cannot be imported ({error}): {EXTRA_HINT}") from error


def _quiet_interrupts() -> None:
    """Local workers leave Ctrl-C to the parent, which stops them and says how far it got."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _context():
    # fork starts at once and shares what the parent loaded; it is unsafe on macOS.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods and sys.platform != "darwin" else "spawn")


class LocalExecutor:
    """Tasks in up to `workers` local processes; in this process alone when `workers` is 1."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers if workers is not None else os.cpu_count() or 1)
        self.description = "this process" if self.workers == 1 else f"{self.workers} local processes"

    def map(self, function: Callable, tasks: Iterable) -> Iterator:
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1:
            yield from map(function, tasks)
            return
        pool = _context().Pool(min(self.workers, len(tasks)), initializer=_quiet_interrupts)
        try:
            yield from pool.imap_unordered(function, tasks)
            pool.close()
        finally:
            pool.terminate()
            pool.join()

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DaskExecutor:
    """Tasks on a Dask distributed cluster: one started here (`local:N`) or a running one."""

    def __init__(self, address: str) -> None:
        distributed = require("distributed", "--scheduler")
        self._distributed = distributed
        self.cluster = None
        if address.startswith("local:"):
            workers = _local_workers(address)
            logging.getLogger("distributed").setLevel(logging.ERROR)
            self.cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = distributed.Client(self.cluster)
            self.client.run(_quiet_interrupts)  # Ctrl-C reaches the whole process group: the run stops here
        else:
            try:
                self.client = distributed.Client(address, timeout="10s")
            except (OSError, TimeoutError, ValueError) as error:
                raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        try:
            self.workers = len(self.client.scheduler_info()["workers"])
            if not self.workers:
                self.client.wait_for_workers(1, timeout=30)
                self.workers = len(self.client.scheduler_info()["workers"])
            self._check_versions()
        except BaseException:
            self.close()
            raise
        self.description = f"the Dask cluster at {self.client.scheduler.address} ({self.workers} workers)"

    def _check_versions(self) -> None:
        """Every worker must run this engine release: the results must not depend on who ran them."""
        from engine import __version__

        versions = self.client.run(_engine_version)
        wrong = {worker: version for worker, version in versions.items() if version != __version__}
        if wrong:
            worker, version = sorted(wrong.items())[0]
            raise SchedulerError(f"worker {worker} runs backstop {version}; this is backstop {__version__}; "
                                 "install the same release on every worker")

    def map(self, function: Callable, tasks: Iterable) -> Iterator:
        futures = [self.client.submit(function, task, pure=False) for task in tasks]
        try:
            for future in self._distributed.as_completed(futures):
                yield future.result()
        finally:
            self.client.cancel(futures)

    def run_jobs(self, jobs: list[tuple[str, Callable, tuple]]) -> bool:
        """Run (name, function, arguments) jobs to the end, one task each; True if all succeeded."""
        futures = [self.client.submit(function, *arguments, pure=False) for _, function, arguments in jobs]
        try:
            self._distributed.wait(futures)
            return all(future.status == "finished" for future in futures)
        finally:
            self.client.cancel(futures)

    def sees(self, paths: list[str]) -> bool:
        """Whether every worker can read (and, for folders, write) these paths."""
        return all(self.client.run(_sees, paths).values())

    def close(self) -> None:
        client, cluster = getattr(self, "client", None), self.cluster
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _engine_version() -> str:
    from engine import __version__

    return __version__


def _sees(paths: list[str]) -> bool:
    return all(os.access(path, os.R_OK | (os.W_OK if os.path.isdir(path) else 0)) for path in paths)


def _local_workers(address: str) -> int:
    text = address.removeprefix("local:")
    if not text.isdigit() or not 1 <= int(text) <= 1024:
        raise SchedulerError(f"expected local:N with N a whole number from 1 to 1024; got {address!r}")
    return int(text)


def executor_for(scheduler: str | None, workers: int | None = None):
    """The executor of a `--scheduler` address (None: local processes, `workers` of them)."""
    if scheduler is None:
        return LocalExecutor(workers)
    if not scheduler.strip():
        raise SchedulerError("--scheduler needs an address: local:N or tcp://HOST:PORT")
    return DaskExecutor(scheduler)
