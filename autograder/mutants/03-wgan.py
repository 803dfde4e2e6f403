"""Plausible student bugs for topic 03; each must lose points on its own task.

Each entry replaces ``find`` (which must occur exactly once) by ``replace`` in the reference
answer of cell ``cell``; `genlab check 03` grades every mutant and prints the mutation score.
"""
MUTANTS = [
    # Task 1: distances
    dict(name="w1-unsorted", cell="distances",
         find="(torch.sort(x).values - torch.sort(y).values).abs().mean()", replace="(x - y).abs().mean()",
         why="pairs samples by index instead of by rank"),
    dict(name="w1-difference-of-means", cell="distances",
         find="(torch.sort(x).values - torch.sort(y).values).abs().mean()", replace="(x.mean() - y.mean()).abs()",
         why="compares only the means (a lower bound on W1)"),
    dict(name="tv-no-half", cell="distances",
         find="(p - q).abs().sum(dim=-1) / 2", replace="(p - q).abs().sum(dim=-1)",
         why="the L1 distance instead of the total variation (twice too large)"),
    # Task 2: losses and clipping
    dict(name="critic-loss-sign", cell="wgan_losses",
         find="return fake_scores.mean() - real_scores.mean()", replace="return real_scores.mean() - fake_scores.mean()",
         why="the critic maximises its loss: it scores fakes above real data"),
    dict(name="generator-loss-sign", cell="wgan_losses",
         find="return -fake_scores.mean()", replace="return fake_scores.mean()",
         why="the generator lowers its score instead of raising it"),
    dict(name="clip-not-in-place", cell="wgan_losses",
         find="p.clamp_(-c, c)", replace="p.clamp(-c, c)",
         why="clamp returns a new tensor: the weights are never clipped"),
    dict(name="clip-weights-only", cell="wgan_losses",
         find="for p in critic.parameters():\n            p.clamp_(-c, c)",
         replace="for name, p in critic.named_parameters():\n            if name.endswith('weight'):\n                p.clamp_(-c, c)",
         why="clips the weight matrices but not the biases"),
    # Task 3: gradient penalty
    dict(name="gp-no-create-graph", cell="gradient_penalty",
         find="create_graph=True", replace="create_graph=False",
         why="the penalty cannot be differentiated with respect to the critic's parameters"),
    dict(name="gp-eps-shared", cell="gradient_penalty",
         find="eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device)",
         replace="eps = torch.rand(1, device=real.device)",
         why="one eps for the whole batch instead of one per sample"),
    dict(name="gp-eps-per-entry", cell="gradient_penalty",
         find="eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device)",
         replace="eps = torch.rand_like(real)",
         why="a different eps for every feature: x_hat leaves the segment between the two samples"),
    dict(name="gp-squared-norm", cell="gradient_penalty",
         find="norms = grad.flatten(1).norm(dim=1)", replace="norms = grad.flatten(1).pow(2).sum(dim=1)",
         why="penalises the squared norm instead of the norm"),
    dict(name="gp-norm-over-batch", cell="gradient_penalty",
         find="norms = grad.flatten(1).norm(dim=1)", replace="norms = grad.norm(dim=-1)",
         why="takes the norm over the last dimension only, not over all of a sample's features"),
    # Task 4: critic step
    dict(name="critic-step-no-penalty", cell="critic_step",
         find="total = loss + gradient_penalty(critic, real, fake, lam)", replace="total = loss",
         why="forgets the gradient penalty: an unconstrained critic"),
    dict(name="critic-step-no-detach", cell="critic_step",
         find="    fake = fake.detach()\n", replace="",
         why="the critic's backward pass also fills the generator's gradients"),
    dict(name="critic-step-returns-total", cell="critic_step",
         find="return loss.item()", replace="return total.item()",
         why="returns the loss with the penalty, which is not an estimate of -W1"),
]
