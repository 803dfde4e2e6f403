"""Device choice and the three scale profiles (README, "Profiles"; docs/architecture.md).

Every notebook picks its sizes with one call::

    PROFILE = genlab.profile()
    CFG = genlab.choose(ci=dict(steps=150), cpu=dict(steps=3000), gpu=dict(steps=40000))

``ci`` is for tests and autograding (≤ 30 s on 2 CPU cores), ``cpu`` for a student on a
laptop (a few minutes), ``gpu`` for a GPU and lecture demos (≤ ~10 minutes).
"""
from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

PROFILES = ("ci", "cpu", "gpu")


def profile() -> str:
    """The active profile: ``$GENLAB_PROFILE`` if set, else ``gpu`` with CUDA, else ``cpu``."""
    name = os.environ.get("GENLAB_PROFILE", "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"GENLAB_PROFILE={name!r} is not a profile; use one of {', '.join(PROFILES)}"
            )
        return name
    return "gpu" if torch.cuda.is_available() else "cpu"


def choose(*, ci: Any, cpu: Any, gpu: Any, profile_name: str | None = None) -> Any:
    """Return the value given for the active profile (or for ``profile_name``)."""
    name = profile_name or profile()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; use one of {', '.join(PROFILES)}")
    return {"ci": ci, "cpu": cpu, "gpu": gpu}[name]


def device() -> torch.device:
    """CUDA if available, else Apple's MPS, else the CPU.

    ``$GENLAB_DEVICE`` overrides the choice (e.g. ``cpu`` to keep a GPU free)."""
    forced = os.environ.get("GENLAB_DEVICE", "").strip()
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_all(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices); return a seeded CPU generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
