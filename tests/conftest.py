"""Shared test set-up: the `ci` profile, no progress bars, no windows, one thread per worker;
and the browser fixtures (headless Chromium, a page, a folder for screenshots), used by
tests/browser/ and by tests/test_hub.py's student in Chromium.

Without Chromium or Playwright the browser fixtures skip, except where ``CI`` or
``GENLAB_REQUIRE_BROWSER=1`` is set (``.ci/run`` sets it): there they fail.
"""
import importlib.util
import os
import sys
from pathlib import Path

os.environ["GENLAB_PROFILE"] = "ci"
os.environ["TQDM_DISABLE"] = "1"
os.environ["MPLBACKEND"] = "Agg"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one thread each (kernels inherit it), else the BLAS and
    # OpenMP pools of both fight over the cores and training slows down many times over.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture
def fresh_env(monkeypatch):
    """Clear the genlab environment variables for a test."""
    for name in ("GENLAB_PROFILE", "GENLAB_DEVICE", "GENLAB_DATA", "GENLAB_SMOKE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# ---------------------------------------------------------------- the browser (tests/browser/labdriver.py)

LOCAL = ("http://127.0.0.1:", "file:", "data:", "blob:")


def _labdriver():
    """tests/browser/labdriver.py, as the module its neighbours import (``from labdriver import``).
    Loaded only when a browser fixture runs: a copy of this file without tests/browser (the
    scaffold test's) must still load."""
    if "labdriver" not in sys.modules:
        spec = importlib.util.spec_from_file_location("labdriver", Path(__file__).parent / "browser" / "labdriver.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["labdriver"] = module
        spec.loader.exec_module(module)
    return sys.modules["labdriver"]


def _browser_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("GENLAB_REQUIRE_BROWSER") == "1"


def _browser_unavailable(reason: str):
    if _browser_required():
        pytest.fail(f"{reason} (browser tests are required here: CI or GENLAB_REQUIRE_BROWSER=1)",
                    pytrace=False)
    pytest.skip(f"{reason}; set GENLAB_REQUIRE_BROWSER=1 to make this an error")


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    """Where screenshots go: ``$GENLAB_ARTIFACTS/browser`` if set (``.ci/run`` sets it), else
    ``browser-artifacts`` in this run's pytest temporary folder, e.g.
    /tmp/pytest-of-$USER/pytest-N/browser-artifacts (pytest keeps the last three runs)."""
    named = os.environ.get("GENLAB_ARTIFACTS")
    if named:
        path = Path(named).resolve() / "browser"
    else:
        base = tmp_path_factory.getbasetemp()
        path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "browser-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """Debian's Chromium under Playwright (never `playwright install`: no browser download), one
    per worker: Playwright's sync API runs one instance a thread. Its home is a temporary
    folder: else it keeps crash reports in ~/.config/chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("Playwright is not installed: pip install -e '.[dev]'")
    driver = _labdriver()
    executable = driver.find_chromium()
    if not executable:
        _browser_unavailable("Chromium was not found: apt-get install chromium, or set GENLAB_CHROMIUM")
    with sync_playwright() as playwright:
        home = tmp_path_factory.mktemp("chromium-home")
        env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
                   XDG_CACHE_HOME=str(home / "cache"))
        browser = playwright.chromium.launch(executable_path=executable, args=driver.CHROMIUM_ARGS, env=env)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails, keep what the page showed right then (before fixtures shut
    kernels down) and the server's log, next to the screenshots."""
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when != "call" or not report.failed or page is None:
        return
    folder = item.funcargs.get("artifacts")
    if folder is None:
        return
    try:
        page.screenshot(path=str(folder / f"FAILED-{item.name}.png"), full_page=True)
    except Exception:  # noqa: BLE001 - a screenshot must not hide the real failure
        pass
    for name, value in item.funcargs.items():
        if hasattr(value, "log_tail"):
            (folder / f"FAILED-{item.name}-{name}.log").write_text(value.log_tail(200))


@pytest.fixture
def page(chromium, artifacts):
    """A fresh browser page; on failure its screenshot goes to the artifacts folder."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)
    # Hermetic, as in CI: only local servers (and files) answer; other requests are
    # aborted and recorded, so a page that needs the internet shows it here too.
    blocked: list[str] = []

    def offline(route):
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", offline)
    page = context.new_page()
    page.blocked_requests = blocked
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    context.close()

