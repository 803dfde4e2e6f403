"""Null submissions for topic 11: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 11`,
tests/test_nulls.py). The quality-graded cell is Task 3's (test_train_inversion_hidden), which
runs train_inversion on a copy of the shipped model and measures the row it writes: the drop of
the concept's denoising loss against the init word, and how often 'a S*' samples are stars.
Samples are drawn by the grader with the course's sampler from the student's row, so "samples of
noise" and "training images returned" take the form a row can take: a vector far off the
embeddings (the samples degenerate). Task 4 (DreamBooth) has no quality bar in ci (16 fine-tuning
steps); its dropped prior term is the mutant no-prior-term, caught by the mocks.
"""
WRITE = "        table[new_id] = vector"

NULLS = [
    dict(name="init-untrained", cell="train_inversion", kind="untrained network",
         source='''def train_inversion(model: TextToImage, images: Tensor, attributes: dict[str, Tensor], new_id: int, *,
                    steps: int, lr: float, batch_size: int, p_drop: float = 0.5,
                    generator: torch.Generator | None = None) -> list[float]:
    """Leaves the new row at the init word's embedding."""
    model.requires_grad_(False)
    return [1.0] * steps
''', why="the new word keeps the init word's row: 'a S*' is 'a shape'"),
    dict(name="one-step", cell="train_inversion", kind="one training step",
         find="        optimizer.step()\n", replace="        if not losses:\n            optimizer.step()\n",
         why="the loop runs, but only its first step updates the vector"),
    dict(name="random-row", cell="train_inversion", kind="untrained network",
         find=WRITE,
         replace="        row = torch.randn(table.shape[1], generator=torch.Generator().manual_seed(0)).to(table.device)\n"
                 "        table[new_id] = row / row.norm() * table[:new_id].norm(dim=1).mean()",
         why="a random row of the table's typical norm instead of the trained vector"),
    dict(name="word-cross", cell="train_inversion", kind="shipped model",
         find=WRITE, replace="        table[new_id] = table[model.tokenizer.index['cross']]",
         why="the row of an existing, unrelated word ('cross', the shape the classifier confuses most with a star)"),
    dict(name="word-diamond", cell="train_inversion", kind="shipped model",
         find=WRITE, replace="        table[new_id] = table[model.tokenizer.index['diamond']]",
         why="the row of an existing, unrelated word ('diamond')"),
    dict(name="mean-row", cell="train_inversion", kind="data mean",
         find=WRITE, replace="        table[new_id] = table[:new_id].mean(0)",
         why="the mean of the table's rows"),
    dict(name="noise-row", cell="train_inversion", kind="noise",
         find=WRITE,
         replace="        table[new_id] = 100 * torch.randn(table.shape[1], generator=torch.Generator().manual_seed(0)).to(table.device)",
         why="a N(0, 100^2 I) row, far off the embeddings: the samples degenerate"),
]
