"""A CPU hog for tests that must give the same answer on a busy machine (issue 30)."""
import contextlib
import os
import subprocess
import sys


@contextlib.contextmanager
def cpu_hog(per_core: int = 2, cpus=None):
    """``per_core`` busy processes on each of ``cpus`` (all of this process's CPUs by default)."""
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    code = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(cpu)])
             for cpu in cpus for _ in range(per_core)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
