"""Null submissions for topic 08: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 08`,
tests/test_nulls.py). Task 3 (cell ``nll``: ``pixel_nll``, then the notebook trains the PixelCNN
with it) is the only task with a quality bar (the trained network's test bits/dim, computed by
the grader), so every null replaces that cell: a loss that trains nothing or only once, a
uniform model, or a network redefined in the cell so that its likelihood cheats. Tasks 1, 2
and 4 have no quality bar (exact masks, gradient causality, mock networks with known answers);
their plausible bugs are mutants. No PixelCNN is shipped, so there is no shipped-model null.
"""
NLL = 'return F.cross_entropy(logits, x, reduction="none").flatten(1).sum(dim=1)'

NULLS = [
    dict(name="nll-uniform", cell="nll", kind="noise",
         find=NLL, replace="return 0 * logits.flatten(1).sum(1) + x[0].numel() * math.log(logits.shape[1])",
         why="the NLL of a uniform model over the K levels (784 log 4) whatever the logits: nothing is learned"),
    dict(name="nll-untrained", cell="nll", kind="untrained network",
         find=NLL,
         replace='nll = F.cross_entropy(logits, x, reduction="none").flatten(1).sum(dim=1)\n'
                 "    return nll.detach() + 0 * nll",
         why="the right values without a gradient: the PixelCNN stays at its initialisation"),
    dict(name="nll-one-step", cell="nll", kind="one training step",
         find=NLL,
         replace='nll = F.cross_entropy(logits, x, reduction="none").flatten(1).sum(dim=1)\n'
                 "    if logits.requires_grad:\n"
                 '        pixel_nll.calls = getattr(pixel_nll, "calls", 0) + 1\n'
                 "        if pixel_nll.calls > 1:\n"
                 "            return nll.detach() + 0 * nll\n"
                 "    return nll",
         why="the right values, with a gradient on the first training call only: one Adam step"),
    dict(name="nll-pixel-marginals", cell="nll", kind="data mean",
         find=NLL,
         replace=NLL + "\n\n\n"
                 "class PixelCNN(nn.Module):\n"
                 '    """No context: each pixel\'s logits are the log-frequencies of the levels at that position\n'
                 '    in the training images (the best model of independent pixels), then trained as they are."""\n\n'
                 "    def __init__(self, levels: int = 4, channels: int = 32, n_layers: int = 3):\n"
                 "        super().__init__()\n"
                 "        counts = F.one_hot(X_TRAIN[:, 0], levels).sum(0).float() + 1        # (28, 28, K)\n"
                 "        self.log_freq = nn.Parameter(counts.log().permute(2, 0, 1)[:, None])  # (K, 1, 28, 28)\n\n"
                 "    def forward(self, h: Tensor) -> Tensor:\n"
                 "        return self.log_freq.expand(len(h), -1, -1, -1, -1)",
         why="redefines the network trained next as a table of per-pixel level frequencies that ignores "
             "the image: the data mean as a likelihood"),
    dict(name="nll-network-sees-its-pixel", cell="nll", kind="a likelihood that cheats",
         find=NLL,
         replace=NLL + "\n\n\n"
                 "class PixelCNN(PixelCNN):\n"
                 '    """The task-2 network, but its first layer is of type B: each pixel sees itself."""\n\n'
                 "    def __init__(self, levels: int = 4, channels: int = 32, n_layers: int = 3):\n"
                 "        super().__init__(levels, channels, n_layers)\n"
                 '        self.net[0] = MaskedConv2d("B", 1, channels, 7)',
         why="redefines the network trained next with a type-B first layer: each pixel is predicted from "
             "itself, a near-zero NLL that is no likelihood"),
    dict(name="nll-network-sees-everything", cell="nll", kind="a likelihood that cheats",
         find=NLL,
         replace=NLL + "\n\n\n"
                 "class PixelCNN(PixelCNN):\n"
                 '    """The task-2 network with its masks opened: every pixel sees the whole image."""\n\n'
                 "    def __init__(self, levels: int = 4, channels: int = 32, n_layers: int = 3):\n"
                 "        super().__init__(levels, channels, n_layers)\n"
                 "        for module in self.modules():\n"
                 "            if isinstance(module, MaskedConv2d):\n"
                 "                module.mask.fill_(1.0)",
         why="redefines the network trained next with every mask opened: an ordinary CNN that sees the "
             "pixel it predicts and the ones after it"),
]
