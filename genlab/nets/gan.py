"""Provided GAN backbones: small MLPs for 2D toy data and a conditional DCGAN
discriminator for 28×28 images. Students write the losses, the training steps and the
image generator; these networks are the fixed parts around them.

Every discriminator / critic returns raw scores (logits) of shape (B,), never
probabilities: the GAN losses apply the sigmoid inside a numerically stable formula, and a
WGAN critic has no sigmoid at all.
"""
from __future__ import annotations

from itertools import pairwise

import torch
from torch import Tensor, nn


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none at the end)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (B, z_dim) → x (B, out_dim) through ``depth`` hidden LeakyReLU(0.2) layers of ``width``."""

    def __init__(self, z_dim: int = 2, out_dim: int = 2, width: int = 128, depth: int = 3):
        super().__init__()
        self.config = dict(z_dim=z_dim, out_dim=out_dim, width=width, depth=depth)
        self.z_dim = z_dim
        self.net = mlp([z_dim] + [width] * depth + [out_dim], activation=lambda: nn.LeakyReLU(0.2))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """x (B, in_dim) → score (B,): a logit for a GAN discriminator, a value for a WGAN critic.

    LeakyReLU(0.2) keeps gradients flowing where a ReLU would be flat."""

    def __init__(self, in_dim: int = 2, width: int = 128, depth: int = 3):
        super().__init__()
        self.config = dict(in_dim=in_dim, width=width, depth=depth)
        self.net = mlp([in_dim] + [width] * depth + [1], activation=lambda: nn.LeakyReLU(0.2))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


class ConditionalDCGANDiscriminator(nn.Module):
    """(x (B, 1, 28, 28) in [-1, 1], y (B,) int64) → logit (B,).

    The label enters as a learned 28×28 map stacked onto the image as a second channel, so
    every convolution sees it. Two stride-2 convolutions (28 → 14 → 7), then a linear head."""

    def __init__(self, n_classes: int = 10, width: int = 32):
        super().__init__()
        self.label_map = nn.Embedding(n_classes, 28 * 28)
        self.net = nn.Sequential(
            nn.Conv2d(2, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),              # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),      # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        label = self.label_map(y).view(-1, 1, 28, 28)                                   # (B, 1, 28, 28)
        return self.net(torch.cat([x, label], dim=1)).squeeze(-1)
