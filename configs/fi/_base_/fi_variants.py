# Feature Imitation variants measured by the FI protocol (issue 20; docs/benchmarks.md, "Feature Imitation
# protocol"). Each is a partial roi_head dict merged over fi_roi_head; none is the official behaviour, which
# stays the default of every reproduction config. Used as  model = dict(roi_head={{_base_.<name>}}).
# control: the FI head, its sampler and its exemplar bookkeeping, but no imitation loss (alpha_3 = 0)
fi_no_loss = dict(loss_fi=dict(loss_weight=0.0))
# the imitation loss 4x heavier (alpha_3 = 2.0 instead of 0.5)
fi_weight_2 = dict(loss_fi=dict(loss_weight=2.0))
# T_hq follows the IQ distribution: min(0.65, 90th percentile of the last 1024 measured gts)
fi_iq_p90 = dict(instance_quality=dict(
    adaptive_thr=dict(type='PercentileQualityThreshold', percentile=90.0, window=1024, min_history=64)))
# the bound on high-quality predictions per exemplar lowered from 8 to 2
fi_min_preds_2 = dict(instance_quality=dict(min_num_preds=2))
# every class's exemplar set seeded with up to 32 gt RoI features until real exemplars replace them
fi_gt_seed_32 = dict(exemplar_gt_seed=32)
# only extremely and relatively small gts (eS, rS) imitate; exemplars still come from every size
fi_small_anchors = dict(imitate_subsets=['eS', 'rS'])
