"""Autograde a folder of submissions with nbgrader; every student gets an explicit status.

Layout read: ``SUBMISSIONS/<student>/<topic>/<topic>.ipynb``. Written under ``out``:
``gradebook.db``, ``autograded/``, ``feedback/<student>/<topic>/<topic>.html`` (hidden
tests stripped; with ``course``, these three go into that nbgrader course folder instead,
where its Formgrader shows them), ``grades.csv`` with one row per student (status, score,
max score, reason, submission time, seconds late), ``journal.jsonl``, one line per finished student,
which makes a re-run idempotent and lets an interrupted run resume where it stopped, and
``grading.json``, what the run graded and with which settings. A run may grade one shard of
the class (``shard=(K, N)``, :func:`shard_of`); :mod:`genlab.grader.merge` joins the shards.

Each student is graded in a child process of its own (``workers`` at a time) whose kernel
runs in the sandbox of :mod:`genlab.grader.sandbox`; whatever a submission does, the grader goes
on with the next one. Before execution a submission is checked (size, JSON, nbformat, the
right assignment), its locked and test cells get their nbgrader metadata and source back
from the release, and a static scan looks for tampering (:mod:`genlab.grader.tamper`).

A status is ``graded`` or one of ``timeout``, ``memory``, ``crashed``,
``invalid-notebook``, ``tampered`` (graded, but needs review), ``missing`` and ``error``;
a student without a grade always has a reason, never a silent zero.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import sqlite3
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from sqlalchemy.exc import SAWarning
from tqdm.auto import tqdm

from genlab.course import SOLUTIONS, nbgrader_config, resolve_topic
from genlab.grader import rubric, tamper
from genlab.grader.clock import WALL_BACKSTOP
from genlab.grader.sandbox import SANDBOX_UID, Limits, Verdict, sandbox_kind
from genlab.profiles import SMOKE_VARIABLE

STATUSES = ("graded", "timeout", "memory", "crashed", "invalid-notebook", "tampered", "missing", "error")
CSV_FIELDS = ("student", "status", "score", "max_score", "autograded_max", "needs_manual_grade",
              "reason", "review", "seconds", "feedback", "sandbox", "timestamp", "late")
# OMP_WAIT_POLICY=PASSIVE: OpenMP threads that spin while waiting slow every other process
# on a shared machine many times over (measured 576 -> 24 ms per training step).
KERNEL_ENV = {"GENLAB_PROFILE": "ci", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg", "OMP_WAIT_POLICY": "PASSIVE"}
# Passed on to kernels when set (a sandboxed kernel sees no other variable of the grader's).
PASSTHROUGH_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GENLAB_DATA")
MAX_NOTEBOOK_MB = 20        # larger submissions are refused before they are parsed
MAX_EXTRA_FILES_MB = 50     # other files in a student's folder, copied next to the notebook
GRADER_PRIORITY = -15     # nice value of the grading processes when run as root (kernels: 0)
GRADER_VERSION = "3"        # bump when a change must regrade journaled students
_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)

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
_MEMORY_ERRORS = re.compile(r"MemoryError|can't allocate memory|Cannot allocate memory|out of memory", re.I)


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
    sandbox: str = ""
    review: str = ""             # tamper findings, whatever the status: the instructor looks
    timestamp: str = ""          # when it was submitted (nbgrader's timestamp.txt), ISO 8601 UTC
    late: int | None = None      # seconds after the due date; None: on time, or no due date/timestamp
    cell_scores: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: dict) -> Result:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["cell_scores"] = {k: tuple(v) for k, v in d.get("cell_scores", {}).items()}
        return cls(**d)


@dataclass(frozen=True)
class _Job:
    """What a child process needs to grade one student."""
    submissions: Path
    source: Path
    topic: str
    out: Path
    limits: Limits
    cell_timeout: int
    kernel_env: dict
    sandbox: str
    course: Path | None = None   # an nbgrader course folder to grade into, else ``out``
    course_id: str = ""          # its gradebook's course; '' keeps autograder/nbgrader_config.py's

    @property
    def gradebook_root(self) -> Path:
        """Where nbgrader's ``gradebook.db``, ``autograded/`` and ``feedback/`` go."""
        return self.course or self.out


# ---------------------------------------------------------------- checks before execution

def _classify(log: str) -> tuple[str, str]:
    for status, pattern, reason in _FAILURES:
        match = re.search(pattern, log)
        if match:
            line = next((ln.strip() for ln in log.splitlines() if match.group(0) in ln), "")
            return status, f"{reason} ({line[:160]})" if line else reason
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    # a traceback's last line names the cause ("sqlite3.OperationalError: database is locked");
    # nbgrader's own NbGraderException only says "see the log above", so the first cause wins
    causes = [ln for ln in lines if re.match(r"[\w.]*(Error|Exception|Exit)\b:", ln) and "NbGraderException" not in ln]
    errors = [ln for ln in lines if re.search(r"\w(Error|Exception)\b", ln) and "see the the above" not in ln]
    return "error", f"nbgrader failed: {(causes[:1] or errors[-1:] or lines[-1:] or ['no log'])[0][:240]}"


def _precheck(path: Path, release: nbformat.NotebookNode) -> tuple[str, str] | nbformat.NotebookNode:
    """The submission as a notebook, or (status, reason) when it cannot be graded."""
    if path.is_symlink():
        return "invalid-notebook", f"{path.name} is a symbolic link, not a file"
    if not path.is_file():
        others = sorted(p.name for p in path.parent.glob("*.ipynb")) if path.parent.is_dir() else []
        return "missing", (f"no {path.name} in {path.parent}" +
                           (f" (found {', '.join(others)})" if others else ""))
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_MB * 2**20:
        return "invalid-notebook", f"{path.name} is {size / 2**20:.0f} MB, more than {MAX_NOTEBOOK_MB} MB"
    if size == 0:
        return "invalid-notebook", f"{path.name} is an empty file"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return "invalid-notebook", f"{path.name} is not JSON ({exc.__class__.__name__}: {str(exc)[:80]})"
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        return "invalid-notebook", f"{path.name} is JSON but not a Jupyter notebook"
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - reported as the student's status
        return "invalid-notebook", f"{path.name} is not a valid notebook: {str(exc).splitlines()[0][:120]}"
    released = {_grade_id(c) for c in release.cells} - {None}
    ids = {_grade_id(c) for c in nb.cells} - {None}
    if released and (len(ids & released) < len(released) / 2 or len(ids - released) > len(ids & released)):
        return "invalid-notebook", (f"{path.name} has {len(ids & released)} of the {len(released)} cells of "
                                    "this assignment: the notebook of another assignment?")
    return nb


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _is_protected(cell) -> bool:
    """Locked and test cells: their source is the course's, not the student's."""
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("locked") or meta.get("grade")) and not meta.get("solution")


def restore_from_release(nb: nbformat.NotebookNode, release: nbformat.NotebookNode
                         ) -> tuple[nbformat.NotebookNode, list[str]]:
    """Rebuild the submission on the release's skeleton: locked and test cells come back
    from the release (source and nbgrader metadata), in the release's order, also when they
    were deleted, duplicated or moved; answer cells keep the student's source with their
    metadata restored; the student's own cells stay after the cell they followed; nbgrader
    metadata on cells the release does not know is removed. So changed flags, points, ids
    or order can neither abort nor inflate grading. Returns the notebook and one line per
    change found."""
    ref = {_grade_id(c): c for c in release.cells if _grade_id(c)}
    changes: list[str] = []
    groups: dict[str | None, list] = {None: []}   # release id -> [its cell, the student's cells after it]
    current: str | None = None
    order: list[str] = []
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid in ref and gid not in groups:
            groups[gid] = [cell]
            order.append(gid)
            current = gid
            continue
        if "nbgrader" in cell.metadata:
            what = "a copy of" if gid in groups else "unknown"
            changes.append(f"nbgrader metadata removed from {what} cell {gid!r}")
            del cell.metadata["nbgrader"]
        groups[current].append(cell)
    release_order = [g for g in ref if g in groups]
    if order != release_order:
        changes.append("cells of the assignment were moved (put back in the release's order)")
    cells, missing = list(groups[None]), []
    for gid, orig in ref.items():
        group = groups.get(gid)
        if group is None:
            if _is_protected(orig):
                missing.append(gid)
                cells.append(copy.deepcopy(orig))
            continue
        cell, rest = group[0], group[1:]
        if _is_protected(orig):
            if cell.cell_type != orig.cell_type or cell.source.strip() != orig.source.strip():
                changes.append(f"test or locked cell {gid!r} was edited (restored)")
            elif cell.metadata.get("nbgrader") != orig.metadata["nbgrader"]:
                changes.append(f"nbgrader metadata of cell {gid!r} was changed (restored)")
            cell = copy.deepcopy(orig)
        else:
            if cell.metadata.get("nbgrader") != orig.metadata["nbgrader"]:
                changes.append(f"nbgrader metadata of answer cell {gid!r} was changed (restored)")
            if cell.cell_type != orig.cell_type:
                kind = nbformat.v4.new_code_cell if orig.cell_type == "code" else nbformat.v4.new_markdown_cell
                cell = kind(cell.source)
            cell.metadata["nbgrader"] = copy.deepcopy(orig.metadata["nbgrader"])
        cells += [cell, *rest]
    if missing:
        changes.append(f"test or locked cells deleted (restored): {', '.join(missing[:5])}")
    ids = set()
    for cell in cells:                 # nbformat 4.5 cell ids must stay unique
        if cell.get("id") is not None and cell.get("id") in ids:
            cell["id"] = hashlib.sha1(f"{cell['id']}-{len(ids)}".encode()).hexdigest()[:8]
        ids.add(cell.get("id"))
    nb.cells = cells
    return nb, changes


_SAFE_MIME = ("image/png", "image/jpeg", "text/plain")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


def escape_student_markdown(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> int:
    """Markdown the course did not write is shown as text: HTML escaped, ``javascript:``
    links disabled, raw cells made plain. Returns how many cells were escaped."""
    import html

    course = {c.source for c in release.cells if c.cell_type == "markdown"}
    escaped = 0
    for cell in nb.cells:
        if cell.cell_type == "raw":
            for key in ("format", "raw_mimetype"):
                cell.metadata.pop(key, None)
        if cell.cell_type != "markdown" or cell.source in course:
            continue
        text = html.escape(cell.source, quote=False)
        text = re.sub(r"(?i)(java|vb)script\s*:", r"\1script-blocked:", text)
        if text != cell.source:
            cell.source = text
            escaped += 1
        for name, data in list(cell.get("attachments", {}).items()):
            cell.attachments[name] = {k: v for k, v in data.items() if k in _SAFE_MIME[:2]}
    return escaped


def sanitize_outputs(nb: nbformat.NotebookNode) -> int:
    """Keep only text and PNG/JPEG images in outputs (no HTML, SVG, JavaScript or widget
    views of the student's reach the feedback or Formgrader). Returns the outputs changed."""
    changed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = out.get("data", {})
            kept = {k: v for k, v in data.items() if k in _SAFE_MIME and isinstance(v, str)
                    and (k == "text/plain" or _BASE64.fullmatch(v))}
            if set(kept) != set(data):
                changed += 1
                if not kept:
                    kept = {"text/plain": f"[output of type {', '.join(sorted(data))[:80]} not shown]"}
            out["data"] = kept
            out["metadata"] = {}
    return changed


def _copy_extras(src: Path, dest: Path) -> list[str]:
    """Copy the student's other regular files; symbolic links and big files are left out."""
    notes, total = [], 0
    for root, dirs, files in os.walk(src):
        for name in list(dirs):
            if os.path.islink(os.path.join(root, name)):
                notes.append(f"symbolic link {name} ignored")
                dirs.remove(name)
        for name in files:
            path = Path(root, name)
            if path.suffix == ".ipynb" and path.parent == src:
                continue
            if path.is_symlink() or not path.is_file():
                notes.append(f"{path.relative_to(src)} is not a regular file: ignored")
                continue
            total += path.stat().st_size
            if total > MAX_EXTRA_FILES_MB * 2**20:
                notes.append(f"extra files beyond {MAX_EXTRA_FILES_MB} MB ignored")
                return notes
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return notes


# ---------------------------------------------------------------- one student, in a child process

def _config(job: _Job, *, submitted: Path, db_timeout: bool = False):
    graded = job.gradebook_root
    db = f"sqlite:///{graded / 'gradebook.db'}" + ("?timeout=120" if db_timeout else "")
    config = nbgrader_config(
        root=str(job.out), source_directory=str(job.source), release_directory=str(job.out / "release"),
        submitted_directory=str(submitted), autograded_directory=str(graded / "autograded"),
        feedback_directory=str(graded / "feedback"), db_url=db)
    if job.course_id:
        config.CourseDirectory.course_id = job.course_id
    return config


class StripHiddenTests(NbGraderPreprocessor):
    """For feedback: hidden test code leaves the test cells, tracebacks leave their outputs
    (IPython prints the failing source lines); the error's message stays."""

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            if "BEGIN HIDDEN TESTS" in cell.source:
                cell.source = _HIDDEN.sub("# (hidden tests)\n", cell.source)
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


def _grade_student(job: _Job, student: str, slot: int = 0) -> Result:
    work = job.out / ".work" / student
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    notebook = job.submissions / student / job.topic / f"{job.topic}.ipynb"
    release = nbformat.read(job.out / "release" / job.topic / f"{job.topic}.ipynb", as_version=4)
    checked = _precheck(notebook, release)
    if isinstance(checked, tuple):
        return Result(student, checked[0], reason=checked[1])
    nb, changes = restore_from_release(checked, release)
    protected = tamper.protected_names([c.source for c in release.cells if c.cell_type == "code"
                                        and _is_protected(c)])
    findings = tamper.static_scan([c.source for c in nb.cells if c.cell_type == "code"
                                   and not _is_protected(c)], protected)
    staged = job.out / "staged" / student / job.topic
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    notes = _copy_extras(notebook.parent, staged)
    escape_student_markdown(nb, release)
    nbformat.write(nb, staged / notebook.name)

    config = _config(job, submitted=job.out / "staged", db_timeout=True)
    config.Execute.timeout = job.cell_timeout
    pre = config.Autograde.autograde_preprocessors = _autograde_preprocessors()
    assert pre[0].__name__ == "SandboxedExecute"
    config.SandboxedExecute.state_dir = str(work)
    config.SandboxedExecute.limits_json = job.limits.to_json()
    config.SandboxedExecute.kernel_env_json = json.dumps(job.kernel_env)
    config.SandboxedExecute.sandbox_kind = job.sandbox
    config.SandboxedExecute.sandbox_uid = _sandbox_uid(job.sandbox, slot)
    config.SandboxedExecute.timeout = job.cell_timeout
    config.SandboxedExecute.judge_json = _judge_spec(job)
    config.GenerateFeedback.preprocessors = _feedback_preprocessors()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    outcome = api.autograde(job.topic, student, force=True, create=True)
    (work / "nbgrader.log").write_text((outcome.get("log") or "") + "\n" + (outcome.get("error") or ""))
    verdict = Verdict.read(work / "verdict.json")
    autograded = job.gradebook_root / "autograded" / student / job.topic / notebook.name
    sandbox = verdict.sandbox or job.sandbox
    review = changes + [f"static scan: {f}" for f in findings[:4]]
    if verdict.violation:
        status, reason = verdict.violation
        return _with_review(Result(student, status, reason=reason, sandbox=sandbox), review)
    if not outcome["success"] or not autograded.is_file():
        log = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
        status, reason = _classify(log)
        if verdict.kernel_died:
            status, reason = "crashed", _died(verdict, work)
        elif status == "crashed":      # nbgrader says so, but the kernel was not seen to end
            status, reason = "error", f"nbgrader failed: {reason}"
        return _with_review(Result(student, status, reason=reason, sandbox=sandbox), review)
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        try:
            score, max_score, auto_max, manual, cells = _scores(gb, job.topic, student)
        except MissingEntry:
            return Result(student, "error", reason="autograde left no gradebook entry", sandbox=sandbox)
    executed = nbformat.read(autograded, as_version=4)
    source_nb = nbformat.read(job.source / job.topic / f"{job.topic}.ipynb", as_version=4)
    if sanitize_outputs(executed) + rubric.add_grader_notes(executed, source_nb):  # Formgrader's rubrics
        nbformat.write(executed, autograded)
    errors = [(c.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}", o)
              for i, c in enumerate(executed.cells) for o in c.get("outputs", []) if o.get("output_type") == "error"]
    feedback = api.generate_feedback(job.topic, student, force=True)
    html = job.gradebook_root / "feedback" / student / job.topic / f"{job.topic}.html"
    result = Result(student, "graded", score, max_score, auto_max, manual, sandbox=sandbox,
                    feedback=str(html) if html.is_file() else "", cell_scores=cells)
    memory_cells = [where for where, o in errors if _MEMORY_ERRORS.search(f"{o.get('ename')}: {o.get('evalue')}")]
    near_limit = (verdict.peak_rss_mb or 0) >= 0.8 * job.limits.memory_mb
    if verdict.kernel_died:
        result.status, result.reason = "crashed", _died(verdict, work)
    elif verdict.timeouts:
        result.status = "timeout"
        result.reason = (f"cells ran past the {job.cell_timeout} s limit per cell (the kernel's own time, "
                         "not time spent waiting for a CPU) and were interrupted: "
                         f"{', '.join(verdict.timeouts[:4])}; the other cells were graded")
    elif memory_cells and near_limit:
        result.status = "memory"
        result.reason = (f"a cell ran out of memory (limit {job.limits.memory_mb} MB per process, peak "
                         f"{verdict.peak_rss_mb:.0f} MB): {', '.join(memory_cells[:3])}; the other cells were graded")
    elif review:
        result.status = "tampered"
    if memory_cells and result.status != "memory":
        notes.append(f"{', '.join(memory_cells[:3])} raised a memory error (allocation refused; "
                     f"peak {verdict.peak_rss_mb or 0:.0f} MB of the {job.limits.memory_mb} MB limit)")
    notes += [f"output of {c} truncated" for c in verdict.truncated[:3]] + verdict.notes
    notes += [f"{f} reached the limit of {job.limits.file_mb} MB per file" for f in verdict.big_files[:3]]
    if not feedback["success"]:
        notes.append("feedback HTML failed")
    result = _with_review(result, review)
    if notes:
        result.reason = "; ".join(filter(None, [result.reason, *notes]))
    result.reason = result.reason[:500]
    return result


def _with_review(result: Result, review: list[str]) -> Result:
    """Tamper findings always reach the instructor: in the ``review`` column whatever the
    status, and in the reason."""
    if review:
        result.review = "; ".join(review)[:500]
        text = "needs review: " + "; ".join(review)
        result.reason = text if result.status == "tampered" else f"{result.reason}; also {text}"
    return result


def _died(verdict: Verdict, work: Path) -> str:
    return (f"the notebook's kernel died during execution ({verdict.kernel_exit or 'exit unknown'})"
            + _kernel_exit(work))


def _judge_spec(job: _Job) -> str:
    """The source notebook's tests and the judge's set-up cells, which the judge runs outside
    the kernel. Always the course's copy, never the submission's."""
    from genlab.grader.cells import Role, grade_id, role
    from genlab.grader.judge import judge_seed, setup_sources

    source = nbformat.read(job.source / job.topic / f"{job.topic}.ipynb", as_version=4)
    tests = {grade_id(c): c.source for c in source.cells if role(c) is Role.TEST}
    return json.dumps({"setup": setup_sources(source), "tests": tests, "seed": judge_seed()})


def _autograde_preprocessors() -> list:
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from genlab.grader.sandbox import SandboxedExecute

    return [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
            AssignLatePenalties, CheckCellMetadata]


def _feedback_preprocessors() -> list:
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, StripHiddenTests, rubric.StripGraderNotes, CSSHTMLHeaderPreprocessor]


def _sandbox_uid(kind: str, slot: int) -> int | None:
    """Root inside the sandbox would ignore RLIMIT_NPROC: an unprivileged uid of its own for
    each grading process (from its pid, unique while it runs, also across concurrent runs),
    so that one sandbox's processes never count against another's. Without bwrap there is
    no private mount of the environment, which that uid might not read: stay as we are."""
    return SANDBOX_UID + os.getpid() if kind == "bwrap" and os.geteuid() == 0 else None


def _kernel_exit(work: Path) -> str:
    log = work / "kernel-stderr.txt"
    tail = log.read_bytes()[-2000:].decode("utf-8", "replace").strip().splitlines() if log.is_file() else []
    return f" (kernel's last words: {tail[-1][:120]})" if tail else ""


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


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _child(job: _Job, student: str, slot: int, environ: dict[str, str]) -> None:
    """Entry point of the process that grades one student; writes ``result.json``.
    ``environ``: the grading process's environment now (the fork server's is from when it
    started)."""
    os.environ.clear()
    os.environ.update(grading_environ(environ))
    _match_torch_threads()
    os.setsid()
    _die_with_parent()
    _outrank_kernels()
    warnings.filterwarnings("ignore", category=SAWarning)
    start = time.perf_counter()
    work = job.out / ".work" / student
    try:
        result = _grade_student(job, student, slot)
        if result.status == "error" and result.reason.startswith("nbgrader failed"):
            result = _grade_again(job, student, slot, result)
    except BaseException as exc:  # noqa: BLE001 - whatever happens, the student gets a status
        result = Result(student, "error", reason=f"grader error: {exc.__class__.__name__}: {exc}"[:300])
    shutil.rmtree(work / "scratch", ignore_errors=True)  # what the kernel wrote, now useless
    result.seconds = round(time.perf_counter() - start, 1)
    path = job.out / ".work" / student / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(result)))
    os.replace(tmp, path)


def grading_environ(environ: dict[str, str]) -> dict[str, str]:
    """The environment a grading process runs with: the grader's, less what must never
    change a grade (``GENLAB_SMOKE``: short loops and unenforced bars are for smoke runs)."""
    return {k: v for k, v in environ.items() if k != SMOKE_VARIABLE}


def _outrank_kernels() -> None:
    """Run this grading process (the watchdog, the judge) at a higher priority than the
    kernels, which the sandbox's launcher puts back at 0: a fork bomb of ~1,000 spinning
    processes (RLIMIT_NPROC 1024) otherwise starved the watchdog that must stop it, and the
    student graded beside it, for ~170 s (honest-blank hit the wall-clock backstop in CI). At
    nice -15 the watchdog outweighs ~28 such processes. Needs root; else a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, GRADER_PRIORITY)
    except (PermissionError, OSError):
        pass


def _grade_again(job: _Job, student: str, slot: int, first: Result) -> Result:
    """nbgrader itself failed (not the student's code: that is a test outcome, a timeout, a
    crash): grade once more, as a teaching assistant would before flagging the row, and keep
    the first attempt's log. A submission that fails twice stays an ``error``."""
    log = job.out / ".work" / student / "nbgrader.log"
    kept = log.read_text() if log.is_file() else ""
    time.sleep(2 + 3 * slot)           # out of step with the other worker's database writes
    result = _grade_student(job, student, slot)
    (log.parent / "nbgrader-first-attempt.log").write_text(kept)
    note = f"graded twice: the first attempt failed ({first.reason[:200]})"
    result.review = f"{result.review}; {note}" if result.review else note
    return result


def _match_torch_threads() -> None:
    """torch read OMP_NUM_THREADS when the fork server imported it; apply the current value."""
    wanted = os.environ.get("OMP_NUM_THREADS", "")
    if wanted.isdigit() and int(wanted) > 0 and "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != int(wanted):
            torch.set_num_threads(int(wanted))


def _die_with_parent() -> None:
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------- shards and submission times

def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), 1 <= K <= N; a clear error otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise ValueError(f"--shard expects K/N with whole numbers, e.g. 1/4 (got {text!r})")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"--shard {text}: K must be between 1 and N (shards are numbered 1 to N), "
                         f"e.g. 1/{max(n, 2)} … {max(n, 2)}/{max(n, 2)}")
    return k, n


def shard_of(student: str, n: int) -> int:
    """The shard (1..n) that grades ``student``: from a hash of the name alone, so it does not
    depend on the order of a folder listing or on which other students exist (a student added
    later moves no one else)."""
    return int.from_bytes(hashlib.sha256(student.encode("utf-8")).digest()[:8], "big") % n + 1


def students_of_shard(students: list[str], k: int, n: int) -> list[str]:
    """The students of shard ``k`` of ``n``, in their given order."""
    return [s for s in students if shard_of(s, n) == k]


def parse_due(text: str) -> datetime:
    """An ISO 8601 date and time -> an aware UTC datetime; without a zone it is UTC."""
    try:
        due = datetime.fromisoformat(text.strip())
    except (AttributeError, ValueError):
        raise ValueError(f"--due expects an ISO 8601 date and time, e.g. 2026-12-07T23:59:00+01:00 "
                         f"(got {text!r})") from None
    return due.replace(tzinfo=timezone.utc) if due.tzinfo is None else due.astimezone(timezone.utc)


def submission_time(folder: Path) -> str:
    """When nbgrader's exchange received the submission (its ``timestamp.txt``), as ISO 8601
    UTC; '' when there is no such file or it cannot be read."""
    from nbgrader.utils import parse_utc

    path = folder / "timestamp.txt"
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 200:
        return ""
    try:
        return parse_utc(path.read_text(encoding="utf-8").strip()).replace(tzinfo=timezone.utc).isoformat()
    except (ValueError, OverflowError, TypeError, UnicodeDecodeError):
        return ""


def seconds_late(timestamp: str, due: datetime | None) -> int | None:
    """Whole seconds (rounded up) after ``due``; None when on time or either is unknown."""
    if not timestamp or due is None:
        return None
    late = (datetime.fromisoformat(timestamp) - due).total_seconds()
    return math.ceil(late) if late > 0 else None


# ---------------------------------------------------------------- the class, in parallel

def grade(submissions: str | os.PathLike, topic: str, out: str | os.PathLike, *,
          students: list[str] | None = None, progress: bool = True, workers: int = 1,
          limits: Limits | None = None, cell_timeout: int | None = None,
          source: str | os.PathLike | None = None, regrade: bool = False,
          shard: tuple[int, int] | None = None, due: datetime | None = None,
          course: str | os.PathLike | None = None, log=print) -> list[Result]:
    """Autograde every ``submissions/<student>/<topic>/<topic>.ipynb``; write ``out/grades.csv``.

    ``source``: the nbgrader source folder holding ``<topic>/<topic>.ipynb`` (default the
    course's ``solutions/``). Students already in ``out/journal.jsonl`` with the same
    submission and grader settings keep their result unless ``regrade``. ``shard=(K, N)``:
    grade only the students whose :func:`shard_of` is K. ``due`` (a datetime, UTC when
    naive): rows of submissions whose ``timestamp.txt`` is later get the seconds late; it is
    also the assignment's due date in the gradebook.

    ``course``: an nbgrader course folder (nbgrader's default layout, as `hub.py setup` makes
    it) to grade into: the grades go into its ``gradebook.db``, the executed notebooks into its
    ``autograded/``, the feedback into its ``feedback/``, where its Formgrader and `nbgrader
    release_feedback` find them; ``out`` keeps the rest. A re-grade goes through nbgrader's
    autograde, which keeps the scores entered by hand in Formgrader (and marks them for review).
    Run as root, what the run wrote in the course folder is given to the folder's owner."""
    source = Path(source).resolve() if source else SOLUTIONS
    topic = topic if source != SOLUTIONS else resolve_topic(topic)
    submissions = Path(submissions).resolve()
    out = Path(out).resolve()
    if not submissions.is_dir():
        raise SystemExit(f"no submissions folder {submissions}")
    course = Path(course).resolve() if course else None
    if course and not course.is_dir():
        raise SystemExit(f"no course folder {course}")
    if course and course.is_relative_to(out):
        raise SystemExit(f"--out {out} holds the course folder {course}: give the grading a folder of its own "
                         "(default COURSE/grading/<topic>)")
    if course and shard:
        raise SystemExit("a shard is graded into its own folder, to be merged (`genlab grade merge`); "
                         "grade into the course without --shard")
    out.mkdir(parents=True, exist_ok=True)
    _put_venv_on_path()
    limits = limits or Limits()
    kind, why = sandbox_kind()
    if kind != "bwrap":
        _warn_unsandboxed(why, out, log)
    gradebook = (course or out) / "gradebook.db"
    course_id = gradebook_course(gradebook) if course else ""
    config = _config(_Job(submissions, source, topic, out, limits, 0, {}, kind, course, course_id),
                     submitted=submissions)
    cell_timeout = int(cell_timeout or config.Execute.timeout)
    _write_course_config(out, config)
    fresh_db = not gradebook.is_file()
    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's own ORM chatter
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    released = api.generate_assignment(topic, force=True, create=True)
    if not released["success"]:
        raise RuntimeError(f"could not register {topic} in the gradebook:\n{released.get('log')}")

    if due is not None:
        due = due.replace(tzinfo=timezone.utc) if due.tzinfo is None else due.astimezone(timezone.utc)
        with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
            gb.update_or_create_assignment(topic, duedate=due.replace(tzinfo=None))

    everyone = students or sorted(p.name for p in submissions.iterdir()
                                  if p.is_dir() and not p.name.startswith("."))
    names = everyone
    if shard:
        k, n = parse_shard(f"{shard[0]}/{shard[1]}")
        names = students_of_shard(everyone, k, n)
        log(f"shard {k}/{n}: grading {len(names)} of {len(everyone)} students"
            + (f" ({', '.join(names)})" if names else "")
            + f"; skipping {len(everyone) - len(names)}, graded by the other shards")
    env = {**KERNEL_ENV, **{k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ},
           **_thread_env(workers)}
    job = _Job(submissions, source, topic, out, limits, cell_timeout, env, kind, course, course_id)
    # a journal kept for one gradebook says nothing of another: grading into a course is its own setting
    settings = hashlib.sha256(json.dumps([GRADER_VERSION, limits.to_json(), cell_timeout, kind, env,
                                          _digest(source / topic), *([str(course)] if course else [])]
                                         ).encode()).hexdigest()[:16]
    journal = _Journal(out / "journal.jsonl", settings, discard=fresh_db or regrade)
    results: dict[str, Result] = {}
    todo = []
    keys = {student: _digest(submissions / student / topic) for student in names}
    for student, key in keys.items():
        done = journal.get(student, key)
        if done:
            results[student] = done
        else:
            todo.append((student, key))
    write_manifest(out, {"topic": topic, "rubric": _digest(source / topic), "grader_version": GRADER_VERSION,
                         "limits": json.loads(limits.to_json()), "cell_timeout": cell_timeout, "sandbox": kind,
                         "settings": settings, "shard": list(shard) if shard else None,
                         "due": due.isoformat() if due else None, "submissions": str(submissions),
                         "course": str(course) if course else None, "class": everyone, "students": keys})
    if results and progress:
        log(f"{len(results)} of {len(names)} students already graded with these settings (journal.jsonl); "
            f"grading the other {len(todo)}")
    bar = tqdm(total=len(todo), desc=f"grading {topic}", disable=not progress)
    for (student, key), result in _run_pool(job, todo, workers):
        _stamp(result, submissions / student / topic, due)
        journal.add(student, key, result)
        results[student] = result
        bar.update()
    bar.close()
    ordered = [results[s] for s in names]
    for result in ordered:           # journaled rows too: the due date may have changed
        _stamp(result, submissions / result.student / topic, due)
    write_csv(ordered, out / "grades.csv")
    if kind != "bwrap":
        _warn_unsandboxed(why, out, log)
    if course:
        give_to_course(course, out)
    return ordered


def gradebook_course(gradebook: Path) -> str:
    """The course id of an nbgrader gradebook that names exactly one course (read as data: the
    file belongs to the course, it is not run); '' for none, several or no gradebook yet."""
    if not gradebook.is_file():
        return ""
    try:
        with contextlib.closing(sqlite3.connect(f"{gradebook.as_uri()}?mode=ro", uri=True)) as db:
            ids = [row[0] for row in db.execute("SELECT id FROM course")]
    except sqlite3.Error:
        return ""
    return ids[0] if len(ids) == 1 else ""


def give_to_course(course: Path, out: Path) -> None:
    """Run as root (for the sandbox), the grader wrote files in the course folder that its
    owner's Formgrader must write to (manual grades go into gradebook.db) or read: give them to
    that owner, and ``out`` too (from its topmost folder in the course) when it lies there."""
    owner = course.stat()
    if os.geteuid() != 0 or owner.st_uid == 0:
        return
    trees = [course / "gradebook.db", course / "autograded", course / "feedback"]
    if out.is_relative_to(course):
        trees.append(course / out.relative_to(course).parts[0])
    for tree in trees:
        _chown_tree(tree, owner.st_uid, owner.st_gid)


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    """chown ``top`` and everything below it without following a symlink: the owner may change
    the folder while root walks it (os.fwalk holds each folder open and checks what it enters)."""
    if not top.exists() or top.is_symlink():
        return
    os.chown(top, uid, gid, follow_symlinks=False)
    if top.is_dir():
        for _, dirs, files, fd in os.fwalk(top):
            for name in dirs + files:
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)


def _stamp(result: Result, folder: Path, due: datetime | None) -> None:
    result.timestamp = submission_time(folder)
    result.late = seconds_late(result.timestamp, due)


MANIFEST = "grading.json"


def write_manifest(out: Path, manifest: dict) -> None:
    """``out/grading.json``: what this run grades (topic, shard, the class it saw, each
    student's submission digest) and with which settings; `genlab grade merge` reads it."""
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, out / MANIFEST)


def _thread_env(workers: int) -> dict[str, str]:
    """Share the cores between parallel kernels: torch's OpenMP threads of two kernels that
    spin on the same cores slow each other down many times over."""
    if workers <= 1:
        return {}
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    return {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OMP_WAIT_POLICY": "PASSIVE"}


# imported once by the fork server that starts each student's grading process (imports only:
# nothing may run torch's thread pools there, see _run_pool)
_PRELOAD = ["torch", "nbformat", "nbclient", "nbconvert", "nbgrader.apps", "nbgrader.preprocessors",
            "genlab.grader.grading", "genlab.grader.judge", "genlab.grader.sandbox", "genlab.metrics"]


def _run_pool(job: _Job, todo: list[tuple[str, str]], workers: int):
    """Grade students in child processes, ``workers`` at a time; yield ((student, key), Result)
    as each finishes. A child that dies or overruns becomes an ``error``/``timeout`` result."""
    # Not a fork of this process: a forked child of a process whose torch already ran OpenMP or
    # BLAS threads (the replay, a judge in the same process) deadlocks in its first torch call.
    # A fork server is a clean process that has only imported the grader (torch, nbgrader,
    # genlab), so each child starts without paying ~4.5 CPU-seconds of imports, as spawn did.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    pending = list(todo)
    running: dict[str, tuple] = {}
    # a last resort above the kernel's own limits and their wall-clock backstop (genlab.grader.clock)
    hard_limit = WALL_BACKSTOP * (job.limits.wall_s + job.cell_timeout) + 180
    try:
        while pending or running:
            while pending and len(running) < max(1, workers):
                student, key = pending.pop(0)
                stale = job.out / ".work" / student / "result.json"
                if stale.exists():
                    stale.unlink()
                slot = min(set(range(workers + 1)) - {r[3] for r in running.values()})
                proc = ctx.Process(target=_child, args=(job, student, slot, dict(os.environ)), daemon=False)
                proc.start()
                running[student] = (proc, key, time.monotonic(), slot)
            time.sleep(0.05)
            for student, (proc, key, started, _) in list(running.items()):
                elapsed = time.monotonic() - started
                if proc.is_alive() and elapsed < hard_limit:
                    continue
                if proc.is_alive():
                    _kill_group(proc.pid)
                    proc.join()
                    result = Result(student, "timeout", reason=f"grading took longer than {hard_limit:.0f} s; stopped")
                else:
                    proc.join()
                    found = _read_json(job.out / ".work" / student / "result.json")
                    result = Result.from_dict(found) if found else Result(
                        student, "error", reason=f"the grading process died (exit code {proc.exitcode})")
                _kill_group(proc.pid)  # anything the child left behind
                result.seconds = round(elapsed, 1)
                del running[student]
                yield (student, key), result
    finally:
        for proc, *_ in running.values():
            _kill_group(proc.pid)
            proc.join(timeout=5)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _digest(folder: Path) -> str:
    """A hash of a folder's regular files (names and bytes); '' when there is none."""
    if not folder.is_dir():
        return ""
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(folder)):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            h.update(str(path.relative_to(folder)).encode() + b"\0")
            if path.is_symlink():
                h.update(b"link:" + os.readlink(path).encode())
            elif path.is_file():
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
    return h.hexdigest()


class _Journal:
    """``journal.jsonl``: one JSON line per graded student, appended and fsynced as each
    finishes. The last line of a student wins; lines from other grader settings are ignored."""

    def __init__(self, path: Path, settings: str, discard: bool):
        self.path, self.settings = path, settings
        self.entries: dict[str, dict] = {}
        if discard and path.exists():
            path.unlink()
        if path.exists():
            text = path.read_text()
            if text and not text.endswith("\n"):   # cut short: the next entry starts on a line of its own
                with open(path, "a") as f:
                    f.write("\n")
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut short by an interruption
                if entry.get("settings") == settings:
                    self.entries[entry["student"]] = entry

    def get(self, student: str, key: str) -> Result | None:
        entry = self.entries.get(student)
        return Result.from_dict(entry["result"]) if entry and entry["key"] == key else None

    def add(self, student: str, key: str, result: Result) -> None:
        entry = {"student": student, "key": key, "settings": self.settings, "result": asdict(result)}
        with open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.entries[student] = entry


def _warn_unsandboxed(why: str, out: Path, log) -> None:
    text = ("WARNING: submissions are NOT sandboxed: " + why + ". Only rlimits and a watchdog "
            "apply. Grade untrusted work on a machine with bubblewrap.")
    bar = "!" * min(len(text), 100)
    print(f"\n{bar}\n{text}\n{bar}\n", file=sys.stderr, flush=True)
    (out / "SANDBOX-WARNING.txt").write_text(text + "\n")
    warnings.warn(text, RuntimeWarning, stacklevel=3)


def _put_venv_on_path() -> None:
    """nbgrader runs the ``alembic`` command of its environment: find it without activation."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


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
    lines.append(f"c.GenerateFeedback.preprocessors = {list(rubric.FEEDBACK_PREPROCESSORS)!r}")
    (out / "nbgrader_config.py").write_text("\n".join(lines) + "\n")


def write_csv(results: list[Result], path: Path) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in results:
            row = asdict(r)
            row.pop("cell_scores")
            writer.writerow(row)
    os.replace(tmp, path)
