"""The provided VAE backbone of topic 07: an MLP encoder q_ψ(z|x) and an MLP decoder p_θ(x|z)
over discrete grey levels. Students write the KL, the reparameterisation, the ELBO, the
importance-sampled likelihood and the sampler around it.

Shapes: x int64 grey levels (B, C, H, W) in {0, …, levels - 1}; z (B, latent_dim);
decoder logits (B, levels, C, H, W) — the layout `F.cross_entropy(logits, x)` expects, the same
as the PixelCNN's of topic 08.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genlab.data.quantise import dequantise
from genlab.nets.gan import mlp


class CategoricalVAE(nn.Module):
    """q_ψ(z|x) = N(μ(x), diag σ²(x)) with σ² = exp(logvar); p_θ(x|z) = Π_i Cat(x_i | softmax(logits_i(z)));
    p(z) = N(0, I).

    ``encode(x)`` → (mu, logvar), each (B, latent_dim); ``decode(z)`` → logits (B, levels, C, H, W)."""

    def __init__(self, latent_dim: int = 2, levels: int = 4, image_shape: tuple[int, int, int] = (1, 28, 28),
                 width: int = 256, depth: int = 2):
        super().__init__()
        self.latent_dim, self.levels, self.image_shape = latent_dim, levels, tuple(image_shape)
        dims = math.prod(image_shape)
        self.encoder = mlp([dims] + [width] * depth + [2 * latent_dim])
        self.decoder = mlp([latent_dim] + [width] * depth + [levels * dims])

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, C, H, W) grey levels → mu, logvar (B, latent_dim)."""
        h = self.encoder(2 * dequantise(x, self.levels).flatten(1) - 1)    # inputs in [-1, 1]
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """z (B, latent_dim) → logits (B, levels, C, H, W)."""
        return self.decoder(z).view(len(z), self.levels, *self.image_shape)

    @torch.no_grad()
    def zero_(self) -> CategoricalVAE:
        """Set every parameter to 0: then mu = logvar = 0 and every pixel is uniform over the levels
        (useful for tests with known values)."""
        for p in self.parameters():
            p.zero_()
        return self
