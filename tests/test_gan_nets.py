"""The provided GAN backbones: shapes, raw scores, and that the label reaches the conditional D."""
import torch

from genlab.nets import ConditionalDCGANDiscriminator, MLPDiscriminator, MLPGenerator


def test_mlp_generator_and_discriminator_shapes():
    g, d = MLPGenerator(z_dim=3, out_dim=2, width=16, depth=2), MLPDiscriminator(in_dim=2, width=16, depth=2)
    x = g(torch.randn(5, 3))
    assert x.shape == (5, 2) and g.z_dim == 3
    scores = d(x)
    assert scores.shape == (5,)
    # raw scores, not probabilities: a large input gives values outside [0, 1]
    assert (d(torch.full((4, 2), 1e3)).abs() > 1).any()


def test_conditional_discriminator_uses_the_label():
    torch.manual_seed(0)
    d = ConditionalDCGANDiscriminator(n_classes=10, width=8)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    out_a, out_b = d(x, torch.tensor([0, 1, 2])), d(x, torch.tensor([3, 4, 5]))
    assert out_a.shape == (3,)
    assert not torch.allclose(out_a, out_b)
