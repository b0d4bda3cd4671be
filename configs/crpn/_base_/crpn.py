# Parts of the Coarse-to-fine RPN (CFINet Sec. 3.1, official configs/cfinet/faster_rcnn_r50_fpn_cfinet_1x.py),
# referenced from the configs in configs/crpn/ as ``model = {{_base_.crpn_hbox}}`` (or ``crpn_rbox``, and the
# ``*_tiny`` variants for the 32-channel tiny models); not a runnable config.
# Channels come from CoarseToFineRPNHead(in_channels, feat_channels); Eq. (2) weights alpha1 = 9.0 and
# alpha2 = 0.9 are set by the head on every stage's losses (the loss_weight values below are overwritten).
crpn_anchor_generator = dict(type='mmdet.AnchorGenerator', scales=[2], ratios=[1.0], strides=[4, 8, 16, 32])

# stage 1: dilated 3x3 adaptive conv, regression only, linear IoU loss on decoded boxes (hull targets)
crpn_stage1 = dict(
    type='CoarseToFineRPNStage',
    anchor_generator=crpn_anchor_generator,
    adapt_cfg=dict(type='dilation', dilation=3),
    bridged_feature=True,
    with_cls=False,
    reg_decoded_bbox=True,
    bbox_coder=dict(type='mmdet.DeltaXYWHBBoxCoder', target_means=(.0, .0, .0, .0), target_stds=(0.1, 0.1, 0.5, 0.5)),
    loss_bbox=dict(type='mmdet.IoULoss', mode='linear', loss_weight=9.0))

# stage 2, horizontal proposals (Rotated Faster R-CNN): DeformConv2d with offsets from the stage-1 boxes
crpn_stage2_hbox = dict(
    type='CoarseToFineRPNStage',
    anchor_generator=crpn_anchor_generator,
    adapt_cfg=dict(type='offset'),
    bridged_feature=True,
    with_cls=True,
    reg_decoded_bbox=True,
    bbox_coder=dict(type='mmdet.DeltaXYWHBBoxCoder', target_means=(.0, .0, .0, .0),
                    target_stds=(0.05, 0.05, 0.1, 0.1), use_box_type=True),
    loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=0.9),
    loss_bbox=dict(type='mmdet.IoULoss', mode='linear', loss_weight=9.0))

# stage 2, oriented proposals (Oriented R-CNN): midpoint-offset deltas relative to the refined anchors,
# SmoothL1 on the encoded deltas as OrientedRPNHead (mmcv's rotated IoU losses are GPU-only, and MMRotate's
# midpoint-offset decoding is not differentiable). OrientedRPNHead's stds: the horizontal form's (0.05, 0.1)
# scale the deltas up 10-20x, which under alpha1 = 9 made regression outweigh classification ~100x.
crpn_stage2_rbox = dict(
    crpn_stage2_hbox,
    type='OrientedCoarseToFineRPNStage',
    reg_decoded_bbox=False,
    bbox_coder=dict(type='MidpointOffsetCoder', angle_version='le90', target_means=[0.0] * 6,
                    target_stds=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5]),
    loss_bbox=dict(type='mmdet.SmoothL1Loss', beta=1.0 / 9.0, loss_weight=9.0))

# Eq. (1), all levels jointly: mode='official' is the rule of the authors' code, behind the published numbers
# (min(0.25, clamp(0.25 + 0.15 log2(s/12), 0.20, 0.70))); the paper's printed formula (max(0.25, 0.20 + 0.15
# ln(s/12))) is the ablation of configs/*/*_paper-rules_*.py (crpn_train_cfg_*_paper below)
_crpn_stage1_train = dict(
    assigner=dict(type='DynamicIoUAssigner', mode='official', neg_iou_thr=0.15),
    allowed_border=-1, pos_weight=-1, debug=False)
_crpn_sampler = dict(type='mmdet.RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                     add_gt_as_proposals=False)
_crpn_proposal = dict(nms_pre=2000, max_per_img=300, nms=dict(type='nms', iou_threshold=0.8), min_bbox_size=0)
_crpn_stage2_train = dict(
    assigner=dict(type='mmdet.MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.7, min_pos_iou=0.3, ignore_iof_thr=-1,
                  iou_calculator=dict(type='mmdet.BboxOverlaps2D')),
    sampler=_crpn_sampler, allowed_border=-1, pos_weight=-1, debug=False)
crpn_train_cfg_hbox = dict(rpn=[_crpn_stage1_train, _crpn_stage2_train], rpn_proposal=_crpn_proposal)
# oriented proposals: stage 2 matches its horizontal refined anchors against the hulls of the rotated gts
crpn_train_cfg_rbox = dict(
    rpn=[_crpn_stage1_train,
         dict(_crpn_stage2_train, assigner=dict(_crpn_stage2_train['assigner'],
                                                iou_calculator=dict(type='RBbox2HBboxOverlaps2D')))],
    rpn_proposal=_crpn_proposal)
# the paper's Eq. (1) as printed (ablation): the same train_cfg with the stage-1 assigner in mode='paper'
_crpn_stage1_train_paper = dict(_crpn_stage1_train, assigner=dict(_crpn_stage1_train['assigner'], mode='paper'))
crpn_train_cfg_hbox_paper = dict(crpn_train_cfg_hbox, rpn=[_crpn_stage1_train_paper, crpn_train_cfg_hbox['rpn'][1]])
crpn_train_cfg_rbox_paper = dict(crpn_train_cfg_rbox, rpn=[_crpn_stage1_train_paper, crpn_train_cfg_rbox['rpn'][1]])
crpn_test_cfg = dict(rpn=dict(nms_pre=1000, max_per_img=300, nms=dict(type='nms', iou_threshold=0.5), min_bbox_size=0))

# The model changes that turn a baseline config into its CRPN variant: P2-P5 (no P6), the two-stage head,
# RoI strides 4-32, the two-stage training and the proposal settings.
crpn_hbox = dict(
    neck=dict(num_outs=4),
    rpn_head=dict(
        _delete_=True,
        type='CoarseToFineRPNHead',
        num_stages=2,
        in_channels=256,
        feat_channels=256,
        alpha1=9.0,
        alpha2=0.9,
        stages=[crpn_stage1, crpn_stage2_hbox]),
    roi_head=dict(bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 32])),
    train_cfg=crpn_train_cfg_hbox,
    test_cfg=crpn_test_cfg)
crpn_rbox = dict(crpn_hbox, rpn_head=dict(crpn_hbox['rpn_head'], stages=[crpn_stage1, crpn_stage2_rbox]),
                 train_cfg=crpn_train_cfg_rbox)
# SODA-D: the baseline's RoI extractor reads P3-P6 (LevelOffsetRoIExtractor, start_level 1); CRPN's reads P2-P5
crpn_hbox_sodad = dict(crpn_hbox, roi_head=dict(bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 32],
                                                                        start_level=0)))
# the tiny models' FPN has 32 channels
crpn_hbox_tiny = dict(crpn_hbox, rpn_head=dict(crpn_hbox['rpn_head'], in_channels=32, feat_channels=32))
crpn_rbox_tiny = dict(crpn_rbox, rpn_head=dict(crpn_rbox['rpn_head'], in_channels=32, feat_channels=32))
crpn_hbox_sodad_tiny = dict(crpn_hbox_sodad, rpn_head=crpn_hbox_tiny['rpn_head'])
