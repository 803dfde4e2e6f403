"""Each plausible bug of autograder/mutants/ loses points on its own task."""
import nbformat
import pytest

from genlab.course import solution_path, topics
from genlab.grading import grade
from genlab.validity import build_submissions, load_mutants, mutant_lost_points

CASES = [(t, m) for t in topics() for m in load_mutants(t)]


def test_every_topic_has_mutants_for_every_task():
    for topic in topics():
        code_answers = {c.metadata["nbgrader"]["grade_id"]
                        for c in nbformat.read(solution_path(topic), as_version=4).cells
                        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
        missing = code_answers - {m.cell for m in load_mutants(topic)}
        assert not missing, f"{topic}: no mutant for the answer cells {sorted(missing)}"


@pytest.mark.slow
@pytest.mark.parametrize("topic, mutant", CASES, ids=[f"{t[:2]}-{m.name}" for t, m in CASES])
def test_mutant_loses_points(topic, mutant, tmp_path):
    build_submissions(topic, tmp_path / "submitted", mutants=[mutant], broken=False)
    results = grade(tmp_path / "submitted", topic, tmp_path / "out",
                    students=[f"mutant-{mutant.name}"], progress=False)
    result = results[0]
    assert result.status == "graded", result.reason
    lost = {k: v for k, v in result.cell_scores.items() if v[0] < v[1] and k.startswith("test_")}
    assert mutant_lost_points(result, mutant), (
        f"mutant {mutant.name} ({mutant.why}) scored {result.score}/{result.autograded_max}; "
        f"it lost points only on {sorted(lost)}")
