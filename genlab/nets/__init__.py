"""Provided networks that no student writes: evaluation classifiers, the denoising U-Net and
the GAN backbones, the VAE."""
from genlab.nets.classifiers import ConvClassifier
from genlab.nets.gan import ConditionalDCGANDiscriminator, MLPDiscriminator, MLPGenerator
from genlab.nets.unet import NoisyClassifier, UNet, timestep_embedding
from genlab.nets.vae import CategoricalVAE

__all__ = ["CategoricalVAE", "ConditionalDCGANDiscriminator", "ConvClassifier", "MLPDiscriminator", "MLPGenerator",
           "NoisyClassifier", "UNet", "timestep_embedding"]
from genlab.nets.translation import InstanceNormPatchDiscriminator, ResnetGenerator  # noqa: E402

__all__ += ["InstanceNormPatchDiscriminator", "ResnetGenerator"]
from genlab.nets.wgan import DCGANCritic, ResizeConvGenerator  # noqa: E402

__all__ += ["DCGANCritic", "ResizeConvGenerator"]
