"""Provided networks that no student writes: evaluation classifiers, backbones."""
from genlab.nets.classifiers import ConvClassifier
from genlab.nets.gan import ConditionalDCGANDiscriminator, MLPDiscriminator, MLPGenerator

__all__ = ["ConditionalDCGANDiscriminator", "ConvClassifier", "MLPDiscriminator", "MLPGenerator"]
