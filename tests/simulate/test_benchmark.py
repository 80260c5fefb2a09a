"""The simulation benchmark runs end to end and reports every figure it promises (its speed
is measured by `python -m benchmarks.simulate`, not here)."""

import pytest

from benchmarks import simulate as bench


@pytest.mark.slow  # starts processes
def test_the_benchmark_reports_rates_replay_costs_and_the_p99_check(capsys):
    status = bench.main(["--scenarios", "16", "--sample", "3"])
    out = capsys.readouterr().out
    assert "residual-quarterly: 16 scenarios of 24 quarters, 144 lines each" in out
    for words in ("one worker:", "2 workers:", "speed-up", "scenarios/s", "backstop replay", "the engine alone",
                  "the simulation itself", "P99 of the payout over the term", "give the same bytes: yes"):
        assert words in out, words
    drift = float(out.split(" % apart")[0].rsplit(" ", 1)[1])
    assert status == (0 if drift <= 2 else 1)
