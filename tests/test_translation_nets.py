"""Provided backbones of topic 05 (genlab.nets.translation)."""
import torch

from genlab.nets import InstanceNormPatchDiscriminator, ResnetGenerator


def test_resnet_generator_shapes_range_and_no_skip_from_input():
    torch.manual_seed(0)
    G = ResnetGenerator(3, width=4, n_blocks=2)
    x = torch.randn(2, 3, 16, 16)
    y = G(x)
    assert y.shape == (2, 3, 16, 16)
    assert y.abs().max() <= 1
    assert ResnetGenerator(1, 3, width=4, n_blocks=1)(torch.randn(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    # everything passes the quarter-resolution residual blocks: silencing them (and the layers up to them)
    # makes the output independent of the input
    downsampling = G.net[:10]
    with torch.no_grad():
        for p in downsampling.parameters():
            p.zero_()
    # exactly: no path from the input around the blocks carries any gradient (a skip connection
    # from the input would), whatever the CPU's rounding; compared batch for batch of one shape
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    G(x).sum().backward()
    assert torch.count_nonzero(x.grad) == 0
    with torch.no_grad():
        assert torch.equal(G(x), G(torch.randn(2, 3, 16, 16)))


def test_patch_discriminator_grid_and_receptive_field():
    torch.manual_seed(0)
    D = InstanceNormPatchDiscriminator(3, width=4, n_down=2).eval()
    assert D(torch.randn(2, 3, 32, 32)).shape == (2, 1, 8, 8)
    assert InstanceNormPatchDiscriminator(3, width=4, n_down=3)(torch.randn(1, 3, 32, 32)).shape == (1, 1, 4, 4)
    # receptive field of 3x3 convolutions with strides 2, 2, 1: r = ((1 - 1) 1 + 3 - 1) 2 + 3 = 7, then
    # (7 - 1) 2 + 3 = 15. InstanceNorm couples all pixels, so measure with norm layers removed.
    plain = torch.nn.Sequential(*[m for m in D.net if not isinstance(m, torch.nn.InstanceNorm2d)])
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    plain(x)[0, 0, 8, 8].backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = touched.any(dim=1).nonzero()
    assert int(rows.max() - rows.min() + 1) == 15
