"""The grader's defences one by one: static tamper scan, metadata restore, the fallback
without bubblewrap, and resuming an interrupted run."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genlab.course import AUTOGRADER
from genlab.grader import tamper
from genlab.grader.grading import grade, restore_from_release
from genlab.grader.sandbox import Limits, sandbox_kind
from genlab.grader.validity import adversarial_cases

cases = adversarial_cases()
TOPIC = cases.TOPIC
PROTECTED = tamper.protected_names(["import torch\nimport torch.nn.functional as F\n"
                                    "from genlab.checks import check_close"])


@pytest.mark.parametrize("source", [
    "def check_close(*a, **k):\n    pass",
    "torch.allclose = lambda *a, **k: True",
    "F.mse_loss = lambda *a: 0",
    "import genlab.checks\ngenlab.checks.check_close = print",
    "import builtins",
    "setattr(torch, 'allclose', print)",
    "abs = lambda x: 0",
    "!cat /etc/passwd",
    "import sys\nsys.modules['genlab.checks'] = None",
    "check_close.__code__ = (lambda: 0).__code__",
    "torch = None",
    "import numpy as torch",
    "exec('torch.allclose = print')",
    "from mylib import check_close",
    "del check_close",
])
def test_static_scan_flags_tampering(source):
    assert tamper.static_scan([source], PROTECTED), source


@pytest.mark.parametrize("source", [
    "def square(x):\n    return x * x",
    "import torch\nfrom torch import nn\nimport torch.nn.functional as F",
    "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)",
    "model.encoder.weight.data = torch.zeros(2, 2)",
    "x = torch.randn(3)\nfor i in range(3):\n    x[i] = i",
    "import numpy as np\nnp.random.seed(0)",
    "def broken(:",  # a syntax error is an honest mistake
    "model.eval()\nfor m in model.modules():\n    pass",
    "import sys\nprint(sys.version, x.__class__.__name__)",
    "from torch import nn\nimport torch.nn.functional as F\nfrom genlab.checks import check_close",
])
def test_static_scan_leaves_honest_code_alone(source):
    assert tamper.static_scan([source], PROTECTED) == []


def test_restore_from_release_undoes_metadata_changes():
    release = cases.release_notebook()
    nb = cases.answers(release)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_norm")
    test.metadata["nbgrader"].update(points=1000, grade=False)
    test.source = "pass"
    restored, changes = restore_from_release(nb, release)
    cell = next(c for c in restored.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_norm")
    assert cell.metadata["nbgrader"]["points"] == 5 and cell.metadata["nbgrader"]["grade"] is True
    assert "check_close(norm" in cell.source
    assert changes and "test_norm" in changes[0]
    assert restore_from_release(cases.answers(release), release)[1] == []


def _class(folder, names):
    wanted = [c for c in cases.CASES if c.name in names]
    canaries = cases.Canaries(secrets={}, forbidden_writes=[], port=9)
    cases.build_class(folder, canaries, wanted)


@pytest.mark.slow
def test_without_bubblewrap_grading_warns_loudly_and_still_works(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_BWRAP", "none")
    assert sandbox_kind()[0] == "rlimits"
    _class(tmp_path / "sub", ["honest-solution", "memory-grow", "kill-kernel-exit"])
    with pytest.warns(RuntimeWarning, match="NOT sandboxed"):
        results = {r.student: r for r in grade(tmp_path / "sub", TOPIC, tmp_path / "out", source=cases.SOURCE,
                                               limits=Limits(memory_mb=2048), cell_timeout=30, progress=False)}
    assert "NOT sandboxed" in capsys.readouterr().err
    assert (tmp_path / "out" / "SANDBOX-WARNING.txt").is_file()
    assert (results["honest-solution"].status, results["honest-solution"].score) == ("graded", 10)
    assert results["memory-grow"].status == "memory"
    assert results["kill-kernel-exit"].status == "crashed"
    assert {r.sandbox for r in results.values()} == {"rlimits"}


_GRADE_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from genlab.grader.grading import grade
grade({sub!r}, {topic!r}, {out!r}, source={source!r}, cell_timeout=30, progress=False)
"""


@pytest.mark.slow
def test_an_interrupted_run_resumes_without_losing_or_repeating_a_grade(tmp_path):
    names = ["honest-solution", "honest-blank", "honest-partial"]
    _class(tmp_path / "sub", names)
    out = tmp_path / "out"
    script = _GRADE_SCRIPT.format(root=str(AUTOGRADER.parent), sub=str(tmp_path / "sub"), topic=TOPIC,
                                  out=str(out), source=str(cases.SOURCE))
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file() and journal.read_text().count("\n") >= 1:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the instructor's laptop went to sleep, say
    proc.wait()
    first = [json.loads(line)["student"] for line in journal.read_text().splitlines()]
    assert 1 <= len(first) < len(names), "the run should have been cut off in the middle"
    assert not (out / "grades.csv").exists()

    results = grade(tmp_path / "sub", TOPIC, out, source=cases.SOURCE, cell_timeout=30, progress=False)
    assert [r.student for r in results] == sorted(names)
    scores = {r.student: r.score for r in results}
    assert scores == {"honest-solution": 10, "honest-blank": 0, "honest-partial": 5}
    graded_again = [json.loads(line)["student"] for line in journal.read_text().splitlines()][len(first):]
    assert sorted(first + graded_again) == sorted(names), "each student graded exactly once"
    with open(out / "grades.csv") as f:
        assert [r["student"] for r in csv.DictReader(f)] == sorted(names)


def test_only_installed_code_of_sys_path_is_mounted(tmp_path, monkeypatch):
    """A grading script run from /tmp puts /tmp on sys.path: mounting it would show the
    kernel every file there (other students' work included)."""
    from genlab.grader.sandbox import _readonly_paths

    monkeypatch.setattr("sys.path", [str(tmp_path), "/tmp", *__import__("sys").path])
    mounted = _readonly_paths()
    assert not any(p == tmp_path or tmp_path.is_relative_to(p) for p in mounted), mounted
    assert Path("/tmp") not in mounted
