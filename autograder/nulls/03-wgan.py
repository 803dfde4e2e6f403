"""Null submissions for topic 03: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 03`,
tests/test_nulls.py).

The only quality-graded cell is task 4's (`test_critic_step_hidden`): the WGAN-GP on the 8-ring,
built and trained by a locked cell with the student's `critic_step`. An answer cell reaches the
generator only through the names it binds, so the nulls that hand in noise, the data mean,
training points or the shipped model as "the generator" rebind ``MLPGenerator`` in the
`critic_step` cell, as a student could, to a subclass that is built and trained as usual but
whose output is the null's. The test now samples the trained weights with the course's own
MLPGenerator in the judge, so these nulls are graded on what the loop trained (nothing).
"""
_STEP = "def critic_step("


def _generator(body: str, init: str = "") -> str:
    """An answer cell that rebinds MLPGenerator to a subclass whose forward runs ``body``
    (``out`` is the network's own output for the codes ``z``)."""
    return ("class MLPGenerator(MLPGenerator):\n"
            "    # null: built and trained as usual, but its output is not its own\n"
            + init +
            "    def forward(self, z):\n"
            "        out = super().forward(z)\n"
            f"        {body}\n\n\n" + _STEP)


_SHIPPED_INIT = ("    def __init__(self, *args, **kwargs):\n"
                 "        super().__init__(*args, **kwargs)\n"
                 "        from genlab import zoo\n"
                 "        self.__dict__['shipped'] = zoo.load('ring-wgan-gp').eval().requires_grad_(False)\n\n")

_CRITIC_STEP = """def critic_step(critic: Callable[[Tensor], Tensor], opt_C: torch.optim.Optimizer,
                real: Tensor, fake: Tensor, lam: float = 10.0) -> float:
    \"\"\"One critic update on critic_loss + gradient_penalty; returns the critic loss (no penalty).\"\"\"
    fake = fake.detach()
    loss = critic_loss(critic(real), critic(fake))
    total = {total}
    opt_C.zero_grad()
    total.backward()
    {step}
    return loss.item()
"""


def _critic_step(total="loss + gradient_penalty(critic, real, fake, lam)", step="opt_C.step()", prefix=""):
    return prefix + _CRITIC_STEP.format(total=total, step=step)


NULLS = [
    # first: graded through the whole pipeline by tests/test_nulls.py; the nulls that rebind a name
    # the notebook provides are also flagged there by the static scan (status "tampered")
    dict(name="critic-untrained", cell="critic_step", kind="untrained network",
         source=_critic_step(step="pass"),
         why="critic_step computes the loss and its gradients but never steps: the critic stays random"),
    dict(name="critic-one-step", cell="critic_step", kind="one training step",
         source=_critic_step(prefix="_null_stepped = set()   # null: each optimiser makes its first step only\n\n\n",
                             step="if id(opt_C) not in _null_stepped: opt_C.step()\n    _null_stepped.add(id(opt_C))"),
         why="the critic is updated once: each optimiser makes its first step only"),
    dict(name="critic-loss-dropped", cell="critic_step", kind="loss term dropped",
         source=_critic_step(total="gradient_penalty(critic, real, fake, lam) + 0 * loss"),
         why="the critic minimises the gradient penalty alone"),
    dict(name="penalty-dropped", cell="critic_step", kind="loss term dropped",
         source=_critic_step(total="loss"),
         why="the critic minimises the Wasserstein loss alone (an unconstrained critic)"),
    dict(name="generator-untrained", cell="critic_step", kind="untrained network",
         find=_STEP, replace=_generator("return out.detach()"),
         why="the generator's output is detached: the critic trains, G stays at its initialisation"),
    dict(name="generator-one-step", cell="critic_step", kind="one training step",
         find=_STEP, replace=_generator(
             "self.__dict__['calls'] = self.__dict__.get('calls', 0) + 1\n"
             "        return out if self.__dict__['calls'] <= 6 else out.detach()"),
         why="the generator gets one update (the 5 critic batches and the generator batch of iteration 0)"),
    dict(name="ring-normal-noise", cell="critic_step", kind="samples of N(0, I)",
         find=_STEP, replace=_generator("return z + 0 * out"),
         why="the WGAN-GP's samples are its codes z ~ N(0, I)"),
    dict(name="ring-uniform-noise", cell="critic_step", kind="uniform noise in the data range",
         find=_STEP, replace=_generator("return (torch.rand_like(z) * 2 - 1) * 2.2 + 0 * out"),
         why="samples uniform on [-2.2, 2.2]^2, the box of the 8-ring's data"),
    dict(name="ring-data-mean", cell="critic_step", kind="data mean",
         find=_STEP, replace=_generator("return X_RING.mean(0).to(z.device) + 0 * out"),
         why="every sample is the mean of the ring's data"),
    dict(name="ring-training-points", cell="critic_step", kind="training data returned as samples",
         find=_STEP, replace=_generator("return X_RING[torch.randint(len(X_RING), (len(z),))].to(z.device) + 0 * out"),
         why="samples are points of the training set X_RING drawn at random"),
    dict(name="ring-shipped-model", cell="critic_step", kind="shipped model",
         find=_STEP, replace=_generator("return self.shipped(z) + 0 * out", _SHIPPED_INIT),
         why="samples come from the zoo's ring-wgan-gp generator instead of the one trained here"),
]
