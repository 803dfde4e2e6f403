"""The kernel's own clock (genlab.grader.clock): time spent waiting for a CPU behind other
work is not charged; computing and sleeping are."""
import os
import subprocess
import sys
import time

import pytest

from genlab.grader.clock import KernelClock, Meter

from load import cpu_hog

BUSY = "import os, time\nos.sched_setaffinity(0, {0})\nt = time.monotonic()\nwhile time.monotonic() - t < 60: pass"
SLEEPY = "import time\ntime.sleep(60)"


def _measure(tmp_path, code: str, seconds: float = 1.5, hog: bool = False) -> tuple[float, float]:
    # a stand-in kernel, found as in the sandbox: a descendant running `python -m ipykernel_launcher`
    (tmp_path / "ipykernel_launcher.py").write_text(code)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    root = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; "
                             "subprocess.run([sys.executable, '-m', 'ipykernel_launcher', '-f', 'x'])"], env=env)
    try:
        clock = KernelClock(root.pid)
        deadline = time.monotonic() + 10
        while clock._kernel_pid() is None:
            assert time.monotonic() < deadline, "the kernel process was not found"
            time.sleep(0.05)
        with cpu_hog(2, cpus=[0]) if hog else _nothing():
            meter = Meter(clock)
            time.sleep(seconds)
            return meter.own(), meter.wall()
    finally:
        for child in __import__("psutil").Process(root.pid).children(recursive=True):
            child.kill()
        root.kill()
        root.wait()


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"), reason="no scheduler statistics")
def test_waiting_behind_a_hog_is_not_charged(tmp_path):
    own, wall = _measure(tmp_path, BUSY, hog=True)
    # three busy processes share CPU 0: the kernel runs about a third of the time
    assert own < 0.6 * wall, (own, wall)
    assert own > 0.1 * wall, (own, wall)


@pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"), reason="no scheduler statistics")
def test_computing_and_sleeping_are_charged_in_full(tmp_path):
    own, wall = _measure(tmp_path, BUSY)
    # alone on CPU 0 unless the machine is busy: then less, never more
    assert own <= wall + 0.01
    own, wall = _measure(tmp_path, SLEEPY, hog=True)
    assert own > 0.95 * wall, (own, wall)


def test_without_a_kernel_the_clock_is_the_wall_clock():
    meter = Meter(KernelClock(None))
    time.sleep(0.2)
    assert meter.own() == pytest.approx(meter.wall(), abs=0.02)
    assert not meter.past(1.0) and meter.past(0.1)
