"""Provided backbones for unpaired image-to-image translation (topic 05, CycleGAN).

pix2pix's U-Net and 70x70 PatchGAN are written by the students in topic 04 and live only in
that topic's solution; the networks here follow CycleGAN's other choices (Zhu et al., 2017):
a ResNet generator with instance norm (Johnson et al., 2016) and a small patch discriminator
with 3x3 kernels and instance norm that returns raw scores (least-squares GAN, no sigmoid).
"""
from __future__ import annotations

import torch.nn as nn
from torch import Tensor


class ResidualBlock(nn.Module):
    """x + conv-IN-ReLU-conv-IN(x) with reflection padding; (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: (B, in_channels, H, W) in [-1, 1] -> (B, out_channels, H, W) in [-1, 1].

    c7s1-w, d2w, d4w, ``n_blocks`` residual blocks at 4w, u2w, uw, c7s1-out, tanh (the paper's
    notation; H and W divisible by 4). No skip connections: a translation must pass through the
    residual blocks at a quarter of the resolution."""

    def __init__(self, in_channels: int = 3, out_channels: int | None = None, width: int = 32,
                 n_blocks: int = 3):
        super().__init__()
        out_channels = out_channels or in_channels
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), nn.InstanceNorm2d(width), nn.ReLU()]
        for c in (width, 2 * width):                                        # two stride-2 downsamplings
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU()]
        layers += [ResidualBlock(4 * width) for _ in range(n_blocks)]
        for c in (4 * width, 2 * width):                                    # two stride-2 upsamplings
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(c // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class InstanceNormPatchDiscriminator(nn.Module):
    """Scores every patch of an image: (B, in_channels, H, W) -> (B, 1, H / 2**n_down, W / 2**n_down).

    ``n_down`` stride-2 3x3 convolutions (instance norm after all but the first, LeakyReLU 0.2),
    then a 3x3 convolution to one channel. Raw scores, no sigmoid (for the least-squares loss)."""

    def __init__(self, in_channels: int = 3, width: int = 32, n_down: int = 2):
        super().__init__()
        layers, c = [nn.Conv2d(in_channels, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2)], width
        for _ in range(1, n_down):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        layers += [nn.Conv2d(c, 1, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
