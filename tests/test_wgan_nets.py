"""Topic 03's image networks: shapes, ranges, sizes, and that the zoo can ship them."""
import torch

from genlab import zoo
from genlab.nets import DCGANCritic, MLPGenerator, ResizeConvGenerator


def test_resize_conv_generator_shapes_range_and_size():
    torch.manual_seed(0)
    g = ResizeConvGenerator(z_dim=12, width=32)
    x = g(torch.randn(5, 12))
    assert x.shape == (5, 1, 28, 28) and g.z_dim == 12
    assert x.min() >= -1 and x.max() <= 1
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules())   # resize-convolution
    n_bytes = 4 * sum(p.numel() for p in g.parameters())
    assert n_bytes < 2 * 2**20, "the shipped generators stay under 2 MB"


def test_critic_scores_are_raw_and_per_sample():
    torch.manual_seed(0)
    d = DCGANCritic(width=8)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)) for m in d.modules())
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    scores = d(x)
    assert scores.shape == (4,)
    # no batch coupling: a sample's score does not depend on the rest of the batch (needed by the penalty)
    assert torch.allclose(d(x[:1]), scores[:1], atol=1e-6)
    assert (d(torch.full((2, 1, 28, 28), 1e3)).abs() > 1).any()


def test_zoo_round_trip_of_the_generators(tmp_path):
    torch.manual_seed(0)
    for model, z in [(ResizeConvGenerator(z_dim=6, width=4).eval(), torch.randn(3, 6)),
                     (MLPGenerator(z_dim=2, out_dim=2, width=8, depth=2), torch.randn(3, 2))]:
        path = zoo.save(model, {"figure": "test"}, tmp_path / "g.pt")
        blob = torch.load(path, weights_only=True)
        rebuilt = zoo._build(blob["class"], blob["config"])
        rebuilt.load_state_dict(blob["state_dict"])
        rebuilt.eval()
        assert torch.allclose(rebuilt(z), model(z))
