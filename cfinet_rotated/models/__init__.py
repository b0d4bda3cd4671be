"""CFINet models. One line per module; each import registers its classes in MMRotate's registries."""
from ..registry import register_module
from .crpn_head import (CoarseToFineRPNHead, CoarseToFineRPNStage, DynamicIoUAssigner,  # noqa: F401 (CRPN)
                        OrientedCoarseToFineRPNStage, dynamic_pos_iou_thr)
from .fi import ExemplarSet, Feat2Embed, FeatureImitationLoss, InstanceQuality, InstanceTransform
from .fi_roi_head import FIRoIHead  # noqa: F401 (Feature Imitation head; registers the FI modules)

# MMDetection's registries too, so that configs in the 'mmdet' scope (SODA-D, inheriting mmdet:: Faster R-CNN)
# build CRPN and FI by their names: the same classes, box type chosen by the config
for _cls in (CoarseToFineRPNHead, CoarseToFineRPNStage, OrientedCoarseToFineRPNStage, FIRoIHead, ExemplarSet,
             Feat2Embed, FeatureImitationLoss, InstanceQuality, InstanceTransform):
    register_module('MODELS')(_cls)
register_module('TASK_UTILS')(DynamicIoUAssigner)
