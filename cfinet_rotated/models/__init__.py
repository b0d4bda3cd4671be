"""CFINet models. One line per module; each import registers its classes in MMRotate's and MMDetection's
registries (``cfinet_rotated.registry.register_module``: SODA-D configs build in MMDetection's scope)."""
from .crpn_head import (  # noqa: F401 (CRPN)
                        CoarseToFineRPNHead,
                        CoarseToFineRPNStage,
                        DynamicIoUAssigner,
                        OrientedCoarseToFineRPNStage,
                        dynamic_pos_iou_thr,
)
from .deform_conv import DeformConv2d  # noqa: F401 (CRPN's adaptive convolution, fast on CPU)
from .fi_roi_head import FIRoIHead  # noqa: F401 (Feature Imitation head; registers the FI modules)
from .levers import ContextRoIExtractor, RoIFocalLoss  # noqa: F401 (issue 23: small-object levers)
from .reconstruction import ReconstructionRoIHead  # noqa: F401 (issue 21: G, D, their losses, detector, optim)
from .roi_extractor import LevelOffsetRoIExtractor  # noqa: F401 (RoI extractor of the SODA-D baseline)
