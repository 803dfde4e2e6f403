"""The judge: test cells run in the grader's process, the student's code stays in its kernel.

A graded test cell is never sent to the student's kernel. The judge executes it here, in
a namespace built from the course's own cells (the ``parameters`` cell and the locked
cells tagged ``judge``, taken from the source notebook) with this process's pristine
``genlab``, ``torch`` and checks. Every name the cell uses that the course's cells do not
define is the notebook's: the judge asks the kernel for it through :mod:`genlab.wire`, and
gets plain data (numbers, tensors, containers) or a :class:`Remote` handle, through which
it can call the student's functions and read their models' attributes — again for data.
Functions of the cell decorated with :func:`genlab.checks.probe` are sent to the kernel
and run there (mocks, backward passes), returning data.

So a submission can change the data the judge receives, never the judge's code, its
expected values or its verdict: to produce data that passes, it must compute it.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import inspect
import io
import linecache
import os
import random
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any

from genlab import wire

JUDGE_TAG = "judge"          # locked cells the judge runs in its own namespace, besides `parameters`


class NotebookError(Exception):
    """The student's code raised in the kernel; the message names the exception."""


class KernelTimeout(TimeoutError):
    """The student's code did not answer within the test's time."""


_BUILTIN_ERRORS = {name: obj for name, obj in vars(builtins).items()
                   if isinstance(obj, type) and issubclass(obj, BaseException)}


def _remote_error(name: str, message: str, bases: list[str]) -> Exception:
    """An exception of the judge's own classes standing for the kernel's: a student's
    ValueError is caught by ``except ValueError`` in a test; nothing of theirs runs here."""
    base = next((_BUILTIN_ERRORS[b] for b in bases if b in _BUILTIN_ERRORS
                 and issubclass(_BUILTIN_ERRORS[b], Exception)), Exception)
    cls = type(name if name.isidentifier() else "Error", (NotebookError, base), {})
    try:
        return cls(f"{name}: {message}" if message else name)
    except Exception:  # noqa: BLE001 - a builtin whose constructor wants other arguments
        return NotebookError(f"{name}: {message}")


class KernelLink:
    """Requests to one kernel's :func:`genlab.wire.serve`, with a time budget per test cell."""

    def __init__(self, connection_file: str, interrupt=None, clock=None):
        from jupyter_client.blocking import BlockingKernelClient

        self.kc = BlockingKernelClient(connection_file=connection_file)
        self.kc.load_connection_file()
        self.kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=True)
        self._interrupt = interrupt
        # the budget counts on this clock: the kernel's own time in the sandbox
        # (genlab.grader.sandbox.KernelClock), so load on the grader does not use it up
        self.clock = clock or time.monotonic
        self.budget_s = 60.0           # kernel time left to the running test cell
        self.used_s = 0.0
        self.unresponsive = False      # a request that ignored an interrupt: no more waiting
        self.rng = random.Random(0)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.kc.stop_channels()

    def interrupt(self) -> None:
        if self._interrupt is not None:
            self._interrupt()
        else:
            self.kc.control_channel.send(self.kc.session.msg("interrupt_request", content={}))

    def request(self, op: str, **fields) -> Any:
        if self.unresponsive:
            raise KernelTimeout("the notebook's kernel stopped answering after an earlier test")
        if self.budget_s <= 0:
            raise KernelTimeout("your code used up this test's time")
        fields["seed"] = self.rng.randrange(2**62)
        request = wire.dumps({"op": op, **fields})
        expression = f"__import__('genlab.wire', fromlist=['serve']).serve(globals(), {request!r})"
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={"r": expression},
                                 allow_stdin=False)
        started = self.clock()
        reply = self._wait(msg_id, lambda: self.budget_s - (self.clock() - started))
        if reply is None:
            self.interrupt()
            after = time.monotonic()
            reply = self._wait(msg_id, lambda: 10 - (time.monotonic() - after))
            self.used_s += self.clock() - started
            self.budget_s = 0
            if reply is None:
                self.unresponsive = True
            raise KernelTimeout("your code ran past this test's time limit and was interrupted")
        spent = self.clock() - started
        self.used_s += spent
        self.budget_s -= spent
        return self._answer(reply)

    def _wait(self, msg_id: str, left):
        """The reply to ``msg_id``, or None once ``left()`` (seconds) is spent; a wall-clock
        backstop of WALL_BACKSTOP times the budget holds whatever the clock says."""
        from queue import Empty

        from genlab.grader.clock import WALL_BACKSTOP

        cap = time.monotonic() + WALL_BACKSTOP * max(left(), 1.0)
        while True:
            remaining = left()
            if remaining <= 0 or time.monotonic() > cap:
                return None
            try:
                msg = self.kc.get_shell_msg(timeout=min(0.5, remaining))
            except Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg

    def _answer(self, reply: dict) -> Any:
        content = reply.get("content", {})
        found = content.get("user_expressions", {}).get("r", {})
        if content.get("status") != "ok" or found.get("status") != "ok":
            why = found.get("ename") or content.get("ename") or "no answer"
            raise NotebookError(f"the notebook's kernel could not answer the grader ({why}: "
                                f"{str(found.get('evalue') or content.get('evalue') or '')[:200]})")
        text = found.get("data", {}).get("text/plain", "")
        try:
            payload = wire.loads(ast.literal_eval(text))
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise NotebookError(f"the notebook's answer was not plain data ({exc.__class__.__name__})") from None
        if not isinstance(payload, dict):
            raise NotebookError("the notebook's answer was not plain data")
        if "error" in payload:
            name, message, bases = (list(payload["error"]) + ["", "", []])[:3]
            raise _remote_error(str(name)[:80], str(message)[:2000],
                                [str(b) for b in bases] if isinstance(bases, list) else [])
        try:
            return wire.decode(payload.get("ok"), lambda ref: Remote(self, ref))
        except (wire.WireError, ValueError, TypeError, KeyError) as exc:
            raise NotebookError(f"the notebook's answer was not plain data ({exc})") from None


def _ref(value: Any) -> Any:
    """Encode an argument for the kernel: data, or a handle the kernel gave out."""
    def keep(obj):
        if isinstance(obj, Remote):
            return object.__getattribute__(obj, "_ref")["handle"]
        raise wire.WireError(f"a {type(obj).__name__} of the test cannot be handed to the notebook: "
                             "pass plain data, or build it inside a @probe")
    return wire.encode(value, keep)


class Remote:
    """A handle to an object in the student's kernel: calling it, reading an attribute or an
    item asks the kernel, which answers with data or another handle."""

    def __init__(self, link: KernelLink, ref: dict):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_ref", {"handle": ref["handle"]})
        object.__setattr__(self, "_type", str(ref.get("type", "object"))[:80])

    def _ask(self, op: str, **fields):
        return object.__getattribute__(self, "_link").request(op, target=object.__getattribute__(self, "_ref"),
                                                               **fields)

    def __call__(self, *args, **kwargs):
        return self._ask("call", args=_ref(list(args)), kwargs=_ref(dict(kwargs)))

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return self._ask("getattr", attr=attr)

    def __setattr__(self, attr: str, value) -> None:
        self._ask("setattr", attr=attr, args=_ref([value]))

    def __getitem__(self, key):
        return self._ask("getitem", args=_ref([key]))

    def __iter__(self):
        iterator = self._ask("iter")
        while True:
            try:
                yield iterator._ask("next")
            except StopIteration:
                return
            except NotebookError as exc:
                if isinstance(exc, StopIteration):
                    return
                raise

    def __next__(self):
        return self._ask("next")

    def __bool__(self) -> bool:
        return True

    def __len__(self) -> int:
        n = self._ask("len")
        if not isinstance(n, int) or n < 0:
            raise NotebookError("len() of a notebook object was not a count")
        return n

    def __repr__(self) -> str:
        return f"<notebook {object.__getattribute__(self, '_type')}>"


# ---------------------------------------------------------------- running test cells

@dataclass
class Outcome:
    """What a test cell did when the judge ran it."""
    passed: bool
    stdout: str = ""
    ename: str = ""
    evalue: str = ""
    kernel_s: float = 0.0
    timed_out: bool = False


def _probe_bodies(tree: ast.AST) -> set[int]:
    """ids of the nodes inside functions decorated with ``probe``: their names are the kernel's."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                (isinstance(d, ast.Name) and d.id == "probe") or (isinstance(d, ast.Attribute) and d.attr == "probe")
                for d in node.decorator_list):
            for stmt in node.body:
                inside |= {id(n) for n in ast.walk(stmt)}
            for default in node.args.defaults + node.args.kw_defaults:
                if default is not None:
                    inside |= {id(n) for n in ast.walk(default)}
    return inside


def free_names(source: str) -> list[str]:
    """Names a test cell reads but neither binds nor imports (outside its probes), in order."""
    tree = ast.parse(source)
    skip = _probe_bodies(tree)
    bound, used = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                bound.add(node.id)
            elif id(node) not in skip and node.id not in used:
                used.append(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return [n for n in used if n not in bound]


class Judge:
    """Runs a notebook's test cells in this process against one student's kernel."""

    def __init__(self, link: KernelLink, setup_sources: list[str], *, seed: int = 0):
        self.link = link
        self.seed = seed
        self.namespace: dict[str, Any] = {"__name__": "__judge__", "__builtins__": builtins}
        self.setup_error: str = ""
        self._run_setup(setup_sources)

    def _run_setup(self, sources: list[str]) -> None:
        import matplotlib

        matplotlib.use("Agg")
        for i, source in enumerate(sources):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(self._compile(source, f"setup-{i}"), self.namespace)  # noqa: S102 - course code
            except Exception as exc:  # noqa: BLE001 - reported on every test cell
                self.setup_error = f"the grader's set-up failed: {exc.__class__.__name__}: {exc}"
                break
        import matplotlib.pyplot as plt

        plt.close("all")

    def _compile(self, source: str, name: str):
        from genlab.grader.tamper import python_source

        filename = f"<judge {name} {hashlib.sha1(source.encode()).hexdigest()[:8]}>"
        text = python_source(source)
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        return compile(text, filename, "exec")

    def run_cell(self, source: str, grade_id: str, *, budget_s: float) -> Outcome:
        """Execute one test cell; ``budget_s`` bounds the time the student's code may take."""
        import matplotlib.pyplot as plt

        import genlab.checks

        if self.setup_error:
            return Outcome(False, ename="GraderSetupError", evalue=self.setup_error)
        link = self.link
        link.budget_s, link.used_s = budget_s, 0.0
        link.rng.seed(f"{self.seed}:{grade_id}")
        out = io.StringIO()
        previous_hook = genlab.checks._PROBE_HOOK
        genlab.checks._PROBE_HOOK = self._ship
        try:
            from genlab.grader.tamper import python_source

            code = self._compile(source, grade_id)
            names = [n for n in free_names(python_source(source))
                     if n not in self.namespace and not hasattr(builtins, n)]
            cell_ns = dict(self.namespace)
            if names:
                for name, (status, value) in link.request("get", names=names).items():
                    if status == "ok" and name in names:
                        cell_ns[name] = value
            with contextlib.redirect_stdout(out):
                exec(code, cell_ns)  # noqa: S102 - the course's test, in the grader's process
            for name, value in cell_ns.items():   # what the test defined serves later tests
                if name not in names and (name not in self.namespace or self.namespace[name] is not value):
                    self.namespace[name] = value
            return Outcome(True, out.getvalue(), kernel_s=link.used_s)
        except Exception as exc:  # noqa: BLE001 - a failing test is an outcome
            name = exc.__class__.__name__
            if isinstance(exc, NotebookError):
                name = "NotebookError"
            return Outcome(False, out.getvalue(), name, str(exc)[:3000], link.used_s,
                           timed_out=isinstance(exc, KernelTimeout))
        finally:
            genlab.checks._PROBE_HOOK = previous_hook
            plt.close("all")

    def _ship(self, fn):
        """``@probe`` in the judge: send the function's source to the kernel, return a handle."""
        try:
            source = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError) as exc:
            raise RuntimeError(f"probe {fn.__name__}: its source is needed to run it in the notebook") from exc
        tree = ast.parse(source)
        func = tree.body[0]
        if not isinstance(func, ast.FunctionDef):
            raise RuntimeError(f"probe {fn.__name__} must be a plain def")
        func.decorator_list = []
        handle = self.link.request("define", source=ast.unparse(func), name=func.name)
        if not isinstance(handle, Remote):
            raise NotebookError("the notebook did not define the probe")
        return handle


def setup_sources(nb) -> list[str]:
    """The course cells the judge runs for its own namespace: ``parameters`` and ``judge``-tagged."""
    from genlab.grader.cells import Role, role

    return [c.source for c in nb.cells if c.cell_type == "code" and role(c) is Role.LOCKED
            and {"parameters", JUDGE_TAG} & set(c.metadata.get("tags", []))]


def judged_outside(nb) -> bool:
    """Does this (source) notebook's grading run its tests in the judge? Set per notebook in
    its metadata (``genlab.judge = "outside"``) while the topics move over."""
    return (nb.metadata.get("genlab", {}) or {}).get("judge") == "outside"


def judge_seed() -> int:
    return int(os.environ.get("GENLAB_JUDGE_SEED", "0"))
