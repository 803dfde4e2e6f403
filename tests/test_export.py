"""genlab zoo export: a topic's checkpoint is made by its solution notebook
(docs/architecture.md, "Where code lives")."""
import nbformat
import pytest
import torch

from genlab import zoo
from genlab.cli import main
from genlab.course import solution_path
from genlab.export import EXPORTS, export


def test_export_refuses_topics_without_a_checkpoint():
    with pytest.raises(SystemExit, match="exports no checkpoint"):
        export("01")


def test_cli_export_needs_a_topic():
    with pytest.raises(SystemExit, match="needs a topic"):
        main(["zoo", "export"])


@pytest.mark.parametrize("topic", sorted(EXPORTS))
def test_exporting_notebooks_have_the_parameter_and_a_manifest_row(topic):
    nb = nbformat.read(solution_path(topic), as_version=4)
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "EXPORT = None" in parameters.source
    saving = "\n".join(c.source for c in nb.cells if "EXPORT" in c.source and "zoo.save" in c.source)
    for name in EXPORTS[topic]:
        assert f'Path(EXPORT) / "{name}.pt"' in saving, f"{topic} never saves {name}.pt into the EXPORT folder"
        row = zoo.manifest()[f"checkpoints/{name}.pt"]
        assert row.command.startswith(f"genlab zoo export {topic[:2]} --profile ")
        assert row.size < 5 * 2**20, "shipped checkpoints stay under 5 MB"


def test_wgan_export_ships_small_generators_with_their_curves():
    """Topic 03's experiment: five generators, each < 2 MB, the Fashion-MNIST ones with the curves (critic
    value and FD at the same iterations) that lecture 3 draws, and samples in the data's range."""
    for name in EXPORTS["03-wgan"]:
        assert zoo.manifest()[f"checkpoints/{name}.pt"].size < 2 * 2**20
        model, meta = zoo.load(name, "cpu", with_meta=True)
        assert meta["topic"] == "03-wgan" and meta["figure"]
        if name.startswith("fashion-"):
            assert len(meta["iteration"]) == len(meta["critic"]) == len(meta["FD"]) >= 5
            assert meta["iteration"][-1] == meta["cfg"]["fashion_iters"]
            with torch.no_grad():
                x = model(torch.randn(4, model.z_dim))
            assert x.shape == (4, 1, 28, 28) and x.abs().max() <= 1
        else:
            assert meta["dataset"] in ("8-ring", "25-grid")
            assert model(torch.randn(4, 2)).shape == (4, 2)
