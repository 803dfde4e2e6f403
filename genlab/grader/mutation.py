"""Mutation testing of a topic's tests in one kernel: every mutant, the cost of its task only.

Grading a mutant through nbgrader costs a whole notebook run (~20 s a topic), so twelve
topics with a dozen mutants each would take an hour. This module runs the reference
notebook (solution source, hidden tests included) once, and at the end of each task replays
that task with every mutant of its answer cell:

1. snapshot the kernel: the global names, a copy of every tensor and network among them,
   and the torch / numpy / random generator states;
2. run the mutated answer cell, the cells after it up to the task's last test cell, and
   record which of the task's test cells fail: ``test_<answer grade_id>…``, owned by the
   longest answer id that prefixes it (``test_controlnet_loss_visible`` belongs to
   ``controlnet_loss``, not to ``controlnet``);
3. restore the snapshot, so the next mutant and the next task see the reference state: the
   names, and the values of tensors and networks a mutant changed in place (weights,
   ``requires_grad`` flags, train/eval mode), written back into the same objects.

A mutant is caught when one of its own task's test cells fails, which is the condition
under which nbgrader takes points from it. `genlab check` still grades every mutant through
the real pipeline; the test suite uses this replay and cross-checks one mutant per topic
against the pipeline.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError

from genlab.course import resolve_topic, solution_path
from genlab.demos import PollingNotebookClient
from genlab.grader.cells import Role, grade_id, role
from genlab.grader.judge import Judge, KernelLink, setup_sources
from genlab.grader.validity import Mutant, apply_mutant, load_mutants, solution_answers

_SNAPSHOT = """
import copy as _gl_copy, random as _gl_random, numpy as _gl_np, torch as _gl_torch
def _gl_keep(namespace):
    # a copy of every tensor's values and every network, beside the object itself
    kept = {}
    for name, value in namespace.items():
        try:
            if isinstance(value, _gl_torch.Tensor):
                kept[name] = (value, value.detach().clone())
            elif isinstance(value, _gl_torch.nn.Module):
                kept[name] = (value, _gl_copy.deepcopy(value))
        except Exception:      # e.g. a tensor in the middle of a graph: left as it is
            pass
    return kept
_gl_snapshot = (dict(globals()), _gl_keep(globals()), _gl_torch.get_rng_state(),
                _gl_np.random.get_state(), _gl_random.getstate())
"""
_RESTORE = """
def _gl_put_back(namespace, kept):
    # the same objects with their old values, so that optimisers, closures and aliases that
    # hold them stay valid; an object the mutant reshaped is replaced by its copy
    for name, (value, copy) in kept.items():
        try:
            with _gl_torch.no_grad():
                if isinstance(value, _gl_torch.Tensor):
                    if (value.shape, value.dtype) != (copy.shape, copy.dtype):
                        raise ValueError("reshaped")
                    value.data.copy_(copy)
                else:
                    value.load_state_dict(copy.state_dict())
                    for (_, p), (_, q) in zip(value.named_parameters(), copy.named_parameters()):
                        p.requires_grad_(q.requires_grad)
                    for (_, m), (_, n) in zip(value.named_modules(), copy.named_modules()):
                        m.training = n.training
            namespace[name] = value
        except Exception:
            namespace[name] = copy
def _gl_restore(snapshot, namespace, put_back=_gl_put_back):   # bound now: clear() drops it
    saved, kept, torch_state, numpy_state, random_state = snapshot
    namespace.clear()
    namespace.update(saved)
    put_back(namespace, kept)
    _gl_torch.set_rng_state(torch_state)
    _gl_np.random.set_state(numpy_state)
    _gl_random.setstate(random_state)
_gl_restore(_gl_snapshot, globals())
"""


@dataclass
class MutantOutcome:
    mutant: Mutant
    failed_tests: list[str] = field(default_factory=list)     # own test cells that failed
    other_failures: list[str] = field(default_factory=list)   # other cells that raised
    seconds: float = 0.0

    @property
    def caught(self) -> bool:
        return bool(self.failed_tests)


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _strip_markers(source: str) -> str:
    return "\n".join(ln for ln in source.splitlines()
                     if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def _owner(test_id: str, answer_ids) -> str | None:
    """The answer cell a test cell belongs to: the longest answer id a ``test_<id>`` prefix
    of ``test_id`` names (None for a cell that is not a test)."""
    owners = [a for a in answer_ids if test_id.startswith(f"test_{a}")]
    return max(owners, key=len) if owners else None


def replay(topic: str, mutants: list[Mutant] | None = None, *, timeout: int = 300,
           cwd: Path | None = None, stop_at_first: bool = False) -> tuple[list[MutantOutcome], list[str]]:
    """Run ``topic``'s solution once and replay each task with its mutants.

    With ``stop_at_first`` a mutant's replay stops at its first failing test cell (enough
    to know it is caught; the test suite uses this), so ``failed_tests`` lists that one.
    Returns (outcomes, reference_failures): the second lists test cells that failed for
    the reference itself (it should be empty)."""
    topic = resolve_topic(topic)
    mutants = load_mutants(topic) if mutants is None else mutants
    answers = solution_answers(topic)
    by_cell: dict[str, list[Mutant]] = {}
    for m in mutants:
        apply_mutant(answers, m)                      # validates find/replace up front
        by_cell.setdefault(m.cell, []).append(m)
    nb = nbformat.read(solution_path(topic), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = _strip_markers(cell.source)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    position = {_grade_id(c): k for k, (_, c) in enumerate(code) if _grade_id(c)}
    last_test = {}                                    # answer id -> index in ``code`` of its last test
    for k, (_, c) in enumerate(code):
        owner = _owner(_grade_id(c) or "", answers)
        if owner in by_cell:
            last_test[owner] = k
    missing = sorted(set(by_cell) - set(last_test))
    if missing:
        raise ValueError(f"{topic}: no test cell named test_<id>_* for answer cells {missing}")

    client = PollingNotebookClient(nb, timeout=timeout, kernel_name="python3",
                                   resources={"metadata": {"path": str(cwd or Path.cwd())}})
    outcomes: list[MutantOutcome] = []
    reference_failures: list[str] = []

    judge: list = []                                  # the Judge, once the kernel runs
    last_error: list = [""]

    def run(source: str, cell=None) -> str | None:
        """Execute ``source`` in the kernel, or a test cell in the judge as the grader would;
        return the error name, or None."""
        if cell is not None and role(cell) is Role.TEST:
            if not judge:
                judge.append(Judge(KernelLink(client.km.connection_file), setup_sources(nb)))
            outcome = judge[0].run_cell(source, grade_id(cell), budget_s=timeout)
            last_error[:] = [f"{outcome.ename}: {outcome.evalue}"]
            return None if outcome.passed else (outcome.ename or "error")
        scratch = nbformat.v4.new_code_cell(source)
        try:
            client.execute_cell(scratch, 0, store_history=False)
        except CellExecutionError as error:
            last_error[:] = [f"{error.ename}: {error.evalue}"]
            return error.ename or "error"
        return None

    env_before = dict(os.environ)
    os.environ.setdefault("GENLAB_PROFILE", "ci")
    try:
        with client.setup_kernel():
            for k, (_, cell) in enumerate(code):
                if run(cell.source, cell) and (_grade_id(cell) or "").startswith("test_"):
                    reference_failures.append(_grade_id(cell))
                    if os.environ.get("GENLAB_REPLAY_VERBOSE"):
                        print(f"{_grade_id(cell)}: {last_error[0][:600]}", flush=True)
                for answer, end in last_test.items():
                    if end != k:
                        continue
                    start = position[answer]
                    for m in by_cell[answer]:
                        began = time.perf_counter()
                        outcome = MutantOutcome(m)
                        run(_SNAPSHOT)
                        judge_names = dict(judge[0].namespace) if judge else None
                        mutated = apply_mutant(answers, m)[answer]
                        for j in range(start, end + 1):
                            if outcome.failed_tests and stop_at_first:
                                break             # caught: the rest of the task costs time only
                            source = mutated if j == start else code[j][1].source
                            error = run(source, code[j][1])
                            gid = _grade_id(code[j][1]) or f"cell {code[j][0]}"
                            if error and (j == start or _owner(gid, answers) == answer):
                                # an answer cell that raises leaves its names undefined in a
                                # fresh grading kernel, so its tests fail there: caught
                                outcome.failed_tests.append(gid if j != start else f"{gid} raised {error}")
                            elif error:
                                outcome.other_failures.append(f"{gid}: {error}")
                        if run(_RESTORE):
                            raise RuntimeError(f"{topic}: could not restore the kernel after {m.name}")
                        if judge_names is not None:
                            judge[0].namespace.clear()
                            judge[0].namespace.update(judge_names)
                        outcome.seconds = time.perf_counter() - began
                        outcomes.append(outcome)
    finally:
        if judge:
            judge[0].link.close()
        os.environ.clear()
        os.environ.update(env_before)
    return outcomes, reference_failures
