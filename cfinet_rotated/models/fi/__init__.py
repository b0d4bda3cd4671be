"""Feature Imitation branch of CFINet (Sec. 3.2): one module per paper mechanism."""
from .adaptive_threshold import PercentileQualityThreshold
from .augment import InstanceTransform
from .exemplar_set import ExemplarSet
from .feat2embed import Feat2Embed
from .fi_loss import FeatureImitationLoss
from .instance_quality import InstanceQuality

__all__ = ['InstanceQuality', 'ExemplarSet', 'Feat2Embed', 'FeatureImitationLoss', 'InstanceTransform',
           'PercentileQualityThreshold']
