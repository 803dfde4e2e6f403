"""Provided networks that no student writes: evaluation classifiers, backbones."""
from genlab.nets.classifiers import ConvClassifier

__all__ = ["ConvClassifier"]
