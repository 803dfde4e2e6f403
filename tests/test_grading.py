"""`genlab grade` on a class that includes broken submissions: every student gets a status."""
import csv
import os
import subprocess
import sys

import nbformat
import pytest
from filelock import FileLock

from genlab.course import solution_path
from genlab.grader.validity import build_submissions, write_submission

TOPIC = "01-autoencoders-pca"


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    # Grade the class once per test run: the folder above the per-worker temp dirs is shared
    # by the xdist workers, and the lock makes the second worker wait and reuse the result.
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "graded-class"
    with FileLock(f"{root}.lock"):
        if not (root / "out" / "grades.csv").is_file():
            _grade_class(root)
    out = root / "out"
    with open(out / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return out, rows, (root / "stdout.txt").read_text()


def _grade_class(root):
    folder = root / "submitted"
    build_submissions(TOPIC, folder, mutants=[])
    bad = folder / "not-json" / TOPIC / f"{TOPIC}.ipynb"
    bad.parent.mkdir(parents=True)
    bad.write_text("{ this is not a notebook")
    (folder / "no-notebook" / TOPIC).mkdir(parents=True)
    (folder / "no-notebook" / TOPIC / "my-work.ipynb").write_text("{}")
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('another course')")])
    write_submission(folder, "wrong-assignment", TOPIC, other)
    out = root / "out"
    # GENLAB_SMOKE (short loops, bars not enforced) set by mistake on the grader changes nothing
    run = subprocess.run([sys.executable, "-m", "genlab.cli", "grade", str(folder), "--assignment", "01",
                          "--out", str(out)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "GENLAB_SMOKE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    (root / "stdout.txt").write_text(run.stdout)


def test_every_student_has_a_row(graded):
    _, rows, stdout = graded
    assert set(rows) == {"solution", "blank", "dead-kernel", "tampered", "not-json", "no-notebook",
                         "wrong-assignment"}
    assert "need attention" in stdout


def test_solution_gets_every_autograded_point(graded):
    _, rows, _ = graded
    r = rows["solution"]
    assert r["status"] == "graded" and float(r["score"]) == float(r["autograded_max"]) == 90.0
    assert float(r["max_score"]) == 100.0 and r["needs_manual_grade"] == "True"


def test_blank_release_scores_zero(graded):
    _, rows, _ = graded
    assert rows["blank"]["status"] == "graded" and float(rows["blank"]["score"]) == 0.0


@pytest.mark.parametrize("student, status", [
    ("dead-kernel", "crashed"), ("tampered", "tampered"), ("not-json", "invalid-notebook"),
    ("no-notebook", "missing"), ("wrong-assignment", "invalid-notebook")])
def test_broken_submissions_get_a_status_and_a_reason(graded, student, status):
    _, rows, _ = graded
    assert rows[student]["status"] == status
    assert len(rows[student]["reason"]) > 10


def test_feedback_html_for_graded_students(graded):
    out, rows, _ = graded
    html = (out / "feedback" / "solution" / TOPIC / f"{TOPIC}.html").read_text()
    assert "test_pca_hidden" in html or "Task 1" in html
    assert "Generator().manual_seed(2024)" not in html, "hidden test code must not reach students"
    assert rows["solution"]["feedback"].endswith(".html")
    assert solution_path(TOPIC).is_file()


def test_output_folder_opens_in_formgrader(graded):
    from traitlets.config import PyFileConfigLoader

    out, _, _ = graded
    config = PyFileConfigLoader("nbgrader_config.py", path=str(out)).load_config()
    assert config.CourseDirectory.db_url == f"sqlite:///{out / 'gradebook.db'}"
    assert config.CourseDirectory.root == str(out)


@pytest.mark.slow
@pytest.mark.parametrize("topic", [t for t in __import__("genlab.course", fromlist=["topics"]).topics()
                                   if t != TOPIC])
def test_every_other_topic_solution_full_marks_blank_zero(topic, tmp_path):
    """Topic 01 is graded above with its broken submissions; every other topic's reference
    solution and blank release go through the same pipeline here."""
    from genlab.grader.grading import grade

    build_submissions(topic, tmp_path / "submitted", mutants=[], broken=False)
    results = {r.student: r for r in grade(tmp_path / "submitted", topic, tmp_path / "out",
                                           progress=False, workers=2)}
    sol, blank = results["solution"], results["blank"]
    assert sol.status == "graded" and sol.score == sol.autograded_max > 0, (sol.status, sol.reason, sol.score)
    assert blank.status == "graded" and blank.score == 0, (blank.status, blank.reason, blank.score)


def test_grading_never_runs_in_smoke_mode():
    from genlab.grader.grading import grading_environ

    assert grading_environ({"GENLAB_SMOKE": "1", "GENLAB_DATA": "/d"}) == {"GENLAB_DATA": "/d"}


def test_an_nbgrader_failure_is_reported_by_its_cause():
    """nbgrader ends every failure with NbGraderException("see the traceback above"): the row's
    reason must name what went wrong first, not that closing line."""
    from genlab.grader.grading import _classify

    log = ("[AutogradeApp | ERROR] There was an error processing assignment: x\n"
           "Traceback (most recent call last):\n"
           '  File "base.py", line 1, in convert\n'
           "sqlite3.OperationalError: database is locked\n"
           "Traceback (most recent call last):\n"
           "    raise NbGraderException(msg)\n"
           "nbgrader.converters.base.NbGraderException: Please see the the above traceback\n")
    status, reason = _classify(log)
    assert status == "error" and reason == "nbgrader failed: sqlite3.OperationalError: database is locked"
    assert _classify("something odd\nlast line")[1] == "nbgrader failed: last line"


def test_an_nbgrader_failure_is_graded_once_more_and_noted(tmp_path, monkeypatch):
    """A row that nbgrader itself failed is graded again; the second outcome counts, the
    first attempt's log is kept and the review column says what happened."""
    from genlab.grader import grading

    log = tmp_path / ".work" / "ann" / "nbgrader.log"
    log.parent.mkdir(parents=True)
    log.write_text("sqlite3.OperationalError: database is locked")
    calls = []

    def second(job, student, slot):
        calls.append(student)
        return grading.Result(student, "graded", 7.0, 10.0)

    monkeypatch.setattr(grading, "_grade_student", second)
    monkeypatch.setattr(grading.time, "sleep", lambda s: None)
    job = grading._Job(tmp_path, tmp_path, "t", tmp_path, grading.Limits(), 10, {}, "none")
    first = grading.Result("ann", "error", reason="nbgrader failed: sqlite3.OperationalError: database is locked")
    result = grading._grade_again(job, "ann", 0, first)
    assert calls == ["ann"] and (result.status, result.score) == ("graded", 7.0)
    assert "graded twice" in result.review and "database is locked" in result.review
    assert "database is locked" in (log.parent / "nbgrader-first-attempt.log").read_text()
