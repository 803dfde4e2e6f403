"""The provided networks: shapes, conditioning and the U-Net's extension points."""

import pytest
import torch

from genlab.nets import ConvClassifier, NoisyClassifier, UNet, timestep_embedding

SMALL = dict(channels=(8, 16), emb_dim=32)


def test_timestep_embedding_known_values():
    e = timestep_embedding(torch.tensor([0, 1]), 8)
    assert e.shape == (2, 8)
    assert torch.equal(e[0], torch.tensor([1.0] * 4 + [0.0] * 4))          # cos 0 = 1, sin 0 = 0
    omega = torch.tensor([10_000 ** (-k / 4) for k in range(4)])
    assert torch.allclose(e[1], torch.cat([omega.cos(), omega.sin()]))
    with pytest.raises(ValueError, match="even"):
        timestep_embedding(torch.tensor([0]), 7)


@pytest.mark.parametrize("in_channels, size, channels", [(1, 16, (8, 16)), (3, 32, (8, 16, 32))])
def test_unet_keeps_the_shape(in_channels, size, channels):
    net = UNet(in_channels, channels=channels, emb_dim=32)
    x = torch.randn(2, in_channels, size, size)
    assert net(x, torch.tensor([0, 999])).shape == x.shape
    assert len(net.skip_channels) == 1 + len(channels) + (len(channels) - 1)
    with pytest.raises(ValueError, match="divisible"):
        net(torch.randn(1, in_channels, size + 1, size + 1), torch.tensor([0]))


def test_patched_unet_works_at_half_the_side_and_predicts_every_pixel():
    torch.manual_seed(0)
    net = UNet(1, patch=2, **SMALL).eval()
    x = torch.randn(2, 1, 28, 28)
    out = net(x, torch.tensor([3, 300]))
    assert out.shape == x.shape
    h, skips = net.encode(x, net.embed(torch.tensor([3, 300])))
    assert skips[0].shape[-2:] == (14, 14), "the first level runs at half the side"
    # every output pixel has its own weights: moving one output conv weight of the head's
    # (4 sub-pixel) channels changes exactly one pixel of each 2x2 block
    head_conv = net.head[2]
    with torch.no_grad():
        head_conv.bias[3] += 1.0                        # sub-pixel (1, 1) of each block
    diff = (net(x, torch.tensor([3, 300])) - out).abs()[0, 0]
    assert torch.allclose(diff[1::2, 1::2], torch.ones(14, 14), atol=1e-5)
    assert diff[0::2].abs().max() == 0 and diff[:, 0::2].abs().max() == 0
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.randn(1, 1, 30, 30), torch.tensor([0]))
    assert UNet(**UNet(1, patch=2, **SMALL).config).patch == 2       # a checkpoint's config rebuilds it
    with pytest.raises(ValueError, match="patch"):
        UNet(1, patch=0)


def test_unet_output_depends_on_time_label_and_vector():
    torch.manual_seed(0)
    net = UNet(1, num_classes=10, cond_dim=6, **SMALL).eval()
    x, t, y, c = torch.randn(2, 1, 16, 16), torch.tensor([5, 5]), torch.tensor([1, 1]), torch.randn(2, 6)
    base = net(x, t, y, c)
    assert not torch.allclose(base, net(x, torch.tensor([500, 500]), y, c))
    assert not torch.allclose(base, net(x, t, torch.tensor([2, 2]), c))
    assert not torch.allclose(base, net(x, t, y, torch.randn(2, 6)))
    # no label means the "no label" token, index num_classes (classifier-free guidance)
    assert torch.allclose(net(x, t, None, c), net(x, t, torch.tensor([10, 10]), c))
    with pytest.raises(ValueError, match="no classes"):
        UNet(1, **SMALL)(x, t, y)
    with pytest.raises(ValueError, match="no conditioning vector"):
        UNet(1, **SMALL)(x, t, cond=c)


def test_every_parameter_gets_a_gradient():
    net = UNet(1, num_classes=3, cond_dim=4, **SMALL)
    out = net(torch.randn(2, 1, 16, 16), torch.tensor([3, 7]), torch.tensor([0, 2]), torch.randn(2, 4))
    out.square().mean().backward()
    unused = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not unused, f"parameters that never receive a gradient: {unused}"


def test_residuals_are_the_controlnet_entry_point():
    torch.manual_seed(0)
    net = UNet(1, **SMALL).eval()
    x, t = torch.randn(2, 1, 16, 16), torch.tensor([10, 20])
    h, skips = net.encode(x, net.embed(t))
    assert [s.shape[1] for s in skips] == net.skip_channels and h.shape[1] == net.middle_channels
    zeros = [torch.zeros_like(s) for s in skips] + [torch.zeros_like(h)]
    assert torch.equal(net(x, t), net(x, t, residuals=zeros))
    for i in (0, len(zeros) - 1):                     # a skip and the middle both reach the output
        bumped = [z.clone() for z in zeros]
        bumped[i] += 1.0
        assert not torch.allclose(net(x, t), net(x, t, residuals=bumped))
    with pytest.raises(ValueError, match="residuals"):
        net(x, t, residuals=zeros[:-1])


def test_encoder_copy_is_an_independent_copy():
    net = UNet(1, num_classes=3, **SMALL)
    copy = net.encoder_copy()
    assert set(copy) == {"time_mlp", "stem", "down", "middle", "label_emb"}
    assert torch.equal(copy["stem"].weight, net.stem.weight)
    with torch.no_grad():
        copy["stem"].weight.add_(1.0)
    assert not torch.equal(copy["stem"].weight, net.stem.weight)


def test_noisy_classifier_and_conv_classifier_shapes():
    clf = NoisyClassifier(1, 10, channels=(8, 16), emb_dim=32)
    assert clf(torch.randn(3, 1, 16, 16), torch.tensor(4)).shape == (3, 10)
    conv = ConvClassifier(3, {"shape": 8, "colour": 9}, width=8, image_size=32)
    x = torch.rand(5, 3, 32, 32)
    assert conv(x).shape == (5, 8) and conv.logits(x)["colour"].shape == (5, 9)
    assert conv.features(x).shape == (5, 128) and conv.predict(x, "colour").shape == (5,)
    assert (conv.features(x) >= 0).all(), "features are taken after the ReLU"


def test_film_scales_and_shifts_features():
    torch.manual_seed(0)
    net = UNet(1, cond_dim=4, film=True, **SMALL).eval()
    assert net.config["film"] is True and net.down[0].emb.out_features == 2 * 8
    block = net.down[0]
    x, emb = torch.randn(2, 8, 16, 16), torch.randn(2, 32)
    with torch.no_grad():                      # zero FiLM: scale 1, shift 0, the embedding is ignored
        block.emb.weight.zero_()
        block.emb.bias.zero_()
    assert torch.allclose(block(x, emb), block(x, torch.randn(2, 32)))
    with torch.no_grad():                      # a scale of −1 (1 + γ = 0) silences conv2's input
        block.emb.bias[:8] = -1.0
    expected = block.conv2(torch.zeros(2, 8, 16, 16)) + block.skip(x)
    assert torch.allclose(block(x, emb), expected, atol=1e-6)


def test_coord_stem_breaks_translation_equivariance():
    torch.manual_seed(0)
    plain, coord = UNet(1, **SMALL).eval(), UNet(1, coords=True, **SMALL).eval()
    assert coord.config["coords"] is True and "coords" not in plain.config
    x = torch.zeros(1, 1, 16, 16)              # a constant image: only the coordinates vary
    stem = coord.stem(x)
    assert stem.shape == (1, 8, 16, 16)
    interior = stem[..., 1:-1, 1:-1]           # away from the zero padding
    assert interior.std(dim=(-2, -1)).max() > 1e-3, "the coordinate channels must reach the features"
    assert plain.stem(x)[..., 1:-1, 1:-1].std(dim=(-2, -1)).max() < 1e-6
    copy = coord.encoder_copy()                # ControlNet's copy keeps the coordinates
    assert torch.equal(copy["stem"](x), stem)


def test_old_configs_still_build_the_same_network():
    """Shipped checkpoints saved before film/coords existed load into the same layout."""
    net = UNet(1, num_classes=10, **SMALL)
    assert set(net.config) == {"in_channels", "out_channels", "channels", "blocks_per_level",
                               "emb_dim", "num_classes", "cond_dim", "dropout"}
    assert isinstance(net.stem, torch.nn.Conv2d) and net.down[0].emb.out_features == 8
