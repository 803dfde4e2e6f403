"""What a notebook cell is to the grader, decided in one place."""
from __future__ import annotations

from enum import Enum


class Role(Enum):
    ANSWER = "answer"      # code the student writes (nbgrader solution cell, not graded)
    WRITTEN = "written"    # a manually graded answer (solution and grade: markdown or code)
    TEST = "test"          # an autograded test cell (grade, not solution): code of the course
    LOCKED = "locked"      # a read-only cell of the course (set-up, figures, training)
    FREE = "free"          # a cell without nbgrader metadata (the student's own)


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def role(cell) -> Role:
    meta = nbgrader_meta(cell)
    if not meta:
        return Role.FREE
    if meta.get("solution"):
        return Role.WRITTEN if meta.get("grade") else Role.ANSWER
    if meta.get("grade"):
        return Role.TEST if cell.get("cell_type") == "code" else Role.WRITTEN
    return Role.LOCKED if meta.get("locked") else Role.FREE


def is_course_code(cell) -> bool:
    """Locked and test cells: their source is the course's, not the student's."""
    return role(cell) in (Role.TEST, Role.LOCKED)
