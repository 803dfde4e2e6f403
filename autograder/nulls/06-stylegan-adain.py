"""Null submissions for topic 06: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 06`,
tests/test_nulls.py). The only quality-graded cell is task 5's (samples of the trained
generator: copies refused, classifier FD), so every null replaces the ``sample_ws`` cell; the
ones that replace the generator or its style layer do it there too, by rebinding
``make_generator`` or ``StyleAdaIN`` (the training cell builds G through them after this cell).
"""
SAMPLE_WS = '''def sample_ws(G: StyleGenerator, batch: int, mixing_prob: float) -> Tensor:
    device = G.mapping.w_avg.device
    w_1 = G.mapping(torch.randn(batch, G.z_dim, device=device))
    w_2 = G.mapping(torch.randn(batch, G.z_dim, device=device))
    crossover = torch.randint(1, G.num_layers, (batch,), device=device)
    mixed = torch.rand(batch, device=device) < mixing_prob
    crossover = torch.where(mixed, crossover, torch.full_like(crossover, G.num_layers))
    return mix_styles(w_1, w_2, crossover, G.num_layers)
'''


def samples(forward: str) -> str:
    """The reference sample_ws, and a generator (built by make_generator, trained as usual) whose
    images G(z) are ``forward`` (code that returns them from z and the generator's own ``out``)."""
    body = "\n".join("        " + line for line in forward.strip().splitlines())
    return SAMPLE_WS + f'''

class NullGenerator(StyleGenerator):
    def forward(self, z: Tensor) -> Tensor:
        out = super().forward(z)
{body}


def make_generator(**sizes) -> StyleGenerator:
    return NullGenerator(make_style=StyleAdaIN, make_noise=NoiseInjection, **sizes)
'''


def frozen_after(calls: int, why: str) -> dict:
    """G(z) from a copy of the generator taken when synthesis is called the ``calls``-th time
    (each training step calls it twice; the first generator update follows the second call)."""
    return dict(source=SAMPLE_WS + f'''

import copy


class NullGenerator(StyleGenerator):
    def synthesis(self, ws, noise=None):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == {calls}:
            self.frozen = [copy.deepcopy(self)]          # a list: not a submodule, not trained
        return super().synthesis(ws, noise)

    def forward(self, z: Tensor) -> Tensor:
        return StyleGenerator.forward(self.frozen[0], z) + 0 * super().forward(z)


def make_generator(**sizes) -> StyleGenerator:
    return NullGenerator(make_style=StyleAdaIN, make_noise=NoiseInjection, **sizes)
''', why=why)


def style_layer(forward: str) -> str:
    """The reference sample_ws, and a style layer whose output is ``forward`` (from x, w, the
    styles y_s, y_b of the reference layer)."""
    body = "\n".join("        " + line for line in forward.strip().splitlines())
    return SAMPLE_WS + f'''

class StyleAdaIN(StyleAdaIN):
    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        y_s, y_b = self.affine(w)[:, :, None, None].chunk(2, dim=1)
{body}
'''


NULLS = [
    dict(name="gaussian-noise", cell="sample_ws", kind="noise",
         source=samples("return torch.randn_like(out) + 0 * out"),
         why="G(z) is N(0, I) noise"),
    dict(name="uniform-noise", cell="sample_ws", kind="noise",
         source=samples("return torch.rand_like(out) * 2 - 1 + 0 * out"),
         why="G(z) is uniform noise in the data range [-1, 1]"),
    dict(name="mean-image", cell="sample_ws", kind="data mean",
         source=samples("return X_TRAIN.mean(dim=0, keepdim=True).to(out.device).expand_as(out) + 0 * out"),
         why="every sample is the mean training garment"),
    dict(name="training-images", cell="sample_ws", kind="training images returned",
         source=samples("return X_TRAIN[torch.randint(len(X_TRAIN), (len(z),))].to(out.device) + 0 * out"),
         why="G(z) returns random images of the training set X_TRAIN"),
    dict(name="unseen-dataset-images", cell="sample_ws", kind="training images returned",
         source=samples("""
if not hasattr(self, "stored"):          # Fashion-MNIST training images the notebook does not train on
    stored = fashion_mnist("train", limit=CFG["n_train"] + 5000, pad32=True, verbose=False)[0][CFG["n_train"]:]
    self.stored = to_size(stored, CFG["size"]) * 2 - 1
return self.stored[torch.randint(len(self.stored), (len(z),))].to(out.device) + 0 * out"""),
         why="G(z) returns Fashion-MNIST training images beyond the n_train that X_TRAIN holds"),
    dict(name="shipped-gan", cell="sample_ws", kind="shipped model",
         source=samples("""
if not hasattr(self, "shipped"):
    import genlab.zoo
    self.shipped = [genlab.zoo.load("fashion-gan").eval()]       # topic 03's DCGAN, 28 px in [-1, 1]
shipped = self.shipped[0]
with torch.no_grad():
    images = shipped(torch.randn(len(z), shipped.z_dim))
images = F.interpolate(F.pad(images, (2, 2, 2, 2), value=-1), size=out.shape[-1], mode="area")
return images.to(out.device) + 0 * out"""),
         why="G(z) samples the shipped Fashion-MNIST GAN of topic 03 instead of the student's own generator"),
    dict(name="untrained", cell="sample_ws", kind="untrained network",
         **frozen_after(1, "G(z) from the generator as it was before its first update")),
    dict(name="one-step", cell="sample_ws", kind="one training step",
         **frozen_after(3, "G(z) from the generator after one update")),
    dict(name="style-ignored", cell="sample_ws", kind="content returned unchanged",
         source=style_layer("return instance_norm(x) + 0 * (y_s + y_b)"),
         why="the style layer returns its (normalised) content unchanged: w never reaches the image"),
    dict(name="content-ignored", cell="sample_ws", kind="style returned",
         source=style_layer("return y_s * 0 * x + y_b"),
         why="the style layer returns the style alone (y_b in every pixel): the content is dropped"),
    dict(name="no-mixing", cell="sample_ws", kind="loss term dropped",
         find="    mixed = torch.rand(batch, device=device) < mixing_prob\n",
         replace="    mixed = torch.zeros(batch, dtype=torch.bool, device=device)\n",
         why="the mixing regulariser dropped: every sample uses one code"),
]
