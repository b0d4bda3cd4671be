# What turns one of our Rotated Faster R-CNN configs into Oriented R-CNN (the parts of MMRotate's
# oriented-rcnn config that differ from its rotated-faster-rcnn config). Used as
#     _base_ = ['<rotated-faster-rcnn config>', '../_base_/oriented_rcnn.py']
#     model = {{_base_.oriented_rcnn}}
oriented_rcnn = dict(
    rpn_head=dict(
        type='OrientedRPNHead',
        bbox_coder=dict(
            _delete_=True,
            type='MidpointOffsetCoder',
            angle_version='le90',
            target_means=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            target_stds=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5])),
    roi_head=dict(
        bbox_roi_extractor=dict(
            type='RotatedSingleRoIExtractor',
            roi_layer=dict(_delete_=True, type='RoIAlignRotated', output_size=7, sampling_ratio=2, clockwise=True)),
        bbox_head=dict(
            bbox_coder=dict(type='DeltaXYWHTRBBoxCoder', norm_factor=None, proj_xy=True))),
    train_cfg=dict(
        rpn_proposal=dict(nms=dict(iou_threshold=0.8)),
        rcnn=dict(assigner=dict(iou_calculator=dict(type='RBboxOverlaps2D')))),
    test_cfg=dict(rpn=dict(nms=dict(iou_threshold=0.8))))
