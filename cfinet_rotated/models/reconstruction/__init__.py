"""The generative-discriminative reconstruction detector of issue 21 (Gu et al., "Small Object Detection by
Generative and Discriminative Learning"): one module per mechanism (docs/reconstruction.md)."""
from .detector import ReconstructionFasterRCNN
from .discriminator import FeatureDiscriminator
from .generator import SRGenerator
from .losses import (
    AdversarialLoss,
    DiscriminatorLoss,
    ReconstructionMSELoss,
    SRClassificationLoss,
    SRRegressionLoss,
    TotalVariationLoss,
)
from .lr_features import DownsampledRoIFeatures
from .optim_constructor import ReconstructionOptimWrapperConstructor
from .roi_head import ReconstructionFIRoIHead, ReconstructionMixin, ReconstructionRoIHead

__all__ = ['SRGenerator', 'FeatureDiscriminator', 'DownsampledRoIFeatures', 'AdversarialLoss', 'DiscriminatorLoss',
           'ReconstructionMSELoss', 'TotalVariationLoss', 'SRClassificationLoss', 'SRRegressionLoss',
           'ReconstructionMixin', 'ReconstructionRoIHead', 'ReconstructionFIRoIHead', 'ReconstructionFasterRCNN',
           'ReconstructionOptimWrapperConstructor']
