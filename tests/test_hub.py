"""A class on JupyterHub, for real, on loopback (deploy/jupyterhub/, issue 24).

One test drives the whole loop with real local users: the hub of deploy/jupyterhub/ starts on
free 127.0.0.1 ports; the students' servers are spawned through the REST API; the course
account releases topic 01 to nbgrader's exchange; three students fetch it and submit (one
correct after a first, blank submission, one blank, one attacking the grader); the course
collects, `genlab grade --course` grades in its sandbox into the course's gradebook, feedback is
released and each student fetches their own and finds their score. Nothing is lost: every
submission reaches the exchange, each student's latest is collected and has a grade row and a
feedback file (the very file the student fetches), and the gradebook, and the instructor's
Formgrader on the hub, agree with grades.csv. Then isolation: what each student's server (its
OS user) can read, and what each token may open. Last, the instructor gives a written answer a
score in Formgrader and the student is graded again: the score entered by hand stays.

The correct student does it all in Chromium (Playwright, the fixtures of tests/conftest.py):
logs in on the hub's login page with their password, opens nbgrader's Assignments tab in
their JupyterLab, fetches, opens the notebook, submits, reloads the notebook once its answers
are written (through the contents API: typing them would be slow and prove nothing more) and
saves it, submits again, and after grading fetches the feedback, opens it and reads the score;
a screenshot per step goes to the artifacts folder (hub-student-NN-*.png). The other two
students use their servers' nbgrader handlers and the contents API.

Needs root (accounts), useradd/runuser/chpasswd and configurable-http-proxy
(`apt-get install node-configurable-http-proxy`). Without them it skips, except where
GENLAB_REQUIRE_HUB=1 (`.ci/run` sets it): there it fails. Without Chromium the correct student
goes through REST too and the test warns, except where CI or GENLAB_REQUIRE_BROWSER=1 is set:
there it fails. Every user, process and folder it makes is removed afterwards, also when it
fails.
"""
from __future__ import annotations

import contextlib
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
import warnings
from pathlib import Path

import nbformat
import pytest

from genlab.course import REPO_ROOT, assignment_path
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
    """n free ports below the kernel's ephemeral range. The hub's ports are fixed in its config
    long before its services bind them; a port the kernel hands out (a notebook's kernel
    started by a test beside this one binds port 0 for its ZMQ channels) could be taken in
    between: seen once, the course service's port answered with a ZMQ greeting."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = secrets.SystemRandom()
    ports: list[int] = []
    while len(ports) < n:
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


def _course_environment(tmp: Path) -> str:
    """An environment every user can run. The test's own when it can; else (a venv whose
    Python lives under /root, as on the CI image) a venv of the system's Python of the same
    version that sees the test environment's packages."""
    site = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    if not hub._usable_by_others(Path(site)):
        _unavailable(f"the test environment's packages ({site}) cannot be read by other users, so no "
                     "student's server could import them: put the checkout in a folder every user can "
                     "enter (e.g. not under a mktemp -d folder, which is 0700)")
    if hub._usable_by_others(Path(os.path.realpath(sys.executable))):
        return sys.prefix
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/usr/local/bin")
    if not system:
        _unavailable(f"{sys.executable} cannot be run by other users and there is no /usr/bin/{version}")
    env = tmp / "env"
    subprocess.run([system, "-m", "venv", "--without-pip", str(env)], check=True, capture_output=True)
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


# ---------------------------------------------------------------- one student in Chromium

class BrowserStudent:
    """A student on the hub in Chromium: the hub's login page, their JupyterLab, nbgrader's
    Assignments tab. Each step ends with a screenshot, ``hub-student-NN-<step>.png`` in the
    artifacts folder; a step that fails leaves ``FAILED-hub-student-<step>.png`` there."""

    def __init__(self, page, artifacts: Path, h: Hub, user: str, password: str, token: str):
        import labdriver  # loaded by the browser fixtures of tests/conftest.py

        self.page, self.artifacts, self.h, self.user, self.password, self.token = (
            page, artifacts, h, user, password, token)
        self.lab = labdriver
        self.steps = self.submits = 0
        self.path = f"{TOPIC}/{TOPIC}.ipynb"
        # As a student who once answered "No" to JupyterLab's news toast: it would cover the
        # corner of the Assignments tab and close the menus a click opens
        h.ok("PUT", f"/user/{user}/lab/api/settings/@jupyterlab/apputils-extension:notification", token,
             json={"raw": json.dumps({"fetchNews": "false", "checkForUpdates": False})})

    @contextlib.contextmanager
    def step(self, name: str):
        try:
            yield
        except Exception:
            with contextlib.suppress(Exception):   # a screenshot must not hide the real failure
                self.page.screenshot(path=str(self.artifacts / f"FAILED-hub-student-{name}.png"), full_page=True)
            raise
        self.steps += 1
        self.page.screenshot(path=str(self.artifacts / f"hub-student-{self.steps:02d}-{name}.png"))

    def log_in(self) -> None:
        page, form = self.page, self.lab.HUB_LOGIN
        with self.step("login"):
            page.goto(f"{self.h.url}/hub/login")
            page.fill(form["user"], self.user)
            page.fill(form["password"], self.password)
        with self.step("jupyterlab"):
            page.click(form["submit"])
            page.wait_for_url(f"**/user/{self.user}/lab**")
            self.lab.open_assignment_list(page)

    def fetch(self) -> None:
        released = self.lab.assignment_row(self.page, "released", TOPIC)
        with self.step("released"):
            released.locator("button", has_text="Fetch").wait_for()
        with self.step("fetched"):
            released.locator("button", has_text="Fetch").click()
            self.lab.assignment_row(self.page, "fetched", TOPIC).wait_for()

    def open_notebook(self) -> None:
        """The fetched assignment's notebook, opened from its row in the Assignments tab."""
        fetched = self.lab.assignment_row(self.page, "fetched", TOPIC)
        with self.step("notebook"):
            fetched.locator(".assignment-notebooks-link").click()
            fetched.locator(".nested_list_item a", has_text=TOPIC).click()
            self.page.wait_for_selector(self.lab.IDLE)
            tab = self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").text_content()
            assert tab.strip() == f"{TOPIC}.ipynb", tab
            title = nbformat.read(assignment_path(TOPIC), as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
            self.page.locator(f"{self.lab.NOTEBOOK} .jp-MarkdownCell", has_text=title).first.wait_for()

    def submit(self) -> list[str]:
        """Submit in the Assignments tab; the submissions it then lists (their times)."""
        page = self.page
        submissions = self.lab.assignment_row(page, "submitted", TOPIC).locator(".nested_list_item")
        self.submits += 1
        with self.step(f"submitted-{self.submits}"):
            self.lab.activate_tab(page, "Assignments")
            before = submissions.count()
            self.lab.assignment_row(page, "fetched", TOPIC).locator("button", has_text="Submit").click()
            submissions.nth(before).or_(page.locator(".jp-Dialog")).first.wait_for()
            assert not page.locator(".jp-Dialog").count(), page.locator(".jp-Dialog").text_content()
            return [t.strip() for t in submissions.all_text_contents()]

    def reload_and_save(self, answer_line: str) -> None:
        """File > Reload Notebook from Disk (its answers were written on disk), then File > Save."""
        page, lab = self.page, self.lab
        with self.step("answers"):
            lab.activate_tab(page, f"{TOPIC}.ipynb")
            lab.menu(page, "File", lab.RELOAD)
            answer = page.locator(f"{lab.NOTEBOOK} .jp-Cell .cm-content", has_text=answer_line).first
            # a notebook changed in the browser (its kernel's metadata) asks first
            answer.or_(page.locator(".jp-Dialog")).first.wait_for()
            if page.locator(".jp-Dialog").count():
                lab.close_dialog(page)
            # the cells render again as the reload lands: find the answer anew at each try
            page.wait_for_function(
                """([selector, text]) => {
                    const cell = [...document.querySelectorAll(selector)].find(e => e.textContent.includes(text));
                    if (cell) cell.scrollIntoView({block: "center"});
                    return !!cell;
                }""", arg=[f"{lab.NOTEBOOK} .jp-Cell .cm-content", answer_line], polling=250)
        with self.step("saved"):
            # waited for in the browser: the page's requests go through Playwright's router (the
            # page fixture's, offline), which only runs while this process is in a Playwright call
            url = f"/user/{self.user}/api/contents/{self.path}"
            with page.expect_response(lambda r: r.request.method == "PUT" and r.url.split("?")[0].endswith(url)
                                      ) as saved:
                lab.menu(page, "File", lab.SAVE)
            assert saved.value.ok, f"saving failed: {saved.value.status} {saved.value.text()[:300]}"
            on_disk = self.h.ok("GET", url, self.token).json()["content"]
            assert any(answer_line in c["source"] for c in on_disk["cells"]), "the saved notebook lost its answers"

    def fetch_feedback(self) -> tuple[list[str], str]:
        """Fetch Feedback in the Assignments tab, then open the feedback through its link;
        the submissions as listed, and the text of the feedback's first heading."""
        page, lab = self.page, self.lab
        submitted = lab.assignment_row(page, "submitted", TOPIC)
        with self.step("feedback-available"):
            lab.activate_tab(page, "Assignments")
            page.click("#refresh_assignments_list")
            submitted.locator(".nested_list_item", has_text="feedback available to fetch").wait_for()
        with self.step("feedback-fetched"):
            submitted.locator("button", has_text="Fetch Feedback").click()
            view = submitted.locator(".nested_list_item a", has_text="view feedback")
            view.wait_for()
            listed = [t.strip() for t in submitted.locator(".nested_list_item").all_text_contents()]
        with self.step("feedback-folder"):
            view.click()      # the file browser goes to the feedback's folder
            html = page.locator(lab.FILE_LISTING, has_text=f"{TOPIC}.html")
            html.wait_for()
        with self.step("feedback"):
            html.dblclick()
            heading = page.frame_locator(lab.HTML_VIEWER).locator("h1, h2, h3, h4", has_text="Score:").first
            heading.wait_for()
            return listed, heading.text_content()


@pytest.fixture
def student_browser(request):
    """The ``page`` and ``artifacts`` fixtures for the student in Chromium, or None where Chromium
    or Playwright is missing and not required (the browser fixtures skip): that student then
    goes through REST like the others, and the test warns."""
    try:
        return request.getfixturevalue("page"), request.getfixturevalue("artifacts")
    except pytest.skip.Exception as skipped:
        warnings.warn(f"tests/test_hub.py: no student in Chromium, all through REST ({skipped})", stacklevel=1)
        return None


# ---------------------------------------------------------------- the test

def test_a_class_on_the_hub(running_hub, student_browser):
    h = running_hub
    s, nb_path = h.s, f"{TOPIC}/{TOPIC}.ipynb"
    t0 = time.monotonic()

    # servers through the REST API, each as its own OS user, serving JupyterLab; the course
    # service as the course account
    tokens = {user: h.spawn(user) for user in [h.instructor, *h.students.values()]}
    for user in [h.instructor, *h.students.values()]:
        uid = pwd.getpwnam(user).pw_uid
        status = Path(f"/proc/{h.server_pid(user)}/status").read_text()
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}", status, re.M), f"{user}'s server runs as another user"
        assert "jupyterlab" in h.ok("GET", f"/user/{user}/lab", tokens[user]).text.lower(), f"{user}: no JupyterLab"

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

    def submissions(user: str) -> list[dict]:
        """The user's submissions of the topic, as their server lists them."""
        body = h.ok("GET", f"/user/{user}/assignments?course_id={s.course}", tokens[user]).json()
        assert body.get("success"), body
        (submitted,) = [a for a in body["value"] if a["status"] == "submitted" and a["assignment_id"] == TOPIC]
        return submitted["submissions"]

    # the correct student in Chromium (the others through REST): log in, fetch, open the notebook
    in_browser = h.students["correct"]
    web = None
    if student_browser:
        password = secrets.token_urlsafe(12)
        hub.ensure_user(in_browser, password)
        web = BrowserStudent(*student_browser, h, in_browser, password, tokens[in_browser])
        web.log_in()
        web.fetch()
        web.open_notebook()
    for user in h.students.values():
        if not (web and user == in_browser):
            act(user, "fetch")
    fetched = h.ok("GET", f"/user/{h.students['blank']}/api/contents/{nb_path}",
                   tokens[h.students["blank"]]).json()["content"]
    answers = solution_answers(TOPIC)
    act(h.students["blank"], "submit")
    save(h.students["attack"], _with_attack(fetched))
    act(h.students["attack"], "submit")
    # the correct student hands in a blank notebook first, then the answers: the later one wins
    if web:
        assert len(web.submit()) == 1
        save(in_browser, _answered(fetched, answers))
        web.reload_and_save(answers["pca"].strip().splitlines()[0])
        listed_in_browser = web.submit()
        assert len(listed_in_browser) == 2, f"both submissions are listed: {listed_in_browser}"
    else:
        act(in_browser, "submit")
        save(in_browser, _answered(fetched, answers))
        act(in_browser, "submit")
    handed_in = {user: [sub["timestamp"] for sub in submissions(user)] for user in h.students.values()}
    assert {user: len(times) for user, times in handed_in.items()} == {
        h.students["correct"]: 2, h.students["blank"]: 1, h.students["attack"]: 1}, handed_in
    if web:
        assert [t.split(" (")[0] for t in listed_in_browser] == handed_in[in_browser], listed_in_browser
    arrived = sorted(p.name for p in inbound.iterdir())
    assert len(arrived) == sum(len(times) for times in handed_in.values()), f"in the exchange: {arrived}"
    print(f"the students handed in after {time.monotonic() - t0:.0f} s")

    # collect (the latest submission of each student), then grade with genlab
    h.nbgrader("collect", TOPIC)
    collected = Path(s.course_dir) / "submitted"
    assert sorted(p.name for p in collected.iterdir()) == sorted(h.students.values())
    for user, times in handed_in.items():
        collected_at = (collected / user / TOPIC / "timestamp.txt").read_text().strip()
        assert collected_at == times[-1], f"{user}: collected {collected_at}, the latest is {times[-1]}"
    # as root (the sandbox), into the course folder: its gradebook, autograded/ and feedback/;
    # the rest in COURSE/grading/<topic>
    out = Path(s.course_dir) / "grading" / TOPIC
    rows = _genlab_grade(collected, s.course_dir)
    assert sorted(rows) == sorted(h.students.values())

    # the instructor sees these grades in the course's Formgrader, through the hub
    def in_formgrader() -> dict[str, dict]:
        return {sub["student"]: sub for sub in h.ok("GET", f"/services/{s.course}/formgrader/api/submissions/"
                                                    f"{TOPIC}", tokens[h.instructor]).json()}

    shown = in_formgrader()
    assert sorted(shown) == sorted(rows), shown
    for student, row in rows.items():
        assert shown[student]["autograded"], f"Formgrader does not show {student} as graded: {shown[student]}"
        assert (shown[student]["score"], shown[student]["max_score"]) == pytest.approx(
            (float(row["score"]), float(row["max_score"]))), f"{student}: Formgrader {shown[student]}, csv {row}"
    # genlab gave what it wrote there back to the course account (Formgrader writes manual grades)
    course_files = [Path(s.course_dir, name) for name in ("gradebook.db", "autograded", "feedback", "grading")]
    course_files += [p for p in out.rglob("*") if not p.is_symlink()]
    given = {p for p in course_files if p.lstat().st_uid != pwd.getpwnam(s.grader).pw_uid}
    assert not given, f"left to root in the course folder: {sorted(map(str, given))[:5]}"

    # nothing lost: every submission has a row, a feedback file, and the gradebook agrees
    from nbgrader.api import Gradebook

    gradebook = Path(s.course_dir) / "gradebook.db"
    with Gradebook(f"sqlite:///{gradebook}", s.course) as gb:
        assert sorted(sub.student_id for sub in gb.assignment_submissions(TOPIC)) == sorted(rows)
        # Formgrader made the gradebook when the instructor first opened it: genlab kept its course
        assert [a.course_id for a in gb.assignments] == [s.course]
        for student, row in rows.items():
            assert Path(row["feedback"]).is_file(), row
            graded_in_gb = gb.find_submission(TOPIC, student)
            assert float(row["score"]) == pytest.approx(graded_in_gb.score), row
            assert float(row["max_score"]) == pytest.approx(graded_in_gb.max_score), row
    correct, blank, attack = (rows[h.students[k]] for k in ("correct", "blank", "attack"))
    assert correct["status"] == "graded" and float(correct["score"]) == float(correct["autograded_max"]) > 0, correct
    assert blank["status"] == "graded" and float(blank["score"]) == 0, blank
    assert attack["status"] in ("graded", "tampered") and float(attack["score"]) == 0, attack
    assert "builtins" in attack["review"] or attack["status"] == "tampered", attack

    # feedback: released through the exchange, fetched by each student through their server
    h.nbgrader("release_feedback", TOPIC)      # from the course's own feedback/, where genlab wrote it
    hidden = _hidden_test_lines()
    assert hidden, "the topic has hidden tests to look for"
    for role, user in h.students.items():
        row = rows[user]
        score = f"Score: {float(row['score']):.1f} / {float(row['max_score']):.1f}"
        if web and user == in_browser:
            listed, heading = web.fetch_feedback()
            # the feedback of the submission collected (the later one), none for the first
            assert [t.endswith("(view feedback)") for t in listed] == [False, True], listed
            assert score in heading, (heading, row)
        else:
            act(user, "fetch_feedback")
        folder = h.ok("GET", f"/user/{user}/api/contents/{TOPIC}/feedback", tokens[user]).json()["content"]
        assert [e["name"] for e in folder] == [handed_in[user][-1]], f"{user}'s feedback: {folder}"
        html = h.ok("GET", f"/user/{user}/api/contents/{folder[0]['path']}/{TOPIC}.html", tokens[user]
                    ).json()["content"]
        assert html == Path(row["feedback"]).read_text(), f"{role} got other feedback than their grade row's"
        assert score in html, (role, row)
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
        "the course's gradebook": str(gradebook),
        "the grades": str(out / "grades.csv"),
        "another student's feedback in the course": f"{s.course_dir}/feedback/{victim}/{TOPIC}/{TOPIC}.html",
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

    # a written answer graded by hand in Formgrader (the blank student's: the quickest to grade
    # again) keeps its score when the student is graded again (alone, from a folder of their own)
    blank = h.students["blank"]
    grader_api = f"/services/{s.course}/formgrader/api"
    (notebook,) = [n for n in h.ok("GET", f"{grader_api}/submitted_notebooks/{TOPIC}/{TOPIC}",
                                    tokens[h.instructor]).json() if n["student"] == blank]
    written = next(g for g in h.ok("GET", f"{grader_api}/grades?submission_id={notebook['id']}",
                                   tokens[h.instructor]).json() if g["cell_type"] == "markdown")
    h.ok("PUT", f"{grader_api}/grade/{written['id']}", tokens[h.instructor], json={"manual_score": 1.0})
    assert in_formgrader()[blank]["score"] == pytest.approx(float(rows[blank]["score"]) + 1)
    again = h.tmp / "again"
    shutil.copytree(collected / blank, again / blank)
    regraded = _genlab_grade(again, s.course_dir, "--out", str(h.tmp / "graded-again"), "--regrade")[blank]
    kept = h.ok("GET", f"{grader_api}/grade/{written['id']}", tokens[h.instructor]).json()
    assert kept["manual_score"] == 1.0 and kept["needs_manual_grade"], f"the grade by hand is lost: {kept}"
    assert float(regraded["score"]) == pytest.approx(float(rows[blank]["score"]) + 1), regraded
    assert in_formgrader()[blank]["score"] == pytest.approx(float(regraded["score"]))


def _genlab_grade(submitted: Path, course: str, *args: str) -> dict[str, dict]:
    """`genlab grade` (as root, as the README's loop) into the course; the rows of its grades.csv."""
    genlab = Path(sys.executable).parent / "genlab"
    out = Path(args[args.index("--out") + 1]) if "--out" in args else Path(course) / "grading" / TOPIC
    graded = subprocess.run([str(genlab), "grade", str(submitted), "--assignment", TOPIC, "--course", course,
                             "--workers", "2", *args], capture_output=True, text=True, timeout=GRADE_S,
                            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT), GENLAB_PROFILE="ci"))
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    with open(out / "grades.csv") as f:
        return {r["student"]: r for r in csv.DictReader(f)}
