"""Hypothesis profiles for the whole suite.

- `ci` (the default): modest example counts and no deadline, so the suite stays fast and
  never fails on a slow machine's timing; a failure prints the blob that reproduces it.
- `deep`: many more examples, for a nightly or pre-release run:
  `python3 -m pytest tests/properties --hypothesis-profile=deep`.
- `golden`: derandomized (the same examples on every run and machine) and without the
  example database; tests over fixed sample files use it through `GOLDEN`.

`HYPOTHESIS_PROFILE=deep` in the environment selects a profile too.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

settings.register_profile("ci", max_examples=25, **_COMMON)
settings.register_profile("deep", max_examples=600, **_COMMON)
settings.register_profile("golden", max_examples=10, derandomize=True, database=None, **_COMMON)
# The pytest plugin loads `--hypothesis-profile` after this file is imported, so the option
# wins over this default.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
