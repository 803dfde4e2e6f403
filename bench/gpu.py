"""The `gpu` profile on a real GPU, in one short run (issue 23; README, "Profiles").

Two steps, on two machines:

1. Here (a CPU machine with the course installed and PyPI reachable)::

       python bench/gpu.py bundle

   downloads the wheels of the notebook-execution stack that a bare PyTorch image lacks
   (nbclient, ipykernel, ipywidgets and their needs, at the versions of constraints.txt) into
   ``.whl/`` and copies Fashion-MNIST's four idx files into ``.gpudata/`` (both ignored by
   git), and prints the command for the GPU machine.

2. There (PyTorch with CUDA, nothing of the Jupyter stack, no network)::

       python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
       PYTHONPATH=/tmp/site:$PWD GENLAB_DATA=$PWD/.gpudata python3 bench/gpu.py run --out $OUT

   (a) runs all 24 notebooks (12 lectures, 12 solutions) in the ``gpu`` profile under smoke
   (``GENLAB_SMOKE=1``: the profile's sizes, loops cut short) and records each one's wall time
   and peak GPU memory; then (b), with the time left of ``--budget-s``, runs lecture 09 and
   the 09 solution in the full ``gpu`` profile and records their times and figures.
   It writes ``gpu.md`` (the tables), ``gpu.json`` and the figures of (b) to ``--out``.

On a CPU ``python bench/gpu.py run --device cpu --only 01`` tries the same path (that is how
the script was tested before a GPU was lent).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# What notebooks need to execute and the PyTorch image lacks (its list: numpy, scipy, matplotlib,
# pillow, tqdm, attrs, psutil, packaging, pygments, python-dateutil ... are there). Left out, as
# the kernel runs without them and the call carries 64 MiB in all: debugpy and jedi (5 MB each,
# the debugger and tab completion) and the front-end halves of ipywidgets.
WHEELS = ("nbformat", "fastjsonschema", "jsonschema", "jsonschema-specifications", "referencing", "rpds-py",
          "nbclient", "jupyter_client", "jupyter_core", "pyzmq", "tornado", "traitlets", "platformdirs",
          "ipykernel", "ipython", "ipython_pygments_lexers", "comm", "matplotlib-inline",
          "pexpect", "ptyprocess", "prompt_toolkit", "wcwidth", "stack-data", "asttokens", "executing",
          "pure_eval", "ipywidgets")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64", "manylinux_2_5_x86_64")
FULL = ("lectures/09-ddpm-ddim.ipynb", "solutions/09-ddpm-ddim/09-ddpm-ddim.ipynb")
# read in the kernel after the notebook's last cell: the peak of PyTorch's allocator
PEAK_CELL = ("import json as _j, torch as _t\n"
             "print('GPU-PEAK', _j.dumps(_t.cuda.max_memory_allocated() if _t.cuda.is_available() else 0))")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def bundle(python_version: str = "3.12") -> None:
    """Wheels into .whl/ and Fashion-MNIST into .gpudata/, both ignored by git."""
    from genlab.data import idx

    pins = _pins()
    wheels = ROOT / ".whl"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir()
    for name in WHEELS:
        version = pins.get(name.lower().replace("_", "-"))
        if version is None:
            raise SystemExit(f"{name} is not pinned in constraints.txt")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", python_version, "--implementation", "cp", "--dest", str(wheels)]
        for platform in PLATFORMS:
            cmd += ["--platform", platform]
        subprocess.run([*cmd, f"{name}=={version}"], check=True)
    _, folder = idx.locate()
    data = ROOT / ".gpudata"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    for path in sorted(folder.glob("*-ubyte*")):
        shutil.copy(path, data / path.name)
    exclude = ROOT / ".git" / "info" / "exclude"
    if exclude.parent.is_dir():
        lines = exclude.read_text().splitlines() if exclude.is_file() else []
        missing = [p for p in ("/.whl/", "/.gpudata/") if p not in lines]
        if missing:
            exclude.write_text("\n".join([*lines, *missing]) + "\n")
    size = sum(p.stat().st_size for p in [*wheels.iterdir(), *data.iterdir()]) / 2**20
    print(f"{len(list(wheels.iterdir()))} wheels in .whl/, Fashion-MNIST in .gpudata/: {size:.1f} MiB to carry")
    print("on the GPU machine (carry .whl and .gpudata), as one command:\n"
          "  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && "
          "PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD GENLAB_DATA=$PWD/.gpudata python3 bench/gpu.py run --out $OUT")


def _notebooks(only: list[str] | None) -> list[Path]:
    from genlab.course import LECTURES, solution_path, topics

    paths = sorted(LECTURES.glob("*.ipynb")) + [solution_path(t) for t in topics()]
    if only:
        paths = [p for p in paths if any(p.stem.startswith(o) for o in only)]
    return paths


class BudgetSpent(Exception):
    """Raised before a cell when the notebook's seconds are spent."""


def _execute(path: Path, env: dict[str, str], limit: float) -> dict:
    """One notebook in a fresh kernel, stopped at the first cell that would start after
    ``limit`` seconds (and a cell that runs past them is interrupted); its seconds, the GPU
    peak and the error's first line."""
    import nbformat

    from genlab.demos import _first_line, execute

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    start = time.perf_counter()
    error = None

    def before(cell, cell_index, **_):
        if time.perf_counter() - start > limit and cell_index < len(nb.cells) - 1:
            raise BudgetSpent(f"stopped before cell {cell_index}: its {limit:.0f} s were spent")

    with tempfile.TemporaryDirectory() as tmp:
        try:
            execute(path, nb=nb, cwd=Path(tmp), timeout=max(1, int(limit)), env=env, on_cell_start=before)
        except Exception as exc:        # noqa: BLE001 - reported in the table, the run goes on
            error = _first_line(exc)
    seconds = time.perf_counter() - start
    peak = None
    for output in nb.cells[-1].get("outputs", []):
        for line in output.get("text", "").splitlines():
            if line.startswith("GPU-PEAK "):
                peak = int(line.split()[1]) / 2**30
    return {"notebook": str(path.relative_to(ROOT)), "seconds": round(seconds, 1),
            "peak_gib": None if peak is None else round(peak, 2), "error": error, "nb": nb}


def _figures(nb, out: Path, stem: str) -> list[str]:
    names = []
    for i, cell in enumerate(nb.cells):
        for j, output in enumerate(cell.get("outputs", [])):
            png = output.get("data", {}).get("image/png")
            if png:
                names.append(f"{stem}-cell{i:02d}-{j}.png")
                (out / names[-1]).write_bytes(base64.b64decode(png))
    return names


def _environment(device: str) -> dict[str, str]:
    import torch

    info = {"torch": torch.__version__, "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run(out: Path, device: str, budget_s: float, only: list[str] | None, full: bool) -> int:
    from genlab.tables import format_table

    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    base = {"GENLAB_PROFILE": "gpu", "GENLAB_DEVICE": device, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    info = _environment(device)
    print(f"genlab gpu run: {info}", flush=True)
    smoke = []
    for path in _notebooks(only):
        r = _execute(path, {**base, "GENLAB_SMOKE": "1"}, limit=600)
        r.pop("nb")
        smoke.append(r)
        print(f"  smoke {r['notebook']}: {r['seconds']} s, peak {r['peak_gib']} GiB, "
              f"{'ok' if r['error'] is None else r['error']}", flush=True)
    full_runs = []
    for rel in FULL if full else ():
        left = budget_s - (time.perf_counter() - began)
        if left < 60:
            full_runs.append({"notebook": rel, "seconds": None, "peak_gib": None,
                              "error": f"not run: {left:.0f} s of the budget left"})
            continue
        # the notebook's cells stop at the budget: a lecture that needs longer shows as a timeout
        r = _execute(ROOT / rel, base, limit=left)
        nb = r.pop("nb")
        r["figures"] = _figures(nb, out, Path(rel).stem + ("-solution" if rel.startswith("solutions") else ""))
        metrics = [line for c in nb.cells for o in c.get("outputs", []) for line in o.get("text", "").splitlines()
                   if line.startswith("[metric]")]
        r["metrics"] = metrics
        full_runs.append(r)
        print(f"  full {rel}: {r['seconds']} s, peak {r['peak_gib']} GiB, "
              f"{'ok' if r['error'] is None else r['error']}", flush=True)
    rows = [(r["notebook"], f"{r['seconds']}", "-" if r["peak_gib"] is None else f"{r['peak_gib']}",
             "ok" if r["error"] is None else r["error"][:80]) for r in smoke]
    text = [f"# gpu profile, {info}", "", "## smoke (GENLAB_SMOKE=1, gpu sizes)", "",
            format_table(rows, ("notebook", "seconds", "peak GiB", "result"))]
    if full_runs:
        text += ["", "## full gpu profile", "",
                 format_table([(r["notebook"], f"{r['seconds']}", f"{r['peak_gib']}",
                                "ok" if r["error"] is None else r["error"][:80]) for r in full_runs],
                              ("notebook", "seconds", "peak GiB", "result"))]
        text += ["", *[m for r in full_runs for m in r.get("metrics", [])]]
    (out / "gpu.md").write_text("\n".join(text) + "\n")
    (out / "gpu.json").write_text(json.dumps({"environment": info, "smoke": smoke, "full": full_runs}, indent=1))
    print("\n".join(text), flush=True)
    # a full run stopped by the budget is a measurement (how far it got), not a failure
    failed = [r for r in smoke if r["error"]] + [r for r in full_runs if r["error"] and not _budget_stop(r["error"])]
    return 1 if failed else 0


def _budget_stop(error: str) -> bool:
    return error.startswith(("not run", "BudgetSpent", "CellTimeoutError"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    b = sub.add_parser("bundle", help="wheels and data for the GPU machine, here")
    b.add_argument("--python-version", default="3.12", help="the GPU image's Python (default 3.12)")
    r = sub.add_parser("run", help="the smoke and full runs, on the GPU machine")
    r.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "build/gpu")))
    r.add_argument("--device", default="cuda", help="cuda (default) or cpu to try the script here")
    r.add_argument("--budget-s", type=float, default=480, help="seconds for the whole run (default 480)")
    r.add_argument("--only", nargs="*", help="notebooks whose names start so (e.g. 01 09)")
    r.add_argument("--no-full", dest="full", action="store_false", help="skip the full runs of 09")
    args = parser.parse_args()
    if args.what == "bundle":
        bundle(args.python_version)
    else:
        if args.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise SystemExit("no CUDA device here: run with --device cpu to try the script on a CPU")
        sys.exit(run(args.out, args.device, args.budget_s, args.only, args.full))


if __name__ == "__main__":
    main()
