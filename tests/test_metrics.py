"""genlab.metrics against closed forms and known values, then monotonic under corruption."""
import functools
import math
from itertools import pairwise

import pytest
import torch

from genlab import metrics

# --- Fréchet distance -------------------------------------------------------------------------

def test_frechet_distance_of_diagonal_gaussians_is_exact():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 1.0, 0.5])   # standard deviations
    exact = (mu1 - mu2).square().sum() + (s1 - s2).square().sum()            # 5 + 5 = 10
    value = metrics.frechet_distance_from_stats(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))
    assert value == pytest.approx(exact.item(), abs=1e-9) and exact.item() == 10


def test_frechet_distance_of_non_commuting_covariances_matches_scipy():
    import numpy as np
    import scipy.linalg

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 5, generator=g, dtype=torch.float64), torch.randn(5, 5, generator=g, dtype=torch.float64)
    c1, c2 = a @ a.T + 0.1 * torch.eye(5), b @ b.T + 0.1 * torch.eye(5)
    mu1, mu2 = torch.randn(5, generator=g, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    root = scipy.linalg.sqrtm(c1.numpy() @ c2.numpy()).real
    exact = float(((mu1 - mu2) ** 2).sum() + np.trace(c1.numpy() + c2.numpy() - 2 * root))
    assert metrics.frechet_distance_from_stats(mu1, c1, mu2, c2) == pytest.approx(exact, rel=1e-8)
    assert metrics.frechet_distance_from_stats(mu1, c1, mu1, c1) == pytest.approx(0, abs=1e-8)


def test_frechet_distance_from_samples_converges_to_the_closed_form():
    g = torch.Generator().manual_seed(1)
    n, d = 40_000, 4
    x = torch.randn(n, d, generator=g)                                  # N(0, I)
    y = 2.0 * torch.randn(n, d, generator=g) + 1.0                      # N(1, 4I)
    exact = d * 1.0 + d * (2.0 - 1.0) ** 2                              # 8
    # the estimate's error is O(sqrt(d / n)) in each moment: 3 % is ~10 standard errors here
    assert metrics.frechet_distance(x, y) == pytest.approx(exact, rel=0.03)
    assert metrics.frechet_distance(x[:n // 2], x[n // 2:]) < 0.01
    with pytest.raises(ValueError, match="features must be"):
        metrics.frechet_distance(x[:1], y)


# --- KID, precision / recall ----------------------------------------------------------------

def test_kid_of_point_masses_is_the_kernel_mmd():
    d = 8
    u, v = torch.ones(d, dtype=torch.float64) * 0.5, torch.linspace(-1, 1, d, dtype=torch.float64)

    def k(p, q):
        return (p @ q / d + 1) ** 3

    exact = (k(u, u) + k(v, v) - 2 * k(u, v)).item()
    mean, std = metrics.kid(u.expand(50, d), v.expand(60, d), subsets=3, subset_size=40)
    assert mean == pytest.approx(exact, rel=1e-9) and std == pytest.approx(0, abs=1e-9)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(3000, 16, generator=g), torch.randn(3000, 16, generator=g)
    same, spread = metrics.kid(x, y, subsets=20, subset_size=500)
    assert abs(same) < 3 * spread + 1e-3
    different, _ = metrics.kid(x, y + 0.5, subsets=20, subset_size=500)
    assert different > 10 * max(abs(same), spread)


def test_precision_recall_on_known_supports():
    g = torch.Generator().manual_seed(0)
    left = torch.randn(1000, 2, generator=g) * 0.1
    right = torch.randn(1000, 2, generator=g) * 0.1 + 10
    real = torch.cat([left, right])
    # a generator that only produces the left cluster: every sample is realistic (precision 1)
    # but half of the real data is never produced (recall 1/2)
    only_left = torch.randn(2000, 2, generator=g) * 0.1
    precision, recall = metrics.precision_recall(real, only_left)
    assert precision > 0.97 and recall == pytest.approx(0.5, abs=0.03)
    precision, recall = metrics.precision_recall(real, real + 100)
    assert precision == 0 and recall == 0
    precision, recall = metrics.precision_recall(real, real.clone())
    assert precision == 1 and recall == 1


# --- mixtures, likelihoods, masks, translations ---------------------------------------------

def test_mode_coverage_matches_the_chi_square_closed_form():
    from genlab.data import mixture_2d, mixture_centres

    n = 20_000
    samples = mixture_2d("8-ring", n, seed=0)
    result = metrics.mode_coverage(samples, mixture_centres("8-ring"), std=0.02)
    # within 3σ of the centre in 2D: P(χ²₂ ≤ 9) = 1 − e^{−4.5}
    expected = 1 - math.exp(-4.5)
    bound = 4 * math.sqrt(expected * (1 - expected) / n)
    assert result.modes == 8 and abs(result.high_quality - expected) < bound
    three = samples[torch.cdist(samples, mixture_centres("8-ring")).argmin(1) < 3]
    assert metrics.mode_coverage(three, mixture_centres("8-ring"), std=0.02).modes == 3
    uniform = torch.rand(n, 2) * 6 - 3
    assert metrics.mode_coverage(uniform, mixture_centres("8-ring"), std=0.02).high_quality < 0.01


def test_bits_per_dim_known_values():
    dims = 784
    assert metrics.bits_per_dim(dims * math.log(256), dims) == pytest.approx(8.0)
    assert metrics.bits_per_dim(torch.zeros(10), dims, levels=256) == pytest.approx(8.0)
    gaussian = 0.5 * math.log(2 * math.pi * math.e)                     # N(0, 1) entropy, nats
    assert metrics.bits_per_dim(dims * gaussian, dims) == pytest.approx(2.0471, abs=1e-4)
    with pytest.raises(ValueError):
        metrics.bits_per_dim(1.0, 0)


def test_iou_of_known_masks():
    a = torch.zeros(3, 1, 10, 10)
    b = torch.zeros(3, 1, 10, 10)
    a[0, :, :4, :4] = 1                       # 16 px
    b[0, :, 2:6, 2:6] = 1                     # 16 px, overlap 2×2 = 4 → 4 / 28
    a[1, :, :5] = 1
    b[1, :, :5] = 1                           # identical → 1
    # third pair empty → 1 by convention
    assert metrics.iou(a, b) == pytest.approx((4 / 28 + 1 + 1) / 3)
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.iou(a, b[:2])


def test_translation_error_known_values():
    g = torch.Generator().manual_seed(0)
    u, v = torch.rand(200, 3, 16, 16, generator=g), torch.rand(200, 3, 16, 16, generator=g)
    assert metrics.translation_error(u, u) == 0
    # E|U − V| = 1/3 for independent uniforms; std of one term is sqrt(1/18), n = 153,600 terms
    assert metrics.translation_error(u, v) == pytest.approx(1 / 3, abs=4 * math.sqrt(1 / 18 / u.numel()))


# --- image metrics in the shipped classifiers' features ---------------------------------------

def _blur(x, k):
    if k == 1:
        return x
    kernel = torch.ones(x.shape[1], 1, k, k) / k**2
    return torch.nn.functional.conv2d(torch.nn.functional.pad(x, [k // 2] * 4, mode="replicate"),
                                      kernel, groups=x.shape[1])


def _blackout(x, fraction, g):
    side = int(round(x.shape[-1] * math.sqrt(fraction)))
    out = x.clone()
    if side:
        for i in range(len(x)):
            r, c = torch.randint(0, x.shape[-1] - side + 1, (2,), generator=g).tolist()
            out[i, :, r:r + side, c:c + side] = 0
    return out


def _corrupt(x, kind, level, g):
    if kind == "noise":
        return (x + level * torch.randn(x.shape, generator=g)).clamp(0, 1)
    if kind == "blur":
        return _blur(x, level)
    return _blackout(x, level, g)


LEVELS = {"noise": (0.0, 0.1, 0.2, 0.4), "blur": (1, 3, 5, 7), "blackout": (0.0, 0.1, 0.25, 0.5)}


@functools.cache
def _datasets():
    from genlab.data import emoji, fashion_mnist
    from genlab.data.procedural import shapes

    x, y = fashion_mnist("test", limit=4000, verbose=False)
    s = shapes(4000, seed=123)
    e = emoji("all", skintones=True, verbose=False)
    perm = torch.randperm(len(e), generator=torch.Generator().manual_seed(0))[:3000]
    return {"fashion-mnist": (x, y, None), "shapes": (s.images, s.attributes["shape"], "shape"),
            "emoji": (e.images[perm], e.labels[perm], None)}


@pytest.mark.parametrize("dataset", ["fashion-mnist", "shapes", "emoji"])
@pytest.mark.parametrize("kind", sorted(LEVELS))
def test_image_metrics_get_worse_as_corruption_grows(dataset, kind):
    """FD and KID rise, and recall, coverage and accuracy fall, at every step of noise, blur
    and blackout. The fidelity metrics (precision, density) ask only whether samples land
    near real ones, so mild damage that keeps them there does not move them, and heavy noise
    can push samples into a region that real outliers' large balls cover. Measured:
    Fashion-MNIST, noise σ = 0 / 0.1 / 0.2 / 0.4: precision 0.861 / 0.720 / 0.755 / 0.862,
    density 0.975 / 0.615 / 0.594 / 0.646; shapes, blur 1 / 3 px: precision 0.965 / 0.967.
    For them the test asks that density falls by the heaviest level and that precision
    falls at some level."""
    x, y, head = _datasets()[dataset]
    half = len(x) // 2
    reference, samples, labels = x[:half], x[half:], y[half:]
    real = metrics.features(reference, dataset)
    g = torch.Generator().manual_seed(0)
    rows = []
    for level in LEVELS[kind]:
        corrupted = _corrupt(samples, kind, level, g)
        fake = metrics.features(corrupted, dataset)
        precision, recall = metrics.precision_recall(real, fake)
        density, coverage = metrics.density_coverage(real, fake)
        rows.append(dict(fd=metrics.frechet_distance(real, fake),
                         kid=metrics.kid(real, fake, subsets=10, subset_size=1000)[0],
                         precision=precision, recall=recall, density=density, coverage=coverage,
                         accuracy=metrics.conditional_accuracy(corrupted, labels, dataset, head=head)))
    table = "\n".join(f"{kind}={lvl}: " + ", ".join(f"{k} {v:.4g}" for k, v in r.items())
                      for lvl, r in zip(LEVELS[kind], rows, strict=True))
    print(f"[metric] {dataset}\n{table}")
    for step, (earlier, later) in enumerate(pairwise(rows)):
        for name in ("fd", "kid"):
            assert later[name] > earlier[name], f"{name} did not rise at step {step + 1}\n{table}"
        for name in ("recall", "coverage", "accuracy"):
            # a tie is allowed only at the floor (recall reaches 0 under heavy damage)
            assert later[name] < earlier[name] or later[name] < 0.01, \
                f"{name} did not fall at step {step + 1}\n{table}"
    assert rows[-1]["density"] < rows[0]["density"] - 0.1, table
    assert min(r["precision"] for r in rows[1:]) < rows[0]["precision"] - 0.05, table


def test_classifier_fd_uses_the_stored_reference_and_checks_its_input():
    from genlab.data import fashion_mnist

    x, _ = fashion_mnist("train", limit=2000, verbose=False)
    fd_real = metrics.classifier_fd(x)
    noise = torch.rand(2000, 1, 28, 28)
    assert metrics.classifier_fd(noise) > 20 * fd_real
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    assert metrics.classifier_fd(padded) == pytest.approx(fd_real, rel=1e-5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.classifier_fd(x * 2 - 1)
    with pytest.raises(ValueError, match="must be"):
        metrics.classifier_fd(torch.rand(10, 3, 28, 28))
    with pytest.raises(ValueError, match="no evaluation classifier"):
        metrics.classifier_fd(x, "cifar10")


def test_changed_pixel_gain_is_0_for_copying_and_1_for_the_truth():
    source = torch.zeros(2, 3, 4, 4)
    truth = source.clone()
    truth[:, :, :2] = 1.0                                     # the translation changes the top half
    assert metrics.changed_pixel_gain(source, source, truth) == 0
    assert metrics.changed_pixel_gain(truth, source, truth) == 1
    halfway = truth.clone()
    halfway[:, :, :2] = 0.5
    halfway[:, :, 2:] = 0.9                                   # unchanged pixels do not count
    assert metrics.changed_pixel_gain(halfway, source, truth) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="changes no pixel"):
        metrics.changed_pixel_gain(source, source, source)
