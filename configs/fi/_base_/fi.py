# Parts of the Feature Imitation head (CFINet Sec. 3.2, Alg. 1, Eq. (3)-(6)); values of the official
# configs/cfinet/faster_rcnn_r50_fpn_cfinet_1x.py unless the paper or docs/deviations.md says otherwise.
# Used as  model = dict(roi_head={{_base_.fi_roi_head}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
fi_roi_head = dict(
    type='FIRoIHead',
    # Eq. (4): 3 valid 3x3 convs (7 -> 1) + MLP 512 + 128-d L2-normalised embedding; in_channels / roi_size
    # follow the RoI extractor and box head
    feat2embed=dict(type='Feat2Embed', hidden_channels=512, embed_channels=128,
                    norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    # Eq. (3): 'official' (the authors' IQ, p(c*) >= 0.05, proposal IoU; T_hq 0.65 was tuned with it) or
    # 'paper' (predicted-box rotated IoU, arg-max class; the ablation of configs/*/*_paper-rules_*.py);
    # T_hq 0.65, >= 8 predictions
    instance_quality=dict(type='InstanceQuality', mode='official', score_thr=0.05, low_thr=0.25, high_thr=0.65,
                          min_num_preds=8),
    # Eq. (5)/(6): tau 0.6, alpha_3 0.5
    loss_fi=dict(type='FeatureImitationLoss', temperature=0.6, loss_weight=0.5),
    # Γ: translations by 0.3 / 0.5 of w (h) along the box's own x (y) axis, rescales 0.97 / 1.03
    transform=dict(type='InstanceTransform', trans_ratios=(0.3, 0.5), scales=(0.97, 1.03)),
    exemplar_capacity=256,
    num_contrast=128,
    pos_fractions=(0.5, 0.25, 0.125),
    quality_weights=(0.5, 0.1, 0.05),
    feature_reweight=False)  # True: official channel attention in train and test (costs inference time)
# official rcnn sampler: RandomSampler 256 / 0.5 with the gts added as proposals
fi_rcnn_train_cfg = dict(sampler=dict(num=256, pos_fraction=0.5, add_gt_as_proposals=True))
# official: the fc layers of Feat2Embed train at lr x 0.05
fi_paramwise_cfg = dict(custom_keys={'roi_head.feat2embed.mlp': dict(lr_mult=0.05)})
# tiny configs (32-channel RoI features): GroupNorm with 8 groups in Feat2Embed. GN(32) would leave one value
# per group on the 1x1 output of the last conv, which GroupNorm sets to 0 (Feat2Embed refuses that).
fi_roi_head_tiny = dict(
    fi_roi_head,
    feat2embed=dict(fi_roi_head['feat2embed'], norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)))
# the paper's Eq. (3) as printed (ablation), used as model=dict(roi_head={{_base_.fi_paper_rules}})
fi_paper_rules = dict(instance_quality=dict(mode='paper'))
