"""Is a topic's grading valid? The solution gets full marks, the blank release gets zero,
every mutant (a plausible student bug) loses points, broken submissions get a status.

`genlab check` and the test suite both use this module.
"""
from __future__ import annotations

import copy
import runpy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from genlab.course import AUTOGRADER, MUTANTS, assignment_path, resolve_topic, solution_path
from genlab.grader.grading import Result, grade

_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
NULLS = AUTOGRADER / "nulls"


@dataclass(frozen=True)
class Mutant:
    """A plausible bug: in answer cell ``cell`` replace ``find`` (exactly once) by ``replace``."""
    name: str
    cell: str
    find: str
    replace: str
    why: str


def solution_answers(topic: str) -> dict[str, str]:
    """The reference answer of every answer cell, keyed by grade_id, without the markers."""
    answers = {}
    for cell in nbformat.read(solution_path(topic), as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [ln for ln in cell.source.splitlines() if ln.strip() not in _MARKERS]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def student_notebook(topic: str, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the given answer cells filled in, as a student would."""
    nb = nbformat.read(assignment_path(topic), as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def load_mutants(topic: str) -> list[Mutant]:
    path = MUTANTS / f"{topic}.py"
    if not path.is_file():
        return []
    return [Mutant(**m) for m in runpy.run_path(str(path))["MUTANTS"]]


def apply_mutant(answers: dict[str, str], mutant: Mutant) -> dict[str, str]:
    source = answers.get(mutant.cell)
    if source is None:
        raise ValueError(f"mutant {mutant.name}: no answer cell {mutant.cell!r}")
    if source.count(mutant.find) != 1:
        raise ValueError(f"mutant {mutant.name}: {mutant.find!r} occurs {source.count(mutant.find)} "
                         f"times in cell {mutant.cell!r}, expected once")
    mutated = copy.copy(answers)
    mutated[mutant.cell] = source.replace(mutant.find, mutant.replace)
    return mutated


def load_nulls(topic: str) -> list[Mutant]:
    """The topic's null submissions (``autograder/nulls/<topic>.py``): answers a student
    could hand in without the topic (noise, the data mean, a copy of the input, the untrained
    network, a loss term dropped …). Each replaces one answer cell, either whole (``source``)
    or by ``find``/``replace`` like a mutant; it is graded like a mutant and must earn no point
    of a quality-graded test cell of its task."""
    path = NULLS / f"{topic}.py"
    if not path.is_file():
        return []
    answers = solution_answers(topic)
    nulls = []
    for entry in runpy.run_path(str(path))["NULLS"]:
        entry = dict(entry)
        name = "null-" + entry.pop("name")
        if "source" in entry:
            entry["find"], entry["replace"] = answers[entry["cell"]], entry.pop("source")
        nulls.append(Mutant(name=name, cell=entry["cell"], find=entry["find"], replace=entry["replace"],
                            why=f"{entry.get('kind', 'null')}: {entry['why']}"))
    return nulls


def quality_tests(topic: str) -> dict[str, str]:
    """Quality-graded test cells (their source checks a metric against a bar) -> the answer
    cell that owns them (``test_<answer id>…``, the longest id)."""
    answers = list(solution_answers(topic))
    found = {}
    for cell in nbformat.read(solution_path(topic), as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id", "")
        if cell.cell_type == "code" and meta.get("grade") and "check_metric(" in cell.source:
            owners = [a for a in answers if gid.startswith(f"test_{a}")]
            if owners:
                found[gid] = max(owners, key=len)
    return found


def null_earned(result: Result, null: Mutant, quality: dict[str, str]) -> list[str]:
    """The quality-graded cells of the null's own task on which it earned points."""
    return [gid for gid, owner in quality.items() if owner == null.cell
            and result.cell_scores.get(gid, (0.0, 0.0))[0] > 0]


def write_submission(folder: Path, student: str, topic: str, nb: nbformat.NotebookNode) -> Path:
    path = folder / student / topic / f"{topic}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def dead_kernel_notebook(topic: str) -> nbformat.NotebookNode:
    """The solution, but its first answer cell kills the kernel."""
    answers = solution_answers(topic)
    first = next(iter(answers))
    answers[first] = "import os\nos._exit(1)\n" + answers[first]
    return student_notebook(topic, answers)


def tampered_notebook(topic: str) -> nbformat.NotebookNode:
    """The solution with a test cell's nbgrader ``grade`` flag flipped off."""
    nb = student_notebook(topic, solution_answers(topic))
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                     and c.cell_type == "code")
    test_cell.metadata["nbgrader"]["grade"] = False
    return nb


def build_submissions(topic: str, folder: Path, *, mutants: list[Mutant] | None = None,
                      broken: bool = True, nulls: list[Mutant] | None = None) -> None:
    """Write the validity submissions: ``solution``, ``blank``, one per mutant
    (``mutant-<name>``), one per null (``null-<name>``) and, with ``broken``,
    ``dead-kernel`` and ``tampered``."""
    answers = solution_answers(topic)
    write_submission(folder, "solution", topic, student_notebook(topic, answers))
    write_submission(folder, "blank", topic, nbformat.read(assignment_path(topic), as_version=4))
    for m in mutants if mutants is not None else load_mutants(topic):
        write_submission(folder, f"mutant-{m.name}", topic, student_notebook(topic, apply_mutant(answers, m)))
    for n in nulls or []:
        write_submission(folder, n.name, topic, student_notebook(topic, apply_mutant(answers, n)))
    if broken:
        write_submission(folder, "dead-kernel", topic, dead_kernel_notebook(topic))
        write_submission(folder, "tampered", topic, tampered_notebook(topic))


def mutant_lost_points(result: Result, mutant: Mutant) -> bool:
    """Did the mutant lose points on a test cell of its own task (``test_<cell>_*``)?"""
    own = [v for k, v in result.cell_scores.items() if k.startswith(f"test_{mutant.cell}")]
    return result.status == "graded" and any(score < top for score, top in own)


def check(topic: str, out: Path | None = None) -> list[tuple[str, str, str]]:
    """Grade every validity submission of ``topic``; return rows (submission, outcome, verdict)."""
    topic = resolve_topic(topic)
    mutants = load_mutants(topic)
    nulls = load_nulls(topic)
    quality = quality_tests(topic)
    with tempfile.TemporaryDirectory(prefix=f"genlab-check-{topic}-") as tmp:
        folder = Path(tmp) / "submitted"
        build_submissions(topic, folder, mutants=mutants, nulls=nulls)
        results = {r.student: r for r in grade(folder, topic, out or Path(tmp) / "grading")}
    rows = []
    sol, blank = results["solution"], results["blank"]
    rows.append(("solution", f"{sol.status} {sol.score:g}/{sol.autograded_max:g}",
                 "ok" if sol.status == "graded" and sol.score == sol.autograded_max > 0 else "FAIL"))
    rows.append(("blank", f"{blank.status} {blank.score:g}/{blank.autograded_max:g}",
                 "ok" if blank.status == "graded" and blank.score == 0 else "FAIL"))
    for m in mutants:
        r = results[f"mutant-{m.name}"]
        rows.append((f"mutant {m.name}", f"{r.status} {r.score:g}/{r.autograded_max:g}",
                     "caught" if mutant_lost_points(r, m) else "MISSED"))
    for n in nulls:
        r = results[n.name]
        earned = null_earned(r, n, quality)
        rows.append((n.name, f"{r.status} {r.score:g}/{r.autograded_max:g}",
                     f"EARNED {', '.join(earned)}" if earned else "held"))
    for name, expected in (("dead-kernel", "crashed"), ("tampered", "tampered")):
        r = results[name]
        rows.append((name, f"{r.status}: {r.reason[:70]}", "ok" if r.status == expected else "FAIL"))
    return rows


def adversarial_cases():
    """autograder/adversarial/cases.py as a module: the adversarial suite's submissions."""
    import importlib.util
    import sys

    from genlab.course import AUTOGRADER

    name = "genlab_adversarial_cases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, AUTOGRADER / "adversarial" / "cases.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[name]
