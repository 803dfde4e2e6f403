"""The adversarial suite: every submission of autograder/adversarial/cases.py graded by the
real pipeline (``genlab.grader.grading.grade``, two workers, the sandbox), then checked for its
status and score, for files read or written outside the sandbox and for connections."""
import csv
import json
import os
import socket
import sqlite3
import threading
import time

import nbformat
import pytest
from filelock import FileLock

from genlab.course import REPO_ROOT
from genlab.grader.grading import grade
from genlab.grader.sandbox import Limits, sandbox_kind
from genlab.grader.validity import adversarial_cases

cases = adversarial_cases()

TOPIC = cases.TOPIC
# Small limits keep the run-away cases short; honest cases need ~5 s (~12 s on a busy
# machine) and ~700 MB.
LIMITS = Limits(wall_s=30, memory_mb=2048, file_mb=64, disk_mb=128, tmp_mb=64)
CELL_TIMEOUT = 10
SECRET = "CANARY-SECRET-8c2f"
OTHER_TOKEN = "def norm"


def _grade_class(root):
    sub, out = root / "submitted", root / "out"
    other = cases.honest_copy(sub)
    (root / "secret.txt").write_text(SECRET)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    hits = []

    def accept():
        while True:
            conn, addr = server.accept()
            hits.append(repr(addr))
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    canaries = cases.Canaries(
        secrets={str(cases.SOURCE / TOPIC / f"{TOPIC}.ipynb"): cases.HIDDEN_MARKER,
                 str(REPO_ROOT / "autograder" / "nbgrader_config.py"): "get_config",
                 str(out / "gradebook.db"): "SQLite format",
                 str(other): OTHER_TOKEN,
                 str(root / "secret.txt"): SECRET},
        forbidden_writes=[str(out / "PWNED"), str(root / "PWNED"), str(REPO_ROOT / "genlab" / "PWNED.py"),
                          str(REPO_ROOT / "autograder" / "PWNED"), str(other.with_name("notes.txt")),
                          str(out / "gradebook.db")],
        port=server.getsockname()[1])
    cases.build_class(sub, canaries)
    start = time.perf_counter()
    grade(sub, TOPIC, out, source=cases.SOURCE, workers=2, limits=LIMITS, cell_timeout=CELL_TIMEOUT,
          progress=False)
    seconds = time.perf_counter() - start
    time.sleep(0.5)
    server.close()
    (root / "run.json").write_text(json.dumps({"hits": hits, "seconds": seconds,
                                               "secrets": canaries.secrets,
                                               "writes": canaries.forbidden_writes}))


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    if sandbox_kind()[0] != "bwrap":
        pytest.skip("bubblewrap is not available: the adversarial suite needs the sandbox")
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "adversarial-class"
    with FileLock(f"{root}.lock"):
        if not (root / "run.json").is_file():
            root.mkdir(exist_ok=True)
            _grade_class(root)
    with open(root / "out" / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return root, rows, json.loads((root / "run.json").read_text())


def _outputs(root, student) -> str:
    path = root / "out" / "autograded" / student / TOPIC / f"{TOPIC}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return "\n".join(o.get("text", "") + str(o.get("evalue", "")) for c in nb.cells for o in c.get("outputs", []))


def _log_tail(out, student, lines=40) -> str:
    """The end of nbgrader's log for one student, so that an unexpected status explains itself."""
    log = out / ".work" / student / "nbgrader.log"
    if not log.is_file():
        return "(no nbgrader.log)"
    return "nbgrader.log:\n" + "\n".join(log.read_text().splitlines()[-lines:])


def test_suite_covers_every_threat():
    assert len(cases.CASES) >= 20
    assert len({c.name for c in cases.CASES}) == len(cases.CASES)


@pytest.mark.slow
def test_every_case_has_a_row_and_a_sandbox(graded):
    _, rows, _ = graded
    assert set(rows) == {c.name for c in cases.CASES} | {"other-student"}
    assert {r["sandbox"] for r in rows.values() if r["status"] not in ("invalid-notebook", "missing")} == {"bwrap"}


@pytest.mark.slow
@pytest.mark.parametrize("case", cases.CASES, ids=[c.name for c in cases.CASES])
def test_case_status_and_score(graded, case):
    root, rows, _ = graded
    row = rows[case.name]
    assert row["status"] in case.status.split("|"), (f"{case.threat}: {row['status']} ({row['reason']})\n"
                                                     + _log_tail(root / "out", case.name))
    score = float(row["score"])
    assert score <= case.max_score, f"grade inflation: {case.threat} scored {score} > {case.max_score}"
    assert score >= case.min_score, f"honest work lost: {case.threat} scored {score} < {case.min_score}"
    if row["status"] != "graded":
        assert len(row["reason"]) > 10, "a student without a plain grade needs a reason"


@pytest.mark.slow
def test_gradebook_agrees_and_is_intact(graded):
    from nbgrader.api import Gradebook, MissingEntry

    root, rows, _ = graded
    db = root / "out" / "gradebook.db"
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert b"pwned" not in db.read_bytes()[-4096:]
    limits = {c.name: c.max_score for c in cases.CASES}
    with Gradebook(f"sqlite:///{db}", "genlab") as gb:
        for student, row in rows.items():
            try:
                submission = gb.find_submission(TOPIC, student)
            except MissingEntry:
                continue
            auto = sum(g.score for nb in submission.notebooks for g in nb.grades if g.cell_type == "code")
            assert auto <= limits.get(student, 10), f"{student}: gradebook holds {auto}"
            if row["status"] in ("graded", "tampered"):
                assert auto == pytest.approx(float(row["score"]))


@pytest.mark.slow
def test_nothing_outside_the_sandbox_was_read(graded):
    root, _, run = graded
    shown = _outputs(root, "read-outside")
    for path in run["secrets"]:
        assert f"READ-FAILED {path}" in shown
    assert "READ-OK" not in shown
    for student in ("read-outside", "shell-escape"):
        text = _outputs(root, student)
        for token in (SECRET, cases.HIDDEN_MARKER, "get_config", "SQLite format"):
            assert token not in text, f"{student} read {token!r}"


@pytest.mark.slow
def test_nothing_outside_the_sandbox_was_written(graded):
    root, _, run = graded
    shown = _outputs(root, "write-outside")
    assert "WRITE-OK" not in shown
    for path in map(__import__("pathlib").Path, run["writes"]):
        assert not path.exists() or b"pwned" not in path.read_bytes()[-4096:], path
    assert not (root / "out" / ".work" / "disk-fill" / "scratch").exists(), "what a kernel wrote is removed"


@pytest.mark.slow
def test_no_connection_left_the_sandbox(graded):
    root, _, run = graded
    assert run["hits"] == []
    shown = _outputs(root, "network")
    assert shown.count("NET-FAILED") == 3 and "NET-OK" not in shown


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(graded):
    root, rows, _ = graded
    pages = list((root / "out" / "feedback").rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        assert cases.HIDDEN_MARKER not in page.read_text(), page
    assert rows["honest-solution"]["feedback"].endswith(".html")


@pytest.mark.slow
def test_student_html_and_script_never_render(graded):
    """Feedback pages and the autograded notebook Formgrader shows carry the student's
    output as text and images only."""
    import re

    root, rows, _ = graded
    page = (root / "out" / "feedback" / "html-and-script" / TOPIC / f"{TOPIC}.html").read_text()
    assert "genlab-xss" in page, "the escaped text is still shown"
    assert not re.search(r"<script[^>]*>[^<]*genlab-xss", page), "a student's script reached the page"
    assert not re.search(r"<(img|svg|b)\b[^>]*(onerror|id=.pwn)", page, re.I)
    assert not re.search(r"href=.javascript:", page, re.I)
    nb = nbformat.read(root / "out" / "autograded" / "html-and-script" / TOPIC / f"{TOPIC}.ipynb", as_version=4)
    kinds = {k for c in nb.cells for o in c.get("outputs", []) for k in o.get("data", {})}
    assert kinds <= {"text/plain", "image/png", "image/jpeg"}, kinds


@pytest.mark.slow
def test_statuses_come_from_facts_with_reasons(graded):
    _, rows, _ = graded
    assert "memory error" in rows["memory-huge-tensor"]["reason"]
    assert "MB per file" in rows["big-file-and-tmp"]["reason"]
    assert "SIGKILL" in rows["kill-kernel-signal"]["reason"]
    for name in ("delete-tests-correct", "tests-moved-to-top", "tamper-then-loop"):
        assert rows[name]["review"], f"{name}: the tamper finding is in the review column"


@pytest.mark.slow
def test_regrading_is_idempotent(graded):
    root, rows, _ = graded
    before = (root / "out" / "grades.csv").read_text()
    start = time.perf_counter()
    again = grade(root / "submitted", TOPIC, root / "out", source=cases.SOURCE, workers=2, limits=LIMITS,
                  cell_timeout=CELL_TIMEOUT, progress=False)
    assert time.perf_counter() - start < 30, "nothing should have been graded again"
    assert (root / "out" / "grades.csv").read_text() == before
    assert len(again) == len(rows)
    lines = (root / "out" / "journal.jsonl").read_text().splitlines()
    assert len(lines) == len({json.loads(line)["student"] for line in lines}) == len(rows)


# Cases whose status depends on time: honest work, loops that must still be stopped, floods.
LOAD_CASES = ("honest-solution", "honest-blank", "honest-slow-cell", "infinite-loop", "slow-test",
              "print-megabytes")


@pytest.mark.slow
def test_a_busy_grader_gives_the_same_rows(graded, tmp_path):
    """Issue 30: limits count the kernel's own time, so four busy processes on every core
    beside the grader (a shared server the night before grades are due) change no status
    and no score; a real infinite loop is still stopped. With wall-clock limits the slow but
    honest cell (4 s of CPU, limit 10 s) became a timeout here."""
    from load import cpu_hog

    _, quiet, _ = graded
    chosen = [c for c in cases.CASES if c.name in LOAD_CASES]
    sub, out = tmp_path / "submitted", tmp_path / "out"
    cases.build_class(sub, cases.Canaries(secrets={}, forbidden_writes=[], port=9), chosen)
    start = time.perf_counter()
    with cpu_hog(per_core=4):
        grade(sub, TOPIC, out, source=cases.SOURCE, workers=2, limits=LIMITS, cell_timeout=CELL_TIMEOUT,
              progress=False)
    seconds = time.perf_counter() - start
    with open(out / "grades.csv") as f:
        busy = {r["student"]: r for r in csv.DictReader(f)}
    differ = [f"{name}: quiet {quiet[name]['status']} {quiet[name]['score']}, busy {busy[name]['status']} "
              f"{busy[name]['score']} ({busy[name]['reason'][:120]})" for name in LOAD_CASES
              if (quiet[name]["status"], float(quiet[name]["score"]))
              != (busy[name]["status"], float(busy[name]["score"]))]
    logs = [_log_tail(out, name) for name in LOAD_CASES if busy[name]["status"] == "error"]
    assert not differ, f"graded in {seconds:.0f} s beside the hog:\n" + "\n".join(differ + logs)
