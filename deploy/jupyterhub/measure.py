"""What one student costs a server, measured; and what that means for a class (issue 24).

    python deploy/jupyterhub/measure.py [--topic 01-autoencoders-pca] [--json OUT.json]

Measures, on this machine, with the course's environment:

1. **an idle student server**: the process a hub spawns per student (JupyterLab on
   ``jupyterhub.singleuser``'s server, with nbgrader's extensions), started, then left idle
   for 10 s: its memory (PSS: shared pages counted once) and CPU;
2. **a working student**: the topic's reference solution run top to bottom in a kernel, in
   the ``ci`` profile (what grading runs; the ``cpu`` profile runs longer at a similar
   size): the kernel's peak memory, CPU seconds and wall time; then the same kernel idle,
   holding the notebook's variables (a student who ran everything and is reading);
3. **a grading worker**: ``genlab grade`` of one submission (the solution) with one worker:
   the peak memory of its whole process tree (grader, judge, sandboxed kernel), CPU seconds
   and wall time.

From these it prints how many students a 2-, 16- and 64-core server holds (memory for
everyone's idle server and kernel; cores for those running cells at once, each using the
cores a working kernel used: its CPU seconds over its wall time) and how long
grading a class of 300 takes with 1, 4 and 10 shards. The measured table is written once,
in deploy/jupyterhub/README.md ("How many students one server holds").
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

MIB = 2 ** 20
# Servers of the usual cloud shape, 4 GiB per core; 2 GiB kept for the system, the hub and the proxy.
SERVERS = ((2, 8), (16, 64), (64, 256))
RESERVE_GIB = 2
CLASS = 300


class TreeSampler:
    """Peak memory of a process and its descendants, summed, sampled every ``every`` seconds,
    and the CPU seconds they used (each process's last reading; processes that live less
    than ``every`` are missed). Memory is PSS where the kernel reports it (shared pages, e.g.
    PyTorch's libraries in the grader, the judge and the kernel, counted once), else RSS."""

    def __init__(self, pid: int, every: float = 0.1):
        self.process = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values())

    def rss(self) -> int:
        total = 0
        for p in [self.process, *self.process.children(recursive=True)]:
            try:
                with p.oneshot():
                    try:
                        total += p.memory_full_info().pss
                    except (psutil.AccessDenied, AttributeError):
                        total += p.memory_info().rss
                    times = p.cpu_times()
                    self._cpu[p.pid] = times.user + times.system
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.rss())
            except psutil.Error:
                return
            self._stop.wait(self.every)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def idle_server(seconds: float = 10) -> dict:
    """A student's server (JupyterLab with nbgrader's student extensions) started and left idle."""
    port, token = _free_port(), "measure"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOME": home, "JUPYTER_CONFIG_DIR": str(Path(home) / ".jupyter")}
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}", "--allow-root"]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            began = time.perf_counter()
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5)
                    break
                except OSError:
                    if server.poll() is not None or time.perf_counter() - began > 180:
                        raise SystemExit("the JupyterLab server did not start") from None
                    time.sleep(0.5)
            startup = time.perf_counter() - began
            urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=30).read()  # the page
            proc = psutil.Process(server.pid)
            cpu_before = sum(proc.cpu_times()[:2])
            time.sleep(seconds)
            cpu_idle = sum(proc.cpu_times()[:2]) - cpu_before
            rss = TreeSampler(server.pid).rss()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {"startup_s": round(startup, 1), "mib": round(rss / MIB),
            "idle_cpu_percent": round(100 * cpu_idle / seconds, 2)}


def working_student(topic: str) -> dict:
    """The topic's solution run in a kernel (ci profile), then that kernel idle."""
    import nbformat
    from nbclient import NotebookClient

    from genlab.course import solution_path

    nb = nbformat.read(solution_path(topic), as_version=4)
    os.environ["GENLAB_PROFILE"] = "ci"
    with tempfile.TemporaryDirectory() as tmp:
        client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp}})
        with client.setup_kernel():
            pid = client.km.provisioner.process.pid
            kernel = psutil.Process(pid)
            began = time.perf_counter()
            with TreeSampler(pid) as sampler:
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
            wall = time.perf_counter() - began
            cpu = sum(kernel.cpu_times()[:4])
            time.sleep(2)
            held = sampler.rss()
    return {"peak_mib": round(sampler.peak / MIB), "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
            "idle_mib": round(held / MIB)}


def grading_worker(topic: str) -> dict:
    """`genlab grade` of one submission (the reference solution) with one worker."""
    from genlab.grader.validity import build_submissions

    with tempfile.TemporaryDirectory() as tmp:
        build_submissions(topic, Path(tmp) / "sub", mutants=[], broken=False)
        shutil.rmtree(Path(tmp) / "sub" / "blank")                 # the solution alone
        cmd = [sys.executable, "-m", "genlab.cli", "grade", str(Path(tmp) / "sub"), "--assignment", topic[:2],
               "--out", str(Path(tmp) / "out")]
        began = time.perf_counter()
        run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TQDM_DISABLE": "1"})
        with TreeSampler(run.pid, every=0.2) as sampler:
            _, err = run.communicate()
        wall = time.perf_counter() - began
        if run.returncode:
            raise SystemExit(f"genlab grade failed: {err[-1000:]}")
    return {"peak_mib": round(sampler.peak / MIB), "wall_s": round(wall, 1), "cpu_s": round(sampler.cpu_s, 1)}


def capacity(m: dict) -> list[tuple]:
    """Students per server: memory for everyone's idle server and kernel after a run; at most
    one student per core running cells at once (the peak of a working kernel counted for them)."""
    idle = m["server"]["mib"] + m["student"]["idle_mib"]
    extra = max(0, m["student"]["peak_mib"] - m["student"]["idle_mib"])
    cores_each = max(1.0, m["student"]["cpu_s"] / m["student"]["wall_s"])
    rows = []
    for cores, gib in SERVERS:
        at_once = max(1, math.floor(cores / cores_each))
        budget = (gib - RESERVE_GIB) * 1024 - at_once * extra
        rows.append((f"{cores} cores, {gib} GiB", math.floor(budget / idle), at_once))
    return rows


def grading_hours(m: dict, shards: int, cores_per_shard: int = 2) -> float:
    """Hours to grade CLASS submissions on `shards` machines of `cores_per_shard` cores, one
    worker per core, with the measured seconds per submission of one worker."""
    per = m["grading"]["wall_s"]
    return CLASS * per / (shards * cores_per_shard) / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topic", default="01-autoencoders-pca")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"measuring on {os.cpu_count()} cores, load average {load:.1f} (memory does not depend on the load; "
          f"seconds do)", flush=True)
    m = {"server": idle_server()}
    print(f"idle student server: {m['server']}", flush=True)
    m["student"] = working_student(args.topic)
    print(f"working student ({args.topic} solution, ci): {m['student']}", flush=True)
    m["grading"] = grading_worker(args.topic)
    print(f"grading worker (one submission): {m['grading']}", flush=True)
    m["load_average"] = round(load, 1)
    from genlab.tables import format_table

    print()
    print(format_table(capacity(m), ("server", "students logged in", "running cells at once")))
    print()
    print(format_table([(n, f"{grading_hours(m, n):.1f}") for n in (1, 4, 10)],
                       ("shards (2 cores each)", f"hours to grade {CLASS} submissions")))
    if args.json:
        args.json.write_text(json.dumps(m, indent=1))


if __name__ == "__main__":
    main()
