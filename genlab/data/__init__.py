"""Dataset loaders: real sets resolved offline, and procedural sets with exact ground truth."""
from genlab.data.fashion import CLASSES as FASHION_CLASSES
from genlab.data.fashion import DataNotFoundError, fashion_mnist
from genlab.data.procedural import closed_polygons, mixture_2d, mixture_centres

__all__ = ["FASHION_CLASSES", "DataNotFoundError", "closed_polygons", "fashion_mnist",
           "mixture_2d", "mixture_centres"]
