"""The small-object levers of issue 23 that need a module (the others are MMDetection/MMRotate config options:
configs/_base_/levers.py)."""
from .context_roi_extractor import ContextRoIExtractor, RotatedContextRoIExtractor  # noqa: F401 (lever 6)
from .focal_cls_loss import RoIFocalLoss  # noqa: F401 (lever 1, the RoI classifier)
from .rotated_tta import RotatedTTAModel  # noqa: F401 (lever 5, multi-scale testing)
