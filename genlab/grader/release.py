"""Generate the student notebooks in assignments/ from the reference solutions."""
from __future__ import annotations

import shutil
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from genlab.course import ASSIGNMENTS, SOLUTIONS, nbgrader_config, resolve_topic, topics


def release(topic: str, dest: Path = ASSIGNMENTS) -> Path:
    """Run nbgrader's generate_assignment for ``topic`` into ``dest/topic`` (outputs cleared,
    solutions and hidden tests stripped); return the folder. Touches no gradebook."""
    topic = resolve_topic(topic)
    config = nbgrader_config(source_directory=str(SOLUTIONS), release_directory=str(dest))
    config.GenerateAssignment.no_database = True
    config.SaveCells.enabled = False
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_assignment(topic, force=True, create=False)
    if not result["success"]:
        raise RuntimeError(f"nbgrader could not release {topic}:\n{result.get('error') or result.get('log')}")
    for junk in (dest / topic).rglob(".ipynb_checkpoints"):
        shutil.rmtree(junk)
    return dest / topic


def release_all(dest: Path = ASSIGNMENTS) -> list[Path]:
    return [release(t, dest) for t in topics()]
