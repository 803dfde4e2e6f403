"""Make a topic's shipped checkpoint by running its solution notebook with ``EXPORT`` set.

    genlab zoo export 09 --profile cpu --seed 0

runs solutions/09-ddpm-ddim/09-ddpm-ddim.ipynb with papermill (parameters SEED, PROFILE and
EXPORT = a path), which trains the model with the notebook's own reference code, measures it
and saves it with :func:`genlab.zoo.save`; then the file is moved to data/checkpoints/ and its
row (sha256, size, this command, the figure the notebook measured) goes into data/MANIFEST.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import torch

from genlab.course import resolve_topic, solution_path

# topic -> name of the checkpoint its solution notebook exports
EXPORTS = {"09-ddpm-ddim": "ddpm-fashion"}


def export(topic: str, profile: str = "cpu", seed: int = 0, *, write: bool = True,
           out: Path | None = None, timeout: int = 4 * 3600) -> tuple[Path, dict]:
    """Run the topic's solution notebook with EXPORT set; return (checkpoint path, meta).

    With ``write`` the file goes to data/checkpoints/<name>.pt and data/MANIFEST is updated;
    otherwise it is left at ``out`` (default: a temporary folder)."""
    import papermill

    from genlab import zoo

    topic = resolve_topic(topic)
    if topic not in EXPORTS:
        raise SystemExit(f"{topic} exports no checkpoint; topics that do: {', '.join(EXPORTS)}")
    name = EXPORTS[topic]
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"{name}.pt"
        start = time.perf_counter()
        papermill.execute_notebook(
            str(solution_path(topic)), str(Path(tmp) / f"{topic}.ipynb"), kernel_name="python3",
            parameters=dict(SEED=seed, PROFILE=profile, EXPORT=str(target)), cwd=tmp,
            execution_timeout=timeout, progress_bar=False)
        meta = torch.load(target, map_location="cpu", weights_only=True)["meta"]
        command = f"genlab zoo export {topic.split('-')[0]} --profile {profile} --seed {seed}"
        meta.update(name=name, topic=topic, profile=profile, seed=seed, command=command,
                    export_seconds=round(time.perf_counter() - start), torch=str(torch.__version__))
        dest = zoo.checkpoint_path(name) if write else Path(out or Path(tempfile.gettempdir()) / f"{name}.pt")
        blob = torch.load(target, map_location="cpu", weights_only=True)
        blob["meta"] = meta
        dest.parent.mkdir(parents=True, exist_ok=True)
        torch.save(blob, dest)
    if write:
        zoo.write_manifest_row(zoo.ManifestRow(f"checkpoints/{name}.pt", zoo.sha256_of(dest),
                                               dest.stat().st_size,
                                               f"{command} (profile {profile}, seed {seed})",
                                               meta["figure"]))
    return dest, meta
