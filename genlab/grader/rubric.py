"""Model answers and rubrics of the written questions, for the person who grades them.

A written question's answer cell in the solution notebook (a markdown cell with nbgrader
``solution`` and ``grade``) holds its model answer and rubric inside a solution region::

    ### BEGIN SOLUTION
    **Model answer.** ...

    **Rubric** (derivation, 4 points)
    - **2 pts** the step that earns two points ...
    - **1 pt** ...
    ### END SOLUTION

``genlab release`` (nbgrader's ClearSolutions) replaces the whole region by "YOUR ANSWER
HERE", so the student never sees it. When a class is graded, :func:`add_grader_notes` puts
a copy of it, clearly marked, right after each written answer of the autograded notebook,
which is what Formgrader shows while grading; :class:`StripGraderNotes` removes those cells
again before the feedback HTML is made. The notes are recognised by their cell metadata
(``{"genlab": {"grader_note": <grade_id>}}``), never by their text; cells of the submission
that carry that metadata are dropped before the notes go in, and a student's markdown is
HTML-escaped (:func:`genlab.grader.grading.escape_student_markdown`), so the red banner of a
note cannot be imitated by an answer.

A rubric line is ``- **N pt** what earns it`` or ``- **N pts** ...``; the points of a
question's lines add up to the cell's nbgrader points. The rubric's heading says whether the
question is a ``derivation`` (the student derives a result) or an ``explanation``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from genlab.grader.cells import Role, grade_id, nbgrader_meta, role

NOTE_KEY = "grader_note"
KINDS = ("derivation", "explanation")
_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
_ITEM = re.compile(r"^\s*[-*]\s+\*\*(\d+(?:\.\d+)?)\s*pts?\*\*", re.M)
_HEADING = re.compile(r"^\*\*Rubric\*\*\s*\(([^)]*)\)", re.M)
BANNER = ('<div style="border:2px solid #b00020; background:#fdecee; padding:4px 8px; margin:4px 0">'
          '<b>GRADER ONLY: model answer and rubric for <code>{gid}</code> ({points:g} points).</b> '
          'Inserted by <code>genlab grade</code>; the student does not see it and it is removed from '
          'the feedback.</div>')


@dataclass
class Rubric:
    grade_id: str
    points: float                       # the cell's nbgrader points
    text: str                           # model answer and rubric, as written in the solution
    kind: str = ""                      # "derivation" or "explanation" (from the rubric heading)
    items: list[float] = field(default_factory=list)   # the points of each rubric line

    @property
    def total(self) -> float:
        return sum(self.items)


def parse_cell(cell) -> Rubric | None:
    """The rubric of a written answer cell of a solution notebook (None when it has none)."""
    if role(cell) is not Role.WRITTEN:
        return None
    match = _REGION.search(cell.source)
    if not match:
        return None
    text = match.group(1).strip()
    heading = _HEADING.search(text)
    kind = next((k for k in KINDS if heading and k in heading.group(1).lower()), "")
    items = [float(p) for p in _ITEM.findall(text[heading.start():] if heading else "")]
    return Rubric(grade_id(cell), float(nbgrader_meta(cell).get("points", 0)), text, kind, items)


def rubrics(source: nbformat.NotebookNode) -> dict[str, Rubric]:
    """Every written question's rubric in a solution notebook, by grade_id."""
    found = (parse_cell(c) for c in source.cells)
    return {r.grade_id: r for r in found if r is not None}


def is_note(cell) -> bool:
    meta = cell.get("metadata", {}).get("genlab")
    return isinstance(meta, dict) and NOTE_KEY in meta


def note_cell(rubric: Rubric, taken: set = frozenset()) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        BANNER.format(gid=rubric.grade_id, points=rubric.points) + "\n\n" + rubric.text)
    cell.metadata["genlab"] = {NOTE_KEY: rubric.grade_id}
    cell["id"] = base = f"grader-note-{rubric.grade_id}"[:56]     # the same on every run, unique
    n = 0
    while cell["id"] in taken:
        n += 1
        cell["id"] = f"{base}-{n}"
    return cell


def add_grader_notes(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> int:
    """Put the source's model answer and rubric after each written answer of ``nb`` (an
    autograded notebook), in place; cells of ``nb`` already marked as notes are removed first.
    Returns the number of notes inserted."""
    found = rubrics(source)
    kept = [c for c in nb.cells if not is_note(c)]
    taken = {c.get("id") for c in kept}
    cells, added = [], 0
    for cell in kept:
        cells.append(cell)
        rubric = found.get(grade_id(cell)) if role(cell) is Role.WRITTEN else None
        if rubric is not None:
            note = note_cell(rubric, taken)
            taken.add(note["id"])
            cells.append(note)
            added += 1
    nb.cells = cells
    return added


def strip_grader_notes(nb: nbformat.NotebookNode) -> int:
    """Remove the grader's notes from ``nb`` in place; returns how many there were."""
    before = len(nb.cells)
    nb.cells = [c for c in nb.cells if not is_note(c)]
    return before - len(nb.cells)


class StripGraderNotes(NbGraderPreprocessor):
    """For feedback: the grader-only notes (model answers, rubrics) leave the notebook."""

    def preprocess(self, nb, resources):
        strip_grader_notes(nb)
        return nb, resources


# The feedback pipeline, by name: also written into the nbgrader_config.py of a grading folder,
# so that feedback generated from Formgrader after the written answers are graded strips the
# same things as `genlab grade`'s own.
FEEDBACK_PREPROCESSORS = ("nbgrader.preprocessors.GetGrades",
                          "genlab.grader.grading.StripHiddenTests",
                          "genlab.grader.rubric.StripGraderNotes",
                          "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor")
