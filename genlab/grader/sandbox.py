"""Run a student's notebook kernel in a sandbox while nbgrader stays outside.

The kernel runs under bubblewrap (Debian ``bubblewrap``): no network, its own pid, ipc
and uts namespaces, a private size-limited ``/tmp``, the system, the Python environment,
``genlab/`` and ``data/`` read-only, and two writable folders only — a scratch copy of the
submission's folder (mounted where nbgrader runs the notebook, without the notebook
itself, which holds the hidden tests once nbgrader has restored them) and a runtime
folder for the connection file and the ZMQ sockets (``transport="ipc"``, so the network
can stay unshared; see notes/sandbox.md). ``solutions/``, the gradebook, ``autograder/``,
the output folder and every other student's files are not mounted at all.

Inside, a tiny launcher sets rlimits (memory, processes, file size, CPU time) and, when
the grader runs as root, drops to an unprivileged uid (root ignores RLIMIT_NPROC) before
it starts ``ipykernel``. A watchdog thread outside enforces what rlimits cannot: the
whole-notebook wall-clock limit, the total memory of all the sandbox's processes, their
number and the bytes written to the writable folders; it kills the sandbox and records
why.

Without bubblewrap (or where it cannot start, e.g. in an unprivileged container) the
kernel runs with the same rlimits and watchdog but no filesystem or network isolation;
:func:`sandbox_kind` says which, and the grader warns loudly.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from genlab.course import REPO_ROOT
from genlab.grader.clock import KernelClock, Meter

SANDBOX_UID = 100_000  # + the grading process's pid: RLIMIT_NPROC counts per uid


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's kernel."""
    wall_s: float = 600.0       # the whole notebook, on top of nbgrader's per-cell timeout
    memory_mb: int = 4096       # RLIMIT_DATA of each process, and the sum of RSS of all of them
    processes: int = 64         # processes in the sandbox (watchdog)
    tasks: int = 1024           # RLIMIT_NPROC: processes and threads (torch starts a few dozen)
    file_mb: int = 256          # RLIMIT_FSIZE: the largest file the kernel may write
    disk_mb: int = 512          # bytes in the writable folders, summed (watchdog)
    tmp_mb: int = 256           # size of the private /tmp (a tmpfs, so it is memory)
    output_kb: int = 2048       # output kept per cell; the rest is dropped with a note

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Limits:
        return cls(**json.loads(text))


@dataclass
class Verdict:
    """What the executor observed of one submission's kernel, for the grader (written to a
    folder the kernel cannot see). Every field is a fact the grader saw, never something
    the notebook said about itself."""
    violation: tuple[str, str] | None = None    # (status, reason) when the watchdog killed it
    peak_rss_mb: float | None = None
    kernel_died: bool = False                   # the kernel was gone before execution ended
    kernel_exit: str = ""                       # how its process ended, when known
    timeouts: list[str] = field(default_factory=list)      # cells the executor interrupted
    truncated: list[str] = field(default_factory=list)     # cells whose output was cut
    big_files: list[str] = field(default_factory=list)     # files that reached the size limit
    notes: list[str] = field(default_factory=list)
    sandbox: str = "bwrap"
    judge_s: float = 0.0

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Verdict:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(notes=["the executor left no record"])
        known = {f.name for f in fields(cls)}
        verdict = cls(**{k: v for k, v in data.items() if k in known})
        if verdict.violation:
            verdict.violation = tuple(verdict.violation)
        return verdict


# IPython startup file of a sandboxed kernel: output beyond the limit of a cell is dropped in
# the kernel itself, so that a print flood costs the kernel nothing and cannot slow the
# grader down (the grader's own cap stays: this one only makes floods cheap).
_OUTPUT_CAP = r"""
def _genlab_cap_output(limit):
    import sys
    ip = get_ipython()
    state = {"used": 0, "noted": False}

    def reset(*args, **kwargs):
        state["used"], state["noted"] = 0, False

    def capped(stream):
        write = stream.write

        def cap_write(text):
            state["used"] += len(text)
            if state["used"] <= limit:
                return write(text)
            if not state["noted"]:
                state["noted"] = True
                write(f"
[genlab: output beyond {limit // 1024} KB per cell dropped]
")
            return len(text)
        stream.write = cap_write

    for stream in (sys.stdout, sys.stderr):
        capped(stream)
    ip.events.register("pre_execute", reset)

_genlab_cap_output(LIMIT)
del _genlab_cap_output
"""


# Runs inside the sandbox with `python -I -S -c`: rlimits, drop root, exec the kernel.
_LAUNCHER = r"""
import json, os, resource, sys
cfg = json.loads(sys.argv[1])
mb = 1024 * 1024
for name, value in (("RLIMIT_DATA", cfg["memory_mb"] * mb), ("RLIMIT_NPROC", cfg["processes"]),
                    ("RLIMIT_FSIZE", cfg["file_mb"] * mb), ("RLIMIT_CPU", cfg["cpu_s"]),
                    ("RLIMIT_CORE", 0)):
    resource.setrlimit(getattr(resource, name), (value, value))
if os.getpriority(os.PRIO_PROCESS, 0) < 0:
    os.setpriority(os.PRIO_PROCESS, 0, 0)  # the grader may run at a higher priority; the kernel does not
if cfg["pdeathsig"]:
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG: SIGKILL when the grader dies
if cfg["uid"] is not None and os.geteuid() == 0:
    os.setgroups([])
    os.setgid(cfg["uid"])
    os.setuid(cfg["uid"])
os.execv(cfg["argv"][0], cfg["argv"])
"""


def _bwrap_path() -> str | None:
    """``$GENLAB_BWRAP`` if set (empty or ``none`` disables the sandbox), else ``bwrap`` on PATH."""
    configured = os.environ.get("GENLAB_BWRAP")
    if configured is not None:
        return configured if configured not in ("", "none") and os.access(configured, os.X_OK) else None
    return shutil.which("bwrap")


@lru_cache(maxsize=4)
def _bwrap_works(path: str) -> str:
    """'' when bubblewrap can build a sandbox here, else why not (e.g. no user namespaces)."""
    try:
        run = subprocess.run([path, *_namespace_args(), "--ro-bind", "/", "/", "--proc", "/proc",
                              "--dev", "/dev", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{path} failed to start: {exc}"
    return "" if run.returncode == 0 else f"{path} cannot create a sandbox here: {run.stderr.strip()[:200]}"


def sandbox_kind() -> tuple[str, str]:
    """('bwrap', '') when kernels are sandboxed, else ('rlimits', why not) for the warning."""
    path = _bwrap_path()
    if path is None:
        return "rlimits", ("bubblewrap (bwrap) was not found (install the Debian package "
                           "`bubblewrap`): student code runs with the grader's file and network access")
    problem = _bwrap_works(path)
    return ("bwrap", "") if not problem else ("rlimits", problem + "; student code runs with the "
                                               "grader's file and network access")


def _namespace_args() -> list[str]:
    # As root, a new user namespace would map the sandbox back to uid 0, which ignores
    # RLIMIT_NPROC: keep the host's and drop to an unprivileged uid in the launcher instead.
    args = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        args.append("--unshare-user")
    return args + ["--die-with-parent", "--new-session"]


def _readonly_paths() -> list[Path]:
    """What a kernel needs to read: the system, the Python environment, genlab and data."""
    paths = [Path(p) for p in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")]
    python = Path(sys.executable)
    paths += [Path(sys.prefix), Path(sys.base_prefix), python.parent, python.resolve().parent.parent]
    # of sys.path only what belongs to an installation: a script's own folder or a
    # PYTHONPATH entry (say /tmp, where a grading script was run) must not reach the kernel
    installed = [Path(sys.prefix), Path(sys.base_prefix), *(Path(v) for v in sysconfig.get_paths().values())]
    paths += [Path(p) for p in sys.path if p and Path(p).is_dir() and Path(p).is_absolute()
              and (any(_inside(Path(p), i) for i in installed) or Path(p).name in ("site-packages", "dist-packages"))]
    paths += [REPO_ROOT / "genlab", REPO_ROOT / "data"]
    if os.environ.get("GENLAB_DATA"):
        paths.append(Path(os.environ["GENLAB_DATA"]))
    chosen: list[Path] = []
    for p in sorted({Path(os.path.abspath(p)) for p in paths if p.exists()}, key=lambda p: len(p.parts)):
        if _inside(p, REPO_ROOT) and not any(_inside(p, REPO_ROOT / keep) for keep in
                                             ("genlab", "data", _venv_relative())):
            continue  # never the repository itself: solutions/, autograder/, build/ live there
        if not any(_inside(p, c) and not c.is_symlink() for c in chosen):
            chosen.append(p)
    return chosen


def _venv_relative() -> str:
    prefix = Path(sys.prefix)
    return str(prefix.relative_to(REPO_ROOT)) if _inside(prefix, REPO_ROOT) else "\0"


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(path).relative_to(folder)
        return True
    except ValueError:
        return False


@dataclass
class Sandbox:
    """Where one kernel runs: ``cwd`` as the kernel sees it, backed by ``scratch``."""
    cwd: Path            # the folder nbgrader executes the notebook in
    scratch: Path        # real folder mounted at ``cwd`` (a copy of it, notebooks left out)
    runtime: Path        # connection file, ipc sockets, IPYTHONDIR, HOME
    limits: Limits
    kind: str = "bwrap"  # or "rlimits"
    uid: int | None = None
    env: dict | None = None

    def prepare(self) -> None:
        """Fill the scratch copy and hand the writable folders to the sandbox's uid."""
        for folder in (self.scratch, self.runtime):
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
        for entry in os.scandir(self.cwd):
            if entry.is_file(follow_symlinks=False) and not entry.name.endswith(".ipynb"):
                shutil.copy(entry.path, self.scratch / entry.name)
            elif entry.is_dir(follow_symlinks=False):
                shutil.copytree(entry.path, self.scratch / entry.name, symlinks=True)
        (self.runtime / "home").mkdir()
        startup = self.runtime / "home" / ".ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-genlab-output-cap.py").write_text(
            _OUTPUT_CAP.replace("LIMIT", str(self.limits.output_kb * 1024)))
        if self.uid is not None and os.geteuid() == 0:
            for folder in (self.scratch, self.runtime):
                for root, dirs, files in os.walk(folder):
                    for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                        os.lchown(name, self.uid, self.uid)

    def kernel_env(self) -> dict[str, str]:
        home = self.runtime / "home"
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
               "HOME": str(home), "IPYTHONDIR": str(home / ".ipython"), "MPLCONFIGDIR": str(home / ".mpl"),
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": "/tmp",
               # the grader's own genlab (bound read-only below), also where the environment's
               # editable install points to another checkout (a git worktree sharing the venv)
               "PYTHONPATH": str(REPO_ROOT)}
        env.update(self.env or {})
        return env

    def command(self, kernel_argv: list[str]) -> list[str]:
        cfg = {"memory_mb": self.limits.memory_mb, "processes": self.limits.tasks,
               "file_mb": self.limits.file_mb, "cpu_s": int(self.limits.wall_s * (os.cpu_count() or 1) + 60),
               "uid": self.uid, "argv": kernel_argv, "pdeathsig": self.kind != "bwrap"}
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(cfg)]
        if self.kind != "bwrap":
            return launcher
        args = [_bwrap_path(), *_namespace_args(), "--clearenv"]
        for key, value in self.kernel_env().items():
            args += ["--setenv", key, value]
        # a sticky, world-writable /tmp: the kernel runs as its own unprivileged uid
        args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(self.limits.tmp_mb * 2**20),
                 "--tmpfs", "/tmp"]
        binds = [(p, "--ro-bind") for p in _readonly_paths()]
        binds += [(self.runtime, "--bind")]
        binds.append((self.cwd, "--bind"))
        binds.sort(key=lambda b: len(b[0].parts))
        bound = {path for path, _ in binds}
        parents = sorted({a for path, _ in binds for a in path.parents if a != Path("/") and a not in bound
                          and not any(_inside(a, b) for b in bound)}, key=lambda a: len(a.parts))
        for folder in parents:  # bwrap would create them 0700: the unprivileged uid must pass
            args += ["--perms", "0755", "--dir", str(folder)]
        for path, how in binds:
            if path == self.cwd:
                args += ["--bind", str(self.scratch), str(self.cwd)]
                continue
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            else:
                args += [how, str(path), str(path)]
        args += ["--chdir", str(self.cwd)]
        return args + launcher

    def writable(self) -> list[Path]:
        return [self.scratch, self.runtime]


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in ``self.sandbox`` (set before starting)."""
    sandbox: Sandbox | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file,
                  *(extra_arguments or [])]
        return self.sandbox.command(kernel)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        box = self.sandbox
        if box.uid is not None and os.geteuid() == 0:
            os.chown(self.connection_file, box.uid, box.uid)
        kw["cwd"] = str(box.scratch if box.kind != "bwrap" else box.runtime)
        kw["env"] = box.kernel_env() if box.kind != "bwrap" else {"PATH": os.environ.get("PATH", "")}
        log = open(box.scratch.parent / "kernel-stderr.txt", "wb")  # noqa: SIM115 - the kernel keeps it
        kw["stdout"] = subprocess.DEVNULL
        kw["stderr"] = log
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            log.close()


    async def _async_interrupt_kernel(self) -> None:
        # SIGINT would reach bwrap, not the kernel in its pid namespace: ask ipykernel on the
        # control channel (served by its own thread even while a cell spins), and it signals itself.
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel


class Watchdog(threading.Thread):
    """Kill the sandbox when it runs too long, holds too much memory, starts too many
    processes or writes too much; ``violation`` then says which, as (status, reason)."""

    def __init__(self, pid: int, box: Sandbox, meter: Meter, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.box, self.meter, self.interval = pid, box, meter, interval
        self.violation: tuple[str, str] | None = None
        self.peak_rss_mb = 0.0
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        tick = 0
        while not self._stop_event.wait(self.interval):
            tick += 1
            try:
                if not root.is_running():
                    return
                procs = [root, *root.children(recursive=True)]
                self._check(procs, tick)
            except Exception:  # noqa: BLE001 - a process vanished mid-scan: look again
                continue
            if self.violation:
                return

    def _check(self, procs, tick: int) -> None:
        import psutil

        limits = self.box.limits
        if len(procs) > limits.processes + 2:  # bwrap and its init are not the student's
            self._kill(procs, "crashed", f"the notebook started more than {limits.processes} processes")
            return
        if self.meter.past(limits.wall_s):
            self._kill(procs, "timeout", f"the notebook ran past the limit of {limits.wall_s:g} s "
                                         f"for the whole notebook ({_times(self.meter)})")
            return
        # Proportional set size counts pages shared after fork() once, but reading it waits
        # for a process's memory lock, which a process that keeps forking holds: only for a few.
        pss = 3 < len(procs) <= 16
        rss = 0
        for p in procs:
            try:
                rss += p.memory_full_info().pss if pss else p.memory_info().rss
            except psutil.Error:
                pass
        self.peak_rss_mb = max(self.peak_rss_mb, rss / 2**20)
        if rss > limits.memory_mb * 2**20:
            self._kill(procs, "memory", f"the kernel used more than {limits.memory_mb} MB of memory "
                                        f"({rss / 2**20:.0f} MB over {len(procs) - 2} processes)")
        elif tick % 5 == 0:
            written = sum(_folder_bytes(f) for f in self.box.writable())
            if written > limits.disk_mb * 2**20:
                self._kill(procs, "crashed", f"the notebook wrote more than {limits.disk_mb} MB to disk")

    def _kill(self, procs, status: str, reason: str) -> None:
        self.violation = (status, reason)
        kill_tree(procs)


def _times(meter: Meter) -> str:
    return f"{meter.own():.0f} s of its own time, {meter.wall():.0f} s on the wall clock"


def kill_tree(procs) -> None:
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except Exception:  # noqa: BLE001 - already gone
            pass


def _folder_bytes(folder: Path, cap: int = 100_000) -> int:
    """Bytes under ``folder`` (symlinks not followed); stops counting after ``cap`` entries."""
    total, stack, seen = 0, [str(folder)], 0
    while stack and seen < cap:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    seen += 1
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            continue
    return total if seen < cap else max(total, 2**62)


# ---------------------------------------------------------------- nbgrader's side

import asyncio  # noqa: E402
import contextlib  # noqa: E402

from nbformat.notebooknode import NotebookNode  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402
from traitlets import Integer, Unicode  # noqa: E402


def describe_exit(code: int) -> str:
    """How a kernel's process (or bwrap around it) ended, in words."""
    if code < 0 or 128 < code < 128 + 65:
        number = -code if code < 0 else code - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        why = {"SIGXFSZ": "a file reached the size limit", "SIGKILL": "killed",
               "SIGXCPU": "the CPU-time limit", "SIGSEGV": "a segmentation fault"}.get(name, "")
        return f"{name}{f': {why}' if why else ''}"
    return f"exit status {code}"


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def judge_outputs(outcome) -> list[NotebookNode]:
    """A judged test cell's outputs: what it printed, then its error (message only: a
    traceback would show hidden test code)."""
    outputs = []
    if outcome.stdout:
        outputs.append(NotebookNode(output_type="stream", name="stdout", text=outcome.stdout[-20000:]))
    if not outcome.passed:
        outputs.append(_error_output(outcome.ename or "Error", outcome.evalue))
    return outputs


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor with the kernel in a :class:`Sandbox`, a watchdog and
    a cap on each cell's output; test cells never reach the kernel: the judge runs them in
    this process (:mod:`genlab.grader.judge`). What happened is written to
    ``<state_dir>/verdict.json`` for the grader (a folder the kernel cannot see)."""

    state_dir = Unicode(help="grader-only folder of this submission").tag(config=True)
    limits_json = Unicode(Limits().to_json()).tag(config=True)
    kernel_env_json = Unicode("{}").tag(config=True)
    sandbox_kind = Unicode("bwrap").tag(config=True)
    sandbox_uid = Integer(None, allow_none=True).tag(config=True)
    # {"setup": [sources], "tests": {grade_id: source}, "seed": int} from the source notebook:
    # its test cells run in the judge (genlab.grader.judge), outside the kernel
    judge_json = Unicode("").tag(config=True)
    # No student code runs before the kernel answers kernel_info, so waiting longer costs a
    # student nothing; nbclient's 60 s made a kernel that started slowly on a loaded grader
    # (torch imported in a fresh sandbox beside two other kernels) an nbgrader 'error'.
    startup_timeout = Integer(300).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)
        self.kernel_name = "python3"  # whatever the notebook asks for
        self._reset()

    def _reset(self) -> None:
        self._box: Sandbox | None = None
        self._watchdog: Watchdog | None = None
        self._timeouts: list[str] = []
        self._truncated: list[str] = []
        self._notes: list[str] = []
        self._output_bytes: dict[int, int] = {}
        self._judge = None
        self._clock: KernelClock | None = None
        self._judge_seconds = 0.0
        self._kernel_exit: str | None = None
        self._cell_index = -1

    @property
    def limits(self) -> Limits:
        return Limits.from_json(self.limits_json)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        state = Path(self.state_dir)
        cwd = Path(self.resources.get("metadata", {}).get("path") or ".").resolve()
        # ZMQ's ipc sockets live in the runtime folder, and a Unix socket's path may not pass
        # 107 bytes: a short one under /tmp, not the (deep) output folder.
        runtime = Path(tempfile.mkdtemp(prefix="genlab-kernel-"))
        box = Sandbox(cwd=cwd, scratch=state / "scratch", runtime=runtime, limits=self.limits,
                      kind=self.sandbox_kind, uid=self.sandbox_uid,
                      env=json.loads(self.kernel_env_json))
        box.prepare()
        km.sandbox = box
        km.transport = "ipc"
        km.connection_file = str(box.runtime / "kernel.json")
        km.ip = str(box.runtime / "kernel-ipc")
        self._box = box
        return km

    async def async_start_new_kernel(self, **kwargs) -> None:
        await super().async_start_new_kernel(**kwargs)
        pid = self.km.provisioner.process.pid
        self._clock = KernelClock(pid)
        self._watchdog = Watchdog(pid, self._box, Meter(self._clock))
        self._watchdog.start()

    start_new_kernel = run_sync(async_start_new_kernel)

    def preprocess(self, nb, resources, km=None):
        self._reset()
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self._watchdog:
                self._watchdog.stop()
            if self._judge:
                self._judge.link.close()
            self._write_verdict()
            if self._box:
                shutil.rmtree(self._box.runtime, ignore_errors=True)

    def _write_verdict(self) -> None:
        dog = self._watchdog
        Verdict(violation=dog.violation if dog else None,
                peak_rss_mb=round(dog.peak_rss_mb, 1) if dog else None,
                kernel_died=self._kernel_exit is not None,
                kernel_exit=self._kernel_exit or "",
                timeouts=self._timeouts, truncated=self._truncated, big_files=self._big_files(),
                notes=self._notes, sandbox=self.sandbox_kind,
                judge_s=round(self._judge_seconds, 2)).write(Path(self.state_dir, "verdict.json"))

    def _big_files(self) -> list[str]:
        """Files of the scratch folder that reached the per-file size limit (a fact, seen
        from outside after the run)."""
        if not self._box:
            return []
        limit = self.limits.file_mb * 2**20
        found = []
        for root, _, files in os.walk(self._box.scratch):
            for name in files:
                with contextlib.suppress(OSError):
                    if os.lstat(os.path.join(root, name)).st_size >= limit:
                        found.append(os.path.relpath(os.path.join(root, name), self._box.scratch))
        return found[:5]

    def _check_kernel(self) -> None:
        """Record, once, that the kernel's process has ended and how."""
        if self._kernel_exit is not None or self.km is None:
            return
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        if code is not None:
            self._kernel_exit = describe_exit(code)

    async def _async_handle_timeout(self, timeout: int, cell=None):
        # the executor's own deadline passed: a fact, unlike an exception's name in a reply
        label = (cell.metadata.get("nbgrader", {}).get("grade_id") if cell is not None else None) \
            or f"cell {self._cell_index}"
        if label not in self._timeouts:
            self._timeouts.append(label)
        return await super()._async_handle_timeout(timeout, cell)

    async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive):
        """nbclient's wait for a cell's reply, with the per-cell limit counted on the kernel's
        own clock (:class:`KernelClock`) instead of the wall clock: load on the grading
        machine does not turn an honest cell into a timeout."""
        if timeout is None or self._clock is None:
            return await super()._async_poll_for_reply(msg_id, cell, timeout, task_poll_output_msg,
                                                       task_poll_kernel_alive)
        from queue import Empty

        from nbclient.client import timestamp
        from nbclient.util import ensure_async

        meter = Meter(self._clock)
        interrupted = None
        while True:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=0.25))
            except Empty:
                await self._async_check_alive()
                # after an interrupt, wait for the reply on the wall clock as nbclient does
                if (meter.past(timeout) if interrupted is None else time.monotonic() - interrupted > timeout):
                    task_poll_kernel_alive.cancel()
                    interrupted = time.monotonic()
                    error_reply = await self._async_handle_timeout(timeout, cell)
                    if error_reply:
                        msg = error_reply
                        msg["parent_header"] = {"msg_id": msg_id}
                    else:
                        continue
                else:
                    continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if self.record_timing:
                cell["metadata"]["execution"]["shell.execute_reply"] = timestamp(msg)
            try:
                await asyncio.wait_for(task_poll_output_msg, self.iopub_timeout)
            except (asyncio.TimeoutError, Empty):
                self.log.warning("Timeout waiting for IOPub output")
            task_poll_kernel_alive.cancel()
            return msg

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        self._cell_index = cell_index
        try:
            return await self._execute_judged(cell, cell_index, execution_count, store_history)
        finally:
            self._check_kernel()

    execute_cell = run_sync(async_execute_cell)

    async def _execute_judged(self, cell, cell_index, execution_count, store_history):
        """Test cells go to the judge in this process; every other cell to the kernel."""
        from genlab.grader.cells import Role, grade_id, role

        if cell.cell_type != "code" or role(cell) is not Role.TEST:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if not self.judge_json:
            raise RuntimeError("SandboxedExecute.judge_json is empty: test cells are only run by the judge")
        spec = json.loads(self.judge_json)
        gid = grade_id(cell)
        source = spec["tests"].get(gid)
        started = time.monotonic()
        if source is None:
            outcome_outputs = [_error_output("UnknownTest", f"{gid!r} is not a test of this assignment")]
        else:
            judge = self._get_judge(spec)
            outcome = judge.run_cell(source, gid, budget_s=float(self.timeout or 120))
            outcome_outputs = judge_outputs(outcome)
            if outcome.timed_out:
                self._timeouts.append(gid)
            await self._drop_judge_iopub()
        self._judge_seconds += time.monotonic() - started
        cell.outputs = outcome_outputs
        cell.execution_count = None
        self.nb["cells"][cell_index] = cell
        return cell

    async def _drop_judge_iopub(self) -> None:
        """Each request of the judge leaves two status messages on the IOPub channel, which
        this client would read before the next cell's own: after a test that made a thousand
        requests (a sampling loop) that took longer than ``iopub_timeout`` and the next cell
        failed with 'Timeout waiting for IOPub output'. No cell runs now: drop them."""
        from queue import Empty

        from nbclient.util import ensure_async

        while True:
            try:
                await ensure_async(self.kc.iopub_channel.get_msg(timeout=0.2))
            except Empty:
                return

    def _get_judge(self, spec: dict):
        from genlab.grader.judge import Judge, KernelLink

        if self._judge is None:
            # the judge's set-up runs the course's cells here, in the kernel's profile
            env = json.loads(self.kernel_env_json)
            for key in ("GENLAB_PROFILE", "GENLAB_DATA", "TQDM_DISABLE", "MPLBACKEND"):
                if key in env:
                    os.environ[key] = env[key]
            link = KernelLink(self.km.connection_file, clock=self._clock.now if self._clock else None)
            self._judge = Judge(link, spec["setup"], seed=int(spec.get("seed", 0)))
        return self._judge

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._output_bytes.get(cell_index, 0) + size
        self._output_bytes[cell_index] = used
        cap = self.limits.output_kb * 1024
        if used > cap:
            if used - size <= cap:
                self._truncated.append(f"cell {cell_index}")
                outs.append(NotebookNode(output_type="stream", name="stderr",
                                         text=f"\n[genlab: output beyond {self.limits.output_kb} KB dropped]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)
