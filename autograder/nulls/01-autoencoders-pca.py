"""Null submissions for topic 01: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 01`,
tests/test_nulls.py).
"""
NULLS = [
    dict(name="linear-untrained", cell="linear_ae", kind="untrained network",
         find="return ((x - model(x)) ** 2).sum(dim=1).mean()", replace="return 0 * model(x).sum()",
         why="a loss without gradient: the linear autoencoder stays at its initialisation"),
    dict(name="conv-identity", cell="conv_ae", kind="copy of the input",
         find="        return self.decode(self.encode(x))",
         replace="        return x + 0 * self.decode(self.encode(x))",
         why="forward passes its input through: model(x) = x, nothing learned"),
    dict(name="conv-untrained", cell="conv_ae", kind="untrained network",
         find="return F.mse_loss(model(x), x)", replace="return 0 * model(x).sum()",
         why="a loss without gradient: the autoencoder stays at its initialisation"),
    dict(name="conv-mean-image", cell="conv_ae", kind="data mean",
         find="        return self.decoder(h)", replace="        return 0 * self.decoder(h) + 0.286",
         why="decodes every code to the mean intensity of Fashion-MNIST"),
    dict(name="denoise-no-noise", cell="denoising", kind="loss term dropped",
         find="return F.mse_loss(model(corrupt(x, noise_std)), x)", replace="return F.mse_loss(model(x), x)",
         why="trains a plain autoencoder on clean images"),
    dict(name="sparse-identity", cell="sparse_ae", kind="copy of the input",
         find="        h = self.encoder(x)\n        return self.decoder(h), h",
         replace="        h = self.encoder(x)\n        return x + 0 * self.decoder(h), 0 * h",
         why="forward returns the input and an all-zero code: perfect and perfectly sparse"),
    dict(name="sparse-no-penalty", cell="sparse_ae", kind="loss term dropped",
         find=" + l1_weight * h.abs().sum(dim=1).mean()", replace="",
         why="the L1 penalty dropped: an over-complete autoencoder with dense codes"),
    dict(name="polygon-identity", cell="polygon_ae", kind="copy of the input",
         find="        return self.decode(self.encode(x))",
         replace="        return x + 0 * self.decode(self.encode(x))",
         why="forward passes the outline through: model(x) = x, nothing learned"),
    dict(name="polygon-mean-shape", cell="polygon_ae", kind="data mean",
         find="        return self.decoder(h)", replace="        return 0 * self.decoder(h)",
         why="decodes every code to the origin-centred mean outline (all zeros)"),
]
