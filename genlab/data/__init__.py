"""Dataset loaders: real sets resolved offline, a shipped emoji set, procedural sets with
exact ground truth, and two translation sets (facades, horse2zebra) that need a download.
Pictures of each are in data/README.md."""
from genlab.data.edges import sobel_edges, sobel_magnitude
from genlab.data.idx import FASHION_CLASSES, MNIST_CLASSES, DataNotFoundError, fashion_mnist, mnist
from genlab.data.openmoji import GROUPS as EMOJI_GROUPS, EmojiSet, emoji
from genlab.data.procedural import (
    closed_polygons,
    mixture_2d,
    mixture_centres,
    shapes,
    unpaired_shape_change,
    unpaired_shapes,
)
from genlab.data.quantise import dequantise, quantise
from genlab.data.translation import facades, horse2zebra

__all__ = ["EMOJI_GROUPS", "FASHION_CLASSES", "MNIST_CLASSES", "DataNotFoundError", "EmojiSet",
           "closed_polygons", "dequantise", "emoji", "facades", "fashion_mnist", "horse2zebra",
           "mixture_2d", "mixture_centres", "mnist", "quantise", "shapes", "sobel_edges",
           "sobel_magnitude", "unpaired_shape_change", "unpaired_shapes"]
