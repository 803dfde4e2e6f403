"""Edge maps of images (the input side of edges → image translation, e.g. pix2pix)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4


def sobel_magnitude(images: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude of the channel mean of ``images`` (N, C, H, W) in [0, 1], by the
    Sobel filters, scaled by 1/4 so that a step of height 1 gives a peak of 1. Returns
    (N, 1, H, W); borders replicate the edge pixels."""
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    gray = F.pad(images.float().mean(dim=1, keepdim=True), (1, 1, 1, 1), mode="replicate")
    kernels = torch.stack([SOBEL_X, SOBEL_X.T]).unsqueeze(1).to(gray.device)      # (2, 1, 3, 3)
    gx, gy = F.conv2d(gray, kernels).split(1, dim=1)
    return (gx**2 + gy**2).sqrt()


def sobel_edges(images: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
    """Binary edge maps (N, 1, H, W) in {0, 1}: Sobel magnitude above ``threshold``."""
    return (sobel_magnitude(images) > threshold).float()
