"""``genlab new-topic NN-slug "Title"``: the files of a new topic, from a template that passes
the repository's notebook-anatomy tests as it is written.

It writes

- ``lectures/NN-slug.ipynb``: parameters, set-up, theory, a demo with a figure, a summary;
- ``solutions/NN-slug/NN-slug.ipynb``: a parameters cell, a locked set-up cell tagged
  ``judge``, one task (answer cell, visible and hidden test cells, a figure) and three written
  questions (one a derivation) with model answers and rubrics, graded by the judge outside the kernel
  (notebook metadata ``{"genlab": {"judge": "outside"}}``);
- ``autograder/mutants/NN-slug.py``: plausible bugs of the example task;
- a row of the README's topics table.

The example task (a diagonal Gaussian's log-likelihood and its maximum-likelihood fit) is
there to be replaced; docs/new-topic.md explains the rest (release, calibration, mutants,
export, MANIFEST).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from genlab import slides
from genlab.course import REPO_ROOT

SLUG = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$")
README_ROW = re.compile(r"^\| \d{2} \|")


def _locked(grade_id: str, **flags) -> dict:
    meta = {"grade": False, "grade_id": grade_id, "locked": True, "schema_version": 3,
            "solution": False, "task": False}
    meta.update(flags)
    return {"nbgrader": meta}


def _answer(grade_id: str) -> dict:
    return {"nbgrader": {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
                         "solution": True, "task": False}}


def _test(grade_id: str, points: int) -> dict:
    return _locked(grade_id, grade=True, points=points)


def _written(grade_id: str, points: int) -> dict:
    return {"nbgrader": {"grade": True, "grade_id": grade_id, "locked": False, "points": points,
                         "schema_version": 3, "solution": True, "task": False}}


def _notebook(cells: list, *, judged: bool) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    if judged:
        nb.metadata["genlab"] = {"judge": "outside"}
    return nb


PARAMETERS = '''SEED = 0        # the tests' quality bars were calibrated over seeds 0-4
PROFILE = None  # None: $GENLAB_PROFILE if set, else "gpu" with CUDA, else "cpu"'''

SETUP = '''import math

import matplotlib.pyplot as plt
import torch
from torch import Tensor

import genlab

PROFILE = PROFILE or genlab.profile()
# smoke=: the counts GENLAB_SMOKE=1 cuts (loops and samples only; genlab/profiles.py)
CFG = genlab.choose(ci=dict(n_samples=2000), cpu=dict(n_samples=20000), gpu=dict(n_samples=100000),
                    smoke=dict(n_samples=500), profile_name=PROFILE)
genlab.seed_all(SEED)
print(f"profile {PROFILE!r}; sizes {CFG}")'''

TASK = r'''## Task 1 — A Gaussian's log-likelihood and its maximum-likelihood fit (90 points)

*(An example task from `genlab new-topic`: replace it with the topic's own.)*

A diagonal Gaussian with mean $\mu \in \mathbb{R}^D$ and standard deviations
$\sigma = e^{s}$ (we store $s = \log\sigma$, so that any real number is valid) gives a point
$x \in \mathbb{R}^D$ the log-density

$$\log \mathcal{N}(x; \mu, \operatorname{diag}\sigma^2) = \sum_{d=1}^{D}
\Big(-\frac{(x_d - \mu_d)^2}{2\sigma_d^2} - \log \sigma_d - \tfrac12 \log 2\pi\Big).$$

Maximising $\sum_n \log \mathcal{N}(x_n; \mu, \operatorname{diag}\sigma^2)$ over $N$ samples gives
$\hat\mu = \frac1N \sum_n x_n$ and $\hat\sigma_d^2 = \frac1N \sum_n (x_{n,d} - \hat\mu_d)^2$ (divided by
$N$, not $N - 1$).

Write `gaussian_log_prob(x, mean, log_std)`: `x` is (B, D), `mean` and `log_std` are (D,); it
returns the (B,) log-densities. Write `fit_gaussian(x)`: the maximum-likelihood `mean` (D,) and
`log_std` (D,) of the rows of `x` (N, D).'''

ANSWER = '''def gaussian_log_prob(x: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """log N(x; mean, diag(exp(log_std))^2) of each row of x (B, D); mean, log_std: (D,). Returns (B,)."""
    ### BEGIN SOLUTION
    variance = torch.exp(2 * log_std)
    return (-(x - mean) ** 2 / (2 * variance) - log_std - 0.5 * math.log(2 * math.pi)).sum(dim=-1)
    ### END SOLUTION


def fit_gaussian(x: Tensor) -> tuple[Tensor, Tensor]:
    """Maximum-likelihood mean (D,) and log standard deviation (D,) of the rows of x (N, D)."""
    ### BEGIN SOLUTION
    mean = x.mean(dim=0)
    return mean, 0.5 * torch.log(((x - mean) ** 2).mean(dim=0))
    ### END SOLUTION'''

VISIBLE = '''from genlab.checks import check_close, check_shape

x = torch.zeros(3, 2)
log_p = gaussian_log_prob(x, torch.zeros(2), torch.zeros(2))
check_shape(log_p, (3,), "gaussian_log_prob(x (3, 2), ...)", hint="sum over the last dimension")
check_close(log_p, [-math.log(2 * math.pi)] * 3, "log N(0; 0, I) in 2 dimensions",
            hint="each dimension contributes -log(2 pi) / 2 at its mean")
check_close(gaussian_log_prob(torch.tensor([[2.0]]), torch.tensor([0.0]), torch.tensor([math.log(2.0)])),
            [-0.5 - math.log(2.0) - 0.5 * math.log(2 * math.pi)], "log N(2; 0, 2^2)",
            hint="log_std is the log of the standard deviation, not of the variance")
mean, log_std = fit_gaussian(torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0], [6.0, 5.0]]))
check_shape(mean, (2,), "fit_gaussian(x)[0]")
check_close(mean, [3.0, 2.0], "fitted mean")
check_close(log_std, [0.5 * math.log(5.0), 0.5 * math.log(3.0)], "fitted log_std",
            hint="the maximum-likelihood variance divides by N")
print("Visible tests passed.")'''

HIDDEN = '''from genlab.checks import check_close, check_metric, check_shape
### BEGIN HIDDEN TESTS
g = torch.Generator().manual_seed(2024)
x = torch.randn(50, 4, generator=g) * 3
mean, log_std = torch.randn(4, generator=g), torch.randn(4, generator=g)
expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(x).sum(-1)
check_close(gaussian_log_prob(x, mean, log_std), expected, "log-densities on fresh inputs", rtol=1e-4)
data = torch.randn(20, 3, generator=g) * torch.tensor([0.5, 1.0, 2.0]) + torch.tensor([1.0, -2.0, 0.0])
fitted_mean, fitted_log_std = fit_gaussian(data)
check_shape(fitted_log_std, (3,), "fit_gaussian(x)[1]")
check_close(fitted_mean, data.mean(0), "fitted mean", atol=1e-5)
check_close(fitted_log_std, data.var(0, correction=0).log() / 2, "fitted log_std", atol=1e-4,
            hint="the maximum-likelihood variance divides by N, and log_std = log(variance) / 2")
# A quality bar, measured here from data the judge draws: the held-out negative log-likelihood
# per dimension of the fit (calibration, ci, seeds 0-4: fill in with autograder/calibrate.py).
train, held_out = torch.randn(2, 5000, 2, generator=g) * torch.tensor([0.5, 2.0])
nll = -gaussian_log_prob(held_out, *fit_gaussian(train)).mean().item() / 2
check_metric("held-out NLL per dimension", nll, at_most=1.45,
             hint="the true parameters give 0.5 log(2 pi e) + mean(log sigma) = 1.42")
### END HIDDEN TESTS'''

FIGURE = '''samples = 1.5 + 0.7 * torch.randn(CFG["n_samples"], 1)
mean, log_std = fit_gaussian(samples)
grid = torch.linspace(-1.5, 4.5, 200)[:, None]
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(samples[:, 0].numpy(), bins=60, density=True, alpha=0.5, label="samples")
ax.plot(grid[:, 0].numpy(), gaussian_log_prob(grid, mean, log_std).exp().numpy(), label="fitted density")
ax.set(xlabel="x", ylabel="density", title=f"fit: mean {mean.item():.2f}, std {log_std.exp().item():.2f}")
ax.legend();'''

Q1 = r'''## Written questions (10 points, graded by hand)

**Q1 (3 points).** Why does the maximum-likelihood variance divide by $N$ and not by $N - 1$, and
which of the two is unbiased?'''

A1 = r'''### BEGIN SOLUTION
**Model answer.** Setting the derivative of $\sum_n \log\mathcal{N}(x_n;\mu,\sigma^2)$ with respect to
$\sigma^2$ to zero at $\mu = \hat\mu$ gives $\hat\sigma^2 = \frac1N\sum_n (x_n-\hat\mu)^2$. It is biased:
$\mathbb{E}[\hat\sigma^2] = \frac{N-1}{N}\sigma^2$, because $\hat\mu$ is fitted to the same samples
and sits closer to them than $\mu$ does. Dividing by $N - 1$ (Bessel's correction) is unbiased
but is not the maximum of the likelihood.

**Rubric** (explanation, 3 points)
- **1 pt** The maximum of the likelihood (derivative in $\sigma^2$ set to zero) divides by $N$.
- **1 pt** That estimate is biased low, $\mathbb{E}[\hat\sigma^2] = \frac{N-1}{N}\sigma^2$.
- **1 pt** Why: $\hat\mu$ is fitted to the same samples; dividing by $N-1$ is unbiased but not the maximum.
### END SOLUTION'''

Q2 = r'''**Q2 (3 points).** Why store $\log\sigma$ instead of $\sigma$ when the parameters are trained
by gradient descent?'''

A2 = r'''### BEGIN SOLUTION
**Model answer.** Every real $\log\sigma$ gives a valid $\sigma = e^{\log\sigma} > 0$, so an
unconstrained optimiser can never step to a negative or zero standard deviation (where the
log-density is undefined), and no clamping is needed. Relative changes of $\sigma$ become additive
steps, which keeps the gradient's scale sensible over many orders of magnitude of $\sigma$.

**Rubric** (explanation, 3 points)
- **1 pt** Every real $\log\sigma$ maps to a valid $\sigma > 0$.
- **1 pt** So the optimiser needs no constraint or clamping and cannot reach $\sigma \le 0$.
- **1 pt** Steps in $\log\sigma$ are relative changes of $\sigma$: gradients stay well scaled across magnitudes.
### END SOLUTION'''

Q3 = r'''**Q3 (4 points, derivation).** Derive the maximum-likelihood mean and variance of a
one-dimensional Gaussian from $N$ samples.'''

A3 = r'''### BEGIN SOLUTION
**Model answer.** The log-likelihood is
$\ell(\mu,\sigma^2) = -\frac N2\log(2\pi\sigma^2) - \frac1{2\sigma^2}\sum_n (x_n-\mu)^2$.
$\partial\ell/\partial\mu = \frac1{\sigma^2}\sum_n (x_n-\mu) = 0$ gives $\hat\mu = \frac1N\sum_n x_n$.
$\partial\ell/\partial\sigma^2 = -\frac N{2\sigma^2} + \frac1{2\sigma^4}\sum_n (x_n-\mu)^2 = 0$ gives
$\hat\sigma^2 = \frac1N\sum_n (x_n-\hat\mu)^2$. Both second derivatives are negative there, so it is a maximum.

**Rubric** (derivation, 4 points)
- **1 pt** The log-likelihood written correctly.
- **1 pt** The derivative in $\mu$ and $\hat\mu$ = the sample mean.
- **1 pt** The derivative in $\sigma^2$ and $\hat\sigma^2$ dividing by $N$, around $\hat\mu$.
- **1 pt** Says why it is a maximum (second derivatives, or $\ell \to -\infty$ at the boundary).
### END SOLUTION'''


def solution_notebook(number: str, title: str) -> nbformat.NotebookNode:
    intro = (f"# Topic {number} — {title}\n\n"
             "*(Scaffolded by `genlab new-topic`: replace the example task and the questions with the "
             "topic's own; docs/new-topic.md lists the steps.)*\n\n"
             "**How this notebook is graded.** Write your code only where it says `YOUR CODE HERE` (delete\n"
             "the `raise NotImplementedError` line). Each task is followed by a test cell you can run; the\n"
             "autograder also runs hidden tests on fresh inputs. Autograded tasks are worth 90 points, three\n"
             "short written answers 10. Run the notebook top to bottom (*Run → Run All Cells*) before you\n"
             "submit. The autograder runs it in the small `ci` profile.")
    cells = [
        new_markdown_cell(intro, id="intro"),
        new_code_cell(PARAMETERS, id="parameters", metadata={**_locked("parameters"), "tags": ["parameters"]}),
        new_code_cell(SETUP, id="setup", metadata={**_locked("setup"), "tags": ["judge"]}),
        new_markdown_cell(TASK, id="task-1"),
        new_code_cell(ANSWER, id="gaussian", metadata=_answer("gaussian")),
        new_code_cell(VISIBLE, id="test-gaussian-visible", metadata=_test("test_gaussian_visible", 30)),
        new_code_cell(HIDDEN, id="test-gaussian-hidden", metadata=_test("test_gaussian_hidden", 60)),
        new_code_cell(FIGURE, id="gaussian-figure", metadata=_locked("gaussian_figure")),
        new_markdown_cell(Q1, id="q1"),
        new_markdown_cell(A1, id="q1-answer", metadata=_written("q1_answer", 3)),
        new_markdown_cell(Q2, id="q2"),
        new_markdown_cell(A2, id="q2-answer", metadata=_written("q2_answer", 3)),
        new_markdown_cell(Q3, id="q3"),
        new_markdown_cell(A3, id="q3-answer", metadata=_written("q3_answer", 4)),
    ]
    return _notebook(cells, judged=True)


def lecture_notebook(number: str, title: str) -> nbformat.NotebookNode:
    intro = (f"# Lecture {int(number)} — {title}\n\n"
             "*(Scaffolded by `genlab new-topic`: replace every cell with the lecture.)*\n\n"
             "**Learning goals.** After this lecture you can\n"
             "1. state the topic's model and its training objective;\n"
             "2. derive its key equation and check it in code;\n"
             "3. read the figures of its demo.\n\n"
             "**Running it.** The first code cell picks a *profile*: `ci` (seconds, for tests), `cpu` (a few\n"
             "minutes on a laptop) or `gpu`. Set `GENLAB_PROFILE` to choose.")
    theory = (r"## 1. Theory" "\n\n"
              r"The slides' equations, derived step by step, each followed by a cell that checks it in code. "
              r"Here: the density of $\mathcal{N}(\mu, \sigma^2)$ integrates to one." "\n\n"
              r"$$\int_{-\infty}^{\infty} \frac{1}{\sqrt{2\pi}\sigma} e^{-(x-\mu)^2 / 2\sigma^2}\,dx = 1.$$")
    check = ('grid = torch.linspace(-10, 10, 20001)\n'
             'density = torch.distributions.Normal(0.5, 1.5).log_prob(grid).exp()\n'
             'print(f"integral over [-10, 10]: {torch.trapezoid(density, grid).item():.6f}")')
    demo = ('samples = 0.5 + 1.5 * torch.randn(CFG["n_samples"])\n'
            'fig, ax = plt.subplots(figsize=(6, 3))\n'
            'ax.hist(samples.numpy(), bins=60, density=True, alpha=0.5, label="samples")\n'
            'ax.plot(grid.numpy(), density.numpy(), label="density")\n'
            'ax.set(xlim=(-5, 6), xlabel="x", ylabel="density", title="samples and their density")\n'
            'ax.legend();')
    cells = [
        new_markdown_cell(intro, id="title"),
        new_code_cell('import genlab\n\nPROFILE = genlab.profile()  # "ci", "cpu" or "gpu"; papermill may '
                      'override this cell\nSEED = 0', id="parameters", metadata={"tags": ["parameters"]}),
        new_code_cell('import matplotlib.pyplot as plt\nimport torch\n\n'
                      'CFG = genlab.choose(ci=dict(n_samples=2000), cpu=dict(n_samples=20000), '
                      'gpu=dict(n_samples=100000),\n'
                      '                    smoke=dict(n_samples=500), profile_name=PROFILE)\n'
                      'genlab.seed_all(SEED)\nprint(f"profile {PROFILE!r}; sizes {CFG}")', id="setup"),
        new_markdown_cell(theory, id="theory"),
        new_code_cell(check, id="theory-check"),
        new_markdown_cell("## 2. Demo\n\nPictures of what the model does, with sizes from `CFG`.", id="demo-title"),
        new_code_cell(demo, id="demo"),
        new_markdown_cell("## Summary\n\nWhat to remember, in three lines.", id="summary"),
    ]
    nb = _notebook(cells, judged=False)
    slides.apply(nb)            # a lecture is also a slideshow (genlab.slides)
    return nb


def mutants_file(number: str) -> str:
    return f'''"""Plausible student bugs for topic {number}; each must lose points on its own task.

Each entry replaces ``find`` (which must occur exactly once) by ``replace`` in the reference
answer of cell ``cell``; `genlab check {number}` grades every mutant and prints the mutation score.
"""
MUTANTS = [
    # Task 1: the example task of `genlab new-topic` (replace with the topic's own bugs)
    dict(name="log-prob-no-constant", cell="gaussian",
         find=" - 0.5 * math.log(2 * math.pi)", replace="",
         why="forgets the normalising constant -log(2 pi) / 2 of each dimension"),
    dict(name="log-prob-std-as-variance", cell="gaussian",
         find="variance = torch.exp(2 * log_std)", replace="variance = torch.exp(log_std)",
         why="treats log_std as the log of the variance"),
    dict(name="fit-unbiased-variance", cell="gaussian",
         find="((x - mean) ** 2).mean(dim=0)", replace="((x - mean) ** 2).sum(dim=0) / (len(x) - 1)",
         why="divides by N - 1: unbiased, but not the maximum-likelihood estimate"),
    dict(name="fit-returns-std", cell="gaussian",
         find="0.5 * torch.log(((x - mean) ** 2).mean(dim=0))", replace="((x - mean) ** 2).mean(dim=0).sqrt()",
         why="returns the standard deviation instead of its log"),
]
'''


def readme_row(slug: str, title: str) -> str:
    number = slug[:2]
    return (f"| {number} | {title} | `lectures/{slug}.ipynb` | `assignments/{slug}/` | in progress: scaffolded "
            f"by `genlab new-topic`, example task only |")


def add_readme_row(readme: Path, row: str) -> None:
    """Insert ``row`` into the README's topics table, in the order of the topic numbers."""
    lines = readme.read_text().splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if README_ROW.match(line)]
    if not rows:
        raise SystemExit(f"{readme}: no topics table (rows starting with '| NN |') to add the topic to")
    after = max([i for i in rows if lines[i][2:4] < row[2:4]], default=rows[0] - 1)
    lines.insert(after + 1, row + "\n")
    readme.write_text("".join(lines))


def new_topic(slug: str, title: str, root: Path = REPO_ROOT) -> list[Path]:
    """Write the lecture, the solution, the mutants and the README row of topic ``slug``
    (``NN-name``) under ``root``; return the files written. Refuses to overwrite anything."""
    match = SLUG.match(slug)
    if not match:
        raise SystemExit(f"a topic is named NN-slug (two digits, then lower-case words joined by '-'), "
                         f"not {slug!r}")
    number = match.group(1)
    taken = sorted(p.name for p in (root / "solutions").glob(f"{number}-*"))
    if taken:
        raise SystemExit(f"topic number {number} is taken by solutions/{taken[0]}")
    lecture = root / "lectures" / f"{slug}.ipynb"
    solution = root / "solutions" / slug / f"{slug}.ipynb"
    mutants = root / "autograder" / "mutants" / f"{slug}.py"
    existing = [str(p.relative_to(root)) for p in (lecture, solution, mutants) if p.exists()]
    if existing:
        raise SystemExit(f"{', '.join(existing)} already exist; nothing written")
    for path in (lecture, solution, mutants):
        path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(lecture_notebook(number, title), lecture)
    nbformat.write(solution_notebook(number, title), solution)
    mutants.write_text(mutants_file(number))
    readme = root / "README.md"
    add_readme_row(readme, readme_row(slug, title))
    return [lecture, solution, mutants, readme]
