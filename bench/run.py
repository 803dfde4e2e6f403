"""Benchmarks of the course, printed as tables (`make bench`).

- every lecture and solution in the `ci` profile: wall time and the kernel's peak memory;
- grading one submission of each topic (its reference solution) with `genlab grade`.

Each notebook runs in a fresh child process so that its kernel's peak RSS can be read
from that process's RUSAGE_CHILDREN.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genlab.cli import format_table  # noqa: E402
from genlab.course import LECTURES, solution_path, topics  # noqa: E402


def _one(path: str) -> None:
    from genlab.demos import execute

    with tempfile.TemporaryDirectory() as tmp:
        _, seconds = execute(Path(path), profile="ci", cwd=Path(tmp))
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kib / 1024}))


def _measure(path: Path) -> dict:
    env = {**os.environ, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    run = subprocess.run([sys.executable, __file__, "--one", str(path)], capture_output=True,
                         text=True, env=env)
    if run.returncode:
        return {"seconds": float("nan"), "peak_mb": float("nan"), "error": run.stderr[-300:]}
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["total"] = time.perf_counter() - start
    return result


def _grade_time(topic: str) -> tuple[float, str]:
    from genlab.grading import grade
    from genlab.validity import build_submissions

    os.environ.update({"TQDM_DISABLE": "1", "MPLBACKEND": "Agg"})
    with tempfile.TemporaryDirectory() as tmp:
        build_submissions(topic, Path(tmp) / "sub", mutants=[], broken=False)
        start = time.perf_counter()
        [r] = grade(Path(tmp) / "sub", topic, Path(tmp) / "out", students=["solution"], progress=False)
        total = time.perf_counter() - start
    return total, f"{r.status} {r.score:g}/{r.autograded_max:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help="only this topic (slug)")
    args = parser.parse_args()
    if args.one:
        _one(args.one)
        return
    chosen = [t for t in topics() if not args.topic or t.startswith(args.topic)]
    print(f"genlab bench — {os.cpu_count()} CPU cores, profile ci\n")
    rows = []
    for topic in chosen:
        for kind, path in (("lecture", LECTURES / f"{topic}.ipynb"), ("solution", solution_path(topic))):
            if path.is_file():
                r = _measure(path)
                rows.append((f"{topic} {kind}", f"{r['seconds']:.1f}", f"{r['total']:.1f}" if "total" in r else "-",
                             f"{r['peak_mb']:.0f}", r.get("error", "").replace("\n", " ")[:60]))
    print(format_table(rows, ("notebook", "execute s", "with start s", "kernel peak MB", "error")))
    print()
    grading = [(topic, *_grade_time(topic)) for topic in chosen]
    print(format_table([(t, f"{s:.1f}", o) for t, s, o in grading], ("topic", "grade 1 submission s", "result")))


if __name__ == "__main__":
    main()
