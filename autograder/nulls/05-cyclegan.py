"""Null submissions for topic 05: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 05`,
tests/test_nulls.py). The only quality-graded cell is task 4's (the trained generators'
translations of held-out shapes, scored against the known truth), so every null replaces the
``generator_objective`` cell; the ones that replace a generator do it there too, on the notebook's
G and F when the training loop first passes them in.
"""
OBJECTIVE = '''def generator_objective(G, F, D_X, D_Y, x: Tensor, y: Tensor, lam: float = 10.0) -> tuple[Tensor, Tensor, Tensor]:
    fake_y, fake_x = G(x), F(y)
    adversarial = lsgan_g_loss(D_Y(fake_y)) + lsgan_g_loss(D_X(fake_x))
    total = adversarial + lam * cycle_loss(G, F, x, y) + 0.5 * lam * identity_loss(G, F, x, y)
    return total, fake_y, fake_x
'''


def generators(forward: str, which: tuple[str, ...] = ("G", "F")) -> str:
    """The reference objective, which on its first call replaces the output of the notebook's
    generators named in ``which`` (G: X -> Y, F: Y -> X) by ``forward`` (code that returns the output
    from the input x and the network's own output ``out``). Only the instances are changed, no name
    of the notebook: the networks still run and train, but their output is not used."""
    body = "\n".join("                " + line for line in forward.strip().splitlines())
    return OBJECTIVE.replace("    fake_y, fake_x = G(x), F(y)\n", "    replace_outputs(G, F)\n    fake_y, fake_x = G(x), F(y)\n") + f'''

def replace_outputs(G, F):
    for name, net in (("G", G), ("F", F)):
        if name in {which} and isinstance(net, ResnetGenerator) and not getattr(net, "replaced", False):
            def forward(x, original=net.forward):
                out = original(x)
{body}
            net.forward = forward
            net.replaced = True
'''


NULLS = [
    dict(name="copy-both", cell="generator_objective", kind="copy of the input",
         source=generators("return x + 0 * out"),
         why="G and F pass their inputs through: every image is 'translated' to itself, no cycle or identity loss"),
    dict(name="copy-g", cell="generator_objective", kind="copy of the input",
         source=generators("return x + 0 * out", which=("G",)),
         why="G (X -> Y) passes its input through, F is trained as usual"),
    dict(name="copy-f", cell="generator_objective", kind="copy of the input",
         source=generators("return x + 0 * out", which=("F",)),
         why="F (Y -> X) passes its input through, G is trained against it"),
    dict(name="median-y", cell="generator_objective", kind="data median",
         source=generators("""
median = Y_TRAIN.median(dim=0, keepdim=True).values.to(x.device)
return median.expand(len(x), -1, -1, -1) + 0 * out""", which=("G",)),
         why="G returns the per-pixel median striped training image whatever the input"),
    dict(name="nearest-y", cell="generator_objective", kind="training images returned",
         source=generators("""
nearest = torch.cdist(x.flatten(1).cpu(), Y_TRAIN.flatten(1)).argmin(dim=1)
return Y_TRAIN[nearest].to(x.device) + 0 * out""", which=("G",)),
         why="G returns the striped training image nearest to its input: a lookup, nothing translated"),
    dict(name="untrained", cell="generator_objective", kind="untrained network",
         find="    return total, fake_y, fake_x", replace="    return 0 * total, fake_y, fake_x",
         why="an objective without gradient: the generators stay at their initialisation"),
    dict(name="one-step", cell="generator_objective", kind="one training step",
         source=OBJECTIVE.replace("    return total, fake_y, fake_x",
                                  "    first = (id(G), id(F)) not in STEPPED\n    STEPPED.add((id(G), id(F)))\n"
                                  "    return (total if first else 0 * total), fake_y, fake_x") + "\n\nSTEPPED = set()\n",
         why="the generators are updated on their first batch only"),
    dict(name="no-cycle", cell="generator_objective", kind="loss term dropped",
         find="total = adversarial + lam * cycle_loss(G, F, x, y) + 0.5 * lam * identity_loss(G, F, x, y)",
         replace="total = adversarial + 0.5 * lam * identity_loss(G, F, x, y)",
         why="the cycle term dropped"),
    dict(name="no-identity", cell="generator_objective", kind="loss term dropped",
         find=" + 0.5 * lam * identity_loss(G, F, x, y)", replace="",
         why="the identity term dropped"),
    dict(name="no-adversarial", cell="generator_objective", kind="loss term dropped",
         find="total = adversarial + ", replace="total = 0 * adversarial + ",
         why="the adversarial terms dropped: the generators only learn to reconstruct and keep their inputs"),
    dict(name="cycle-only", cell="generator_objective", kind="loss term dropped",
         find="total = adversarial + lam * cycle_loss(G, F, x, y) + 0.5 * lam * identity_loss(G, F, x, y)",
         replace="total = lam * cycle_loss(G, F, x, y)",
         why="the cycle term alone: two generators that only need to undo each other"),
]
