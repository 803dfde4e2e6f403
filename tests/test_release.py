"""The committed student notebooks are exactly what nbgrader generates from the solutions,
and the notebooks follow the course's anatomy (docs/new-topic.md, "The solution notebook")."""
import filecmp
import json

import nbformat
import pytest

from genlab.course import ASSIGNMENTS, LECTURES, SOLUTIONS, assignment_path, solution_path, topics
from genlab.grader.release import release

TOPICS = topics()


def test_there_are_topics():
    assert "01-autoencoders-pca" in TOPICS


@pytest.mark.parametrize("topic", TOPICS)
def test_committed_release_equals_a_fresh_one(topic, tmp_path):
    fresh = release(topic, dest=tmp_path)
    committed = ASSIGNMENTS / topic
    diff = filecmp.dircmp(committed, fresh)
    assert not (diff.left_only or diff.right_only or diff.diff_files), (
        f"assignments/{topic} is stale: run `genlab release {topic}` and commit "
        f"(only committed: {diff.left_only}, only fresh: {diff.right_only}, differ: {diff.diff_files})")
    assert json.loads(assignment_path(topic).read_text()) == json.loads((fresh / f"{topic}.ipynb").read_text())


@pytest.mark.parametrize("topic", TOPICS)
def test_release_has_no_answers_or_hidden_tests(topic):
    text = assignment_path(topic).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*/*.ipynb")) + sorted(ASSIGNMENTS.glob("*/*.ipynb"))
                         + sorted(LECTURES.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("topic", TOPICS)
def test_solution_anatomy(topic):
    nb = nbformat.read(solution_path(topic), as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", []), "first code cell must be tagged `parameters`"
    graded = [c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    auto = sum(m["points"] for m in graded if not m["solution"])
    manual = sum(m["points"] for m in graded if m["solution"])
    assert auto + manual == 100, f"{topic} totals {auto + manual} points, not 100"
    assert auto >= 80
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
               and not c.metadata["nbgrader"].get("grade")]
    for cell in answers:
        gid = cell.metadata["nbgrader"]["grade_id"]
        assert "### BEGIN SOLUTION" in cell.source, f"answer cell {gid} has no solution region"
        assert any(i.startswith(f"test_{gid}") for i in ids), f"answer cell {gid} has no test cell test_{gid}_*"


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_a_lecture(topic):
    assert (LECTURES / f"{topic}.ipynb").is_file()


@pytest.mark.parametrize("topic", TOPICS)
def test_readme_row_states_the_topic_as_it_is(topic):
    """The README's "ready: N tasks, A autograded + W written points, M mutants, K nulls" is
    counted from the solution and autograder/, so it cannot drift from them."""
    import re

    from genlab.course import REPO_ROOT
    from genlab.grader.validity import load_mutants, load_nulls

    cells = [(c.cell_type, c.metadata.get("nbgrader", {})) for c in nbformat.read(solution_path(topic), 4).cells]
    counted = (sum(kind == "code" and m.get("solution", False) for kind, m in cells),
               sum(m.get("points", 0) for kind, m in cells if kind == "code" and m.get("grade")),
               sum(m.get("points", 0) for kind, m in cells if kind == "markdown" and m.get("grade")),
               len(load_mutants(topic)), len(load_nulls(topic)))
    row = next((line for line in (REPO_ROOT / "README.md").read_text().splitlines()
                if line.startswith(f"| {topic[:2]} |")), None)
    assert row, f"README.md has no row for topic {topic}"
    if "ready:" not in row:
        pytest.skip(f"topic {topic} is not marked ready")
    stated = re.search(r"ready: (\d+) tasks?, (\d+) autograded \+ (\d+) written points, (\d+) mutants?, "
                       r"(\d+) nulls?", row)
    assert stated, f"README row of {topic} does not say 'ready: N tasks, A autograded + W written points, ...'"
    expected = "ready: {} tasks, {} autograded + {} written points, {} mutants, {} nulls".format(*counted)
    assert tuple(int(g) for g in stated.groups()) == counted, f"README row of {topic}: write '{expected}'"
