"""Benchmarks of the course, printed as tables (`make bench`).

- every lecture and solution in the `ci` profile: wall time and the kernel's peak memory;
- grading one submission of each topic (its reference solution) with `genlab grade`;
- `python bench/run.py grading [--n 50]`: the sandbox's overhead per submission (bubblewrap
  vs rlimits only, on the cheap adversarial fixture) and the throughput of grading ``--n``
  copies of topic 01's solution with 1 and with 2 workers;
- `python bench/run.py --profile cpu` (or `--profile gpu --smoke`): the notebooks in another
  profile (the README's profile table), without the grading table.

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
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genlab.course import LECTURES, solution_path, topics  # noqa: E402
from genlab.tables import format_table  # noqa: E402

CI_BUDGET_S = 30     # the ci profile's promise per notebook (genlab/profiles.py)


def _one(path: str, profile: str, smoke: bool) -> None:
    from genlab.demos import execute

    with tempfile.TemporaryDirectory() as tmp:
        _, seconds = execute(Path(path), profile=profile, cwd=Path(tmp), timeout=None if profile != "ci" else 600,
                             env={"GENLAB_SMOKE": "1", "GENLAB_DEVICE": "cpu"} if smoke else None)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)   # the kernel, which has ended
    print(json.dumps({"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024,
                      "cpu_s": usage.ru_utime + usage.ru_stime}))


def _measure(path: Path, profile: str = "ci", smoke: bool = False) -> dict:
    # as the grader runs a kernel (genlab.grader.grading.KERNEL_ENV): OpenMP threads that spin
    # while they wait made a loaded machine's kernels burn 5-10x the CPU time
    env = {**os.environ, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg", "OMP_WAIT_POLICY": "PASSIVE"}
    start = time.perf_counter()
    run = subprocess.run([sys.executable, __file__, "--one", str(path), "--profile", profile,
                          *(["--smoke"] if smoke else [])], capture_output=True, text=True, env=env)
    if run.returncode:
        return {"seconds": float("nan"), "peak_mb": float("nan"), "cpu_s": float("nan"), "error": run.stderr[-300:]}
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["total"] = time.perf_counter() - start
    return result


def _grade_time(topic: str) -> tuple[float, str]:
    from genlab.grader.grading import grade
    from genlab.grader.validity import build_submissions

    os.environ.update({"TQDM_DISABLE": "1", "MPLBACKEND": "Agg"})
    with tempfile.TemporaryDirectory() as tmp:
        build_submissions(topic, Path(tmp) / "sub", mutants=[], broken=False)
        start = time.perf_counter()
        [r] = grade(Path(tmp) / "sub", topic, Path(tmp) / "out", students=["solution"], progress=False)
        total = time.perf_counter() - start
    return total, f"{r.status} {r.score:g}/{r.autograded_max:g}"


def _grade_class(folder: Path, topic: str, out: Path, *, workers: int = 1, bwrap: bool = True,
                 source: Path | None = None) -> tuple[float, list]:
    from genlab.grader.grading import grade

    saved = os.environ.get("GENLAB_BWRAP")
    if not bwrap:
        os.environ["GENLAB_BWRAP"] = "none"
    try:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = grade(folder, topic, out, workers=workers, source=source, progress=False,
                            log=lambda *a: None)
        return time.perf_counter() - start, results
    finally:
        if saved is None:
            os.environ.pop("GENLAB_BWRAP", None)
        else:
            os.environ["GENLAB_BWRAP"] = saved


def _copies(folder: Path, topic: str, n: int, nb) -> None:
    from genlab.grader.validity import write_submission

    for i in range(n):
        write_submission(folder, f"student-{i:03d}", topic, nb)


def bench_grading(n: int, overhead_n: int = 6) -> None:
    """Sandbox overhead per submission, and throughput with 1 and 2 workers."""
    import contextlib
    import io

    from genlab.grader.sandbox import sandbox_kind
    from genlab.grader.validity import adversarial_cases, solution_answers, student_notebook

    cases = adversarial_cases()
    print(f"genlab bench grading — {os.cpu_count()} CPU cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}, sandbox {sandbox_kind()[0]}\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _copies(tmp / "fixture", cases.TOPIC, overhead_n, cases.answers(cases.release_notebook()))
        per = {}
        for bwrap in (False, True, False, True):   # interleaved: the load drifts
            with contextlib.redirect_stderr(io.StringIO()):
                seconds, results = _grade_class(tmp / "fixture", cases.TOPIC, tmp / f"o-fix-{bwrap}-{len(per)}",
                                                bwrap=bwrap, source=cases.SOURCE)
            per.setdefault(bwrap, []).append(sum(r.seconds for r in results) / len(results))
            assert all(r.status == "graded" and r.score == 10 for r in results), results
        plain, boxed = (min(per[False]), min(per[True]))
        rows.append((f"fixture, {overhead_n} submissions, 1 worker", f"{plain:.2f}", f"{boxed:.2f}",
                     f"{boxed - plain:+.2f}"))
    print(format_table(rows, ("per submission", "rlimits only s", "bubblewrap s", "overhead s")))
    print()
    topic = topics()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _copies(tmp / "class", topic, n, student_notebook(topic, solution_answers(topic)))
        walls = {}
        for workers in (1, 2):
            seconds, results = _grade_class(tmp / "class", topic, tmp / f"o-{workers}", workers=workers)
            ok = sum(r.status == "graded" and r.score == r.autograded_max for r in results)
            walls[workers] = seconds
            rows.append((f"{n} x {topic} solution", workers, f"{seconds:.1f}", f"{seconds / n:.1f}",
                         f"{walls[1] / seconds:.2f}x", f"{ok}/{n}"))
    print(format_table(rows, ("class", "workers", "wall s", "s per submission", "speed-up", "full marks")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", nargs="?", default="all", choices=("all", "grading"))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help="only this topic (slug)")
    parser.add_argument("--n", type=int, default=50, help="submissions in the grading throughput run")
    parser.add_argument("--profile", default="ci", choices=("ci", "cpu", "gpu"),
                        help="the notebooks' profile (default ci; the budget and grading rows are ci's)")
    parser.add_argument("--smoke", action="store_true", help="GENLAB_SMOKE=1 on the CPU (the gpu profile's sizes)")
    parser.add_argument("--notebooks-only", action="store_true", help="skip the grading table")
    args = parser.parse_args()
    if args.one:
        _one(args.one, args.profile, args.smoke)
        return
    if args.what == "grading":
        bench_grading(args.n)
        return
    chosen = [t for t in topics() if not args.topic or t.startswith(args.topic)]
    mode = f"profile {args.profile}" + (" under smoke (GENLAB_SMOKE=1) on the CPU" if args.smoke else "")
    print(f"genlab bench — {os.cpu_count()} CPU cores, {mode}, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (wall times grow with the load, CPU seconds "
          f"hardly do); budget {CI_BUDGET_S} s per notebook on a quiet machine\n")
    rows = []
    for topic in chosen:
        for kind, path in (("lecture", LECTURES / f"{topic}.ipynb"), ("solution", solution_path(topic))):
            if path.is_file():
                r = _measure(path, args.profile, args.smoke)
                over = "over budget" if args.profile == "ci" and not args.smoke and r["cpu_s"] > CI_BUDGET_S else ""
                rows.append((f"{topic} {kind}", f"{r['seconds']:.1f}", f"{r['total']:.1f}" if "total" in r else "-",
                             f"{r['cpu_s']:.1f}", f"{r['peak_mb']:.0f}",
                             over or r.get("error", "").replace("\n", " ")[:60]))
                print(f"  {rows[-1][0]}: {rows[-1][1]} s, kernel CPU {rows[-1][3]} s {rows[-1][5]}",
                      file=sys.stderr, flush=True)
    print(format_table(rows, ("notebook", "execute s", "with start s", "kernel CPU s", "kernel peak MB", "note")))
    if args.notebooks_only or args.profile != "ci" or args.smoke:
        return
    print()
    grading = [(topic, *_grade_time(topic)) for topic in chosen]
    print(format_table([(t, f"{s:.1f}", o) for t, s, o in grading], ("topic", "grade 1 submission s", "result")))


if __name__ == "__main__":
    main()
