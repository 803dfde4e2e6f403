"""`genlab grade` on a class that includes broken submissions: every student gets a status."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from filelock import FileLock

from genlab.course import solution_path
from genlab.grader.validity import build_submissions, write_submission

TOPIC = "01-autoencoders-pca"
DUE = "2026-01-15T12:00:00+00:00"
# timestamp.txt as nbgrader's exchange writes it (collect copies it next to the notebook)
TIMESTAMPS = {"solution": "2026-01-15 12:03:20.500000 UTC",           # 200.5 s late
              "blank": "2026-01-15 12:59:59.000000 Europe/Paris",     # 11:59:59 UTC: on time
              "not-json": "2026-01-16 12:00:00.000000 UTC"}           # a day late, and not a notebook


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
    for student, stamp in TIMESTAMPS.items():
        (folder / student / TOPIC / "timestamp.txt").write_text(stamp + "\n")
    out = root / "out"
    # GENLAB_SMOKE (short loops, bars not enforced) set by mistake on the grader changes nothing
    run = subprocess.run([sys.executable, "-m", "genlab.cli", "grade", str(folder), "--assignment", "01",
                          "--out", str(out), "--due", DUE], capture_output=True, text=True, timeout=600,
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


def test_late_submissions_are_flagged_with_their_timestamp(graded):
    from nbgrader.api import Gradebook

    out, rows, stdout = graded
    with open(out / "grades.csv") as f:
        header = next(csv.reader(f))
    assert header == ["student", "status", "score", "max_score", "autograded_max", "needs_manual_grade", "reason",
                      "review", "seconds", "feedback", "sandbox", "timestamp", "late"], "new columns go at the end"
    assert (rows["solution"]["timestamp"], rows["solution"]["late"]) == ("2026-01-15T12:03:20.500000+00:00", "201")
    assert (rows["blank"]["timestamp"], rows["blank"]["late"]) == ("2026-01-15T11:59:59+00:00", "")
    assert rows["not-json"]["status"] == "invalid-notebook" and rows["not-json"]["late"] == "86400"
    assert rows["tampered"]["timestamp"] == rows["tampered"]["late"] == "", "no timestamp.txt: nothing to flag"
    assert "2 of 7 submissions came in after the due date" in stdout
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "genlab") as gb:   # Formgrader shows it too
        assert gb.find_submission(TOPIC, "solution").total_seconds_late == 200.5
        assert gb.find_submission(TOPIC, "blank").total_seconds_late == 0


def test_submission_time_and_seconds_late():
    from genlab.grader.grading import parse_due, seconds_late

    due = parse_due("2026-01-15T13:00:00+01:00")
    assert due == parse_due("2026-01-15T12:00:00") == parse_due("2026-01-15T12:00:00Z"), "no zone: UTC"
    assert seconds_late("2026-01-15T12:00:00.000001+00:00", due) == 1, "a moment late is late"
    assert seconds_late("2026-01-15T12:00:00+00:00", due) is None
    assert seconds_late("2026-01-15T14:00:00+00:00", None) is None and seconds_late("", due) is None
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_due("next Friday")


# ---------------------------------------------------------------- grading across machines

def test_a_student_shard_depends_on_the_name_alone():
    from collections import Counter

    from genlab.grader.grading import shard_of, students_of_shard

    # sha256 of the name: the same on every machine and Python process (never the salted hash())
    assert [shard_of(s, 2) for s in ("blank", "dead-kernel", "solution", "tampered")] == [1, 1, 2, 2]
    assert shard_of("student007", 5) == 3 and shard_of("student123", 5) == 5
    names = [f"student{i:03d}" for i in range(300)]
    for n in (1, 2, 3, 7):
        parts = [students_of_shard(names, k, n) for k in range(1, n + 1)]
        assert sorted(sum(parts, [])) == names, "every student in exactly one shard"
        assert min(Counter(shard_of(s, n) for s in names).values()) > 0.7 * len(names) / n
        # a student added later, or a listing in another order, moves no one else
        grown = ["aaa-late-student", *reversed(names)]
        for k, part in enumerate(parts, 1):
            assert set(students_of_shard(grown, k, n)) - {"aaa-late-student"} == set(part)


@pytest.mark.parametrize("option, message", [
    (["--shard", "3/2"], "K must be between 1 and N"), (["--shard", "0/2"], "K must be between 1 and N"),
    (["--shard", "1/0"], "K must be between 1 and N"), (["--shard", "a/b"], "K/N with whole numbers"),
    (["--due", "tomorrow"], "ISO 8601"), (["--course", "{tmp}/no-course"], "no course folder"),
    (["--course", "{tmp}", "--shard", "1/2"], "without --shard"),
    (["--course", "{tmp}", "--out", "{tmp}"], "holds the course folder")])
def test_bad_grade_options_are_refused_before_grading(option, message, tmp_path):
    from genlab.cli import main

    option = [word.format(tmp=tmp_path) for word in option]
    with pytest.raises(SystemExit) as error:
        main(["grade", str(tmp_path), "--assignment", "01", "--out", str(tmp_path / "out"), *option])
    assert message in str(error.value) and not (tmp_path / "out").exists()


@pytest.fixture(scope="session")
def sharded(graded):
    """The class of `graded`, graded again as two shards (one folder each, as on two machines)."""
    root = graded[0].parent
    dirs = [root / "shard-1", root / "shard-2"]
    with FileLock(f"{root}.shards.lock"):
        # the two shards at once, as on two machines
        runs = {k: subprocess.Popen([sys.executable, "-m", "genlab.cli", "grade", str(root / "submitted"),
                                     "--assignment", "01", "--out", str(out), "--shard", f"{k}/2", "--due", DUE],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for k, out in enumerate(dirs, 1) if not (root / f"shard-{k}.txt").is_file()}
        for k, run in runs.items():
            stdout, stderr = run.communicate(timeout=600)
            assert run.returncode == 0, stderr[-3000:]
            (root / f"shard-{k}.txt").write_text(stdout)
    return dirs, [(root / f"shard-{k}.txt").read_text() for k in (1, 2)]


def _rows(out):
    """grades.csv without the seconds it took, feedback paths relative to the folder."""
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        del r["seconds"]
        r["feedback"] = os.path.relpath(r["feedback"], out) if r["feedback"] else ""
    return rows


def _gradebook(out):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "genlab") as gb:
        return {s.student.id: (s.score, s.max_score, s.needs_manual_grade, s.timestamp,
                               sorted((g.name, g.auto_score, g.manual_score) for nb in s.notebooks for g in nb.grades))
                for s in gb.assignment_submissions(TOPIC)}


def test_two_shards_merge_to_the_grades_of_one_run(graded, sharded, tmp_path):
    from genlab.cli import main

    whole = graded[0]
    (one, two), stdouts = sharded
    assert "shard 1/2: grading 2 of 7 students (blank, dead-kernel); skipping 5" in stdouts[0]
    assert "shard 2/2: grading 5 of 7 students (no-notebook, not-json, solution, tampered, wrong-assignment)" \
        in stdouts[1]
    assert main(["grade", "merge", str(two), str(one), "--out", str(tmp_path / "merged")]) == 0
    merged = tmp_path / "merged"
    assert _rows(merged) == _rows(whole), "the same grades, row for row"
    assert _gradebook(merged) == _gradebook(whole)
    files = [sorted(str(p.relative_to(out)) for folder in ("feedback", "autograded", "staged")
                    for p in (out / folder).rglob("*") if p.is_file()) for out in (merged, whole)]
    assert files[0] == files[1], "every feedback page and notebook is there"
    assert {f"feedback/{s}/{TOPIC}/{TOPIC}.html" for s in ("blank", "solution", "tampered")} <= set(files[0])
    assert sorted(p.name for p in (merged / ".work").iterdir()) == sorted(p.name for p in (whole / ".work").iterdir())


def _snapshot(out):
    return {name: (out / name).read_bytes() for name in ("grades.csv", "journal.jsonl", "grading.json")} | {
        "gradebook": _gradebook(out), "files": sorted(str(p.relative_to(out)) for p in out.rglob("*"))}


def test_merging_again_changes_nothing_and_shards_may_come_one_at_a_time(sharded, tmp_path):
    from nbgrader.api import Gradebook

    from genlab.grader.merge import merge

    (one, two), _ = sharded
    at_once, one_by_one = tmp_path / "at-once", tmp_path / "one-by-one"
    assert merge([one, two], at_once)[1] == []
    with Gradebook(f"sqlite:///{at_once / 'gradebook.db'}", "genlab") as gb:   # a written answer graded by hand
        written = next(g for g in gb.find_submission_notebook(TOPIC, TOPIC, "solution").grades if g.auto_score is None)
        written.manual_score = 2.0
        gb.db.commit()
    before = _snapshot(at_once)
    assert merge([two, one], at_once)[1] == []
    assert _snapshot(at_once) == before, "idempotent, and what Formgrader graded stays"
    journal = (at_once / "journal.jsonl").read_text().splitlines(keepends=True)
    (at_once / "journal.jsonl").write_text("".join(journal[:-1]) + journal[-1][:20])   # stopped mid-line
    (at_once / "grades.csv").unlink()
    (at_once / "grading.json").unlink()
    shutil.rmtree(at_once / "feedback" / "tampered")
    assert merge([one, two], at_once)[1] == []
    after = _snapshot(at_once)
    assert after.pop("journal.jsonl").startswith("".join(journal[:-1]).encode())
    assert after == {k: v for k, v in before.items() if k != "journal.jsonl"}, "an interrupted merge resumes"
    resumed = (at_once / "journal.jsonl").read_bytes()
    assert merge([one, two], at_once)[1] == [] and (at_once / "journal.jsonl").read_bytes() == resumed

    rows, warnings = merge([one], one_by_one)
    assert [r.student for r in rows] == ["blank", "dead-kernel"]
    assert len(warnings) == 2 and warnings[0].startswith("5 of 7 students have no grade yet: no-notebook (shard 2/2 "
                                                         "not given)") and warnings[1] == "shard 2/2 not given"
    assert merge([two], one_by_one)[1] == []
    assert _rows(one_by_one) == _rows(at_once)


def test_merge_refuses_folders_that_do_not_belong_together(graded, sharded, tmp_path):
    import json

    from genlab.grader.merge import MergeError, merge

    (one, two), _ = sharded
    again = tmp_path / "shard-2-again"
    shutil.copytree(two, again)
    assert merge([one, two, again], tmp_path / "out")[1] == [], "a copy that agrees is no conflict"
    manifest = json.loads((again / "grading.json").read_text())
    entry = json.loads([ln for ln in (again / "journal.jsonl").read_text().splitlines() if '"solution"' in ln][-1])
    entry["result"]["score"] -= 10
    with open(again / "journal.jsonl", "a") as f:      # graded again, to another score
        f.write(json.dumps(entry) + "\n")
    with pytest.raises(MergeError, match="graded the same students differently") as error:
        merge([one, two, again], tmp_path / "out2")
    assert "solution: shard 2/2" in str(error.value) and {"graded 90/100", "graded 80/100"} <= set(
        re.findall(r"graded \d+/100", str(error.value)))
    for key, value, message in [("topic", "07-vae", "different assignments"),
                                ("rubric", "0" * 64, "different source notebooks"),
                                ("due", None, "different due dates"), ("shard", [2, 3], "different numbers of shards")]:
        (again / "grading.json").write_text(json.dumps({**manifest, key: value}))
        with pytest.raises(MergeError, match=message):
            merge([one, again], tmp_path / "out3")
    with pytest.raises(MergeError, match="is one of the folders to merge"):
        merge([one, two], two)
    before = (graded[0] / "grades.csv").read_bytes()
    old_run = tmp_path / "graded-before-grading.json-existed"
    old_run.mkdir()
    shutil.copyfile(one / "journal.jsonl", old_run / "journal.jsonl")
    for run in (graded[0], old_run):
        with pytest.raises(MergeError, match="holds a grading run, not a merge"):
            merge([one, two], run)
    assert (graded[0] / "grades.csv").read_bytes() == before and sorted(os.listdir(old_run)) == ["journal.jsonl"]
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()


def test_merge_refuses_a_run_graded_into_a_course(tmp_path):
    from genlab.grader.merge import MergeError, merge

    run = tmp_path / "run"
    run.mkdir()
    (run / "grading.json").write_text(json.dumps({"topic": TOPIC, "course": "/home/grader-ml/ml", "shard": None,
                                                  "settings": "x", "students": {}}))
    with pytest.raises(MergeError, match="graded into the course /home/grader-ml/ml"):
        merge([run], tmp_path / "merged")
