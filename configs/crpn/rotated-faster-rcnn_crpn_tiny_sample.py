# Tiny CPU Rotated Faster R-CNN + CRPN on the embedded sample (data/sample_split): the lead's tiny
# baseline with the Coarse-to-fine RPN of rotated-faster-rcnn_r50_fpn_crpn_1x_sodaa.py.
_base_ = ['../baselines/rotated-faster-rcnn_tiny_sample.py', './_base_/crpn.py']

model = dict(
    neck=dict(num_outs=4),
    rpn_head=dict(
        _delete_=True,
        type='CoarseToFineRPNHead',
        num_stages=2,
        in_channels=32,
        feat_channels=32,
        alpha1=9.0,
        alpha2=0.9,
        stages=[{{_base_.crpn_stage1}}, {{_base_.crpn_stage2_hbox}}]),
    roi_head=dict(bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 32])),
    train_cfg={{_base_.crpn_train_cfg_hbox}},
    test_cfg={{_base_.crpn_test_cfg}})
