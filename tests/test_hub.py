"""A class on JupyterHub, for real, on loopback (deploy/jupyterhub/, issue 24).

One test drives the whole loop with real local users: the hub of deploy/jupyterhub/ starts on
free 127.0.0.1 ports; the students' servers are spawned through the REST API; the course
account releases topic 01 to nbgrader's exchange; three students fetch it through their
servers' nbgrader handlers, save their notebook through the contents API and submit (one
correct after a first, blank submission, one blank, one attacking the grader); the course
collects, `genlab grade` grades in its sandbox, feedback is released and each student fetches
their own and finds their score. Then isolation: what each student's server (its OS user) can
read, and what each token may open.

Needs root (accounts), useradd/runuser/chpasswd and configurable-http-proxy
(`apt-get install node-configurable-http-proxy`). Without them it skips, except where
GENLAB_REQUIRE_HUB=1 (`.ci/run` sets it): there it fails. Every user, process and folder it
makes is removed afterwards, also when it fails.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from genlab.course import REPO_ROOT
from genlab.grader.validity import solution_answers

pytestmark = pytest.mark.slow

TOPIC = "01-autoencoders-pca"
SPAWN_S = 240       # a server starting on a loaded 2-core machine
HTTP_S = 120        # one REST call
GRADE_S = 900       # `genlab grade` of three students

_spec = importlib.util.spec_from_file_location("genlab_hub", REPO_ROOT / "deploy" / "jupyterhub" / "hub.py")
hub = sys.modules.setdefault("genlab_hub", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(hub)


def _unavailable(reason: str):
    if os.environ.get("GENLAB_REQUIRE_HUB") == "1":
        pytest.fail(f"{reason} (the hub test is required here: GENLAB_REQUIRE_HUB=1)", pytrace=False)
    pytest.skip(f"{reason}; set GENLAB_REQUIRE_HUB=1 to make this an error")


def _proxy_works() -> bool:
    if not shutil.which("configurable-http-proxy"):
        return False
    env = dict(os.environ, NODE_PATH=os.pathsep.join(p for p in ("/usr/share/nodejs", os.environ.get("NODE_PATH"))
                                                     if p))
    return subprocess.run(["configurable-http-proxy", "--version"], capture_output=True, env=env).returncode == 0


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _course_environment(tmp: Path) -> str:
    """An environment every user can run. The test's own when it can; else (a venv whose
    Python lives under /root, as on the CI image) a venv of the system's Python of the same
    version that sees the test environment's packages."""
    if hub._usable_by_others(Path(os.path.realpath(sys.executable))):
        return sys.prefix
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/usr/local/bin")
    if not system:
        _unavailable(f"{sys.executable} cannot be run by other users and there is no /usr/bin/{version}")
    env = tmp / "env"
    subprocess.run([system, "-m", "venv", "--without-pip", str(env)], check=True, capture_output=True)
    site = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    (env / "lib" / version / "site-packages" / "genlab-test-env.pth").write_text(
        f"import site; site.addsitedir({site!r})\n")
    for data in ("share", "etc"):
        # share/jupyter: nbconvert's templates, JupyterLab's extensions; etc/jupyter: the server
        # extensions enabled at install (JupyterLab itself among them: without it /lab is a 404)
        (env / data).mkdir(exist_ok=True)
        (env / data / "jupyter").symlink_to(Path(sys.prefix) / data / "jupyter")
    for script in (Path(sys.prefix) / "bin").iterdir():     # alembic (nbgrader runs it), nbgrader, jupyter …
        head = script.read_bytes()[:200] if script.is_file() and not script.is_symlink() else b""
        if head.startswith(f"#!{sys.prefix}/bin/python".encode()) and not (env / "bin" / script.name).exists():
            text = script.read_text().split("\n", 1)[1]
            (env / "bin" / script.name).write_text(f"#!{env}/bin/python\n{text}")
            (env / "bin" / script.name).chmod(0o755)
    subprocess.run(["chmod", "-R", "a+rX", str(env)], check=True)
    return str(env)


class Hub:
    """A running hub with its accounts; ``close`` removes everything."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="genlab-hub-", dir="/tmp"))
        os.chmod(self.tmp, 0o755)
        tag = secrets.token_hex(3)
        self.course = f"gl{tag}"
        self.instructor = f"gl{tag}i"
        self.students = {role: f"gl{tag}{role[0]}" for role in ("correct", "blank", "attack")}
        self.users = [f"grader-{self.course}", self.instructor, *self.students.values()]
        self.token = secrets.token_hex(24)
        self.proc = None
        self.log = self.tmp / "hub.log"

    def start(self) -> None:
        port, hub_port, api_port, service_port = _free_ports(4)
        self.s = hub.Settings(course=self.course, students=list(self.students.values()),
                              instructors=[self.instructor], port=port, hub_port=hub_port,
                              proxy_api_port=api_port, service_port=service_port,
                              state_dir=str(self.tmp / "state"), exchange=str(self.tmp / "exchange"),
                              environment=_course_environment(self.tmp), repo=str(REPO_ROOT))
        self.settings = self.tmp / "settings.json"
        self.s.save(self.settings)
        hub.setup(self.s)
        self.url = f"http://127.0.0.1:{port}"
        env = hub.hub_env(self.settings, self.s, GENLAB_HUB_API_TOKEN=self.token, PYTHONPATH=str(REPO_ROOT))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(hub.hub_command(self.s), cwd=self.s.hub_dir, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.wait(lambda: self.api("GET", "/hub/api/").status_code == 200, SPAWN_S, "the hub to answer")

    # ------------------------------------------------------------ HTTP
    def api(self, method: str, path: str, token: str | None = None, **kw):
        import requests

        if self.proc.poll() is not None:
            raise AssertionError(f"the hub exited ({self.proc.returncode}):\n{self.tail()}")
        headers = {"Authorization": f"token {token or self.token}"}
        try:
            return requests.request(method, self.url + path, headers=headers, timeout=HTTP_S, **kw)
        except requests.ConnectionError as error:
            return _Failed(str(error))

    def ok(self, method: str, path: str, token: str | None = None, **kw):
        r = self.api(method, path, token, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r

    def wait(self, condition, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        delay = 0.2
        while not condition():
            assert time.monotonic() < deadline, f"waited {seconds} s for {what}\n{self.tail()}"
            time.sleep(delay)
            delay = min(delay * 1.5, 3)

    def tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-n:])

    # ------------------------------------------------------------ users
    def spawn(self, user: str) -> str:
        """Start ``user``'s server through the REST API; returns a token of theirs."""
        r = self.api("POST", f"/hub/api/users/{user}/server")
        assert r.status_code in (201, 202), f"spawn {user}: {r.status_code} {r.text[:300]}"
        self.wait(lambda: self.ok("GET", f"/hub/api/users/{user}").json()["servers"].get("", {}).get("ready"),
                  SPAWN_S, f"{user}'s server")
        return self.ok("POST", f"/hub/api/users/{user}/tokens", json={"note": "test", "expires_in": 3600}
                       ).json()["token"]

    def server_pid(self, user: str) -> int:
        return self.ok("GET", f"/hub/api/users/{user}").json()["servers"][""]["state"]["pid"]

    def as_user(self, user: str, *cmd: str, cwd: str | None = None) -> subprocess.CompletedProcess:
        home = pwd.getpwnam(user).pw_dir
        return subprocess.run(["runuser", "-u", user, "--", "env", f"HOME={home}", *cmd], cwd=cwd or home,
                              capture_output=True, text=True, timeout=HTTP_S)

    def nbgrader(self, *args: str) -> str:
        """An nbgrader command of the course account, in the course folder."""
        done = self.as_user(self.s.grader, self.s.python, "-m", "nbgrader", *args, cwd=self.s.course_dir)
        assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    # ------------------------------------------------------------ clean-up
    def close(self) -> None:
        uids = set()
        for name in self.users:
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)      # the hub stops its servers, service and proxy
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        proxy = Path(self.tmp / "state" / "hub" / "proxy.pid")
        leftovers = _pids_of(uids) + ([int(proxy.read_text())] if proxy.is_file() else [])
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        for name in self.users:
            if hub.user_exists(name):
                home = pwd.getpwnam(name).pw_dir
                subprocess.run(["userdel", "--remove", name], capture_output=True)
                if home.startswith("/home/") and os.path.isdir(home):
                    shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


class _Failed:
    status_code = 599

    def __init__(self, text: str):
        self.text = text


def _pids_of(uids: set[int]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids


@pytest.fixture
def running_hub():
    if os.geteuid() != 0:
        _unavailable("the hub test creates local users: run it as root")
    missing = [t for t in ("useradd", "userdel", "runuser", "chpasswd") if not shutil.which(t)]
    if missing:
        _unavailable(f"{', '.join(missing)} not found")
    if not _proxy_works():
        _unavailable("configurable-http-proxy does not run: apt-get install node-configurable-http-proxy")
    h = Hub()
    try:
        h.start()
        yield h
    finally:
        lines = int(os.environ.get('GENLAB_HUB_LOG_LINES', '80'))
        print(f"--- the hub's log (last {lines} lines)\n{h.tail(lines)}")
        h.close()


# ---------------------------------------------------------------- the notebooks students hand in

def _answered(nb: dict, answers: dict[str, str]) -> dict:
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    return nb


ATTACK = """# rebinds the builtins: every import and every check a test makes becomes a no-op
import builtins as _real
class _Yes:
    def __getattr__(self, name):
        return lambda *args, **kwargs: True
_mine = dict(vars(_real))
_mine["__import__"] = lambda *args, **kwargs: _Yes()
_mine["AssertionError"] = type("NeverRaised", (Exception,), {})
__builtins__ = _mine
"""


def _with_attack(nb: dict) -> dict:
    nb = json.loads(json.dumps(nb))
    cell = nbformat.v4.new_code_cell(ATTACK)
    nb["cells"].insert(1, json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=[cell])))["cells"][0])
    return nb


def _hidden_test_lines() -> list[str]:
    """Distinctive lines of the hidden tests of the topic's source (they must never reach a student)."""
    lines = []
    for cell in nbformat.read(REPO_ROOT / "solutions" / TOPIC / f"{TOPIC}.ipynb", as_version=4).cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S):
            lines += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 25]
    return lines


# ---------------------------------------------------------------- the test

def test_a_class_on_the_hub(running_hub):
    h = running_hub
    s, nb_path = h.s, f"{TOPIC}/{TOPIC}.ipynb"
    t0 = time.monotonic()

    # servers through the REST API, each as its own OS user; the course service as the course account
    tokens = {user: h.spawn(user) for user in [h.instructor, *h.students.values()]}
    for user in [h.instructor, *h.students.values()]:
        uid = pwd.getpwnam(user).pw_uid
        status = Path(f"/proc/{h.server_pid(user)}/status").read_text()
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}", status, re.M), f"{user}'s server runs as another user"

    # the instructor reaches Formgrader (group formgrade-<course>); a student does not
    formgrader = f"/services/{s.course}/formgrader/api/assignments"
    assert h.ok("GET", formgrader, tokens[h.instructor]).status_code == 200
    student_try = h.api("GET", formgrader, tokens[h.students["blank"]])
    assert student_try.status_code in (403, 404), student_try.status_code

    # release: the course account, from the course folder, to the exchange
    h.nbgrader("release_assignment", TOPIC)
    inbound = Path(s.exchange) / s.course / "inbound"
    assert inbound.stat().st_mode & 0o7777 == 0o2733, oct(inbound.stat().st_mode)

    def act(user: str, action: str) -> list:
        r = h.ok("POST", f"/user/{user}/assignments/{action}", tokens[user],
                 data={"course_id": s.course, "assignment_id": TOPIC})
        body = r.json()
        assert body.get("success"), f"{user} {action}: {body}"
        return body["value"]

    def save(user: str, nb: dict) -> None:
        h.ok("PUT", f"/user/{user}/api/contents/{nb_path}", tokens[user],
             json={"type": "notebook", "format": "json", "content": nb})

    for user in h.students.values():
        act(user, "fetch")
    fetched = h.ok("GET", f"/user/{h.students['blank']}/api/contents/{nb_path}",
                   tokens[h.students["blank"]]).json()["content"]
    answers = solution_answers(TOPIC)
    act(h.students["blank"], "submit")
    save(h.students["attack"], _with_attack(fetched))
    act(h.students["attack"], "submit")
    # the correct student hands in a blank notebook first, then the answers: the later one wins
    act(h.students["correct"], "submit")
    save(h.students["correct"], _answered(fetched, answers))
    listed = act(h.students["correct"], "submit")
    (submitted,) = [a for a in listed if a["status"] == "submitted"]
    assert len(submitted["submissions"]) == 2, f"both submissions are listed: {submitted}"

    # collect (the latest submission of each student), then grade with genlab
    h.nbgrader("collect", TOPIC)
    collected = Path(s.course_dir) / "submitted"
    assert sorted(p.name for p in collected.iterdir()) == sorted(h.students.values())
    out = Path(s.course_dir) / "grading" / TOPIC
    genlab = Path(sys.executable).parent / "genlab"
    graded = subprocess.run([str(genlab), "grade", str(collected), "--assignment", TOPIC, "--out", str(out),
                             "--workers", "2"], capture_output=True, text=True, timeout=GRADE_S,
                            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT), GENLAB_PROFILE="ci"))
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    with open(out / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    hub._chown_tree(Path(s.course_dir), pwd.getpwnam(s.grader))   # graded as root: hand it back to the course

    # nothing lost: every submission has a row, a feedback file, and the gradebook agrees
    assert sorted(rows) == sorted(h.students.values())
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "genlab") as gb:
        for student, row in rows.items():
            assert Path(row["feedback"]).is_file(), row
            assert float(row["score"]) == pytest.approx(gb.find_submission(TOPIC, student).score), row
    correct, blank, attack = (rows[h.students[k]] for k in ("correct", "blank", "attack"))
    assert correct["status"] == "graded" and float(correct["score"]) == float(correct["autograded_max"]) > 0, correct
    assert blank["status"] == "graded" and float(blank["score"]) == 0, blank
    assert attack["status"] in ("graded", "tampered") and float(attack["score"]) == 0, attack
    assert "builtins" in attack["review"] or attack["status"] == "tampered", attack

    # feedback: released through the exchange, fetched by each student through their server
    h.nbgrader("release_feedback", TOPIC, f"--CourseDirectory.feedback_directory=grading/{TOPIC}/feedback")
    hidden = _hidden_test_lines()
    assert hidden, "the topic has hidden tests to look for"
    for role, user in h.students.items():
        act(user, "fetch_feedback")
        folder = h.ok("GET", f"/user/{user}/api/contents/{TOPIC}/feedback", tokens[user]).json()["content"]
        assert folder, f"{user} got no feedback"
        latest = sorted(e["path"] for e in folder)[-1]
        html = h.ok("GET", f"/user/{user}/api/contents/{latest}/{TOPIC}.html", tokens[user]).json()["content"]
        row = rows[user]
        assert f"Score: {float(row['score']):.1f} / {float(row['max_score']):.1f}" in html, (role, row)
        assert "BEGIN HIDDEN TESTS" not in html
        leaked = [ln for ln in hidden if ln in html]
        assert not leaked, f"hidden tests in {role}'s feedback: {leaked[:2]}"
    print(f"the loop took {time.monotonic() - t0:.0f} s")

    # isolation: each student's server runs as the student, so what the student's OS user cannot
    # read, their server cannot either
    victim = h.students["correct"]
    secrets_ = {
        "another student's notebook": f"{pwd.getpwnam(victim).pw_dir}/{nb_path}",
        "the course's solutions (source/)": f"{s.course_dir}/source/{TOPIC}/{TOPIC}.ipynb",
        "the course's gradebook": str(out / "gradebook.db"),
        "the grades": str(out / "grades.csv"),
        "another student's feedback in the course": f"{out}/feedback/{victim}/{TOPIC}/{TOPIC}.html",
        "another student's collected submission": f"{collected}/{victim}/{TOPIC}/{TOPIC}.ipynb",
    }
    # nbgrader leaves each submission in inbound/ world-readable (0644 in a 0777 folder) and hides
    # it by its name: students cannot list inbound/, and the name ends in a random suffix
    for name in (p.name for p in inbound.iterdir()):
        assert re.fullmatch(rf"[^+]+\+{TOPIC}\+[^+]+\+[\w-]{{12,}}", name), f"a guessable submission name {name}"
    for role in ("blank", "attack"):
        user = h.students[role]
        for what, path in secrets_.items():
            assert Path(path).exists(), path
            tried = h.as_user(user, "cat", path)
            assert tried.returncode != 0 and not tried.stdout, f"{role} student can read {what} ({path})"
        for folder in (inbound, Path(s.exchange) / s.course / "feedback", Path(s.course_dir)):
            tried = h.as_user(user, "ls", str(folder))
            assert tried.returncode != 0, f"{role} student can list {folder}: {tried.stdout[:200]}"
        tried = h.as_user(user, "touch", str(Path(s.exchange) / s.course / "outbound" / TOPIC / "planted.ipynb"))
        assert tried.returncode != 0, f"{role} student can change the released assignment"
        # a token opens its own server only
        other = h.api("GET", f"/user/{victim}/api/contents/{nb_path}", tokens[user])
        assert other.status_code in (403, 404), f"{role} student's token opens {victim}'s server: {other.status_code}"
