"""Provided networks that no student writes: evaluation classifiers and the denoising U-Net."""
from genlab.nets.classifiers import ConvClassifier
from genlab.nets.unet import NoisyClassifier, UNet, timestep_embedding

__all__ = ["ConvClassifier", "NoisyClassifier", "UNet", "timestep_embedding"]
