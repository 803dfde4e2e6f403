"""The provided parts of topic 06's style-based generator, with stand-in style/noise layers
(the students' layers live only in the solution notebook)."""
import pytest
import torch
from torch import nn

from genlab.nets.classifiers import ConvClassifier
from genlab.nets.style import ConvDecoder, ConvEncoder, MappingNetwork, PixelNorm, StyleDiscriminator, StyleGenerator


class RecordingStyle(nn.Module):
    """Stand-in for a style layer: adds w's first entry to x and records every w it sees."""

    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x, w):
        self.seen.append(w)
        return x + w[:, :1, None, None]


class AddNoise(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.calls = 0

    def forward(self, x, noise=None):
        self.calls += 1
        return x if noise is None else x + noise


def test_pixel_norm_unit_rms():
    x = torch.randn(5, 7) * 3
    assert torch.allclose(PixelNorm()(x).pow(2).mean(1), torch.ones(5), atol=1e-5)


def test_mapping_shapes_and_running_mean():
    torch.manual_seed(0)
    m = MappingNetwork(z_dim=8, w_dim=6, depth=2, w_avg_beta=0.5)
    w = m(torch.randn(10, 8))
    assert w.shape == (10, 6)
    assert torch.allclose(m.w_avg, 0.5 * w.mean(0).detach())          # from zero, one step of beta 0.5
    m.eval()
    before = m.w_avg.clone()
    m(torch.randn(10, 8))
    assert torch.equal(m.w_avg, before)                                # eval mode leaves w_avg alone
    avg = m.estimate_w_avg(20_000)
    assert avg.shape == (6,)
    with pytest.raises(ValueError):
        MappingNetwork(z_dim=8, w_dim=6, depth=0)
    identity = MappingNetwork(z_dim=4, w_dim=4, depth=0)
    z = torch.randn(3, 4)
    assert torch.allclose(identity(z), PixelNorm()(z))


@pytest.mark.parametrize("size", [8, 16, 32])
def test_generator_layers_resolutions_and_styles(size):
    torch.manual_seed(0)
    G = StyleGenerator(size=size, channels=8, z_dim=4, w_dim=4, mapping_depth=1,
                       make_style=RecordingStyle, make_noise=AddNoise)
    assert G.num_layers == {8: 3, 16: 4, 32: 5}[size]
    assert [G.resolution(i) for i in range(G.num_layers)] == [4, 4, 8, 16, 32][:G.num_layers]
    assert G(torch.randn(2, 4)).shape == (2, 1, size, size)
    ws = torch.randn(2, G.num_layers, 4)
    G.synthesis(ws)
    for i, layer in enumerate(G.layers):                                # each layer gets its own w
        assert torch.equal(layer.style.seen[-1], ws[:, i])
        assert layer.noise.calls == 2
    noise = G.fixed_noise(2, seed=3)
    assert [n.shape[-1] for n in noise] == [G.resolution(i) for i in range(G.num_layers)]
    assert torch.equal(G.synthesis(ws, noise), G.synthesis(ws, G.fixed_noise(2, seed=3)))
    with pytest.raises(ValueError):
        G.synthesis(torch.randn(2, G.num_layers + 1, 4))


def test_generator_constant_input_and_traditional_baseline():
    torch.manual_seed(0)
    const = StyleGenerator(size=8, channels=4, z_dim=4, w_dim=4, make_style=RecordingStyle)
    assert const.const.shape == (1, 4, 4, 4) and const.input is None
    baseline = StyleGenerator(size=8, channels=4, z_dim=4, w_dim=4, mapping_depth=0, const_input=False)
    assert baseline.const is None and all(layer.style is None for layer in baseline.layers)
    # without styles the input is the only way z reaches the image
    ws = torch.randn(1, 3, 4)
    changed = ws.clone()
    changed[:, 1:] = 0
    assert torch.allclose(baseline.synthesis(ws), baseline.synthesis(changed))


def test_discriminator_shapes_and_minibatch_std():
    torch.manual_seed(0)
    D = StyleDiscriminator(size=16, channels=8, in_channels=3)
    assert D(torch.randn(6, 3, 16, 16)).shape == (6,)
    # the minibatch-std feature makes a sample's score depend on the rest of the batch
    x = torch.randn(4, 3, 16, 16)
    y = x.clone()
    y[1:] = 0
    assert not torch.allclose(D(x)[0], D(y)[0])


def test_encoder_is_frozen_and_decoder_inverts_shapes():
    clf = ConvClassifier(in_channels=3, heads={"label": 4}, image_size=32)
    enc = ConvEncoder(clf, stages=2)
    enc.train()
    assert not enc.training and not any(p.requires_grad for p in enc.parameters())
    feats = enc(torch.rand(2, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(2, 32, 32, 32), (2, 64, 16, 16)]
    assert enc.out_channels == 64
    out = ConvDecoder(in_channels=64, stages=2)(feats[-1])
    assert out.shape == (2, 3, 32, 32) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("depth", [2, 8])
def test_mapping_keeps_the_spread_of_z_at_any_depth(depth):
    """He initialisation: w varies with z as much as pixel-normed z does (std ~1 per dimension).
    PyTorch's default init gave std 0.14 at depth 2 and 5e-4 at depth 8: one w for every z."""
    torch.manual_seed(0)
    w = MappingNetwork(z_dim=64, w_dim=64, depth=depth)(torch.randn(4096, 64))
    spread = w.std(dim=0).mean().item()
    assert 0.3 < spread < 3, f"std of w over z {spread:.3g} at depth {depth}"
