"""No lecture holds a runnable copy of a graded answer (docs/new-topic.md, "The solution notebook").

For every topic, every answer of its solution notebook (the code between ``### BEGIN
SOLUTION`` and ``### END SOLUTION`` in the code cells that nbgrader marks ``solution``; an
answer cell that holds several functions is also compared block by block, see
``answer_bodies``) is compared with the code of EVERY lecture, not only the topic's own: a lecture may derive
the equation, show the result or call what ``genlab`` provides, but if more than a third of
an answer's non-trivial lines appear in one lecture a student can transcribe it.

Lines are compared after normalisation (see ``normalise``): comments, docstrings and blank
lines are dropped, and all whitespace is removed, so re-indenting or re-spacing a line does
not hide it. A line is *non-trivial* (see ``is_trivial`` for the exact rule) when, after
normalisation, it

- is at least ``MIN_CHARS`` (12) characters long with its spaces collapsed,
- is not an ``import`` / ``from … import`` line,
- is not a bare keyword line (``pass``, ``else:``, ``try:``, ``return``, ``break`` …),
- is not ``return <name>``, ``return <name>, <name>`` or ``return <name>.item()`` (returning
  what is already computed),
- is not optimiser plumbing: ``<name>.zero_grad(…)``, ``<name>.backward(…)``, ``<name>.step(…)``.
  Every training loop in the course repeats these three lines; counting them flagged every
  lecture that trains a GAN (04, 05, 06) as holding topic 02's discriminator step, while the
  step's content (what is detached, which loss) is in the other lines,
- is not made of brackets and punctuation alone (``)``, ``]),``, ``}``).

The answers are read from the solution notebooks directly (genlab.course gives the topics and
paths): ``genlab.grader.validity.solution_answers`` returns whole cells, signatures and
docstrings included, which are not answers.

Run ``python tests/test_lecture_answers.py`` for the full table: topic, answer id, the
lecture with the largest overlap and the fraction of the answer's non-trivial lines in it.
"""
from __future__ import annotations

import ast
import io
import keyword
import re
import sys
import tokenize
from dataclasses import dataclass

import nbformat
import pytest

from genlab.course import LECTURES, solution_path, topics

MAX_FRACTION = 1 / 3
MIN_CHARS = 12
MIN_BLOCK_LINES = 3
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
_NAME = r"[A-Za-z_][A-Za-z_0-9.]*"
_TRIVIAL = [
    re.compile(r"(import|from)\s.*"),                                    # imports
    re.compile(r"({})\s*:?".format("|".join(keyword.kwlist))),          # pass, else:, try:, return …
    re.compile(rf"return\s+\(?\s*{_NAME}(\s*,\s*{_NAME})*\s*,?\s*\)?"),  # return x / return a, b
    re.compile(rf"return\s+{_NAME}\.item\(\)"),                          # return loss.item()
    re.compile(rf"{_NAME}\.(zero_grad|backward|step)\(.*\)"),            # optimiser plumbing
    re.compile(r"[\s()\[\]{},:;.]*"),                                   # lone brackets, punctuation
]


# ---------------------------------------------------------------------------- normalising


def _docstring_lines(source: str) -> set[int]:
    """1-based line numbers of the docstrings (module, class, function) in ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _without_comments(source: str) -> list[str]:
    """The physical lines of ``source`` with ``#`` comments removed (strings are respected);
    falls back to a plain per-line cut when the code does not tokenize (IPython magics …)."""
    lines = source.splitlines()
    try:
        comments = [tok for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                    if tok.type == tokenize.COMMENT]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [re.sub(r"#.*", "", ln) for ln in lines]
    for tok in reversed(comments):
        row, col = tok.start
        lines[row - 1] = lines[row - 1][:col]
    return lines


def normalise(line: str) -> str:
    """The comparison key of a line of code: every whitespace character removed."""
    return re.sub(r"\s+", "", line)


def is_trivial(line: str) -> bool:
    """A line too short or too generic to say anything about an answer (the rule: module docstring)."""
    text = " ".join(line.split())
    return len(text) < MIN_CHARS or any(p.fullmatch(text) for p in _TRIVIAL)


def code_lines(source: str, keep: set[int] | None = None) -> list[str]:
    """The normalised, non-trivial lines of ``source`` (only line numbers in ``keep`` if given)."""
    docstrings = _docstring_lines(source)
    out = []
    for number, line in enumerate(_without_comments(source), start=1):
        if number in docstrings or (keep is not None and number not in keep):
            continue
        if line.strip() and not is_trivial(line):
            out.append(normalise(line))
    return out


# ---------------------------------------------------------------------------- the corpus


def answer_bodies(notebook: nbformat.NotebookNode) -> dict[str, list[str]]:
    """The non-trivial lines of each answer: ``grade_id`` -> the lines between the solution markers of
    that answer code cell, and, where a cell holds several solution blocks (several functions or
    methods), also ``grade_id#k`` -> the lines of its k-th block (from 1) when it has at least
    ``MIN_BLOCK_LINES`` of them: one function copied whole must not hide behind the others."""
    answers = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        blocks, block = [], None
        for number, line in enumerate(cell.source.splitlines(), start=1):
            if line.strip() == _BEGIN:
                block = set()
            elif line.strip() == _END and block is not None:
                blocks.append(block)
                block = None
            elif block is not None:
                block.add(number)
        answers[meta["grade_id"]] = code_lines(cell.source, set().union(*blocks))
        for k, block in enumerate(blocks, start=1):
            lines = code_lines(cell.source, block)
            if len(blocks) > 1 and len(lines) >= MIN_BLOCK_LINES:
                answers[f"{meta['grade_id']}#{k}"] = lines
    return answers


def lecture_lines(notebook: nbformat.NotebookNode) -> set[str]:
    """Every normalised line of code in a lecture: its code cells and the fenced code blocks
    (```) of its markdown cells, which a student can copy as easily."""
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            sources += re.findall(r"```[^\n]*\n(.*?)```", cell.source, flags=re.DOTALL)
    return {normalise(ln) for source in sources for ln in _without_comments(source) if ln.strip()}


@dataclass(frozen=True)
class Overlap:
    topic: str
    answer: str
    lecture: str
    shared: list[str]   # the answer's non-trivial lines found in the lecture
    total: int          # the answer's non-trivial lines

    @property
    def fraction(self) -> float:
        return len(self.shared) / self.total if self.total else 0.0

    def message(self) -> str:
        lines = "\n".join(f"    {ln}" for ln in self.shared)
        return (f"{self.topic} answer {self.answer!r}: {len(self.shared)}/{self.total} of its non-trivial "
                f"lines ({self.fraction:.0%}) appear in lectures/{self.lecture}:\n{lines}")


def overlaps(answers: dict[str, list[str]], topic: str, lectures: dict[str, set[str]]) -> list[Overlap]:
    """For each answer, its overlap with each lecture."""
    return [Overlap(topic, gid, name, [ln for ln in lines if ln in code], len(lines))
            for gid, lines in answers.items() for name, code in lectures.items()]


def violations(found: list[Overlap]) -> list[Overlap]:
    return [o for o in found if o.fraction > MAX_FRACTION]


def all_lectures() -> dict[str, set[str]]:
    return {p.name: lecture_lines(nbformat.read(p, as_version=4)) for p in sorted(LECTURES.glob("*.ipynb"))}


# ---------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def lectures():
    found = all_lectures()
    assert len(found) == len(topics()) == 12
    return found


@pytest.mark.parametrize("topic", topics())
def test_no_lecture_holds_an_answer_of(topic, lectures):
    answers = answer_bodies(nbformat.read(solution_path(topic), as_version=4))
    assert answers, f"{topic}: no answer cells found"
    assert all(answers.values()), f"{topic}: an answer with no non-trivial line: {answers}"
    bad = violations(overlaps(answers, topic, lectures))
    assert not bad, "a lecture holds a runnable copy of a graded answer:\n" + "\n".join(o.message() for o in bad)


def _notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _answer_cell(source: str, grade_id: str = "step") -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False, "grade_id": grade_id}
    return cell


ANSWER = '''def discriminator_step(G, D, x, opt):
    """One step. Returns the loss."""
    ### BEGIN SOLUTION
    # the discriminator sees real and fake
    fake = G(torch.randn(x.shape[0], 8)).detach()
    logits_real, logits_fake = D(x), D(fake)
    loss = F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()
    ### END SOLUTION
'''
LINES = ["fake=G(torch.randn(x.shape[0],8)).detach()", "logits_real,logits_fake=D(x),D(fake)",
         "loss=F.softplus(-logits_real).mean()+F.softplus(logits_fake).mean()"]


def test_the_check_fails_on_a_lecture_that_holds_an_answer():
    """A lecture that pastes an answer body (re-indented, re-spaced, with its own comments)
    is flagged, naming topic, answer, lecture and lines; one that shows a single line of the
    formula is not, two lines of three are."""
    answers = answer_bodies(_notebook(nbformat.v4.new_markdown_cell("Task 4"), _answer_cell(ANSWER)))
    assert answers == {"step": LINES}, "the docstring, the comment and the plumbing are dropped, the rest kept"
    copied = _notebook(nbformat.v4.new_markdown_cell("The step:"), nbformat.v4.new_code_cell(
        "for x in loader:\n"
        "    fake = G(torch.randn(x.shape[0], 8)).detach()   # no gradient into G\n"
        "    logits_real, logits_fake = D(x), D(fake)\n"
        "    loss = F.softplus(-logits_real).mean()+F.softplus(logits_fake).mean()\n"
        "    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"))
    bad = violations(overlaps(answers, "02-gan-theory", {"02-gan-theory.ipynb": lecture_lines(copied)}))
    assert len(bad) == 1 and bad[0].fraction == 1.0
    message = bad[0].message()
    for part in ["02-gan-theory", "'step'", "lectures/02-gan-theory.ipynb", "3/3", *LINES]:
        assert part in message

    in_markdown = _notebook(nbformat.v4.new_markdown_cell("The step, to read:\n\n```python\n" + ANSWER + "```\n"))
    assert violations(overlaps(answers, "02-gan-theory", {"l.ipynb": lecture_lines(in_markdown)})), \
        "an answer shown in a fenced code block of a markdown cell"

    one_line = _notebook(nbformat.v4.new_code_cell(
        "loss = F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()   # the formula, once\n"
        "history = genlab.train.fit(D, loss_fn, data)\n"))
    found = overlaps(answers, "02-gan-theory", {"l.ipynb": lecture_lines(one_line)})
    assert [o.fraction for o in found] == [1 / 3] and not violations(found)
    two_lines = _notebook(one_line.cells[0], nbformat.v4.new_code_cell("logits_real, logits_fake = D(x), D(fake)"))
    assert violations(overlaps(answers, "02-gan-theory", {"l.ipynb": lecture_lines(two_lines)}))


TWO_FUNCTIONS = '''class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        ### BEGIN SOLUTION
        self.encoder = nn.Sequential(nn.Linear(784, width), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(width, 784), nn.Sigmoid())
        self.head = nn.Linear(width, 10)
        self.scale = nn.Parameter(torch.ones(width))
        self.shift = nn.Parameter(torch.zeros(width))
        self.register_buffer("mask", torch.tril(torch.ones(width, width)))
        self.dropout = nn.Dropout(p=0.1)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        h = self.encoder(x.flatten(1)) * self.scale + self.shift
        h = self.dropout(h @ self.mask)
        return self.decoder(h).view_as(x)
        ### END SOLUTION
'''


def test_a_function_copied_whole_is_found_inside_a_larger_answer_cell():
    answers = answer_bodies(_notebook(_answer_cell(TWO_FUNCTIONS, "net")))
    assert set(answers) == {"net", "net#1", "net#2"} and len(answers["net"]) == 10 and len(answers["net#2"]) == 3
    lecture = _notebook(nbformat.v4.new_code_cell(
        "def run(x):\n    h = self.encoder(x.flatten(1)) * self.scale + self.shift\n"
        "    h = self.dropout(h @ self.mask)\n    return self.decoder(h).view_as(x)\n"))
    bad = violations(overlaps(answers, "01-x", {"l.ipynb": lecture_lines(lecture)}))
    assert [o.answer for o in bad] == ["net#2"], "3/10 of the cell (not flagged), 3/3 of its forward (flagged)"


def test_trivial_lines_are_the_ones_documented():
    for line in ("import torch", "from torch import nn", "return x", "return mu, logvar", "pass",
                 "else:", "    ]),", "x = a + b", "return (a, b)", "return loss.item()",
                 "opt_D.zero_grad(set_to_none=True)", "d_loss.backward()", "self.optimizer.step()"):
        assert is_trivial(line), line
    for line in ("return x.mean(dim=0)", "loss = F.mse_loss(x_hat, x)", "fake = G(z).detach()",
                 "for t in reversed(range(T)):"):
        assert not is_trivial(line), line


def table() -> list[tuple[str, str, str, int, int, float]]:
    """(topic, answer id, worst lecture, shared lines, non-trivial lines, fraction) per answer."""
    lectures, rows = all_lectures(), []
    for topic in topics():
        answers = answer_bodies(nbformat.read(solution_path(topic), as_version=4))
        found = overlaps(answers, topic, lectures)
        for gid in answers:
            worst = max((o for o in found if o.answer == gid), key=lambda o: o.fraction)
            rows.append((topic, gid, worst.lecture if worst.shared else "-", len(worst.shared),
                         worst.total, worst.fraction))
    return rows


if __name__ == "__main__":
    verbose = "-v" in sys.argv
    print(f"{'topic':22} {'answer':20} {'worst lecture':28} {'shared':>9} {'fraction':>8}")
    for topic, gid, lecture, shared, total, fraction in table():
        flag = "  FAIL" if fraction > MAX_FRACTION else ""
        print(f"{topic:22} {gid:20} {lecture:28} {shared:>4}/{total:<4} {fraction:8.0%}{flag}")
    if verbose:
        for topic in topics():
            answers = answer_bodies(nbformat.read(solution_path(topic), as_version=4))
            for o in violations(overlaps(answers, topic, all_lectures())):
                print(o.message())
