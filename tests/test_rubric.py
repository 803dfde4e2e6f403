"""Written questions: every topic has at least three, one of them a derivation, each with a model
answer and a rubric whose points add up to the cell's; the rubric reaches the grader (the
autograded notebook that Formgrader shows) and never the student (release, feedback)."""
import copy
import re

import nbformat
import pytest

from genlab.course import solution_path, topics
from genlab.grader.cells import Role, grade_id, role
from genlab.grader.release import release
from genlab.grader.rubric import KINDS, add_grader_notes, is_note, rubrics, strip_grader_notes

TOPICS = topics()
GRADED_TOPIC = "01-autoencoders-pca"


def _source(topic):
    return nbformat.read(solution_path(topic), as_version=4)


def _fragments(rubric, topic: str = GRADED_TOPIC) -> list[str]:
    """Runs of plain words of a model answer and rubric, long enough to be recognised: they read
    the same in markdown source and in HTML rendered from it (no markup, no LaTeX). Runs that
    the notebook's own text (task statements, code) also contains are no secret and left out."""
    course = "\n".join(c.source for c in _source(topic).cells if role(c) is not Role.WRITTEN)
    runs = (f.strip() for f in re.findall(r"[A-Za-z ,;]{32,}", rubric.text))
    return [f for f in runs if len(f) >= 32 and f not in course]


def _student_answer(gid: str) -> str:
    return f"My own answer to {gid}: the loss only sees the product, so the basis is arbitrary."


@pytest.mark.parametrize("topic", TOPICS)
def test_three_written_questions_with_rubrics(topic):
    nb = _source(topic)
    written = [c for c in nb.cells if role(c) is Role.WRITTEN]
    found = rubrics(nb)
    assert len(written) >= 3, f"{topic}: {len(written)} written questions, at least 3 expected"
    for cell in written:
        gid = grade_id(cell)
        assert cell.cell_type == "markdown", f"{topic} {gid}: a written answer is a markdown cell"
        assert gid in found, f"{topic} {gid}: no model answer and rubric inside a solution region"
        r = found[gid]
        assert r.kind in KINDS, f"{topic} {gid}: the rubric heading must say one of {KINDS}"
        assert len(r.items) >= 2, f"{topic} {gid}: a rubric lists what earns each point ({r.items})"
        assert r.total == r.points > 0, f"{topic} {gid}: rubric points {r.total} != cell points {r.points}"
        answer = r.text.split("**Rubric**")[0]
        assert answer.startswith("**Model answer.**") and len(answer) > 200, f"{topic} {gid}: no model answer"
    assert any(r.kind == "derivation" for r in found.values()), f"{topic}: no written question is a derivation"
    prompts = " ".join(c.source for c in nb.cells if c.cell_type == "markdown" and role(c) is not Role.WRITTEN)
    for r in found.values():
        qn = re.sub(r"q(\d+)_answer", r"Q\1", r.grade_id)
        assert re.search(rf"\*\*{qn} \({r.points:g} points", prompts), f"{topic}: the prompt of {qn} shows other points"


@pytest.mark.parametrize("topic", TOPICS)
def test_release_shows_no_rubric_or_model_answer(topic, tmp_path):
    released = nbformat.read(release(topic, dest=tmp_path) / f"{topic}.ipynb", as_version=4)
    text = "\n".join(c.source for c in released.cells)
    for marker in ("Model answer", "**Rubric**", "GRADER ONLY", "BEGIN SOLUTION"):
        assert marker not in text
    for gid, r in rubrics(_source(topic)).items():
        leaked = [f for f in _fragments(r, topic) if f in text]
        assert not leaked, f"{topic} {gid}: released notebook shows {leaked[0][:80]!r}"
        cell = next(c for c in released.cells if grade_id(c) == gid)
        assert cell.source == "YOUR ANSWER HERE"


def test_notes_go_after_each_written_answer_and_come_out_again(tmp_path):
    source = _source(GRADED_TOPIC)
    nb = nbformat.read(release(GRADED_TOPIC, dest=tmp_path) / f"{GRADED_TOPIC}.ipynb", as_version=4)
    forged = nbformat.v4.new_markdown_cell("GRADER ONLY: full marks")
    forged.metadata["genlab"] = {"grader_note": "q1_answer"}
    nb.cells.insert(3, forged)
    before = [c for c in nb.cells if not is_note(c)]
    annotated = copy.deepcopy(nb)
    assert add_grader_notes(annotated, source) == len(rubrics(source)) >= 3
    assert "full marks" not in " ".join(c.source for c in annotated.cells), "a submission's own note must go"
    for i, cell in enumerate(annotated.cells):
        if role(cell) is Role.WRITTEN:
            note = annotated.cells[i + 1]
            assert is_note(note) and note.metadata["genlab"]["grader_note"] == grade_id(cell)
            assert rubrics(source)[grade_id(cell)].text in note.source
    again = copy.deepcopy(annotated)
    add_grader_notes(again, source)
    assert again.cells == annotated.cells, "adding the notes twice gives the same notebook"
    assert strip_grader_notes(annotated) == len(rubrics(source))
    assert annotated.cells == before


@pytest.fixture(scope="module")
def graded_student(tmp_path_factory):
    """One submission of topic 01 (the reference code, written answers of its own) graded by
    `genlab grade`'s pipeline; also its feedback generated again as Formgrader would, from the
    nbgrader_config.py left in the output folder."""
    from genlab.grader.grading import grade
    from genlab.grader.validity import solution_answers, student_notebook, write_submission

    root = tmp_path_factory.mktemp("rubric")
    answers = solution_answers(GRADED_TOPIC)
    for gid in rubrics(_source(GRADED_TOPIC)):
        answers[gid] = _student_answer(gid)
    write_submission(root / "submitted", "alice", GRADED_TOPIC, student_notebook(GRADED_TOPIC, answers))
    out = root / "out"
    (result,) = grade(root / "submitted", GRADED_TOPIC, out, progress=False)
    return out, result


def test_formgrader_shows_the_rubric_beside_each_written_answer(graded_student):
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    out, result = graded_student
    assert result.status == "graded" and result.score == result.autograded_max, (result.status, result.reason)
    path = out / "autograded" / "alice" / GRADED_TOPIC / f"{GRADED_TOPIC}.ipynb"
    nb = nbformat.read(path, as_version=4)
    found = rubrics(_source(GRADED_TOPIC))
    for i, cell in enumerate(nb.cells):
        if role(cell) is Role.WRITTEN:
            assert _student_answer(grade_id(cell)) in cell.source
            assert is_note(nb.cells[i + 1]) and found[grade_id(cell)].text in nb.cells[i + 1].source
    # rendered the way Formgrader renders a submission (its exporter and template)
    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    html, _ = exporter.from_filename(str(path), resources={
        "assignment_id": GRADED_TOPIC, "notebook_id": GRADED_TOPIC, "submission_id": "x", "index": 0,
        "total": 1, "base_url": "", "student": "alice", "last_name": "", "first_name": "",
        "notebook_path": ""})
    assert html.count("GRADER ONLY") == len(found)
    assert "Rubric" in html and _student_answer("q3_answer") in html
    for gid, r in found.items():    # what the feedback test looks for is there to be found
        assert len(_fragments(r)) >= 5 and all(f in html for f in _fragments(r)), gid


def _assert_no_secrets(html: str) -> None:
    assert "GRADER ONLY" not in html and "Model answer" not in html and "Rubric" not in html
    for gid, r in rubrics(_source(GRADED_TOPIC)).items():
        assert _student_answer(gid) in html, "the student's own answer stays in the feedback"
        leaked = [f for f in _fragments(r) if f in html]
        assert not leaked, f"feedback shows the rubric of {gid}: {leaked[0]!r}"


def test_feedback_html_has_no_rubric(graded_student):
    out, _ = graded_student
    _assert_no_secrets((out / "feedback" / "alice" / GRADED_TOPIC / f"{GRADED_TOPIC}.html").read_text())


def test_feedback_generated_from_formgrader_has_no_rubric(graded_student, tmp_path):
    """After the written answers are graded, the instructor regenerates the feedback from
    Formgrader, which reads the nbgrader_config.py of the grading folder."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import PyFileConfigLoader

    out, _ = graded_student
    config = PyFileConfigLoader("nbgrader_config.py", path=str(out)).load_config()
    config.CourseDirectory.feedback_directory = str(tmp_path / "feedback")
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    outcome = api.generate_feedback(GRADED_TOPIC, "alice", force=True)
    assert outcome["success"], outcome.get("log")
    _assert_no_secrets((tmp_path / "feedback" / "alice" / GRADED_TOPIC / f"{GRADED_TOPIC}.html").read_text())
