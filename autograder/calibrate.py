"""Calibrate a topic's quality bars: print every `[metric]` the hidden tests report for the
reference solution over several seeds, and for each mutant and the blank release.

    python autograder/calibrate.py 01 --seeds 0 1 2 3 4

A bar belongs between the solution's worst seed and the best mutant that should fail it,
with margin; write the numbers next to the bar in the solution notebook.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import nbformat
import papermill

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genlab.course import resolve_topic, solution_path  # noqa: E402
from genlab.grader.grading import grade  # noqa: E402
from genlab.grader.validity import build_submissions, load_mutants  # noqa: E402

METRIC = re.compile(r"\[metric\] (.+?) = (\S+) \(bar (.+?)\)")


def metrics_of(nb: nbformat.NotebookNode) -> dict[str, float]:
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for name, value, _ in METRIC.findall(out.get("text", "")):
                found[name] = float(value)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topic")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--no-mutants", action="store_true")
    args = parser.parse_args()
    topic = resolve_topic(args.topic)
    os.environ.update({"GENLAB_PROFILE": "ci", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"})
    table: dict[str, dict[str, float]] = defaultdict(dict)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            out = Path(tmp) / f"seed{seed}.ipynb"
            try:
                papermill.execute_notebook(str(solution_path(topic)), str(out), parameters={"SEED": seed},
                                           progress_bar=False, cwd=tmp)
            except papermill.PapermillExecutionError as error:   # a bar the seed misses: keep its numbers
                print(f"solution seed {seed} stopped at cell {error.exec_count}: "
                      f"{error.evalue.splitlines()[0] if error.evalue else error.ename}", file=sys.stderr)
            for name, value in metrics_of(nbformat.read(out, as_version=4)).items():
                table[name][f"solution seed {seed}"] = value
        if not args.no_mutants:
            build_submissions(topic, Path(tmp) / "sub", broken=False)
            students = ["blank"] + [f"mutant-{m.name}" for m in load_mutants(topic)]
            grade(Path(tmp) / "sub", topic, Path(tmp) / "out", students=students, progress=False)
            for student in students:
                path = Path(tmp) / "out" / "autograded" / student / topic / f"{topic}.ipynb"
                if path.is_file():
                    for name, value in metrics_of(nbformat.read(path, as_version=4)).items():
                        table[name][student] = value
    for name, values in table.items():
        print(f"\n{name}")
        sol = [v for k, v in values.items() if k.startswith("solution")]
        if sol:
            print(f"  solution over {len(sol)} seeds: min {min(sol):.4g}  max {max(sol):.4g}")
        for who, v in values.items():
            print(f"  {who:<45} {v:.4g}")


if __name__ == "__main__":
    main()
