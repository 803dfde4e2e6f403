"""Join the folders of sharded grading runs (`genlab grade --shard K/N`) into one.

Each shard's folder holds ``grading.json`` (the topic, the grader's settings, the class the
shard saw and the submission digest of each student it grades), ``journal.jsonl``,
``gradebook.db``, ``feedback/``, ``autograded/``, ``staged/`` and ``.work/``. :func:`merge`

- checks that the folders belong together: the same topic, source notebook (tests and
  rubrics), grader version, limits, due date and number of shards, also as the folder
  merged into, and the same source notebook as this machine's;
- takes each student's result from the journal of the shard that graded it (the entry of
  that shard's last run, for the submission it saw) and refuses to go on when two folders
  graded a student from different submissions or to different grades;
- writes into ``out``: each student's feedback, autograded and staged notebooks and logs,
  their submission, grades and comments in ``gradebook.db`` (Formgrader opens it),
  ``grades.csv`` with every student merged so far, ``journal.jsonl`` and ``grading.json``;
- warns about students of the class that have no grade yet, and why.

Merging again is idempotent and resumes an interrupted merge: ``out/journal.jsonl`` records
what was merged for each student, and a student whose grading has not changed is left as
it is, with whatever was graded by hand in Formgrader since. Shards may arrive one at a
time: a later merge into the same ``out`` adds them, and replaces the students a shard
graded again (a late resubmission).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from sqlalchemy.exc import SAWarning

from genlab.course import SOLUTIONS
from genlab.grader.grading import (
    MANIFEST,
    Result,
    _config,
    _digest,
    _Job,
    _Journal,
    _put_venv_on_path,
    _write_course_config,
    parse_due,
    seconds_late,
    shard_of,
    write_csv,
    write_manifest,
)
from genlab.grader.sandbox import Limits

# what the folders must agree on, and how an error names it
MUST_AGREE = {"topic": "assignments", "rubric": "source notebooks (tests and rubrics)",
              "grader_version": "grader versions (GRADER_VERSION)", "limits": "resource limits",
              "cell_timeout": "per-cell time limits", "due": "due dates (--due)", "n": "numbers of shards"}
GRADE_FIELDS = ("status", "score", "max_score", "autograded_max", "needs_manual_grade", "cell_scores")
PER_STUDENT = ("feedback", "autograded", "staged")     # <folder>/<student>/<topic>/


class MergeError(Exception):
    """The folders cannot be merged (the message says why and what to do)."""


@dataclass
class _Shard:
    path: Path
    manifest: dict
    results: dict[str, Result] = field(default_factory=dict)   # its students with a journaled result
    pending: list[str] = field(default_factory=list)           # its students without one yet

    @property
    def label(self) -> str:
        shard = self.manifest.get("shard")
        return f"shard {shard[0]}/{shard[1]} ({self.path})" if shard else f"unsharded run ({self.path})"


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise MergeError(f"{path} has no {MANIFEST}: it is not an output folder of `genlab grade` "
                         "(or one graded before --shard existed; grade it again)") from None
    except (OSError, ValueError) as exc:
        raise MergeError(f"{path / MANIFEST} cannot be read ({exc})") from None
    shard = manifest.get("shard")
    manifest["n"] = shard[1] if shard else manifest.get("n", 1)
    return manifest


def _read_shard(path: Path) -> _Shard:
    if not path.is_dir():
        raise MergeError(f"no folder {path}")
    shard = _Shard(path, _read_manifest(path))
    if shard.manifest.get("merged_from") is not None:
        raise MergeError(f"{path} is the output of `genlab grade merge`, not of a grading run: merge the "
                         "shards' own folders")
    if shard.manifest.get("course"):
        raise MergeError(f"{path} was graded into the course {shard.manifest['course']} (--course): its grades "
                         "are in that course's gradebook already, there is nothing to merge")
    journal = _Journal(path / "journal.jsonl", shard.manifest["settings"], discard=False)
    for student, key in shard.manifest["students"].items():
        result = journal.get(student, key)
        if result is None:
            shard.pending.append(student)
        else:
            shard.results[student] = result
    return shard


def _check_together(shards: list[_Shard], previous: dict | None, source: Path) -> None:
    manifests = [(s.label, s.manifest) for s in shards]
    if previous:
        manifests.append(("the folder merged into (an earlier merge)", previous))
    for key, what in MUST_AGREE.items():
        values = {json.dumps(m.get(key), sort_keys=True) for _, m in manifests}
        if len(values) > 1:
            detail = "; ".join(f"{label}: {m.get(key)}" for label, m in manifests)
            hint = " (choose a new --out for a new merge)" if previous else ""
            raise MergeError(f"the folders were graded with different {what}: {detail}{hint}")
    topic, rubric = shards[0].manifest["topic"], shards[0].manifest["rubric"]
    if _digest(source / topic) != rubric:
        raise MergeError(f"{source / topic} is not the source notebook the shards were graded with (its tests "
                         "or rubrics differ): merge on a checkout of the same course version")


def _grades(result: Result) -> tuple:
    return tuple(sorted(result.cell_scores.items()) if name == "cell_scores" else getattr(result, name)
                 for name in GRADE_FIELDS)


def _combine(shards: list[_Shard]) -> dict[str, tuple[Result, _Shard]]:
    merged: dict[str, tuple[Result, _Shard]] = {}
    conflicts = []
    for shard in shards:
        for student, result in sorted(shard.results.items()):
            if student not in merged:
                merged[student] = (result, shard)
                continue
            other, first = merged[student]
            if first.manifest["students"][student] != shard.manifest["students"][student]:
                conflicts.append(f"{student}: graded from different submissions by {first.label} and {shard.label}")
            elif _grades(other) != _grades(result):
                conflicts.append(f"{student}: {first.label} gives {other.status} {other.score:g}/{other.max_score:g}, "
                                 f"{shard.label} gives {result.status} {result.score:g}/{result.max_score:g}")
    if conflicts:
        raise MergeError("two folders graded the same students differently; regrade them in one place, or leave "
                         "one of the folders out:\n  " + "\n  ".join(conflicts))
    return merged


def _stamp(result: Result, shard: _Shard) -> str:
    """What identifies a merged grading: the submission, the settings and the result."""
    row = asdict(result)
    row.pop("seconds")
    row.pop("feedback")
    what = [shard.manifest["students"][result.student], shard.manifest["settings"], row]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def _missing(everyone: list[str], done: set[str], shards: list[_Shard], n: int) -> list[str]:
    """Why each student of the class has no grade."""
    given = {s.manifest["shard"][0] for s in shards if s.manifest.get("shard")} if n > 1 else {1}
    pending = {student: s for s in shards for student in s.pending}
    notes = []
    for student in everyone:
        if student in done:
            continue
        k = shard_of(student, n)
        if k not in given:
            why = f"shard {k}/{n} not given"
        elif student in pending:
            why = f"{pending[student].label} has not graded it yet (interrupted? run that shard again)"
        else:
            why = f"not in the submissions folder of shard {k}/{n} (added after it ran? grade that shard again)"
        notes.append(f"{student} ({why})")
    return notes


def _replace_tree(src: Path, dest: Path) -> None:
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    if src.is_dir() and not src.is_symlink():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dest, symlinks=True)


def _student_trees(topic: str, student: str) -> list[Path]:
    return [Path(folder, student, topic) for folder in PER_STUDENT] + [Path(".work", student)]


def _copy_files(src: Path, out: Path, topic: str, student: str) -> None:
    for tree in _student_trees(topic, student):
        _replace_tree(src / tree, out / tree)


def _files_missing(src: Path, out: Path, topic: str, student: str) -> bool:
    return any((src / tree).is_dir() and not (out / tree).is_dir() for tree in _student_trees(topic, student))


def _copy_submission(src: Gradebook, dest: Gradebook, topic: str, student: str) -> bool:
    """Put ``student``'s submission of ``src`` (grades, comments, flags, timestamp) in ``dest``
    in place of the one there. Returns whether the one replaced had grades given by hand."""
    by_hand = False
    try:
        old = dest.find_submission(topic, student)
        by_hand = any(g.manual_score is not None for nb in old.notebooks for g in nb.grades)
        dest.remove_submission(topic, student)
    except MissingEntry:
        pass
    try:
        sub = src.find_submission(topic, student)
    except MissingEntry:                 # not graded by nbgrader (missing, invalid, stopped)
        return by_hand
    who = sub.student
    dest.update_or_create_student(student, first_name=who.first_name, last_name=who.last_name,
                                  email=who.email, lms_user_id=who.lms_user_id)
    dest.add_submission(topic, student, timestamp=sub.timestamp, extension=sub.extension)
    for nb in sub.notebooks:
        target = dest.find_submission_notebook(nb.name, topic, student)
        target.flagged = nb.flagged
        target.late_submission_penalty = nb.late_submission_penalty
        grades = {g.name: g for g in target.grades}
        for g in nb.grades:
            t = grades[g.name]
            t.auto_score, t.manual_score, t.extra_credit = g.auto_score, g.manual_score, g.extra_credit
            t.needs_manual_grade = g.needs_manual_grade
        comments = {c.name: c for c in target.comments}
        for c in nb.comments:
            comments[c.name].auto_comment, comments[c.name].manual_comment = c.auto_comment, c.manual_comment
    dest.db.commit()
    return by_hand


def _graded_here(out: Path) -> bool:
    """Whether ``out`` has the journal of a grading run (from a genlab without grading.json)."""
    try:
        lines = (out / "journal.jsonl").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        try:
            return not json.loads(line)["settings"].startswith("merge-")
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return False


def merge(dirs: list[str | os.PathLike], out: str | os.PathLike, *,
          source: str | os.PathLike | None = None) -> tuple[list[Result], list[str]]:
    """Merge the output folders ``dirs`` of `genlab grade` runs (shards) into ``out``.

    Returns the rows of ``out/grades.csv`` (every student merged into ``out`` so far) and
    warnings (students without a grade and why, shards not given, grades by hand replaced).
    Raises :class:`MergeError` when the folders do not belong together."""
    source = Path(source).resolve() if source else SOLUTIONS
    out = Path(out).resolve()
    paths = [Path(d).resolve() for d in dirs]
    if not paths:
        raise MergeError("no folders to merge")
    if out in paths:
        raise MergeError(f"--out {out} is one of the folders to merge: merge into a new folder")
    shards = sorted((_read_shard(p) for p in dict.fromkeys(paths)),
                    key=lambda s: (s.manifest.get("shard") or [0, 0], str(s.path)))
    previous = _read_manifest(out) if (out / MANIFEST).is_file() else None
    if (previous is not None and previous.get("merged_from") is None) or (previous is None and _graded_here(out)):
        raise MergeError(f"{out} holds a grading run, not a merge: choose another --out")
    _check_together(shards, previous, source)
    merged = _combine(shards)
    first = shards[0].manifest
    topic, n = first["topic"], first["n"]
    due = parse_due(first["due"]) if first.get("due") else None

    out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=SAWarning)
    _put_venv_on_path()
    config = _config(_Job(out / "staged", source, topic, out, Limits(), 0, {}, ""), submitted=out / "staged")
    _write_course_config(out, config)
    fresh_db = not (out / "gradebook.db").is_file()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    released = api.generate_assignment(topic, force=True, create=True)
    if not released["success"]:
        raise RuntimeError(f"could not register {topic} in {out / 'gradebook.db'}:\n{released.get('log')}")
    db_url, course = config.CourseDirectory.db_url, config.CourseDirectory.course_id
    if due is not None:
        with Gradebook(db_url, course) as gb:
            gb.update_or_create_assignment(topic, duedate=due.replace(tzinfo=None))

    settings = f"merge-{topic}-{first['rubric'][:16]}-{first['grader_version']}"
    journal = _Journal(out / "journal.jsonl", settings, discard=fresh_db)
    stamps = dict(previous.get("students", {})) if previous and not fresh_db else {}
    notes = []
    for student, (result, shard) in merged.items():
        stamps[student] = _stamp(result, shard)
    with Gradebook(db_url, course) as dest:
        for shard in shards:
            mine = sorted(s for s, (_, owner) in merged.items() if owner is shard)
            new = [s for s in mine if journal.get(s, stamps[s]) is None]
            for student in mine:     # files deleted or not yet copied (an interrupted merge) come back
                if student not in new and _files_missing(shard.path, out, topic, student):
                    _copy_files(shard.path, out, topic, student)
            if not new:
                continue
            with Gradebook(f"sqlite:///{shard.path / 'gradebook.db'}", course) as src:
                for student in new:
                    result = Result.from_dict(asdict(merged[student][0]))
                    _copy_files(shard.path, out, topic, student)
                    if _copy_submission(src, dest, topic, student):
                        notes.append(f"{student}: grades entered by hand in {out / 'gradebook.db'} were replaced "
                                     f"by {shard.label}, which graded a new submission or graded again")
                    html = out / "feedback" / student / topic / f"{topic}.html"
                    result.feedback = str(html) if result.feedback and html.is_file() else ""
                    journal.add(student, stamps[student], result)

    rows = [journal.get(s, stamps[s]) for s in sorted(stamps)]
    lost = [s for s, r in zip(sorted(stamps), rows, strict=True) if r is None]
    if lost:   # the journal lost lines the manifest names (edited by hand): merge again from the shards
        raise MergeError(f"{out / 'journal.jsonl'} has no entry for {', '.join(lost[:10])}: merge every shard "
                         f"into a new --out")
    for row in rows:
        row.late = seconds_late(row.timestamp, due)
    write_csv(rows, out / "grades.csv")

    everyone = sorted(set().union(*(s.manifest["class"] for s in shards), previous.get("class", []) if previous
                                  else []))
    sources = sorted(set((previous or {}).get("merged_from", [])) | {s.label for s in shards})
    write_manifest(out, {**{k: first.get(k) for k in MUST_AGREE}, "settings": settings, "shard": None,
                         "sandbox": sorted({s.manifest.get("sandbox") for s in shards}
                                           | set((previous or {}).get("sandbox", []))), "class": everyone,
                         "students": stamps, "merged_from": sources})
    given = {s.manifest["shard"][0] for s in shards if s.manifest.get("shard")}
    absent = [f"{k}/{n}" for k in range(1, n + 1) if k not in given] if n > 1 else []
    if absent and previous is None:
        notes.insert(0, f"shard {', '.join(absent)} not given")
    missing = _missing(everyone, set(stamps), shards, n)
    if missing:
        notes.insert(0, f"{len(missing)} of {len(everyone)} students have no grade yet: {'; '.join(missing)}")
    return rows, notes
