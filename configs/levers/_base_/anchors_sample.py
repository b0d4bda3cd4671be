# Anchors fitted by tools/analysis_tools/analyze_anchors.py --propose to data/sample_split/Annotations
# (1005 objects, resize x1.0, strides [4, 8, 16, 32, 64]): mean best centred IoU 0.746 (the config's anchors: 0.712).
# A config mixin (configs/levers/README.md): add this file to a config's _base_ list and set
#     model = dict(rpn_head=dict(anchor_generator={{_base_.fitted_anchor_generator}}))
fitted_anchor_generator = dict(scales=[1.0, 1.5, 2.5], ratios=[1.0])
