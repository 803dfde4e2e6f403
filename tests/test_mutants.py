"""Each plausible bug of autograder/mutants/ loses points on its own task.

The mutants are replayed task by task in one kernel (genlab.grader.mutation), which costs one
notebook run per topic instead of one per mutant; one mutant per topic is also graded
through the real nbgrader pipeline to show that both agree."""
import nbformat
import pytest

from genlab.course import solution_path, topics
from genlab.grader.grading import grade
from genlab.grader.mutation import replay
from genlab.grader.validity import build_submissions, load_mutants, mutant_lost_points

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


def test_snapshot_restores_in_place_changes_into_the_same_objects():
    """What a mutant does to the kernel's tensors and networks is undone before the next one,
    and objects that hold them (an optimiser) still point at the restored ones."""
    import torch

    from genlab.grader.mutation import _RESTORE, _SNAPSHOT

    ns = {}
    exec("import torch\nnet = torch.nn.Linear(2, 2).requires_grad_(False).eval()\n"
         "opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)\n"
         "table = torch.zeros(3)\nalias = table\nwide = torch.ones(2)\n", ns)
    weight, table = ns["net"].weight.clone(), ns["table"]
    exec(_SNAPSHOT, ns)
    exec("net.weight.add_(1.0); net.requires_grad_(True).train(); table += 5\n"
         "wide = torch.ones(4); extra = 1", ns)                     # the mutant
    exec(_RESTORE, ns)
    assert torch.equal(ns["net"].weight, weight) and not ns["net"].weight.requires_grad
    assert not ns["net"].training
    assert ns["table"] is table and ns["alias"] is table and torch.equal(table, torch.zeros(3))
    assert ns["wide"].shape == (2,) and "extra" not in ns


def test_a_test_cell_belongs_to_the_longest_answer_id_it_names():
    from genlab.grader.mutation import _owner

    answers = ["controlnet", "controlnet_loss", "mask"]
    assert _owner("test_controlnet_loss_visible", answers) == "controlnet_loss"
    assert _owner("test_controlnet_module_hidden", answers) == "controlnet"
    assert _owner("figure", answers) is None
