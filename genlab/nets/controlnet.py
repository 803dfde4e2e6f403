"""Provided pieces of topic 12 (ControlNet) that no student writes.

- :func:`hint_encoder`: the small conv net that maps a condition image (a mask or an edge
  map, (B, 1, 32, 32)) to the width of the U-Net's first level, (B, C0, 32, 32);
- :class:`ControlNetWeights`: the *parameter layout* of topic 12's ControlNet (a trainable
  copy of the U-Net's encoder, the hint encoder, one 1×1 convolution per skip connection
  and one for the middle) so that its trained weights can be shipped in the zoo and loaded
  into the students' own module with ``load_state_dict``. It has no ``forward``: how the
  pieces are wired (and how the 1×1 convolutions start) is the assignment.
"""
from __future__ import annotations

from torch import nn

from genlab.nets.unet import UNet


def hint_encoder(in_channels: int, out_channels: int, hidden: int = 16) -> nn.Sequential:
    """Condition (B, in_channels, H, W) → features (B, out_channels, H, W): three 3×3
    convolutions with SiLU between them, resolution kept."""
    return nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.SiLU(),
                         nn.Conv2d(hidden, hidden, 3, padding=1), nn.SiLU(),
                         nn.Conv2d(hidden, out_channels, 3, padding=1))


class ControlNetWeights(nn.Module):
    """The parameters of a ControlNet for a :class:`UNet` built from ``unet_config``:

    - ``encoder``: ``UNet.encoder_copy()`` (time_mlp, stem, down, middle, cond_proj …);
    - ``hint``: :func:`hint_encoder` (``cond_channels`` → ``skip_channels[0]``);
    - ``zero_convs``: one ``nn.Conv2d(c, c, 1)`` per entry c of ``UNet.skip_channels``;
    - ``middle_zero_conv``: ``nn.Conv2d(m, m, 1)`` with m = ``UNet.middle_channels``.

    A container for storing and loading weights (its state-dict keys are the ones topic 12's
    ControlNet must have); it cannot run."""

    def __init__(self, unet_config: dict, cond_channels: int = 1):
        super().__init__()
        self.config = dict(unet_config=dict(unet_config), cond_channels=cond_channels)
        unet = UNet(**unet_config)
        self.encoder = unet.encoder_copy()
        self.hint = hint_encoder(cond_channels, unet.skip_channels[0])
        self.zero_convs = nn.ModuleList([nn.Conv2d(c, c, 1) for c in unet.skip_channels])
        self.middle_zero_conv = nn.Conv2d(unet.middle_channels, unet.middle_channels, 1)
