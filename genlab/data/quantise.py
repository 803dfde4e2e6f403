"""Discrete grey levels for likelihood models: the VAE (topic 07) and the PixelCNN (topic 08)
both model each pixel as a categorical distribution over the same ``levels`` values, so their
negative log-likelihoods are exact, discrete and directly comparable in bits/dim.

Fashion-MNIST is quantised to ``levels = 4`` grey values k ∈ {0, 1, 2, 3}; the image shown for k
is k / 3. With two levels the categorical decoder is the Bernoulli decoder of binarised MNIST.
"""
from __future__ import annotations

import torch
from torch import Tensor


def quantise(images: Tensor, levels: int) -> Tensor:
    """Images in [0, 1] (any shape) → int64 grey levels in {0, …, levels - 1}, same shape.

    Each value goes to the nearest of the ``levels`` evenly spaced values 0, 1/(levels-1), …, 1."""
    if levels < 2:
        raise ValueError(f"levels must be at least 2, not {levels}")
    return torch.round(images.clamp(0, 1) * (levels - 1)).long()


def dequantise(values: Tensor, levels: int) -> Tensor:
    """Grey levels in {0, …, levels - 1} (any shape, any integer or float dtype) → float32 in [0, 1]."""
    if levels < 2:
        raise ValueError(f"levels must be at least 2, not {levels}")
    return values.float() / (levels - 1)
