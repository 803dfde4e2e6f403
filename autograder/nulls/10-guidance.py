"""Null submissions for topic 10: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 10`,
tests/test_nulls.py). The quality-graded cells: Task 1's hidden test (your cfg_loss trains a
denoiser on a 2-D conditional mixture), Task 2's (CFG samples of the shipped U-Net through your
cfg_eps), Task 3's (your noisy_classifier_loss trains a classifier whose guidance gradient has
a closed form) and Task 4's (classifier-guided samples through your gradient and eps).
"""
_CFG_LOSS = "return F.mse_loss(model(x_t, t, drop_labels(y, p_uncond, generator)), noise)"
_CLF_LOSS = "return F.cross_entropy(classifier(q_sample(x0, t, noise), t), y)"
_CFG_EPS = "return eps_uncond + scale * (eps_cond - eps_uncond)"
_GUIDED_EPS = "return eps - scale * (1 - abar).sqrt() * grad"


def _eps_towards(x0: str) -> str:
    """A return line: the noise prediction whose predicted x_0 is ``x0`` (DDIM then lands on it)."""
    return ("abar = alphas_cumprod.to(x.device)[t].view(-1, 1, 1, 1)\n"
            f"    return (x - abar.sqrt() * ({x0})) / (1 - abar).sqrt()")


NULLS = [
    # Task 1: label dropout and the training loss (graded by training on a 2-D conditional mixture)
    dict(name="cfg-loss-untrained", cell="label_dropout", kind="untrained network",
         find=_CFG_LOSS, replace="return 0 * model(x_t, t, drop_labels(y, p_uncond, generator)).sum()",
         why="a loss without gradient: the network stays at its initialisation"),
    dict(name="cfg-loss-one-step", cell="label_dropout", kind="one training step",
         find=_CFG_LOSS,
         replace=("loss = F.mse_loss(model(x_t, t, drop_labels(y, p_uncond, generator)), noise)\n"
                  "    seen = cfg_loss.__dict__.setdefault('models', set())\n"
                  "    first = id(model) not in seen\n"
                  "    seen.add(id(model))\n"
                  "    return loss if first else 0 * loss"),
         why="the true loss on the first call for each network, then no gradient: one training step"),
    dict(name="cfg-loss-no-dropout", cell="label_dropout", kind="loss term dropped",
         find="model(x_t, t, drop_labels(y, p_uncond, generator))", replace="model(x_t, t, y)",
         why="no condition dropout: the unconditional model (label NULL) is never trained"),
    dict(name="cfg-loss-always-null", cell="label_dropout", kind="loss term dropped",
         find="model(x_t, t, drop_labels(y, p_uncond, generator))", replace="model(x_t, t, torch.full_like(y, NULL))",
         why="the condition dropped always: an unconditional model that never sees a label"),
    dict(name="cfg-loss-shipped-model", cell="label_dropout", kind="shipped model",
         find=_CFG_LOSS,
         replace=("shipped = zoo.load('fashion-cfg-unet', x0.device)\n"
                  "    with torch.no_grad():\n"
                  "        prediction = shipped(x_t, t, drop_labels(y, p_uncond, generator))\n"
                  "    return F.mse_loss(prediction, noise) + 0 * model(x_t, t, y).sum()"),
         why="reports the shipped U-Net's loss and trains nothing: the ci notebook samples the shipped model anyway"),
    # Task 2: classifier-free guidance (graded by CFG samples of the shipped U-Net)
    dict(name="cfg-scale-ignored", cell="cfg", kind="guidance scale ignored",
         find=_CFG_EPS, replace="return eps_cond",
         why="returns the conditional prediction whatever the scale (no guidance)"),
    dict(name="cfg-gaussian-noise", cell="cfg", kind="N(0, I) samples",
         find=_CFG_EPS, replace="return torch.randn_like(eps_cond)",
         why="a noise prediction of N(0, I): the sampler returns noise"),
    dict(name="cfg-uniform-noise", cell="cfg", kind="uniform noise",
         find=_CFG_EPS, replace=_eps_towards("torch.rand_like(x) * 2 - 1"),
         why="steers every sample to uniform noise in the data range [-1, 1]"),
    dict(name="cfg-data-mean", cell="cfg", kind="data mean",
         find=_CFG_EPS, replace=_eps_towards("X_TRAIN.mean(0).to(x.device)"),
         why="steers every sample to the mean training image"),
    dict(name="cfg-training-images", cell="cfg", kind="training images of the class",
         find=_CFG_EPS,
         replace=_eps_towards("torch.stack([X_TRAIN[Y_TRAIN == int(c)][i % 50] for i, c in enumerate(y.cpu())])"
                              ".to(x.device)"),
         why="steers each sample to a training image of the requested class (copies)"),
    # Task 3: the noisy classifier (graded by training on Gaussian classes with a closed-form gradient)
    dict(name="classifier-untrained", cell="noisy_classifier", kind="untrained network",
         find=_CLF_LOSS, replace="return 0 * F.cross_entropy(classifier(q_sample(x0, t, noise), t), y) + math.log(10)",
         why="a constant loss of log(10) without gradient: the classifier stays at its initialisation"),
    dict(name="classifier-one-step", cell="noisy_classifier", kind="one training step",
         find=_CLF_LOSS,
         replace=("loss = F.cross_entropy(classifier(q_sample(x0, t, noise), t), y)\n"
                  "    seen = noisy_classifier_loss.__dict__.setdefault('models', set())\n"
                  "    first = id(classifier) not in seen\n"
                  "    seen.add(id(classifier))\n"
                  "    return loss if first else 0 * loss"),
         why="the true loss on the first call for each classifier, then no gradient: one training step"),
    dict(name="classifier-no-noise", cell="noisy_classifier", kind="loss term dropped",
         find=_CLF_LOSS, replace="return F.cross_entropy(classifier(x0, t), y)",
         why="an ordinary classifier of clean images (the noise dropped)"),
    dict(name="classifier-shipped-model", cell="noisy_classifier", kind="shipped model",
         find=_CLF_LOSS,
         replace=("shipped = zoo.load('fashion-noisy-classifier', x0.device)\n"
                  "    with torch.no_grad():\n"
                  "        logits = shipped(q_sample(x0, t, noise), t)\n"
                  "    return F.cross_entropy(logits, y) + 0 * classifier(x0, t).sum()"),
         why="reports the shipped classifier's loss and trains nothing: the ci notebook guides with the shipped one"),
    # Task 4: classifier guidance (graded by guided samples of the shipped models)
    dict(name="guidance-scale-ignored", cell="classifier_guidance", kind="guidance scale ignored",
         find=_GUIDED_EPS, replace="return eps",
         why="returns the unguided prediction whatever the scale"),
    dict(name="guidance-zero-gradient", cell="classifier_guidance", kind="untrained network",
         find="    return grad\n", replace="    return torch.zeros_like(grad)\n",
         why="a classifier gradient of zero: nothing to guide with"),
    dict(name="guidance-gaussian-noise", cell="classifier_guidance", kind="N(0, I) samples",
         find=_GUIDED_EPS, replace="return torch.randn_like(eps)",
         why="a guided noise prediction of fresh N(0, I) noise: the sampler returns noise"),
]
