"""Null submissions for topic 02: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 02`,
tests/test_nulls.py).

The networks of tasks 3 and 4 are built and trained by locked cells; an answer cell reaches
them only through the names it binds. The nulls that hand in noise, the data mean, training
points or a shipped model as "the generator" therefore rebind ``MLPGenerator`` (or
``MLPDiscriminator``) in the answer cell, as a student could, to a subclass that is built and
trained as usual but whose output is the null's.
"""

# ---------------------------------------------------------------- task 4: the GAN on the 8-ring
_STEPS = "def discriminator_step("


def _ring_generator(body: str, init: str = "") -> str:
    """An answer cell that rebinds MLPGenerator to a subclass returning ``body`` (of z)."""
    return ("class MLPGenerator(MLPGenerator):\n"
            "    # null: built and trained as usual, but its output is not its own\n"
            + init +
            "    def forward(self, z):\n"
            f"        return {body} + 0 * super().forward(z)\n\n\n" + _STEPS)


_SHIPPED_INIT = ("    def __init__(self, *args, **kwargs):\n"
                 "        super().__init__(*args, **kwargs)\n"
                 "        from genlab import zoo\n"
                 "        self.__dict__['shipped'] = zoo.load('ring-wgan-gp').eval().requires_grad_(False)\n\n")

_D_STEP = """def discriminator_step(D: Callable[[Tensor], Tensor], opt_D: torch.optim.Optimizer,
                       real: Tensor, fake: Tensor) -> float:
    \"\"\"One update of D on real and generated batches; returns the discriminator loss.\"\"\"
    loss = {d_loss}
    opt_D.zero_grad()
    loss.backward()
    {d_step}
    return loss.item()


def generator_step(D: Callable[[Tensor], Tensor], opt_G: torch.optim.Optimizer, fake: Tensor) -> float:
    \"\"\"One update of G through D(fake) with the non-saturating loss; returns the generator loss.\"\"\"
    loss = generator_loss_non_saturating(D(fake))
    opt_G.zero_grad()
    {g_backward}
    {g_step}
    return loss.item()
"""
_FULL_D_LOSS = "discriminator_loss(D(real), D(fake.detach()))"


def _steps(d_loss=_FULL_D_LOSS, d_step="opt_D.step()", g_backward="loss.backward()", g_step="opt_G.step()",
           prefix=""):
    return prefix + _D_STEP.format(d_loss=d_loss, d_step=d_step, g_backward=g_backward, g_step=g_step)


_ONCE = "_null_stepped = set()   # null: each optimiser makes its first step only\n\n\n"

NULLS = [
    # first: graded through the whole pipeline by tests/test_nulls.py; the nulls that rebind a name
    # the notebook provides are also flagged there by the static scan (status "tampered")
    dict(name="ring-untrained", cell="gan_step", kind="untrained network",
         source=_steps(d_step="pass", g_step="pass"),
         why="both steps compute their loss and gradients but never step: G and D stay at their initialisation"),
    dict(name="ring-one-step", cell="gan_step", kind="one training step",
         source=_steps(prefix=_ONCE,
                       d_step="if id(opt_D) not in _null_stepped: opt_D.step()\n    _null_stepped.add(id(opt_D))",
                       g_step="if id(opt_G) not in _null_stepped: opt_G.step()\n    _null_stepped.add(id(opt_G))"),
         why="G and D are updated once: each optimiser makes its first step only"),
    dict(name="ring-d-real-term-dropped", cell="gan_step", kind="loss term dropped",
         source=_steps(d_loss="F.softplus(D(fake.detach())).mean()"),
         why="the discriminator loss without its real-data term -log D(x)"),
    dict(name="ring-d-fake-term-dropped", cell="gan_step", kind="loss term dropped",
         source=_steps(d_loss="F.softplus(-D(real)).mean() + 0 * D(fake.detach()).mean()"),
         why="the discriminator loss without its fake term -log(1 - D(G(z)))"),
    dict(name="ring-g-loss-dropped", cell="gan_step", kind="loss term dropped",
         source=_steps(g_backward="(0 * loss).backward()"),
         why="the generator's loss gives no gradient: D trains against a generator that never learns"),
    dict(name="ring-normal-noise", cell="gan_step", kind="samples of N(0, I)",
         find=_STEPS, replace=_ring_generator("z"),
         why="the ring GAN's samples are its codes z ~ N(0, I)"),
    dict(name="ring-uniform-noise", cell="gan_step", kind="uniform noise in the data range",
         find=_STEPS, replace=_ring_generator("(torch.rand_like(z) * 2 - 1) * 2.2"),
         why="samples uniform on [-2.2, 2.2]^2, the box of the 8-ring's data"),
    dict(name="ring-data-mean", cell="gan_step", kind="data mean",
         find=_STEPS, replace=_ring_generator("X_RING.mean(0).to(z.device)"),
         why="every sample is the mean of the ring's data"),
    dict(name="ring-training-points", cell="gan_step", kind="training data returned as samples",
         find=_STEPS, replace=_ring_generator("X_RING[torch.randint(len(X_RING), (len(z),))].to(z.device)"),
         why="samples are points of the training set X_RING drawn at random"),
    dict(name="ring-shipped-model", cell="gan_step", kind="shipped model",
         find=_STEPS, replace=_ring_generator("self.shipped(z)", _SHIPPED_INIT),
         why="samples come from the zoo's trained ring generator (ring-wgan-gp), not from the GAN trained here"),
]

# ------------------------------------------------------ task 3: the trained discriminator vs D*
_OPT_D = "def optimal_discriminator("


def _discriminator(body: str) -> str:
    return ("class MLPDiscriminator(MLPDiscriminator):\n"
            "    # null: built and trained as usual, but its output is not its own\n"
            "    def forward(self, x):\n"
            "        out = super().forward(x)\n"
            f"        {body}\n\n\n" + _OPT_D)


NULLS += [
    dict(name="dstar-untrained", cell="optimal_d", kind="untrained network",
         find=_OPT_D, replace=_discriminator("return out.detach() + 0 * out"),
         why="the 1-D discriminator gets zero gradients and stays at its initialisation"),
    dict(name="dstar-one-step", cell="optimal_d", kind="one training step",
         find=_OPT_D, replace=_discriminator(
             "self.__dict__['calls'] = self.__dict__.get('calls', 0) + self.training\n"
             "        return out if self.__dict__['calls'] <= 2 or not self.training else out.detach() + 0 * out"),
         why="the 1-D discriminator gets one Adam step (its first two calls, real and fake)"),
    dict(name="dstar-constant-half", cell="optimal_d", kind="constant",
         find=_OPT_D, replace=_discriminator("return 0 * out"),
         why="the discriminator's logit is 0 everywhere: D(x) = 1/2"),
]

# ------------------------------------------------ task 5: the conditional DCGAN on Fashion-MNIST
_FORWARD = "        return self.upsample(self.project(torch.cat([z, self.embed(y)], dim=1)))"
_OUT = "        out = self.upsample(self.project(torch.cat([z, self.embed(y)], dim=1)))\n"


def _generator_after(k: int) -> str:
    """forward detaches its output after k training calls: G gets k updates."""
    return (_OUT + "        self.__dict__['calls'] = self.__dict__.get('calls', 0) + self.training\n"
            f"        return out if self.__dict__['calls'] <= {k} or not self.training else out.detach()")


NULLS += [
    dict(name="fashion-normal-noise", cell="cond_gen", kind="samples of N(0, I)",
         find=_FORWARD, replace=_OUT + "        return torch.randn_like(out).clamp(-1, 1) + 0 * out",
         why="images of N(0, I) noise clipped to [-1, 1]"),
    dict(name="fashion-uniform-noise", cell="cond_gen", kind="uniform noise in the data range",
         find=_FORWARD, replace=_OUT + "        return torch.rand_like(out) * 2 - 1 + 0 * out",
         why="images of uniform noise in [-1, 1]"),
    dict(name="fashion-class-means", cell="cond_gen", kind="data mean",
         find=_FORWARD, replace=_OUT + (
             "        if 'means' not in self.__dict__:\n"
             "            self.__dict__['means'] = torch.stack([X_FASHION[Y_FASHION == k].mean(0) for k in range(10)])\n"
             "        return self.__dict__['means'].to(out.device)[y] + 0 * out"),
         why="the mean training image of the label (differs by label, so the label check cannot stop it)"),
    dict(name="fashion-training-images", cell="cond_gen", kind="training data returned as samples",
         find=_FORWARD, replace=_OUT + (
             "        pools = [torch.nonzero(Y_FASHION == k).flatten() for k in range(10)]\n"
             "        picks = torch.stack([pools[k][torch.randint(len(pools[k]), ())] for k in y.tolist()])\n"
             "        return X_FASHION[picks].to(out.device) + 0 * out"),
         why="a random training image of the requested label"),
    dict(name="fashion-shipped-model", cell="cond_gen", kind="shipped model",
         find=_FORWARD, replace=_OUT + (
             "        if 'shipped' not in self.__dict__:\n"
             "            from genlab import zoo\n"
             "            self.__dict__['shipped'] = zoo.load('fashion-gan').eval().requires_grad_(False)\n"
             "        return self.__dict__['shipped'](z.to(out.device)) + 0 * out"),
         why="samples of the zoo's trained unconditional Fashion-MNIST GAN instead of the generator trained here"),
    dict(name="fashion-untrained", cell="cond_gen", kind="untrained network",
         find=_FORWARD, replace=_OUT + "        return out.detach()",
         why="the generator's output is detached: D trains, G stays at its initialisation"),
    dict(name="fashion-one-step", cell="cond_gen", kind="one training step",
         find=_FORWARD, replace=_generator_after(1),
         why="the generator gets one update (its first training batch), then no gradient"),
    dict(name="fashion-ten-steps", cell="cond_gen", kind="a few training steps",
         find=_FORWARD, replace=_generator_after(10),
         why="the generator gets 10 of its 150 ci updates, then no gradient"),
]

# ------------------------------------------------------- task 6: projection onto the manifold
NULLS += [
    dict(name="project-one-step", cell="latent", kind="one training step",
         find="    for _ in range(steps):", replace="    for _ in range(min(steps, 1)):",
         why="project_to_latent takes one Adam step whatever steps says"),
    dict(name="project-random-codes", cell="latent", kind="samples of N(0, I)",
         find="    return z.detach()", replace="    return torch.randn_like(z).detach()",
         why="project_to_latent returns codes drawn from N(0, I)"),
]
