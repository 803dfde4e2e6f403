"""Null submissions for topic 04: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 04`,
tests/test_nulls.py). The only quality-graded cell is task 4's (the held-out L1 of the two
trained generators), so every null replaces the ``train_step`` cell; the ones that replace the
generator do it there too, by rebinding ``UNetGenerator`` (the training cells build G and
G_edges from that name after this cell).
"""
STEP = '''def train_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
               x: Tensor, y: Tensor, lam: float = 100.0) -> dict[str, float]:
    y_fake = G(x)
    d_loss = discriminator_loss(D, x, y, y_fake)
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    total, adversarial, l1 = generator_loss(D, x, y_fake, y, lam)
    opt_G.zero_grad()
    total.backward()
    opt_G.step()
    return {"D": d_loss.item(), "G_adv": adversarial.item(), "G_L1": l1.item()}
'''


def generator(forward: str) -> str:
    """The reference train_step, and a U-Net whose output is ``forward`` (code that returns the
    output from the input x, the U-Net's own output ``out`` and the out-channel count ``c``); the
    U-Net still runs, so the training loops train it as usual, but its output is not used."""
    body = "\n".join("        " + line for line in forward.strip().splitlines())
    return STEP + f'''

class UNetGenerator(UNetGenerator):
    def forward(self, x: Tensor) -> Tensor:
        out = super().forward(x)
        c = out.shape[1]
{body}
'''


NULLS = [
    dict(name="copy-input", cell="train_step", kind="copy of the input",
         source=generator("return x.expand(-1, c, -1, -1) + 0 * out"),
         why="G passes its input through: the line art copied into the three colour channels, the edges as the garment"),
    dict(name="median-target", cell="train_step", kind="data median",
         source=generator("""
targets = Y_TRAIN if c == 3 else G_TRAIN            # the colour emoji or the garments of the training set
median = targets.median(dim=0, keepdim=True).values.to(x.device)
return median.expand(len(x), -1, -1, -1) + 0 * out"""),
         why="G returns the per-pixel median training target (the constant image with the least L1) whatever the input"),
    dict(name="nearest-training-target", cell="train_step", kind="training images returned",
         source=generator("""
inputs, targets = (X_TRAIN, Y_TRAIN) if c == 3 else (E_TRAIN, G_TRAIN)
nearest = torch.cdist(x.flatten(1).cpu(), inputs.flatten(1)).argmin(dim=1)
return targets[nearest].to(x.device) + 0 * out"""),
         why="G returns the training target whose input is nearest to x: a lookup table, nothing translated"),
    dict(name="untrained", cell="train_step", kind="untrained network",
         source=STEP.replace("    opt_D.step()\n", "").replace("    opt_G.step()\n", ""),
         why="neither optimiser steps: G and D stay at their initialisation"),
    dict(name="one-step", cell="train_step", kind="one training step",
         source=STEP.replace("    y_fake = G(x)\n", "    trained = id(G) in STEPPED\n    STEPPED.add(id(G))\n    y_fake = G(x)\n")
         .replace("    opt_D.step()\n", "    if not trained:\n        opt_D.step()\n")
         .replace("    opt_G.step()\n", "    if not trained:\n        opt_G.step()\n") + "\n\nSTEPPED = set()\n",
         why="each pair of networks is updated on its first batch only"),
    dict(name="no-l1", cell="train_step", kind="loss term dropped",
         find="    total.backward()\n", replace="    adversarial.backward()\n",
         why="the L1 term dropped: G trained by the adversarial loss alone"),
    dict(name="no-adversarial", cell="train_step", kind="loss term dropped",
         find="    total.backward()\n", replace="    (lam * l1).backward()\n",
         why="the adversarial term dropped: G regresses y on x with L1 alone, D is trained but never used"),
    dict(name="no-discriminator-step", cell="train_step", kind="loss term dropped",
         find="    opt_D.step()\n", replace="",
         why="the discriminator is never updated: G's adversarial term scores against a random network"),
]
