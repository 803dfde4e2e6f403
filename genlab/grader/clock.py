"""Time limits that count the student's own time, not the grading machine's load.

Limits exist to stop runaway code. Counted on the wall clock they also stop an honest
notebook that waited for a CPU behind other work (another submission graded beside it,
someone's training run on a shared server): the same notebook would get ``graded`` on a
quiet grader and ``timeout`` on a busy one. :class:`KernelClock` counts what the kernel
itself did, and :class:`Meter` measures one cell or one notebook on it.
"""
from __future__ import annotations

import time

# A limit counts the kernel's own time (below); wall-clock time may run this many times past
# it before the cell or notebook is stopped anyway, whatever the load (a last resort).
WALL_BACKSTOP = 8


class KernelClock:
    """The kernel's own time: wall-clock time minus the time its main thread stood runnable
    in the CPU queue behind other processes (``run_delay`` of ``/proc/<pid>/schedstat``).

    Code that computes or sleeps is charged in full; waiting for a CPU that someone else's
    work holds is not. On a quiet machine the two clocks agree; with a CPU hog beside the
    grader a cell's charged time stays what it is quietly, so the same notebook gets the same
    status on a busy grader. A kernel that loads the machine itself still accrues its share
    (its main thread gets at least 1/N of a core) and the wall-clock backstop remains.
    Where the kernel's statistics cannot be read, this is plain wall-clock time."""

    def __init__(self, root_pid: int | None):
        self.root_pid = root_pid
        self._pid: int | None = None
        self._delay0: float | None = None  # run_delay when the kernel was first found
        self._last = 0.0

    def _kernel_pid(self) -> int | None:
        if self._pid is None and self.root_pid is not None:
            import psutil

            # the kernel runs ``python -m ipykernel_launcher ...`` (the launcher execs it); the
            # bwrap processes above it only carry that command as an argument
            try:
                root = psutil.Process(self.root_pid)
                found = [p for p in [root, *root.children(recursive=True)]
                         if p.cmdline()[1:3] == ["-m", "ipykernel_launcher"]]
            except psutil.Error:
                return None
            if found:
                self._pid = min(found, key=lambda p: p.create_time()).pid
        return self._pid

    def run_delay(self) -> float:
        """Seconds the kernel's main thread has waited for a CPU since it was first seen."""
        pid = self._kernel_pid()
        if pid is None:
            return self._last
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                delay = int(f.read().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return self._last
        if self._delay0 is None:
            self._delay0 = delay
        self._last = max(self._last, delay - self._delay0)
        return self._last

    def now(self) -> float:
        """A clock (seconds, arbitrary origin) that advances with the kernel's own time."""
        return time.monotonic() - self.run_delay()


class Meter:
    """Time since a start, on the kernel's clock and on the wall."""

    def __init__(self, clock: KernelClock | None):
        self.clock = clock
        self.wall0 = time.monotonic()
        self.own0 = clock.now() if clock else self.wall0

    def wall(self) -> float:
        return time.monotonic() - self.wall0

    def own(self) -> float:
        return (self.clock.now() if self.clock else time.monotonic()) - self.own0

    def past(self, limit: float) -> bool:
        """The kernel's own time, or the wall-clock backstop, ran past ``limit``."""
        return self.own() > limit or self.wall() > WALL_BACKSTOP * limit
