"""Dataset loaders: real sets resolved offline, a shipped emoji set, and procedural sets
with exact ground truth. Pictures of each are in data/README.md."""
from genlab.data.edges import sobel_edges, sobel_magnitude
from genlab.data.idx import FASHION_CLASSES, MNIST_CLASSES, DataNotFoundError, fashion_mnist, mnist
from genlab.data.openmoji import GROUPS as EMOJI_GROUPS
from genlab.data.openmoji import EmojiSet, emoji
from genlab.data.procedural import (closed_polygons, mixture_2d, mixture_centres, shapes,
                                    unpaired_shape_change, unpaired_shapes)
from genlab.data.quantise import dequantise, quantise

__all__ = ["EMOJI_GROUPS", "FASHION_CLASSES", "MNIST_CLASSES", "DataNotFoundError", "EmojiSet",
           "closed_polygons", "dequantise", "emoji", "fashion_mnist", "mixture_2d", "mixture_centres",
           "mnist", "quantise", "shapes", "sobel_edges", "sobel_magnitude", "unpaired_shape_change",
           "unpaired_shapes"]
