"""`genlab new-topic` writes a topic that passes the repository's anatomy tests as they are
written: scaffolded into a temporary copy of the repository, whose own tests then run."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from genlab.cli import main
from genlab.course import REPO_ROOT
from genlab.scaffold import new_topic

SLUG, TITLE = "98-scaffold-check", "Scaffold check"
TESTS = ("conftest.py", "test_release.py", "test_mutants.py", "test_notebooks.py", "test_rubric.py")


@pytest.fixture
def copy(tmp_path) -> Path:
    """The repository's code, tests and course configuration, without its topics."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO_ROOT / "genlab", root / "genlab", ignore=ignore)
    (root / "tests").mkdir()
    for name in TESTS:
        shutil.copy(REPO_ROOT / "tests" / name, root / "tests" / name)
    (root / "autograder" / "mutants").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "autograder" / "nbgrader_config.py", root / "autograder")
    for name in ("README.md", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, root / name)
    (root / "data").symlink_to(REPO_ROOT / "data")
    for folder in ("solutions", "assignments", "lectures"):
        (root / folder).mkdir()
    return root


def _run(root: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    # GENLAB_SMOKE_TESTS: the new topic's notebooks also run in the gpu profile under smoke
    # (tests/test_notebooks.py; cheap for the template, off in `make test` for the 24 others)
    env = {**os.environ, "PYTHONPATH": str(root), "PYTEST_ADDOPTS": "", "GENLAB_SMOKE_TESTS": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_scaffold_passes_the_anatomy_tests_as_written(copy):
    written = new_topic(SLUG, TITLE, root=copy)
    assert [p.relative_to(copy).as_posix() for p in written] == [
        f"lectures/{SLUG}.ipynb", f"solutions/{SLUG}/{SLUG}.ipynb", f"autograder/mutants/{SLUG}.py", "README.md"]
    nb = nbformat.read(copy / "solutions" / SLUG / f"{SLUG}.ipynb", as_version=4)
    assert nb.metadata["genlab"] == {"judge": "outside"}
    assert ["judge"] in [c.metadata.get("tags") for c in nb.cells]
    row = next(line for line in (copy / "README.md").read_text().splitlines() if line.startswith("| 98 |"))
    assert f"`lectures/{SLUG}.ipynb`" in row and TITLE in row
    released = _run(copy, "-m", "genlab.cli", "release", "98")
    assert released.returncode == 0, released.stdout + released.stderr
    tests = [f"tests/test_release.py::{name}[{SLUG}]" for name in (
        "test_solution_anatomy", "test_every_topic_has_a_lecture", "test_committed_release_equals_a_fresh_one",
        "test_release_has_no_answers_or_hidden_tests")]
    tests += [f"tests/test_rubric.py::{name}[{SLUG}]" for name in (
        "test_three_written_questions_with_rubrics", "test_release_shows_no_rubric_or_model_answer")]
    tests += ["tests/test_release.py::test_notebooks_are_committed_without_outputs",
              "tests/test_mutants.py::test_every_topic_has_mutants_for_every_task"]
    result = _run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b10 passed\b", result.stdout), result.stdout[-1000:]   # 3 notebooks without outputs


@pytest.mark.slow
def test_the_scaffold_runs_and_its_mutants_are_caught(copy):
    """The template's lecture runs in the ci profile, lecture and solution in the gpu profile
    under smoke, and the replay (test cells
    judged outside the kernel) passes the solution and catches every mutant of the example
    task. (Not graded through nbgrader here: the sandboxed kernel imports the installed
    genlab, not the temporary copy's.)"""
    new_topic(SLUG, TITLE, root=copy)
    result = _run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_notebooks.py",
                  f"tests/test_mutants.py::test_every_mutant_fails_a_test_of_its_own_task[{SLUG}]")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b4 passed\b", result.stdout), result.stdout[-1000:]


def test_new_topic_refuses_a_bad_name_and_a_taken_number(copy, monkeypatch):
    with pytest.raises(SystemExit, match="NN-slug"):
        new_topic("7-vae", "VAE", root=copy)
    new_topic(SLUG, TITLE, root=copy)
    with pytest.raises(SystemExit, match="taken"):
        new_topic("98-other", "Other", root=copy)
    calls = []
    monkeypatch.setattr("genlab.scaffold.new_topic", lambda slug, title: calls.append((slug, title)) or [])
    assert main(["new-topic", "97-x", "A title"]) == 0 and calls == [("97-x", "A title")]
