"""Each plausible bug of autograder/mutants/ loses points on its own task.

The mutants are replayed task by task in one kernel (genlab.mutation), which costs one
notebook run per topic instead of one per mutant; one mutant per topic is also graded
through the real nbgrader pipeline to show that both agree."""
import nbformat
import pytest

from genlab.course import solution_path, topics
from genlab.grading import grade
from genlab.mutation import replay
from genlab.validity import build_submissions, load_mutants, mutant_lost_points

TOPICS = [t for t in topics() if load_mutants(t)]


def test_every_topic_has_mutants_for_every_task():
    for topic in topics():
        code_answers = {c.metadata["nbgrader"]["grade_id"]
                        for c in nbformat.read(solution_path(topic), as_version=4).cells
                        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
        missing = code_answers - {m.cell for m in load_mutants(topic)}
        assert not missing, f"{topic}: no mutant for the answer cells {sorted(missing)}"


@pytest.mark.slow
@pytest.mark.parametrize("topic", TOPICS)
def test_every_mutant_fails_a_test_of_its_own_task(topic, tmp_path):
    outcomes, reference_failures = replay(topic, cwd=tmp_path, stop_at_first=True)
    assert not reference_failures, f"the reference solution failed {reference_failures}"
    mutants = load_mutants(topic)
    assert [o.mutant.name for o in outcomes] == [m.name for m in mutants]
    for o in outcomes:
        print(f"{o.mutant.name:34s} {'caught' if o.caught else 'MISSED':7s} {o.seconds:5.1f} s  "
              f"{', '.join(o.failed_tests)}")
    missed = [f"{o.mutant.name} ({o.mutant.why})" for o in outcomes if not o.caught]
    assert not missed, f"{topic}: mutants that lost no points on their own task: {missed}"
    print(f"[metric] {topic} mutation score = {len(outcomes) - len(missed)}/{len(outcomes)}")


@pytest.mark.slow
@pytest.mark.parametrize("topic", TOPICS)
def test_the_pipeline_agrees_with_the_replay(topic, tmp_path):
    """The first mutant of each topic, graded by nbgrader like a real submission."""
    mutant = load_mutants(topic)[0]
    build_submissions(topic, tmp_path / "submitted", mutants=[mutant], broken=False)
    [result] = grade(tmp_path / "submitted", topic, tmp_path / "out",
                     students=[f"mutant-{mutant.name}"], progress=False)
    assert result.status == "graded", result.reason
    assert mutant_lost_points(result, mutant), f"{mutant.name} scored {result.score}/{result.autograded_max}"
