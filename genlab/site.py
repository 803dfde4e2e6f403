"""The course site (`make site`): the executed lectures and an index of the topics, built by
Sphinx with myst-nb and sphinx-book-theme, readable with no network.

- The index is generated from the notebooks themselves: each lecture's title, opening paragraph
  and learning goals, and each assignment's graded tasks with their points (nbgrader metadata).
- Lectures are executed once per profile and kept in a jupyter-cache (``build/site-cache/<profile>``):
  a rebuild after a text edit re-renders the pages without running a kernel.
- Equations are typeset by a copy of Debian's MathJax (``libjs-mathjax``) inside the site, and the
  lectures' sliders (:func:`genlab.viz.slider_demo`) carry precomputed frames, so a slider moves
  its figure without a kernel (``GENLAB_STATIC_SLIDERS=1`` during execution).
"""
from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from genlab.course import ASSIGNMENTS, LECTURES, REPO_ROOT
from genlab.viz import STATIC_SLIDERS

CONF_DIR = REPO_ROOT / "site"                         # conf.py and the site's own static files
MATHJAX = Path("/usr/share/javascript/mathjax")       # Debian's libjs-mathjax (MathJax 2.7)
# what the pages use of it: the TeX-AMS_CHTML configuration, the CommonHTML output and its TeX
# web fonts (about 4 MB of 54)
MATHJAX_CONFIG = "TeX-AMS_CHTML"
MATHJAX_SKIP = ("unpacked", "test", "localization", "STIX-Web", "otf", "svg")


class SiteError(RuntimeError):
    """The site cannot be built (a missing tool or file, a lecture that failed); the message says
    what to do."""


@dataclass
class Task:
    title: str
    points: str          # as the assignment's heading states it, e.g. "15 points"


@dataclass
class Topic:
    slug: str
    number: str
    title: str
    intro: str
    goals: list[str]
    tasks: list[Task] = field(default_factory=list)
    autograded: float = 0.0
    written: float = 0.0


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def lecture_summary(path: Path) -> tuple[str, str, list[str]]:
    """(title, opening paragraph, learning goals) from a lecture's first markdown cells: the
    ``# Lecture N — title`` heading, the paragraph under it (if any comes before the goals) and the
    numbered list after ``**Learning goals.**``."""
    nb = nbformat.read(path, as_version=4)
    text = "\n\n".join(_source(c) for c in nb.cells[:2] if c.cell_type == "markdown")
    heading = re.search(r"^# (.+)$", text, re.M)
    if heading is None:
        raise SiteError(f"{path}: the first cell has no '# Lecture N — title' heading")
    title = re.sub(r"^Lecture \d+\s*[—–-]\s*", "", heading.group(1).strip())
    body = text[heading.end():]
    goals_at = body.find("**Learning goals.**")
    if goals_at < 0:
        raise SiteError(f"{path}: the first cell has no '**Learning goals.**' list")
    intro = body[:goals_at].strip().split("\n\n")[0].strip()
    goals, current = [], None
    for line in body[goals_at:].splitlines()[1:]:
        item = re.match(r"\s*\d+\.\s+(.*)", line)
        if item:
            current = item.group(1).strip()
            goals.append(current)
        elif line.strip() and current is not None and line.startswith(" "):
            goals[-1] += " " + line.strip()
        elif goals:
            break
    if not goals:
        raise SiteError(f"{path}: '**Learning goals.**' is not followed by a numbered list")
    return title, intro, goals


def assignment_summary(path: Path) -> tuple[list[Task], float, float]:
    """The graded parts of an assignment (its ``## Task …`` and ``## Written …`` headings with the
    points they state) and its points from nbgrader's metadata: (tasks, autograded, written)."""
    nb = nbformat.read(path, as_version=4)
    tasks, autograded, written = [], 0.0, 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("points"):
            if cell.cell_type == "markdown":
                written += float(meta["points"])
            else:
                autograded += float(meta["points"])
        heading = re.match(r"## (.+?)\s*\((\d+ points?)[^)]*\)\s*$", _source(cell).splitlines()[0]
                           if cell.cell_type == "markdown" and _source(cell) else "")
        if heading:
            tasks.append(Task(heading.group(1), heading.group(2)))
    return tasks, autograded, written


def topic_summaries(lectures: list[Path]) -> list[Topic]:
    """One :class:`Topic` per lecture, with its assignment's tasks where the assignment exists."""
    topics = []
    for path in sorted(lectures):
        title, intro, goals = lecture_summary(path)
        topic = Topic(path.stem, path.stem.split("-")[0], title, intro, goals)
        assignment = ASSIGNMENTS / path.stem / f"{path.stem}.ipynb"
        if assignment.is_file():
            topic.tasks, topic.autograded, topic.written = assignment_summary(assignment)
        topics.append(topic)
    return topics


def index_markdown(topics: list[Topic], profile: str) -> str:
    """The site's front page (MyST markdown): the topics in order, what each lecture teaches and
    what each assignment grades, with a link to the lecture; the hidden toctree gives the pages
    their order (previous / next) and the sidebar."""
    lines = ["# genlab — deep generative models, hands-on", "",
             f"{len(topics)} topics. Each has a lecture (below, executed in the `{profile}` profile, "
             "with its figures; the sliders work in the page) and an autograded assignment "
             "(`assignments/NN-topic/` in the repository).", ""]
    for t in topics:
        lines += [f"## {t.number} · [{t.title}](lectures/{t.slug}.ipynb)", ""]
        if t.intro:
            lines += [t.intro, ""]
        lines += ["**What the lecture teaches.** After it you can", ""]
        lines += [f"{i}. {g}" for i, g in enumerate(t.goals, 1)] + [""]
        if t.tasks:
            points = f"{t.autograded:g} autograded points" + (f" + {t.written:g} written" if t.written else "")
            lines += [f"**What the assignment grades** ({points}):", ""]
            lines += [f"- {task.title} ({task.points})" for task in t.tasks] + [""]
        lines += [f"[Open lecture {int(t.number)} →](lectures/{t.slug}.ipynb)", ""]
    lines += ["```{toctree}", ":hidden:", ":maxdepth: 1", ""]
    lines += [f"lectures/{t.slug}" for t in topics] + ["```", ""]
    return "\n".join(lines)


def _copy_if_changed(source: Path, dest: Path) -> None:
    """Copy keeping the modification time, and only when the content differs: Sphinx re-reads a
    page whose source is newer than its last build."""
    if dest.is_file() and filecmp.cmp(source, dest, shallow=False):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest)


def write_sources(src: Path, lectures: list[Path], profile: str) -> list[Topic]:
    """The Sphinx source folder: ``index.md`` (generated) and ``lectures/*.ipynb`` (copies); pages
    of lectures no longer asked for are removed."""
    topics = topic_summaries(lectures)
    (src / "lectures").mkdir(parents=True, exist_ok=True)
    index = src / "index.md"
    text = index_markdown(topics, profile)
    if not index.is_file() or index.read_text(encoding="utf-8") != text:
        index.write_text(text, encoding="utf-8")
    wanted = {p.name for p in lectures}
    for old in (src / "lectures").glob("*.ipynb"):
        if old.name not in wanted:
            old.unlink()
    for path in lectures:
        _copy_if_changed(path, src / "lectures" / path.name)
    return topics


def copy_mathjax(static: Path) -> Path:
    """Copy the parts of Debian's MathJax the pages use into ``static/mathjax``; return it."""
    if not (MATHJAX / "MathJax.js").is_file():
        raise SiteError(f"MathJax is not installed at {MATHJAX}: apt-get install libjs-mathjax "
                        "(the site typesets equations with a local copy, never from the internet)")
    dest = static / "mathjax"
    if (dest / "MathJax.js").is_file():
        return dest

    def unused(folder: str, names: list[str]) -> list[str]:
        where = Path(folder).relative_to(MATHJAX).as_posix()
        if where == "config":
            return [n for n in names if n not in (f"{MATHJAX_CONFIG}.js", "local")]
        if where == "jax/output":
            return [n for n in names if n != "CommonHTML"]
        return [n for n in names if n in MATHJAX_SKIP]

    shutil.copytree(MATHJAX, dest, ignore=unused, dirs_exist_ok=True)
    return dest


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failed_lecture(log: str) -> str | None:
    """'lecture NN failed: <the error's last line>' and the failing cell, from myst-nb's warning
    in the build's log; None when no lecture failed."""
    found = re.search(r"/lectures/([^/\s]+)\.ipynb: WARNING: Executing notebook failed: (\w+)(.*?)\[mystnb\.exec\]",
                      log, re.S)
    if found is None:
        return None
    text = ANSI.sub("", found.group(3))
    cell = re.search(r"-{18}\n(.*?)\n-{18}", text, re.S)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else found.group(2)
    message = f"lecture {found.group(1)} failed: {last}"
    if cell:
        message += "\nin the cell:\n" + cell.group(1).strip()[-1500:]
    return message


@dataclass
class SiteBuild:
    out: Path
    seconds: float
    executed: list[str]         # lectures that ran a kernel in this build (the others came from the cache)
    log: str


def build(profile: str, out: Path, *, lectures: list[Path] | None = None, cache: Path | None = None,
          src: Path | None = None, timeout: int | None = None, env: dict[str, str] | None = None) -> SiteBuild:
    """Build the site into ``out`` (``out/index.html``): write the sources, then run Sphinx in a
    subprocess with ``GENLAB_PROFILE=profile`` and static sliders. Executions are kept in ``cache``
    (default ``build/site-cache/<profile>``): only a lecture whose code changed runs again.
    ``timeout`` is the limit per cell (default: 600 s in ``ci``, none in ``cpu`` and ``gpu``);
    ``env`` the environment Sphinx and the kernels start from (default this process's).
    Raises :class:`SiteError` with Sphinx's last lines when the build fails."""
    from genlab.demos import cell_timeout

    lectures = sorted(LECTURES.glob("*.ipynb")) if lectures is None else sorted(lectures)
    if not lectures:
        raise SiteError("no lecture to build")
    out = Path(out).resolve()
    cache = Path(cache or REPO_ROOT / "build" / "site-cache" / profile).resolve()
    src = Path(src or out.parent / f"{out.name}-src" / profile).resolve()
    write_sources(src, lectures, profile)
    limit = cell_timeout(profile) if timeout is None else timeout
    env = dict(os.environ if env is None else env, GENLAB_PROFILE=profile, **{STATIC_SLIDERS: "1"})
    env.pop("MPLBACKEND", None)             # the kernel draws inline, so that figures reach the pages
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF_DIR), "-j", "1",
               "-D", f"nb_execution_cache_path={cache}", "-D", f"genlab_profile={profile}",
               "-D", f"nb_execution_timeout={-1 if limit is None else limit}", str(src), str(out)]
    start = time.perf_counter()
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = run.stdout + run.stderr
    (src / "sphinx.log").write_text(log, encoding="utf-8")
    if run.returncode != 0:
        failed = _failed_lecture(log)
        if failed:
            raise SiteError(f"{failed}\n(the whole log: {src / 'sphinx.log'})")
        tail = "\n".join(log.strip().splitlines()[-40:])
        raise SiteError(f"the site build failed (sphinx exit {run.returncode}):\n{tail}\n"
                        f"(the whole log: {src / 'sphinx.log'})")
    executed = sorted(set(re.findall(r"/lectures/([^/\s]+)\.ipynb: Executed notebook in", log)))
    return SiteBuild(out, seconds, executed, log)
