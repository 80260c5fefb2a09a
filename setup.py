"""Build of the compiled plain lane (engine/replay/_lane.c); everything else is in pyproject.toml.

The extension is optional: where no C compiler is at hand the install still succeeds and
the engine runs its Python reference lane, with the same results, more slowly.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("engine.replay._lane", ["engine/replay/_lane.c"], optional=True)])
