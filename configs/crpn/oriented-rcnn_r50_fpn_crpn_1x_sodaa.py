# Oriented R-CNN + Coarse-to-fine RPN on SODA-A: CRPN's second stage predicts oriented proposals
# (midpoint-offset coding relative to the stage-1 boxes), RoIAlignRotated RoIs.
_base_ = ['../baselines/oriented-rcnn_r50_fpn_1x_sodaa.py', './_base_/crpn.py']

model = dict(
    neck=dict(num_outs=4),  # P2-P5, no P6
    rpn_head=dict(
        _delete_=True,
        type='CoarseToFineRPNHead',
        num_stages=2,
        in_channels=256,
        feat_channels=256,
        alpha1=9.0,
        alpha2=0.9,
        stages=[{{_base_.crpn_stage1}}, {{_base_.crpn_stage2_rbox}}]),
    roi_head=dict(bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 32])),
    train_cfg={{_base_.crpn_train_cfg_rbox}},
    test_cfg={{_base_.crpn_test_cfg}})
