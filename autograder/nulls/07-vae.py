"""Null submissions for topic 07: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 07`,
tests/test_nulls.py). Task 4 (cell ``train_sample``: ``train_step`` and ``sample``) is the only
task with a quality bar (the trained VAE's test bits/dim), so every null replaces part of it:
the sampler by a baseline, or the training step by one that trains nothing, once, or on a
loss with a term dropped. No VAE is shipped, so there is no shipped-model null.
"""
SAMPLER = "return torch.distributions.Categorical(probs=probs).sample()"
STEP = "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"

NULLS = [
    # the sampler replaced by a baseline (the training step stays the reference's)
    dict(name="sample-uniform-noise", cell="train_sample", kind="noise",
         find=SAMPLER, replace="return torch.randint(0, LEVELS, (n, 1, 28, 28), device=device)",
         why="samples every pixel uniformly over the 4 levels, ignoring the decoder"),
    dict(name="sample-data-mean", cell="train_sample", kind="data mean",
         find=SAMPLER,
         replace="return X_TRAIN.float().mean(0).round().long().expand(n, -1, -1, -1).clone().to(device)",
         why="returns the training images' mean, rounded to a level, as every sample"),
    dict(name="sample-constant", cell="train_sample", kind="constant image",
         find=SAMPLER, replace="return torch.ones(n, 1, 28, 28, dtype=torch.long, device=device)",
         why="returns an image of level 1 (the level of the mean intensity) everywhere"),
    dict(name="sample-training-images", cell="train_sample", kind="training images as samples",
         find=SAMPLER, replace="return X_TRAIN[torch.randint(len(X_TRAIN), (n,))].to(device)",
         why="returns training images drawn at random as samples (copied_fraction 1)"),
    # the training step replaced (the sampler stays the reference's)
    dict(name="train-untrained", cell="train_sample", kind="untrained network",
         find=STEP, replace="",
         why="computes and returns the loss but never updates: the VAE stays at its initialisation"),
    dict(name="train-one-step", cell="train_sample", kind="one training step",
         find=STEP,
         replace="    if not getattr(model, \"stepped_once\", False):\n"
                 "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n"
                 "        model.stepped_once = True\n",
         why="updates the model on its first call only: one Adam step"),
    dict(name="train-kl-dropped", cell="train_sample", kind="loss term dropped",
         find="loss = negative_elbo(model, x)[0]", replace="loss = negative_elbo(model, x)[1].mean()",
         why="trains on the reconstruction term alone (no KL): an autoencoder with a noisy code"),
    dict(name="train-reconstruction-dropped", cell="train_sample", kind="loss term dropped",
         find="loss = negative_elbo(model, x)[0]", replace="loss = negative_elbo(model, x)[2].mean()",
         why="trains on the KL term alone: q(z|x) = p(z) and the decoder learns nothing"),
    dict(name="train-decodes-the-mean", cell="train_sample", kind="loss term dropped",
         find="loss = negative_elbo(model, x)[0]",
         replace="mu, logvar = model.encode(x)\n"
                 "    reconstruction = F.cross_entropy(model.decode(mu), x, reduction=\"none\").flatten(1).sum(dim=1)\n"
                 "    loss = (reconstruction + gaussian_kl(mu, logvar)).mean()",
         why="decodes the mean code instead of a sample z ~ q(z|x): the sampling noise dropped, "
             "an autoencoder with a KL penalty on its code"),
]
