"""Device choice and the three scale profiles (README, "Profiles"; docs/architecture.md).

Every notebook picks its sizes with one call::

    PROFILE = genlab.profile()
    CFG = genlab.choose(ci=dict(steps=150), cpu=dict(steps=3000), gpu=dict(steps=40000))

``ci`` is for tests and autograding (≤ 30 s on 2 CPU cores), ``cpu`` for a student on a
laptop (a few minutes), ``gpu`` for a GPU and lecture demos (≤ ~10 minutes).

Smoke mode (``GENLAB_SMOKE=1``) runs a profile at its own sizes with its loops cut short:
each ``choose`` call names its loop and sample counts in ``smoke=dict(...)`` and, under
smoke, those (and only those) replace the profile's values. Widths, image and batch sizes,
data sets and the device stay the profile's, so the ``gpu`` configuration can be proven
on a CPU in seconds; quality bars are then printed and not enforced
(:func:`genlab.checks.check_metric`). Grading never runs in smoke mode.
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


SMOKE_VARIABLE = "GENLAB_SMOKE"
# what smoke mode may never change: the parts of a configuration that decide shapes,
# memory and the optimiser, i.e. what a smoke run is there to prove
# (a key is refused when one of its _-separated words is one of these, unless another one is a
# word of COUNT_WORDS: `unet` is refused, `unet_steps` allowed)
SIZE_WORDS = frozenset({"width", "size", "batch", "channels", "dim", "depth", "blocks", "layers",
                        "lr", "unet", "ema", "warmup", "datasets", "scales", "etas", "alphas"})
COUNT_WORDS = frozenset({"steps", "iters", "samples", "every", "n"})


def smoke_mode() -> bool:
    """True when ``$GENLAB_SMOKE`` is set to 1/true/yes/on."""
    value = os.environ.get(SMOKE_VARIABLE, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{SMOKE_VARIABLE}={value!r}: use 1 (smoke mode) or 0")


def choose(*, ci: Any, cpu: Any, gpu: Any, smoke: Any = None, profile_name: str | None = None) -> Any:
    """Return the value given for the active profile (or for ``profile_name``).

    ``smoke``: the loop and sample counts that replace the profile's in smoke mode
    (``$GENLAB_SMOKE=1``); for a dict configuration a dict of some of its keys, else one
    count. A smoke value may only shrink a count: it is checked against the profile's."""
    name = profile_name or profile()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; use one of {', '.join(PROFILES)}")
    value = {"ci": ci, "cpu": cpu, "gpu": gpu}[name]
    if smoke is None or not smoke_mode():
        return value
    return _check_smoke(value, smoke, name)


def _check_smoke(value: Any, smoke: Any, name: str) -> Any:
    """``value`` with the counts of ``smoke`` in place, once they are checked."""
    if isinstance(value, dict):
        if not isinstance(smoke, dict):
            raise TypeError("smoke= must be a dict of some of the configuration's keys")
        for key, count in smoke.items():
            if key not in value:
                raise KeyError(f"smoke= names {key!r}, which the {name} configuration does not have")
            words = set(key.lower().split("_"))
            if SIZE_WORDS & words and not COUNT_WORDS & words:
                raise ValueError(f"smoke= may only cut loop and sample counts, not {key!r}")
            _check_smaller(key, count, value[key])
        return {**value, **smoke}
    _check_smaller("the value", smoke, value)
    return smoke


def _check_smaller(key: str, count: Any, full: Any) -> None:
    if full is None:
        return          # "all of it" (e.g. n_train=None): any count is smaller
    counts = count if isinstance(count, tuple) else (count,)
    fulls = full if isinstance(full, tuple) else (full,)
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        raise TypeError(f"smoke= {key}: counts are whole numbers, got {count!r}")
    numeric = [f for f in fulls if isinstance(f, int)]
    if not numeric or max(counts) > max(numeric):
        raise ValueError(f"smoke= {key}={count!r} is not a shorter run than {full!r}")



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
