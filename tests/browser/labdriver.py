"""JupyterLab on 127.0.0.1 in temporary folders, driven by Debian's Chromium through Playwright.

It relies on facts observed with Debian's Chromium and JupyterLab 4.6: Chromium is launched from
``/usr/bin/chromium`` (``playwright install`` is never run), the server writes nothing in the
home folder, and the selectors below are JupyterLab 4 / nbgrader 0.9 / ipywidgets 8 ones.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Selectors (JupyterLab 4.6, @jupyter/nbgrader 0.9.6, ipywidgets 8).
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"      # the notebook in the active tab
CODE_PROMPTS = f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt"
IDLE = f'{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status="idle"]'
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
RUN_ALL = '.lm-Menu-item[data-command="runmenu:run-all"]'
VALIDATE = f"{NOTEBOOK} .jp-NotebookPanel-toolbar .validate-button"
VALIDATION = ".jp-Dialog #validation-message"
FORMGRADER = '.lm-Menu-item[data-command="nbgrader:open-formgrader"]'
FORMGRADER_FRAME = 'iframe[src*="formgrader"]'
SLIDER = ".jupyter-widgets.widget-slider"
PROGRESS = ".jupyter-widgets .widget-hprogress"
WIDGET_ERRORS = ("Error displaying widget", "Error rendering widget", "Loading widget...")
# A student on JupyterHub (5 and 6): the hub's login form, then nbgrader's Assignments tab
HUB_LOGIN = {"user": "#username_input", "password": "#password_input", "submit": "#login_submit"}
ASSIGNMENT_LIST = '.lm-Menu-item[data-command="nbgrader:open-assignment-list"]'
ASSIGNMENTS_TAB = "#nbgrader-assignment-list:not(.lm-mod-hidden)"
RELOAD = '.lm-Menu-item[data-command="docmanager:reload"]'
SAVE = '.lm-Menu-item[data-command="docmanager:save"]'
FILE_LISTING = ".jp-FileBrowser .jp-DirListing-item"
HTML_VIEWER = ".jp-HTMLViewer:not(.lm-mod-hidden) iframe"

# Milliseconds. A `ci` notebook runs in ~20 s on 2 idle cores; the limits leave room for a
# machine that is busy with other work, so that load shows up as time, not as failures.
OPEN_TIMEOUT = 180_000
RUN_TIMEOUT = 600_000

# Environment of the test process that must not reach the server or its kernels: the suite
# silences tqdm and draws with Agg, but a student sees tqdm widgets and inline figures.
_DROPPED = ("TQDM_DISABLE", "MPLBACKEND", "JUPYTER_CONFIG_PATH", "JUPYTER_PATH", "PYTEST_XDIST_WORKER",
            "PYTEST_CURRENT_TEST")


def private_env(folder: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a child (a server, `genlab grade`, `genlab demos`): the
    `ci` profile, one thread per process, and HOME, Jupyter, IPython and matplotlib folders
    inside ``folder``. The suite's TQDM_DISABLE and MPLBACKEND=Agg are dropped: students see
    tqdm widgets and inline figures (with Agg no figure reaches a notebook at all)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    env.update(
        HOME=str(folder / "home"), JUPYTER_CONFIG_DIR=str(folder / "config"), JUPYTER_DATA_DIR=str(folder / "data"),
        JUPYTER_RUNTIME_DIR=str(folder / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(folder / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(folder / "lab-workspaces"), IPYTHONDIR=str(folder / "ipython"),
        MPLCONFIGDIR=str(folder / "matplotlib"), XDG_CONFIG_HOME=str(folder / "xdg-config"),
        XDG_CACHE_HOME=str(folder / "cache"), GENLAB_PROFILE="ci",
        # The other xdist worker trains too: one thread per kernel, else both slow down 10-50x.
        OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    env.update(extra)
    for name in ("home", "config", "data", "runtime", "ipython", "matplotlib", "cache"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return env


def find_chromium() -> str | None:
    """``$GENLAB_CHROMIUM``, else Debian's ``chromium`` on PATH (``apt-get install chromium``)."""
    named = os.environ.get("GENLAB_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class JupyterLab:
    """One ``jupyter lab`` process serving ``root``; every config, data, runtime and settings
    folder (and HOME) lives in ``state``. ``stop()`` ends it by its process id."""

    def __init__(self, root: Path, state: Path, *, config_path: Path | None = None,
                 env: dict[str, str] | None = None):
        self.root, self.state = Path(root), Path(state)
        self.token = secrets.token_hex(16)
        self.config_path, self.extra_env = config_path, env or {}
        self.proc: subprocess.Popen | None = None
        self.base_url = ""
        self.log_path = self.state / "server.log"

    # -- process ---------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = private_env(self.state, **self.extra_env)
        if self.config_path:
            env["JUPYTER_CONFIG_PATH"] = str(self.config_path)
        return env

    def _write_settings(self) -> None:
        # No news or update check (no internet here, and its toast covers the corner).
        path = self.state / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    def start(self, timeout: float = 120) -> JupyterLab:
        self._write_settings()
        # expose_app_in_browser: window.jupyterapp, read (never driven) to know when a
        # notebook's kernel is connected; the toolbar shows "idle" before it is.
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
               "--port=0", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--LabApp.expose_app_in_browser=True"]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.environment(), stdout=self._log,
                                     stderr=subprocess.STDOUT)
        # --port=0 lets the OS pick a free port; the server writes it to jpserver-<pid>.json.
        info_file = self.state / "runtime" / f"jpserver-{self.proc.pid}.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            if info_file.is_file():
                try:
                    info = json.loads(info_file.read_text())
                    self.base_url = f"http://127.0.0.1:{info['port']}/"
                    self.api("GET", "api/status")
                    return self
                except (ValueError, KeyError, OSError):
                    pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"jupyter lab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to the server's pid (it shuts its kernels down), SIGKILL after 30 s; then
        any kernel it left behind, found by its connection file in our runtime folder."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for pid in self.orphan_kernels():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if getattr(self, "_log", None):
            self._log.close()

    def orphan_kernels(self) -> list[int]:
        """Processes whose command line names a file in this server's runtime folder."""
        runtime = str(self.state / "runtime")
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if runtime in cmdline:
                found.append(int(entry.name))
        return found

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    # -- HTTP ------------------------------------------------------------------------------
    def url(self, path: str, *, reset: bool = False) -> str:
        return f"{self.base_url}{path.lstrip('/')}?token={self.token}" + ("&reset" if reset else "")

    def api(self, method: str, path: str):
        request = urllib.request.Request(self.base_url + path.lstrip("/"), method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for kernel in self.api("GET", "api/kernels"):
            self.api("DELETE", f"api/kernels/{kernel['id']}")


# -- page helpers ----------------------------------------------------------------------------
def record_requests(page) -> list[str]:
    """Every URL ``page`` asks for from now on, in order: its requests (those the ``page`` fixture
    aborts included) and its WebSockets."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    return urls


THIS_MACHINE = ("127.0.0.1", "localhost", "::1")
IN_PAGE = ("data", "blob", "file", "about")        # schemes that never reach a network


def leaving_the_machine(urls: list[str]) -> list[str]:
    """The URLs (each once, sorted) that go to a host other than this machine."""
    return sorted({u for u in urls if urlsplit(u).scheme not in IN_PAGE and urlsplit(u).hostname not in THIS_MACHINE})


def dismiss_toasts(page) -> None:
    """Answer "No" to a news toast if one shows (settings should already prevent it)."""
    button = page.locator(".jp-toast-button", has_text="No")
    if button.count():
        button.first.click()


def open_notebook(page, lab: JupyterLab, relpath: str, *, timeout: float = OPEN_TIMEOUT) -> None:
    """Open ``relpath`` in a reset workspace and wait until its kernel is connected and idle.

    Run All pressed before the session has its kernel opens a "Select Kernel" dialog instead
    of running (seen on a busy machine), so wait for the kernel itself, not the toolbar."""
    page.goto(lab.url(f"lab/tree/{relpath}", reset=True))
    page.wait_for_function(
        """path => {
            const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const kernel = widget && widget.sessionContext && widget.sessionContext.session
                && widget.sessionContext.session.kernel;
            return !!kernel && widget.context.path === path && widget.context.isReady
                && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }""", arg=relpath, timeout=timeout, polling=250)
    page.wait_for_selector(IDLE, timeout=timeout)
    dismiss_toasts(page)


def menu(page, top: str, item_selector: str) -> None:
    page.click(f'.lm-MenuBar-itemLabel:text-is("{top}")')
    page.click(item_selector)


def watch_progress_widgets(page) -> None:
    """Record every tqdm progress widget that shows while cells run (tqdm closes its bars when
    a loop ends, so they are gone once Run All has finished)."""
    page.evaluate("""selector => {
        window.__progress = new Set();
        new MutationObserver(() => {
            for (const bar of document.querySelectorAll(selector)) {
                const box = bar.closest('.widget-hbox');
                const label = box ? box.querySelector('.widget-html-content') : null;
                // tqdm pads its label with figure spaces (U+2007): "linear\u2007AE:\u2007 40%"
                const text = label ? label.textContent.replace(/[\u2007\u00a0]/g, ' ') : '';
                window.__progress.add(text.split(':')[0].trim());
            }
        }).observe(document.body, {childList: true, subtree: true});
    }""", PROGRESS)


def progress_labels(page) -> list[str]:
    """The descriptions (tqdm's ``desc``) of the progress widgets seen so far."""
    return page.evaluate("() => [...(window.__progress || [])]")


def run_all(page, *, timeout: float = RUN_TIMEOUT) -> list[str]:
    """Run > Run All Cells, wait until no cell is queued or running and either the last code
    cell has run or one has failed; return the code cells' prompts ("[3]:", "[ ]:")."""
    menu(page, "Run", RUN_ALL)
    page.wait_for_function(
        """([prompts, dialog]) => document.querySelector(dialog)
            || [...document.querySelectorAll(prompts)].some(e => /[*\\d]/.test(e.textContent))""",
        arg=[CODE_PROMPTS, ".jp-Dialog"], timeout=OPEN_TIMEOUT, polling=250)
    if page.locator(".jp-Dialog").count():
        raise AssertionError(f"Run All opened a dialog instead of running: {page.locator('.jp-Dialog').text_content()}")
    page.wait_for_function(
        """([prompts, stderr]) => {
            const p = [...document.querySelectorAll(prompts)].map(e => e.textContent.trim());
            if (!p.length || p.some(t => t.includes('*'))) return false;
            const failed = [...document.querySelectorAll(stderr)].some(e => e.textContent.includes('Traceback'));
            return /\\d/.test(p[p.length - 1]) || failed;
        }""", arg=[CODE_PROMPTS, f"{NOTEBOOK} {STDERR}"], timeout=timeout, polling=250)
    return code_prompts(page)


def code_prompts(page) -> list[str]:
    return page.locator(CODE_PROMPTS).evaluate_all("els => els.map(e => e.textContent.trim())")


def tracebacks(page) -> list[str]:
    """Text of every error output in the active notebook."""
    texts = page.locator(f"{NOTEBOOK} {STDERR}").evaluate_all("els => els.map(e => e.textContent)")
    return [t for t in texts if "Traceback" in t]


def widget_errors(page) -> list[str]:
    text = page.locator(NOTEBOOK).evaluate("e => e.textContent")
    return [m for m in WIDGET_ERRORS if m in text]


def validate(page, *, timeout: float = RUN_TIMEOUT) -> tuple[str, str]:
    """Press nbgrader's Validate; return the outcome class ("validation-success",
    "validation-failed", ...) and the dialog's text, and close the dialog."""
    page.click(VALIDATE)
    message = page.wait_for_selector(VALIDATION, timeout=timeout)
    outcome = next((c for c in (message.get_attribute("class") or "").split() if c.startswith("validation-")), "")
    text = message.text_content() or ""
    return outcome, text


def close_dialog(page) -> None:
    page.click(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    page.wait_for_selector(".jp-Dialog", state="detached")


def open_formgrader(page, lab: JupyterLab, *, timeout: float = OPEN_TIMEOUT):
    """Open JupyterLab, then Nbgrader > Formgrader; return the Formgrader frame."""
    page.goto(lab.url("lab", reset=True))
    page.wait_for_selector('.lm-MenuBar-itemLabel:text-is("Nbgrader")', timeout=timeout)
    dismiss_toasts(page)
    menu(page, "Nbgrader", FORMGRADER)
    page.wait_for_selector(FORMGRADER_FRAME, timeout=timeout)
    return page.frame_locator(FORMGRADER_FRAME)


def open_assignment_list(page, *, timeout: float = OPEN_TIMEOUT) -> None:
    """Nbgrader > Assignment List: the Assignments tab (released, downloaded, submitted)."""
    page.wait_for_selector('.lm-MenuBar-itemLabel:text-is("Nbgrader")', timeout=timeout)
    menu(page, "Nbgrader", ASSIGNMENT_LIST)
    page.wait_for_selector(ASSIGNMENTS_TAB, timeout=timeout)


def assignment_row(page, section: str, assignment: str):
    """The Assignments tab's row of ``assignment`` in ``section`` ("released", "fetched" or
    "submitted"); a fetched row's notebooks and a submitted row's submissions are its
    ``.nested_list_item`` rows."""
    return page.locator(f"#{section}_assignments_list > .list_item", has_text=assignment)


def activate_tab(page, label: str) -> None:
    """Bring the main area's tab whose label contains ``label`` to the front."""
    page.click(f'.lm-DockPanel-tabBar .lm-TabBar-tab:has-text("{label}")')
