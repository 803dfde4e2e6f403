"""ruff, with the rules in pyproject.toml ([tool.ruff]), over the course's Python code, the lectures
and the nbgrader notebooks (solutions, the generated assignments, the adversarial fixture): the same
check as `make lint`, run by `make test` so a violation fails the suite."""
import shutil
import subprocess
import sys
from pathlib import Path

from genlab.course import REPO_ROOT

PATHS = ("genlab", "tests", "bench", "autograder", "lectures", "solutions", "assignments", "deploy", "site")


def _ruff() -> str:
    found = Path(sys.executable).with_name("ruff")
    if found.is_file():
        return str(found)
    on_path = shutil.which("ruff")
    assert on_path, "ruff is not installed: `make setup` installs it (the dev extra)"
    return on_path


def test_the_code_passes_ruff():
    run = subprocess.run([_ruff(), "check", "--no-cache", *PATHS], cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_ruff_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")                       # F401: imported but unused
    run = subprocess.run([_ruff(), "check", "--no-cache", "--config", str(REPO_ROOT / "pyproject.toml"), str(bad)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "F401" in run.stdout
