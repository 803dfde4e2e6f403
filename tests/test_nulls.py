"""Null submissions (autograder/nulls/): answers a student could hand in without the topic.
None may earn a point of a quality-graded test cell of its own task. The nulls are replayed
task by task like the mutants (test cells judged outside the kernel, as when graded); one
null per topic is also graded through the real pipeline."""
import pytest

from genlab.course import topics
from genlab.grader.grading import grade
from genlab.grader.mutation import replay
from genlab.grader.validity import build_submissions, load_nulls, null_earned, quality_tests

TOPICS = [t for t in topics() if load_nulls(t)]


def test_nulls_name_real_answer_cells_and_their_tasks_have_quality_bars():
    assert TOPICS, "no topic has null submissions"
    for topic in TOPICS:
        quality = quality_tests(topic)
        for null in load_nulls(topic):
            assert null.cell in quality.values(), f"{topic} {null.name}: its task has no quality-graded test"


@pytest.mark.slow
@pytest.mark.parametrize("topic", TOPICS)
def test_no_null_earns_a_quality_point(topic, tmp_path):
    nulls = load_nulls(topic)
    quality = quality_tests(topic)
    outcomes, reference_failures = replay(topic, nulls, cwd=tmp_path)
    assert not reference_failures, f"the reference solution failed {reference_failures}"
    earned = []
    for o in outcomes:
        own = [g for g, owner in quality.items() if owner == o.mutant.cell]
        passed = [g for g in own if g not in o.failed_tests]
        print(f"{o.mutant.name:28s} {'EARNED ' + ', '.join(passed) if passed else 'held':40s} {o.seconds:5.1f} s")
        if passed:
            earned.append(f"{o.mutant.name} ({o.mutant.why}): {', '.join(passed)}")
    assert not earned, f"{topic}: nulls that earned quality points: {earned}"
    print(f"[metric] {topic} nulls held = {len(outcomes)}/{len(outcomes)}")


@pytest.mark.slow
@pytest.mark.parametrize("topic", TOPICS)
def test_the_pipeline_agrees_on_the_first_null(topic, tmp_path):
    null = load_nulls(topic)[0]
    build_submissions(topic, tmp_path / "submitted", mutants=[], broken=False, nulls=[null])
    [result] = grade(tmp_path / "submitted", topic, tmp_path / "out", students=[null.name], progress=False)
    assert result.status == "graded", result.reason
    assert not null_earned(result, null, quality_tests(topic)), result.cell_scores
