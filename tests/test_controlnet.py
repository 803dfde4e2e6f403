"""The provided pieces of topic 12 (genlab.nets.controlnet)."""
import torch

from genlab.nets import UNet
from genlab.nets.controlnet import ControlNetWeights, hint_encoder


def test_hint_encoder_keeps_the_resolution():
    out = hint_encoder(1, 16)(torch.zeros(2, 1, 32, 32))
    assert out.shape == (2, 16, 32, 32)


def test_controlnet_weights_layout_matches_the_unet():
    config = dict(in_channels=3, out_channels=3, channels=(8, 16), blocks_per_level=1, emb_dim=32,
                  num_classes=None, cond_dim=12, dropout=0.0)
    unet = UNet(**config)
    net = ControlNetWeights(unet.config, 2)
    # the encoder copy has exactly the U-Net encoder's parameters
    assert net.encoder.state_dict().keys() == unet.encoder_copy().state_dict().keys()
    assert [z.in_channels for z in net.zero_convs] == unet.skip_channels
    assert net.middle_zero_conv.in_channels == unet.middle_channels
    assert net.hint[0].in_channels == 2 and net.hint[-1].out_channels == unet.skip_channels[0]
    # the container round-trips through its config (how the zoo rebuilds it)
    again = ControlNetWeights(**net.config)
    again.load_state_dict(net.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), net.state_dict().values(), strict=True))
