"""Provided image networks for topic 03's GAN / WGAN / WGAN-GP comparison on Fashion-MNIST.

The generator upsamples by *resize-convolution* (nearest-neighbour ×2, then a 3×3
convolution; Odena et al., 2016) rather than by transposed convolutions, which avoids
checkerboard artefacts. The critic has no batch normalisation: the gradient penalty is a
per-sample quantity, and batch statistics would couple the samples of a batch
(Gulrajani et al., 2017, §4). Both carry a ``config`` dict so that :func:`genlab.zoo.save`
can ship them.
"""
from __future__ import annotations

from torch import Tensor, nn


class ResizeConvGenerator(nn.Module):
    """z (B, z_dim) → images (B, 1, 28, 28) in [-1, 1].

    Linear → (B, 2w, 7, 7), then twice [upsample ×2 → 3×3 conv], BN + ReLU between, tanh at the end."""

    def __init__(self, z_dim: int = 32, width: int = 32):
        super().__init__()
        self.config = dict(z_dim=z_dim, width=width)
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Linear(z_dim, 2 * width * 7 * 7), nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (2 * width, 7, 7)),                                              # (B, 2w, 7, 7)
            nn.Upsample(scale_factor=2), nn.Conv2d(2 * width, width, 3, padding=1),
            nn.BatchNorm2d(width), nn.ReLU(),                                                # (B, w, 14, 14)
            nn.Upsample(scale_factor=2), nn.Conv2d(width, 1, 3, padding=1), nn.Tanh())      # (B, 1, 28, 28)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class DCGANCritic(nn.Module):
    """x (B, 1, 28, 28) → score (B,): a logit for a GAN discriminator, a value for a WGAN critic.

    Two stride-2 convolutions (28 → 14 → 7) with LeakyReLU(0.2), no normalisation, a linear head."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.config = dict(width=width)
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),                  # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),          # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)
