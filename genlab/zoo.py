"""The model zoo's storage: small checkpoints shipped in data/checkpoints, each made by code in this repo.

``load(name)`` checks the file's sha256 against its row in data/MANIFEST before it builds
the network, so a missing or altered file is reported instead of silently grading with
other weights. ``list_models()`` says what is shipped and how each file was made.

This module only stores and loads (manifest, verify, load, save, list); it sits in the
student library's layer, because metrics and topic code load the shipped classifiers
(docs/architecture.md). What makes the files lives above it: the recipes of the shared
models in :mod:`genlab.recipes`, run by::

    python -m genlab.zoo train fashion-classifier --profile cpu --seed 0 --write

(``--write`` saves data/checkpoints/<name>.pt and puts its row, with sha256, size, the exact
command, profile, seed and the figure reached, into data/MANIFEST), and a topic's
checkpoints by running its solution notebook with its export parameter
(:mod:`genlab.export`, ``genlab zoo export NN``), saved with :func:`save`.
"""
from __future__ import annotations

import hashlib
import importlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from genlab.course import REPO_ROOT
from genlab.profiles import device as default_device

DATA_DIR = REPO_ROOT / "data"
CHECKPOINT_DIR = DATA_DIR / "checkpoints"
MANIFEST = DATA_DIR / "MANIFEST"
MANIFEST_HEADER = (
    "# Every file shipped under data/ (data/cache/ excepted), one per line, tab-separated:\n"
    "# path (relative to data/)\tsha256\tbytes\tcommand that made it (profile, seed)\tfigure reached\n"
    "# tests/test_data.py checks that each file is listed with the right hash and that each "
    "row names a file.\n")


class ZooError(RuntimeError):
    """A checkpoint is missing, altered, or unknown."""


@dataclass(frozen=True)
class ManifestRow:
    path: str          # relative to data/
    sha256: str
    size: int
    command: str
    figure: str


def manifest(path: Path = MANIFEST) -> dict[str, ManifestRow]:
    """The rows of data/MANIFEST keyed by their path (relative to data/)."""
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            fields = line.split("\t")
            if len(fields) != 5:
                raise ZooError(f"{path}: a row needs 5 tab-separated fields, found {len(fields)}: "
                               f"{line[:80]!r}")
            rows[fields[0]] = ManifestRow(fields[0], fields[1], int(fields[2]), fields[3], fields[4])
    return rows


def write_manifest_row(row: ManifestRow, path: Path = MANIFEST) -> None:
    """Add ``row`` to data/MANIFEST, replacing the row of the same file; rows stay sorted."""
    rows = manifest(path) if path.exists() else {}
    rows[row.path] = row
    body = "".join(f"{r.path}\t{r.sha256}\t{r.size}\t{r.command}\t{r.figure}\n"
                   for r in sorted(rows.values(), key=lambda r: r.path))
    path.write_text(MANIFEST_HEADER + body)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def checkpoint_path(name: str) -> Path:
    return CHECKPOINT_DIR / f"{name}.pt"


def list_models() -> list[ManifestRow]:
    """The MANIFEST rows of every shipped checkpoint."""
    return [r for p, r in sorted(manifest().items()) if p.startswith("checkpoints/")]


def verify(name: str) -> Path:
    """Return the checkpoint's path after checking it exists and matches data/MANIFEST."""
    path = checkpoint_path(name)
    rows = manifest()
    key = f"checkpoints/{name}.pt"
    if key not in rows:
        known = ", ".join(r.path.removeprefix("checkpoints/").removesuffix(".pt")
                          for r in list_models()) or "none"
        raise ZooError(f"no checkpoint named {name!r} in data/MANIFEST; shipped: {known}")
    row = rows[key]
    if not path.is_file():
        raise ZooError(f"{path} is missing. Restore it with `git checkout -- data/{key}` or "
                       f"remake it with: {row.command}")
    found = sha256_of(path)
    if found != row.sha256:
        raise ZooError(f"{path} was altered: its sha256 is {found[:12]}…, data/MANIFEST says "
                       f"{row.sha256[:12]}…. Restore it with `git checkout -- data/{key}` or "
                       f"remake it with: {row.command}")
    return path


def _build(class_path: str, config: dict) -> nn.Module:
    module_name, _, class_name = class_path.rpartition(".")
    if not module_name.startswith("genlab."):
        raise ZooError(f"checkpoints may only build genlab networks, not {class_path!r}")
    return getattr(importlib.import_module(module_name), class_name)(**config)


def load(name: str, device: torch.device | str | None = None, *,
         with_meta: bool = False) -> nn.Module | tuple[nn.Module, dict]:
    """Load a shipped checkpoint by name, verified, in eval mode, with frozen weights.

    With ``with_meta=True`` also return its metadata (how it was made, what it reached,
    reference feature statistics for the metrics)."""
    path = verify(name)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = _build(blob["class"], blob["config"])
    model.load_state_dict(blob["state_dict"])
    model.to(device or default_device()).eval().requires_grad_(False)
    return (model, blob["meta"]) if with_meta else model


def save(model: nn.Module, meta: dict, path: Path) -> Path:
    """Save ``model`` (a genlab network with a ``config`` dict) with its metadata."""
    cls = type(model)
    blob = {"class": f"{cls.__module__}.{cls.__qualname__}", "config": model.config,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "meta": meta}
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


if __name__ == "__main__":
    # `python -m genlab.zoo list | verify | train …` (the command data/MANIFEST records) runs
    # this file as a script: the command lives above the storage, in genlab.recipes. An import
    # under this guard never runs when genlab.zoo is imported (tests/test_layers.py skips it).
    from genlab.recipes import main

    raise SystemExit(main())
