"""genlab zoo export: a topic's checkpoint is made by its solution notebook (DESIGN §2)."""
import nbformat
import pytest

from genlab import zoo
from genlab.cli import main
from genlab.course import solution_path
from genlab.export import EXPORTS, export


def test_export_refuses_topics_without_a_checkpoint():
    with pytest.raises(SystemExit, match="exports no checkpoint"):
        export("03")


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
