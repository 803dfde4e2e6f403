"""Plausible student bugs for topic 02; each must lose points on its own task.

Each entry replaces ``find`` (which must occur exactly once) by ``replace`` in the reference
answer of cell ``cell``; `genlab check 02` grades every mutant and prints the mutation score.
"""
MUTANTS = [
    # Task 1: divergences
    dict(name="kl-nan-at-zero", cell="divergences",
         find="(torch.xlogy(p, p) - torch.xlogy(p, q)).sum(dim=-1)", replace="(p * (p.log() - q.log())).sum(dim=-1)",
         why="p log(p / q) without the convention 0 log 0 = 0: nan where p = 0"),
    dict(name="js-symmetrised-kl", cell="divergences",
         find="return kl_divergence(p, m) / 2 + kl_divergence(q, m) / 2",
         replace="return kl_divergence(p, q) / 2 + kl_divergence(q, p) / 2",
         why="averages KL(p||q) and KL(q||p) instead of measuring both against the mixture m"),
    # Task 2: losses
    dict(name="d-loss-naive-log", cell="gan_losses",
         find="return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
         replace="return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()",
         why="log(sigmoid(l)) overflows to -inf for large |l|"),
    dict(name="d-loss-swapped", cell="gan_losses",
         find="return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
         replace="return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()",
         why="labels real samples 0 and fakes 1"),
    dict(name="saturating-wrong-sign", cell="gan_losses",
         find="return -F.softplus(fake_logits).mean()", replace="return F.softplus(fake_logits).mean()",
         why="-log(1 - D) instead of log(1 - D): the generator would push D(G(z)) down"),
    dict(name="non-saturating-is-saturating", cell="gan_losses",
         find="return F.softplus(-fake_logits).mean()", replace="return -F.softplus(fake_logits).mean()",
         why="the 'non-saturating' loss is the minimax one, whose gradient vanishes when D rejects fakes"),
    # Task 3: D* and V
    dict(name="dstar-swapped", cell="optimal_d",
         find="p_data / total.clamp_min", replace="p_model / total.clamp_min",
         why="D* = p_g / (p_r + p_g): the probability of 'fake' instead of 'real'"),
    dict(name="value-missing-fake-term", cell="optimal_d",
         find="(torch.xlogy(p_data, d) + torch.xlogy(p_model, 1 - d))", replace="torch.xlogy(p_data, d)",
         why="forgets E_{p_g}[log(1 - D)] in V(D, G)"),
    # Task 4: Algorithm 1
    dict(name="dstep-no-detach", cell="gan_step",
         find="loss = discriminator_loss(D(real), D(fake.detach()))", replace="loss = discriminator_loss(D(real), D(fake))",
         why="the discriminator's backward pass also fills the generator's gradients"),
    dict(name="gstep-no-zero-grad", cell="gan_step",
         find="    opt_G.zero_grad()\n", replace="",
         why="generator gradients accumulate over steps"),
    dict(name="gstep-saturating", cell="gan_step",
         find="loss = generator_loss_non_saturating(D(fake))", replace="loss = generator_loss_saturating(D(fake))",
         why="uses the saturating (minimax) generator loss in the generator step"),
    # Task 5: conditional generator
    dict(name="cgen-ignores-label", cell="cond_gen",
         find="torch.cat([z, self.embed(y)], dim=1)", replace="torch.cat([z, 0 * self.embed(y)], dim=1)",
         why="the label never reaches the generator"),
    dict(name="cgen-no-tanh", cell="cond_gen",
         find="nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh())",
         replace="nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1))",
         why="outputs are not squashed to [-1, 1] like the data"),
    # Task 6: interpolation and projection
    dict(name="interp-excludes-end", cell="latent",
         find="torch.linspace(0.0, 1.0, steps, device=z0.device)",
         replace="(torch.arange(steps, device=z0.device) / steps)",
         why="t never reaches 1, so the path misses z1"),
    dict(name="project-no-update", cell="latent",
         find="        opt.step()\n", replace="",
         why="computes the loss and its gradient but never updates z"),
]
