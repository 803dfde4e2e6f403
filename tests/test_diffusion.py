"""genlab.diffusion: schedules, the sub-sequence of timesteps, EMA, the training and sampling loops."""
import math
from itertools import pairwise

import pytest
import torch

from genlab.diffusion import (
    EMA,
    DenoiserTraining,
    DPMSolver2M,
    beta_schedule,
    encode_loop,
    resolution_references,
    sample_loop,
    schedule_tables,
    sigmas_for,
    timestep_sequence,
    train_denoiser,
)


def test_linear_schedule_matches_ho_et_al():
    betas = beta_schedule("linear", 1000)
    assert betas.shape == (1000,) and betas.dtype == torch.float64
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    assert torch.all(betas[1:] > betas[:-1])
    _, alphas, alphas_cumprod = schedule_tables(betas)
    # abar_T of the linear schedule is about 4.0e-5: x_T is almost pure noise
    assert alphas_cumprod[-1].item() == pytest.approx(4.04e-5, rel=0.01)
    assert torch.allclose(alphas, 1 - betas.float())
    assert torch.allclose(alphas_cumprod.double(), torch.cumprod(1 - betas, 0), rtol=1e-5)


def test_linear_schedule_rescales_with_T():
    # the end points scale with 1000 / T so that abar_T stays comparable
    assert beta_schedule("linear", 100)[-1].item() == pytest.approx(0.2)
    assert schedule_tables(beta_schedule("linear", 100))[2][-1].item() < 1e-3


def test_cosine_schedule_matches_its_closed_form():
    T, s = 1000, 0.008
    _, _, alphas_cumprod = schedule_tables(beta_schedule("cosine", T))
    t = torch.tensor([1, 250, 500, 750], dtype=torch.float64)

    def f(u: torch.Tensor) -> torch.Tensor:
        return torch.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2

    expected = f(t) / f(torch.tensor(0.0, dtype=torch.float64))
    assert torch.allclose(alphas_cumprod[t.long() - 1].double(), expected, rtol=1e-4)
    assert beta_schedule("cosine", T).max().item() <= 0.999


def test_schedule_rejects_unknown_kind():
    with pytest.raises(ValueError, match="linear"):
        beta_schedule("quadratic")


def test_timestep_sequence():
    assert timestep_sequence(1000, 4) == [750, 500, 250, 0]
    assert timestep_sequence(1000, 1000) == list(range(999, -1, -1))
    seq = timestep_sequence(1000, 50)
    assert len(seq) == 50 and seq[-1] == 0 and all(a > b for a, b in pairwise(seq))
    with pytest.raises(ValueError):
        timestep_sequence(10, 11)


def test_the_three_spacings_share_one_convention():
    """Every spacing decreases to 0; linspace and karras start at T − 1; karras is denser
    near t = 0 (where σ_t is small) than linspace, and needs ᾱ."""
    _, _, abar = schedule_tables(beta_schedule("linear", 1000))
    assert timestep_sequence(1000, 4, "linspace") == [999, 666, 333, 0]
    karras = timestep_sequence(1000, 12, "karras", alphas_cumprod=abar)
    assert karras[0] == 999 and karras[-1] == 0 and all(a > b for a, b in pairwise(karras))
    assert karras[-2] < timestep_sequence(1000, 12, "linspace")[-2] / 4
    sigmas = sigmas_for(abar, karras)
    assert all(a > b for a, b in pairwise(sigmas.tolist()))
    torch.testing.assert_close(sigmas[-1], ((1 - abar[0].double()) / abar[0].double()).sqrt())
    with pytest.raises(ValueError, match="alphas_cumprod"):
        timestep_sequence(1000, 12, "karras")
    with pytest.raises(ValueError, match="spacing"):
        timestep_sequence(1000, 12, "cosine")
    with pytest.raises(ValueError):
        timestep_sequence(1000, 1, "linspace")


def test_ema_averages_parameters():
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.model.weight, torch.full((1, 2), 0.1))
    ema.update(model)
    assert torch.allclose(ema.model.weight, torch.full((1, 2), 0.19))
    assert not any(p.requires_grad for p in ema.model.parameters())
    # with warm-up the n-th update uses min(decay, (1 + n) / (10 + n)): 2/11 first, then 3/12
    # (the same architecture as the model it follows: EMA.update zips their parameters strictly)
    plain = torch.nn.Linear(2, 1, bias=False).requires_grad_(False)
    warm = EMA(plain, decay=0.9, warmup=True)
    warm.model.weight.fill_(0.0)
    plain.weight.fill_(1.0)
    warm.update(plain)
    assert torch.allclose(warm.model.weight, torch.full((1, 2), 1 - 2 / 11))
    warm.update(plain)
    assert torch.allclose(warm.model.weight, torch.full((1, 2), 1 - (2 / 11) * (3 / 12)))


def test_train_denoiser_fits_a_constant():
    """A network that must output the constant 3: the loss falls, the EMA copy follows."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)

    def loss_fn(m: torch.nn.Module, x0: torch.Tensor) -> torch.Tensor:
        return (m(x0) - 3.0).pow(2).mean()

    ema_model, losses = train_denoiser(model, loss_fn, torch.randn(256, 1), steps=300, batch_size=32,
                                       lr=5e-2, ema_decay=0.9, warmup=10, seed=0)
    assert len(losses) == 300 and losses[-1] < 0.01 * losses[0]
    assert ema_model(torch.zeros(1, 1)).item() == pytest.approx(3.0, abs=0.1)


def test_denoiser_training_resumes_and_interleaves_exactly():
    def make(seed):
        torch.manual_seed(seed)
        return torch.nn.Linear(2, 1)

    def loss_fn(m, x0):                                 # no randomness of its own: comparable bit for bit
        return (m(x0) - x0.sum(1, keepdim=True)).square().mean()

    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(3))
    kwargs = dict(steps=40, batch_size=8, lr=1e-2, warmup=5, progress=False)
    whole = DenoiserTraining(make(0), loss_fn, data, seed=1, **kwargs)
    whole.run()
    a = DenoiserTraining(make(0), loss_fn, data, seed=1, **kwargs)
    b = DenoiserTraining(make(5), loss_fn, data, seed=2, **kwargs)
    while not (a.done and b.done):                      # turn by turn, in uneven chunks
        a.run(7)
        b.run(3)
    assert len(a.losses) == len(b.losses) == 40 and a.losses == whole.losses
    for p, q in zip(a.finish()[0].parameters(), whole.finish()[0].parameters(), strict=True):
        assert torch.equal(p, q)
    a.run(5)                                            # finished: nothing more happens
    assert len(a.losses) == 40


def test_train_denoiser_passes_aligned_extra_tensors():
    """``extra`` rows arrive with their own images: the target is each image's label."""
    torch.manual_seed(0)
    images = torch.arange(64, dtype=torch.float32).view(64, 1)
    labels = images.squeeze(1) * 2
    seen = []

    def loss_fn(m, x0, y):
        seen.append(torch.equal(y, x0.squeeze(1) * 2))
        return (m(x0).squeeze(1) - y).pow(2).mean()

    train_denoiser(torch.nn.Linear(1, 1), loss_fn, images, steps=5, batch_size=8, extra=(labels,))
    assert seen == [True] * 5


def test_sample_loop_calls_the_step_in_order_and_chunks():
    seen = []

    def model(x, t):
        return torch.zeros_like(x)

    def step(out, x, t, t_prev):
        seen.append((t, t_prev, len(x)))
        return x + 1

    x_T = torch.zeros(5, 1, 2, 2)
    out = sample_loop(model, step, (5, 1, 2, 2), [20, 10, 0], x_T=x_T, batch_size=3)
    assert torch.equal(out, torch.full((5, 1, 2, 2), 3.0))
    assert seen == [(20, 10, 3), (10, 0, 3), (0, -1, 3), (20, 10, 2), (10, 0, 2), (0, -1, 2)]


def _gaussian_ode_case():
    """Data N(mu, s^2) per coordinate: its exact noise predictor, and the exact probability-flow
    map, under which x at level t0 goes to the same quantile at level 0 (1-D Gaussians)."""
    _, _, abar = schedule_tables(beta_schedule("linear", 1000), dtype=torch.float64)
    mu, s = 0.3, 0.5

    def eps(x, t):
        a = abar[t].view(-1, 1)
        return (1 - a).sqrt() * (x - a.sqrt() * mu) / (a * s * s + 1 - a)

    def exact(x, t0):
        a0, a = abar[t0], abar[0]
        at_0 = a.sqrt() * mu + (a * s * s + 1 - a).sqrt() * (x - a0.sqrt() * mu) / (a0 * s * s + 1 - a0).sqrt()
        return mu + a.sqrt() * s * s * (at_0 - a.sqrt() * mu) / (a * s * s + 1 - a)   # both end with x0_hat at t = 0

    def ddim(e, x, t, t_prev):
        a, a_prev = abar[t], (abar[t_prev] if t_prev >= 0 else torch.tensor(1.0, dtype=torch.float64))
        return a_prev.sqrt() * (x - (1 - a).sqrt() * e) / a.sqrt() + (1 - a_prev).sqrt() * e

    return abar, eps, exact, ddim


def test_dpm_solver_2m_is_second_order_where_ddim_is_first():
    abar, eps, exact, ddim = _gaussian_ode_case()
    x_T = torch.randn(500, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    errors = {}
    for n in (10, 20, 40):
        ts = timestep_sequence(1000, n, "karras", alphas_cumprod=abar)
        target = exact(x_T, ts[0])
        errors["ddim", n] = (sample_loop(eps, ddim, x_T.shape, ts, x_T=x_T) - target).abs().max().item()
        errors["dpm", n] = (sample_loop(eps, DPMSolver2M(abar, clip=False), x_T.shape, ts, x_T=x_T)
                            - target).abs().max().item()
    # halving the step: DDIM's error halves (first order), DPM-Solver++(2M)'s falls about fourfold
    assert 1.6 < errors["ddim", 20] / errors["ddim", 40] < 2.4, errors
    assert errors["dpm", 20] / errors["dpm", 40] > 3, errors
    assert errors["dpm", 40] < errors["ddim", 40] / 4, errors
    assert errors["dpm", 10] < errors["ddim", 10], errors


def test_dpm_solver_2m_forgets_its_history_between_chunks():
    abar, eps, _, _ = _gaussian_ode_case()
    x_T = torch.randn(6, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ts = timestep_sequence(1000, 8, "karras", alphas_cumprod=abar)
    solver = DPMSolver2M(abar)
    whole = sample_loop(eps, solver, x_T.shape, ts, x_T=x_T)
    assert torch.allclose(sample_loop(eps, solver, x_T.shape, ts, x_T=x_T, batch_size=4), whole)
    assert (whole.abs() <= 1).all()                                   # clip=True: x0_hat in [-1, 1]
    # its first step is DDIM's (no history yet): one step from the first timestep straight to the data
    first = DPMSolver2M(abar, clip=False)(eps(x_T, ts[0]), x_T, ts[0], -1)
    _, _, _, ddim = _gaussian_ode_case()
    assert torch.allclose(first, ddim(eps(x_T, ts[0]), x_T, ts[0], -1))


def test_encode_loop_visits_levels_upwards():
    seen = []

    def model(x, t):
        seen.append(int(t[0]))
        return torch.zeros_like(x)

    out = encode_loop(model, lambda eps, x, t_prev, t: x + t, torch.zeros(2, 1), [20, 10, 0])
    assert seen == [0, 10, 20]
    assert torch.equal(out, torch.full((2, 1), 30.0))


def test_resolution_references_order_the_floors():
    refs = resolution_references(500, seed=1)
    real, nearest, bilinear = refs.values()
    # measured (1,000 images, seed 0): real 1.7, nearest 31.9, bilinear 117.7
    assert real < 5 < 3 * real < nearest < bilinear, refs


# MSE of the shipped model's noise prediction on 256 test images: 0.24 / 0.015 / 0.0006 at
# t = 50 / 500 / 900; an untrained U-Net: 1.1-1.2 at every t.
MSE_BARS = {50: 0.5, 500: 0.1, 900: 0.05}


def test_shipped_ddpm_model_predicts_the_noise():
    """The shipped ε-prediction U-Net (genlab zoo export 09) beats the zero predictor (MSE 1) by far."""
    from genlab import zoo
    from genlab.data import fashion_mnist

    model, meta = zoo.load("ddpm-fashion", "cpu", with_meta=True)
    assert meta["size"] == 28, "ddpm-fashion works at the data's full resolution"
    x0 = fashion_mnist("test", limit=256, verbose=False)[0] * 2 - 1
    _, _, alphas_cumprod = schedule_tables(beta_schedule("linear", 1000))
    g = torch.Generator().manual_seed(0)
    errors = {}
    for step in (50, 500, 900):
        eps = torch.randn(x0.shape, generator=g)
        a = alphas_cumprod[step]
        with torch.no_grad():
            pred = model(a.sqrt() * x0 + (1 - a).sqrt() * eps, torch.full((len(x0),), step))
        errors[step] = (pred - eps).pow(2).mean().item()
    assert all(e < MSE_BARS[s] for s, e in errors.items()), errors
