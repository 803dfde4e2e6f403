"""Autograde a folder of submissions with nbgrader; every student gets an explicit status.

Layout read: ``SUBMISSIONS/<student>/<topic>/<topic>.ipynb``. Written under ``out``:
``gradebook.db``, ``autograded/``, ``feedback/<student>/<topic>/<topic>.html`` and
``grades.csv`` with one row per student: status, score, max score, reason.

A status is ``graded`` or one of ``timeout``, ``crashed``, ``invalid-notebook``,
``tampered``, ``missing`` and ``error``; a student without a grade always has a reason,
never a silent zero.
"""
from __future__ import annotations

import csv
import json
import os
import re
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from sqlalchemy.exc import SAWarning
from tqdm.auto import tqdm

from genlab.course import SOLUTIONS, nbgrader_config, resolve_topic

STATUSES = ("graded", "timeout", "crashed", "invalid-notebook", "tampered", "missing", "error")
CSV_FIELDS = ("student", "status", "score", "max_score", "autograded_max", "needs_manual_grade",
              "reason", "seconds", "feedback")
KERNEL_ENV = {"GENLAB_PROFILE": "ci", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}

# How nbgrader's log reads when a submission could not be graded, most specific first.
_FAILURES = (
    ("tampered", r"[Ii]nconsistent checksums?|[Cc]hecksum for grade cell|[Cc]ell metadata",
     "nbgrader metadata of a test or locked cell was changed (grade/solution flags, ids or points)"),
    ("timeout", r"CellTimeoutError|[Cc]ell execution timed out|[Tt]imeout waiting for execute",
     "a cell ran past the per-cell time limit"),
    ("crashed", r"DeadKernelError|[Kk]ernel died|[Kk]ernel .*(restarted|dead)",
     "the notebook's kernel died while executing (a crash, os._exit or out of memory)"),
    ("invalid-notebook", r"NotJSONError|[Nn]otebook does not appear to be JSON|ValidationError",
     "the file is not a valid Jupyter notebook"),
    ("missing", r"[Mm]issing (submission|notebook)|No notebooks were matched|does not exist",
     "the submission folder has no notebook of this assignment"),
)


@dataclass
class Result:
    student: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    autograded_max: float = 0.0
    needs_manual_grade: bool = False
    reason: str = ""
    seconds: float = 0.0
    feedback: str = ""
    cell_scores: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)


def _classify(log: str) -> tuple[str, str]:
    for status, pattern, reason in _FAILURES:
        match = re.search(pattern, log)
        if match:
            line = next((ln.strip() for ln in log.splitlines() if match.group(0) in ln), "")
            return status, f"{reason} ({line[:160]})" if line else reason
    last = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return "error", f"nbgrader failed: {last[-1][:200] if last else 'no log'}"


def _precheck(path: Path, topic: str) -> tuple[str, str] | None:
    """Reject what nbgrader cannot grade before a kernel is started."""
    if not path.is_file():
        others = sorted(p.name for p in path.parent.glob("*.ipynb")) if path.parent.is_dir() else []
        return "missing", (f"no {path.name} in {path.parent}" +
                           (f" (found {', '.join(others)})" if others else ""))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return "invalid-notebook", f"{path.name} is not JSON ({exc.__class__.__name__}: {str(exc)[:80]})"
    if not isinstance(raw, dict) or "cells" not in raw:
        return "invalid-notebook", f"{path.name} is JSON but not a Jupyter notebook"
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - reported as the student's status
        return "invalid-notebook", f"{path.name} is not a valid notebook: {str(exc).splitlines()[0][:120]}"
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    released = {c.metadata.get("nbgrader", {}).get("grade_id")
                for c in nbformat.read(SOLUTIONS / topic / f"{topic}.ipynb", as_version=4).cells}
    released.discard(None)
    if released and not (ids & released):
        return "invalid-notebook", f"{path.name} has none of the cells of {topic}: another assignment?"
    return None


def _scores(gradebook: Gradebook, topic: str, student: str) -> tuple[float, float, float, bool, dict]:
    submission = gradebook.find_submission(topic, student)
    cells = {}
    auto_max = 0.0
    for nb in submission.notebooks:
        for grade in nb.grades:
            cells[grade.name] = (grade.score, grade.max_score)
            if grade.cell_type == "code":      # test cells; written answers are markdown
                auto_max += grade.max_score
    return submission.score, submission.max_score, auto_max, submission.needs_manual_grade, cells


def _put_venv_on_path() -> None:
    """nbgrader runs the ``alembic`` command of its environment: find it without activation."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def grade(submissions: str | os.PathLike, topic: str, out: str | os.PathLike, *,
          students: list[str] | None = None, progress: bool = True) -> list[Result]:
    """Autograde every ``submissions/<student>/<topic>/<topic>.ipynb``; write ``out/grades.csv``."""
    topic = resolve_topic(topic)
    submissions = Path(submissions).resolve()
    out = Path(out).resolve()
    if not submissions.is_dir():
        raise SystemExit(f"no submissions folder {submissions}")
    out.mkdir(parents=True, exist_ok=True)
    _put_venv_on_path()
    config = nbgrader_config(
        root=str(out), source_directory=str(SOLUTIONS), release_directory=str(out / "release"),
        submitted_directory=str(submissions), autograded_directory=str(out / "autograded"),
        feedback_directory=str(out / "feedback"), db_url=f"sqlite:///{out / 'gradebook.db'}")
    _write_course_config(out, config)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    released = api.generate_assignment(topic, force=True, create=True)
    if not released["success"]:
        raise RuntimeError(f"could not register {topic} in the gradebook:\n{released.get('log')}")

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's own ORM chatter
    names = students or sorted(p.name for p in submissions.iterdir()
                               if p.is_dir() and not p.name.startswith("."))
    os.environ.update(KERNEL_ENV)  # inherited by every kernel nbgrader starts
    results = []
    for student in tqdm(names, desc=f"grading {topic}", disable=not progress):
        start = time.perf_counter()
        result = _grade_one(api, config, submissions, out, topic, student)
        result.seconds = round(time.perf_counter() - start, 1)
        results.append(result)
    write_csv(results, out / "grades.csv")
    return results


def _write_course_config(out: Path, config) -> None:
    """Leave an nbgrader_config.py in ``out`` so that `jupyter lab` started there opens this
    gradebook in Formgrader (for the written answers and for reviewing flagged students)."""
    lines = ["# Written by `genlab grade`: start `jupyter lab` in this folder to open Formgrader.",
             "c = get_config()  # noqa: F821",
             f"c.CourseDirectory.course_id = {config.CourseDirectory.course_id!r}"]
    for key in ("root", "source_directory", "release_directory", "submitted_directory",
                "autograded_directory", "feedback_directory", "db_url"):
        lines.append(f"c.CourseDirectory.{key} = {getattr(config.CourseDirectory, key)!r}")
    lines.append(f"c.Exchange.root = {str(out / 'exchange')!r}")
    (out / "nbgrader_config.py").write_text("\n".join(lines) + "\n")


def _grade_one(api: NbGraderAPI, config, submissions: Path, out: Path, topic: str,
               student: str) -> Result:
    notebook = submissions / student / topic / f"{topic}.ipynb"
    rejected = _precheck(notebook, topic)
    if rejected:
        return Result(student, rejected[0], reason=rejected[1])
    outcome = api.autograde(topic, student, force=True, create=True)
    log = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
    autograded = out / "autograded" / student / topic / f"{topic}.ipynb"
    if not outcome["success"] or not autograded.is_file():
        status, reason = _classify(log)
        return Result(student, status, reason=reason)
    with Gradebook(config.CourseDirectory.db_url, "genlab") as gb:
        try:
            score, max_score, auto_max, manual, cells = _scores(gb, topic, student)
        except MissingEntry:
            return Result(student, "error", reason="autograde left no gradebook entry")
    executed = nbformat.read(autograded, as_version=4)
    dead = [c for c in executed.cells for o in c.get("outputs", [])
            if o.get("output_type") == "error" and o.get("ename") in ("DeadKernelError",)]
    if dead:
        return Result(student, "crashed", reason="the kernel died during execution")
    feedback = api.generate_feedback(topic, student, force=True)
    html = out / "feedback" / student / topic / f"{topic}.html"
    return Result(student, "graded", score, max_score, auto_max, manual,
                  reason="" if feedback["success"] else "graded, but feedback HTML failed",
                  feedback=str(html) if html.is_file() else "", cell_scores=cells)


def write_csv(results: list[Result], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in results:
            row = asdict(r)
            row.pop("cell_scores")
            writer.writerow(row)
