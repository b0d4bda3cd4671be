# The model changes that turn a full R-50 config into its tiny CPU smoke-test form: random initialisation (no
# ImageNet weights), ResNet-18 at 1/4 width, a 32-channel FPN and heads. Used by the *_tiny_sample.py configs as
#     _base_ = ['<full config>', '../_base_/tiny.py']
#     model = {{_base_.tiny_model}}
# What the tiny models learn from: the generated synthetic scenes; tools/infer.py warns when such a model is run on
# other imagery (its scores there mean nothing). A tiny config trained on real images overrides it.
trained_on = dict(data='synthetic scenes of tools/data/make_sample.py', synthetic=True)
tiny_model = dict(
    backbone=dict(depth=18, base_channels=16, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=128)))
