"""The README's two commands are the ones users and CI run."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.split("\n", 1)[1].strip() for block in text.split("```sh")[1:3]]


def test_ci_runs_exactly_the_readme_test_command():
    install_and_run, install_and_test = readme_commands()
    assert "backstop replay contracts examples/all.jsonl" in install_and_run
    assert "pytest" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test.splitlines()[0] in ci
