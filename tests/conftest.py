"""Shared test set-up: the `ci` profile, no progress bars, no windows, one thread per worker."""
import os

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
