"""Where the course's files are, and the nbgrader configuration that reads them."""
from __future__ import annotations

from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO_ROOT / "solutions"
ASSIGNMENTS = REPO_ROOT / "assignments"
LECTURES = REPO_ROOT / "lectures"
AUTOGRADER = REPO_ROOT / "autograder"
MUTANTS = AUTOGRADER / "mutants"


def topics() -> list[str]:
    """Slugs of the topics that have a solution notebook, in course order."""
    return sorted(p.parent.name for p in SOLUTIONS.glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def resolve_topic(name: str) -> str:
    """Accept a full slug (``01-autoencoders-pca``) or its number (``01`` / ``1``)."""
    known = topics()
    if name in known:
        return name
    matches = [t for t in known if name.isdigit() and t.split("-")[0] == f"{int(name):02d}"]
    if len(matches) == 1:
        return matches[0]
    raise SystemExit(f"unknown topic {name!r}; known topics: {', '.join(known) or 'none'}")


def solution_path(topic: str) -> Path:
    return SOLUTIONS / topic / f"{topic}.ipynb"


def assignment_path(topic: str) -> Path:
    return ASSIGNMENTS / topic / f"{topic}.ipynb"


def nbgrader_config(**course_dir: str) -> Config:
    """autograder/nbgrader_config.py, with CourseDirectory traits overridden by keyword."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(AUTOGRADER)).load_config()
    for key, value in course_dir.items():
        setattr(config.CourseDirectory, key, value)
    return config
