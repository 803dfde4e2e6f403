"""Plausible student bugs for topic 01; each must lose points on its own task.

Each entry replaces ``find`` (which must occur exactly once) by ``replace`` in the reference
answer of cell ``cell``; `genlab check 01` grades every mutant and prints the mutation score.
"""
MUTANTS = [
    # Task 1: PCA
    dict(name="pca-no-centring", cell="pca",
         find="torch.linalg.svd(X - mean, full_matrices=False)",
         replace="torch.linalg.svd(X, full_matrices=False)",
         why="forgets to subtract the mean before the SVD"),
    dict(name="pca-columns-of-vh", cell="pca",
         find="return mean, Vh[:k], variances", replace="return mean, Vh[:, :k].T, variances",
         why="takes columns of V^T instead of its rows"),
    dict(name="pca-divide-by-n", cell="pca",
         find="/ (X.shape[0] - 1)", replace="/ X.shape[0]",
         why="biased variance (divides by N instead of N - 1)"),
    dict(name="pca-reconstruct-no-mean", cell="pca",
         find="return mean + codes @ components", replace="return codes @ components",
         why="forgets to add the mean back after projecting"),
    # Task 2: linear AE and principal angles
    dict(name="angles-not-orthonormalised", cell="linear_ae",
         find="Q_a, _ = torch.linalg.qr(A)\n    Q_b, _ = torch.linalg.qr(B)",
         replace="Q_a, Q_b = A, B",
         why="takes arccos of the singular values of A^T B without orthonormal bases"),
    dict(name="angles-descending", cell="linear_ae",
         find="return torch.arccos(cosines)", replace="return torch.arccos(cosines).flip(0)",
         why="returns the angles largest first"),
    dict(name="linear-loss-mean-over-dims", cell="linear_ae",
         find="((x - model(x)) ** 2).sum(dim=1).mean()", replace="((x - model(x)) ** 2).mean()",
         why="averages over dimensions instead of summing"),
    # Task 3: conv AE
    dict(name="conv-no-sigmoid", cell="conv_ae",
         find="nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid())",
         replace="nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1))",
         why="decoder output not squashed to [0, 1]"),
    dict(name="conv-decoder-ignores-code", cell="conv_ae",
         find="return self.decoder(h)", replace="return self.decoder(torch.zeros_like(h))",
         why="the decoder does not use the code"),
    # Task 4: denoising
    dict(name="denoise-noisy-target", cell="denoising",
         find="return F.mse_loss(model(corrupt(x, noise_std)), x)",
         replace="noisy = corrupt(x, noise_std)\n    return F.mse_loss(model(noisy), noisy)",
         why="compares the output with the noisy input instead of the clean image"),
    dict(name="denoise-variance-as-std", cell="denoising",
         find="x + noise_std * torch.randn_like(x)", replace="x + noise_std ** 2 * torch.randn_like(x)",
         why="scales the noise by the variance instead of the standard deviation"),
    # Task 5: sparse AE
    dict(name="sparse-l2-penalty", cell="sparse_ae",
         find="h.abs().sum(dim=1).mean()", replace="h.pow(2).sum(dim=1).mean()",
         why="squared (L2) penalty instead of L1"),
    dict(name="sparse-no-relu", cell="sparse_ae",
         find="nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())", replace="nn.Linear(dim, hidden)",
         why="hidden units can be negative, so they are not sparse activations"),
    # Task 6: cyclic convolution
    dict(name="cyclic-zero-padding", cell="cyclic_conv",
         find="torch.cat([x[..., -p:], x, x[..., :p]], dim=-1)", replace="F.pad(x, (p, p))",
         why="zero padding instead of cyclic"),
    dict(name="cyclic-ends-swapped", cell="cyclic_conv",
         find="torch.cat([x[..., -p:], x, x[..., :p]], dim=-1)",
         replace="torch.cat([x[..., :p], x, x[..., -p:]], dim=-1)",
         why="copies each end next to itself instead of from the opposite side"),
    # Task 7: polygon AE and interpolation
    dict(name="interpolate-coordinates", cell="polygon_ae",
         find="return model.decode((1 - t) * h_a + t * h_b)",
         replace="return model((1 - t).view(-1, 1, 1) * a + t.view(-1, 1, 1) * b)",
         why="interpolates the coordinates instead of the codes"),
    dict(name="interpolate-excludes-end", cell="polygon_ae",
         find="torch.linspace(0.0, 1.0, steps, device=h_a.device)",
         replace="(torch.arange(steps, device=h_a.device) / steps)",
         why="t never reaches 1, so the path misses b"),
]
