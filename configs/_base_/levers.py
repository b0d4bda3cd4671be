# The small-object levers of issue 23 (../shared/seeds/small-objects-overview.md), each a measured option built
# from what MMDetection / MMRotate ship (configs/levers/README.md, docs/benchmarks.md "Small-object levers").
# A mixin of variables (prefixed lever_); none is part of a reproduction config. Used as
#     _base_ = ['<model config>', '../_base_/levers.py']
#     model = dict(roi_head=dict(bbox_head=dict(loss_cls={{_base_.lever_focal_rcnn_loss}})))

# 1. Focal loss (Lin et al. 2017), gamma 2 / alpha 0.25 as the RetinaNet paper. RPN (rpn_head.loss_cls; for CRPN
# CoarseToFineRPNHead's loss_cls, which replaces its classifying stage's): MMDetection's sigmoid FocalLoss,
# normalised as the RPN's cross-entropy (by the sampled anchors). Both dicts merge over the heads'
# cross-entropy configs (hence use_sigmoid=True).
# RoI classifier: RoIFocalLoss (num_classes sigmoid outputs, background = prod(1 - p); normalised by the
# foreground RoIs as RetinaNet).
lever_focal_rpn_loss = dict(type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)
lever_focal_rcnn_loss = dict(type='RoIFocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)

# 2. Random-angle rotation (MMRotate's RandomRotate: any angle in [-180, 180), boxes rotated with the image, those
# whose centre leaves the patch dropped). A patch with a storage tank (label 6 of SODA-A: round objects whose
# boxes are annotated axis-aligned) is turned by a multiple of 90 degrees only, so that its boxes stay as the
# annotators draw them. The corners the rotation uncovers take the split tool's padding value. The pipelines
# with it are sodaa_rotate_train_pipeline / sodaa_patch_rotate_train_pipeline (configs/_base_/datasets/sodaa.py).

# 3. Class-balanced resampling (repeat factor sampling, Gupta et al. LVIS 2019: MMDetection's
# ClassBalancedDataset): an image is repeated max(1, sqrt(t / f_c)) times for its rarest class c, f_c = share of
# training images with class c. t = 0.1: the classes on fewer than 10 % of the training patches are repeated.
lever_oversample_thr = 0.1

# 4. Anchors fitted to the training boxes: tools/analysis_tools/analyze_anchors.py --propose writes the override
# (configs/levers/README.md); no variable here.

# 5. Upscaled / multi-scale testing: tools/test.py --tta with RotatedTTAModel (cfinet_rotated/models/levers)
# merging the scales below with rotated NMS; sliced inference: detect_large_image(scales=...) / infer.py --scales.
lever_tta_scales = [1.0, 1.5]
lever_tta_model = dict(type='RotatedTTAModel', tta_cfg=dict(nms=dict(type='nms_rotated', iou_threshold=0.5),
                                                            max_per_img=2000))

# 6. Context: every RoI pooled from a box 1.5x its width and height (same centre and angle), RoI-to-level mapping
# by the RoI's own size (ContextRoIExtractor / RotatedContextRoIExtractor).
lever_context_factor = 1.5
