"""genlab.inversion: the mock text-to-image model, shape fractions, caption builder."""
import torch

from genlab.data.procedural import SHAPES, shapes
from genlab.inversion import MockTextToImage, caption_from_parts, prompt_builder, shape_fractions
from genlab.t2i import TextToImage


def test_mock_looks_like_the_model():
    mock, real = MockTextToImage(), TextToImage(channels=(8, 8, 8))
    assert mock.tokenizer.words == real.tokenizer.words
    assert torch.equal(mock.alphas_cumprod, real.alphas_cumprod)
    assert mock.num_timesteps == real.num_timesteps
    x, t = torch.randn(2, 3, 4, 4), torch.tensor([0, 999])
    cond = mock.encode_text(["a red shape", "a shape"])
    assert cond.shape == (2, 4)
    assert torch.equal(mock(x, t, cond), torch.zeros_like(x))
    assert torch.equal(mock.calls[0]["t"], t) and torch.equal(mock.calls[0]["x"], x)


def test_mock_cond_is_the_mean_of_the_real_tokens():
    mock = MockTextToImage(seed=1)
    ids = mock.tokenizer.encode("a red shape")
    table = mock.text.token_embedding.weight
    expected = table[ids[0, :4]].mean(0)
    assert torch.allclose(mock.encode_text("a red shape")[0], expected)
    assert torch.equal(mock.text.ids, ids)


def test_mock_predict_and_gradients():
    mock = MockTextToImage(predict=lambda x, t, cond: cond.sum(1).view(-1, 1, 1, 1).expand_as(x))
    cond = mock.encode_text(["a shape"])
    out = mock(torch.zeros(1, 3, 2, 2), torch.tensor([5]), cond)
    out.sum().backward()
    assert mock.text.token_embedding.weight.grad is not None


def test_caption_from_parts_order_and_gaps():
    assert caption_from_parts("s*") == "a s*"
    assert (caption_from_parts("s*", size="small", colour="red", position="top left", background="dark blue")
            == "a small red s* in the top left on a dark blue background")
    assert caption_from_parts("shape", colour="blue", background="grey") == "a blue shape on a grey background"
    # the base tokenizer reads every caption it builds
    MockTextToImage().tokenizer.encode(caption_from_parts("shape", size="large", position="centre"))


def test_shape_fractions_on_rendered_shapes():
    data = shapes(64, seed=3, shapes=("star",))
    fractions = shape_fractions(data.images)
    assert set(fractions) == set(SHAPES)
    assert abs(sum(fractions.values()) - 1) < 1e-6
    assert fractions["star"] > 0.9


def test_prompt_builder_calls_render_with_the_caption():
    seen = []
    widget = prompt_builder(seen.append, ["shape", "circle"])
    controls = {c.description: c for c in widget.children if hasattr(c, "options")}
    controls["colour"].value = "red"
    controls["background"].value = "grey"
    widget.update()
    assert seen[-1] == "a red shape on a grey background"
