"""The README's two set-up commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.startswith("pip install")]


def test_readme_has_the_two_setup_commands():
    commands = _readme_commands()
    assert "pip install -e . && spermtrack demo" in commands
    assert 'pip install -e ".[dev]" && python -m pytest -q' in commands


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    test_command = 'pip install -e ".[dev]" && python -m pytest -q'
    lines = [line.strip() for line in ci]
    assert test_command in lines
    assert "python -m pytest -q -m heavy" in lines[lines.index(test_command):]  # the heavy tests, after
