"""Procedural datasets with exact ground truth: seeded, fast, no files."""
from __future__ import annotations

import math

import torch


def closed_polygons(n: int, n_vertices: int = 96, *, seed: int = 0,
                    n_harmonics: int = 4, roughness: float = 0.25) -> torch.Tensor:
    """Random smooth closed shapes, each stored as its outline of ``n_vertices`` points.

    Each shape is a star-shaped curve r(θ) = 1 + Σ_k a_k cos(kθ) + b_k sin(kθ) (k = 2 …
    ``n_harmonics`` + 1, coefficients ~ N(0, (roughness / k)²)), sampled at equally spaced
    angles that start at a random phase, then scaled by a random factor in [0.6, 1.0] and
    shifted by up to 0.2. The starting vertex is arbitrary, so the data are naturally
    cyclic: vertex N−1 neighbours vertex 0.

    Returns float32 of shape (n, 2, n_vertices): row 0 holds x, row 1 holds y.
    """
    if n <= 0 or n_vertices < 3:
        raise ValueError(f"need n > 0 and n_vertices >= 3, got n={n}, n_vertices={n_vertices}")
    g = torch.Generator().manual_seed(seed)
    k = torch.arange(2, n_harmonics + 2, dtype=torch.float32)                  # (K,)
    a = torch.randn(n, len(k), generator=g) * roughness / k                     # (n, K)
    b = torch.randn(n, len(k), generator=g) * roughness / k
    phase = torch.rand(n, 1, generator=g) * 2 * math.pi
    theta = phase + torch.arange(n_vertices) * (2 * math.pi / n_vertices)      # (n, V)
    angles = theta.unsqueeze(-1) * k                                            # (n, V, K)
    r = 1 + (a.unsqueeze(1) * angles.cos() + b.unsqueeze(1) * angles.sin()).sum(-1)
    scale = 0.6 + 0.4 * torch.rand(n, 1, generator=g)
    shift = (torch.rand(n, 2, 1, generator=g) - 0.5) * 0.4
    xy = torch.stack([r * theta.cos(), r * theta.sin()], dim=1) * scale.unsqueeze(1)
    return (xy + shift).float()


def mixture_2d(name: str, n: int, *, seed: int = 0, std: float | None = None) -> torch.Tensor:
    """2D toy distributions used in the GAN literature. Returns float32 (n, 2).

    - ``"8-ring"``: 8 Gaussians on a circle of radius 2, std 0.02 (VEEGAN, PacGAN);
    - ``"25-grid"``: 25 Gaussians at {-4, -2, 0, 2, 4}², std 0.05;
    - ``"swiss-roll"``: scikit-learn's 2D swiss roll scaled by 1/5, noise 0.25/5.
    """
    g = torch.Generator().manual_seed(seed)
    if name in ("8-ring", "25-grid"):
        centres = mixture_centres(name)
        std = std if std is not None else (0.02 if name == "8-ring" else 0.05)
        idx = torch.randint(len(centres), (n,), generator=g)
        return centres[idx] + std * torch.randn(n, 2, generator=g)
    if name == "swiss-roll":
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))
        xy = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 5
        return xy + (std if std is not None else 0.05) * torch.randn(n, 2, generator=g)
    raise ValueError(f"unknown 2D mixture {name!r}; use '8-ring', '25-grid' or 'swiss-roll'")


def mixture_centres(name: str) -> torch.Tensor:
    """Mode centres of the ``8-ring`` (8, 2) or ``25-grid`` (25, 2) mixtures."""
    if name == "8-ring":
        angle = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angle.cos(), angle.sin()], dim=1)
    if name == "25-grid":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(axis, axis)
    raise ValueError(f"{name!r} has no discrete modes; use '8-ring' or '25-grid'")
