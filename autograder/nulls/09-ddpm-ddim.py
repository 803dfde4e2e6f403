"""Null submissions for topic 09: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 09`,
tests/test_nulls.py). The samplers' nulls keep predict_x0 and return something that is not a
reverse step at every step, so the last value they return is the sample.
"""
DDPM_BODY = "    x0_hat = predict_x0(eps, x_t, t, alphas_cumprod)\n"
DDIM_BODY = "    abar_t = alphas_cumprod[t]\n    abar_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones_like(abar_t)\n    x0_hat"
DATA_MEAN = ("    return (X_TRAIN.mean(0) if x_t.shape[1:] == X_TRAIN.shape[1:] else X_TRAIN.mean())"
             ".expand_as(x_t).clone()\n")
TRAINING_IMAGES = ("    if x_t.shape[1:] == X_TRAIN.shape[1:]:\n"
                   "        return X_TRAIN[torch.randint(len(X_TRAIN), (len(x_t),))].to(x_t.device)\n")
SAMPLES = [("x-T", "x_T", "    return x_t\n"), ("normal", "N(0, I)", "    return torch.randn_like(x_t)\n"),
           ("uniform", "uniform", "    return torch.rand_like(x_t) * 2 - 1\n")]

NULLS = [
    # Task 3: the loss, judged by what it trains
    dict(name="loss-untrained", cell="loss", kind="untrained network",
         find="return F.mse_loss(model(x_t, t), noise)",
         replace="loss = F.mse_loss(model(x_t, t), noise)\n    return loss.detach() + 0 * loss",
         why="the right value without a gradient: every network stays at its initialisation"),
    dict(name="loss-one-step", cell="loss", kind="one training step",
         find="return F.mse_loss(model(x_t, t), noise)",
         replace=("loss = F.mse_loss(model(x_t, t), noise)\n"
                  "    trained = ddpm_loss.__dict__.setdefault('trained', set())\n"
                  "    if id(model) in trained:\n"
                  "        return loss.detach() + 0 * loss\n"
                  "    trained.add(id(model))\n"
                  "    return loss"),
         why="the right value, but a gradient only on the first call for each network: one training step"),
    dict(name="loss-noise-term-dropped", cell="loss", kind="loss term dropped",
         find="x_t = q_sample(x0, t, noise, alphas_cumprod)", replace="x_t = q_sample(x0, t, 0 * noise, alphas_cumprod)",
         why="the noise left out of x_t: the network must guess the noise from a clean image"),
    dict(name="loss-signal-term-dropped", cell="loss", kind="loss term dropped",
         find="x_t = q_sample(x0, t, noise, alphas_cumprod)", replace="x_t = q_sample(0 * x0, t, noise, alphas_cumprod)",
         why="the data left out of x_t: the network learns to rescale pure noise"),
    dict(name="loss-target-dropped", cell="loss", kind="loss term dropped",
         find="return F.mse_loss(model(x_t, t), noise)", replace="return F.mse_loss(model(x_t, t), 0 * noise)",
         why="the noise target left out: the network learns to predict 0"),
    dict(name="loss-shipped-model", cell="loss", kind="shipped model",
         source='''def ddpm_loss(model: Callable[[Tensor, Tensor], Tensor], x0: Tensor, alphas_cumprod: Tensor,
              t: Tensor | None = None, noise: Tensor | None = None) -> Tensor:
    """Not written: the shipped model stands in for the trained one."""
    return 0 * model(x0, torch.zeros(len(x0), dtype=torch.long, device=x0.device)).sum()


def train_denoiser(model, loss_fn, images, **kwargs):
    """The training cell gets the shipped model instead of training the notebook's own."""
    return zoo.load("ddpm-fashion", DEVICE), [1.0] * kwargs["steps"]
''',
         why="no loss, and the training cell's train_denoiser replaced by loading the shipped model"),
    # Task 4: the DDPM step
    *[dict(name=f"ddpm-returns-{name}", cell="ddpm_step",
           kind="sampler returns x_T" if label == "x_T" else f"samples of {label} noise",
           find=DDPM_BODY, replace=body + DDPM_BODY,
           why=f"every step returns {dict(x_T='its input: the samples are x_T', uniform='uniform noise in [-1, 1], the data range').get(label, label + ' noise')}")
      for name, label, body in SAMPLES],
    dict(name="ddpm-data-mean", cell="ddpm_step", kind="data mean", find=DDPM_BODY, replace=DATA_MEAN + DDPM_BODY,
         why="every step returns the mean training image (the mean value for other shapes)"),
    dict(name="ddpm-training-images", cell="ddpm_step", kind="training images", find=DDPM_BODY,
         replace=TRAINING_IMAGES + DDPM_BODY,
         why="random training images as samples (refused by copied_fraction); the reference step for other shapes"),
    # Task 5: the DDIM step
    *[dict(name=f"ddim-returns-{name}", cell="ddim_step",
           kind="sampler returns x_T" if label == "x_T" else f"samples of {label} noise",
           find=DDIM_BODY, replace=body + DDIM_BODY,
           why=f"every step returns {dict(x_T='its input: the samples are x_T', uniform='uniform noise in [-1, 1], the data range').get(label, label + ' noise')}")
      for name, label, body in SAMPLES],
    dict(name="ddim-data-mean", cell="ddim_step", kind="data mean", find=DDIM_BODY, replace=DATA_MEAN + DDIM_BODY,
         why="every step returns the mean training image (the mean value for other shapes)"),
    dict(name="ddim-training-images", cell="ddim_step", kind="training images", find=DDIM_BODY,
         replace=TRAINING_IMAGES + DDIM_BODY,
         why="random training images as samples (refused by copied_fraction); the reference step for other shapes"),
    dict(name="ddim-eta-ignored", cell="ddim_step", kind="DDIM step that ignores eta",
         find="sigma = eta * ((1 - abar_prev)", replace="sigma = 0 * ((1 - abar_prev)",
         why="only the deterministic sampler: sigma = 0 whatever eta is (the eta = 0 FD bar alone passes it)"),
    # Task 6: the encoding
    dict(name="invert-identity", cell="invert", kind="copy of the input",
         find="return abar_t.sqrt() * x0_hat + (1 - abar_t).sqrt() * eps", replace="return x_prev",
         why="the encoder returns its input: the code of an image is the image"),
    dict(name="invert-noise", cell="invert", kind="samples of N(0, I) noise",
         find="return abar_t.sqrt() * x0_hat + (1 - abar_t).sqrt() * eps", replace="return torch.randn_like(x_prev)",
         why="the encoder returns fresh noise, the x_T a sampler would start from"),
]
