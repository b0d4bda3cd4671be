# Parts of the generative-discriminative reconstruction detector (issue 21; docs/reconstruction.md), referenced from
# the configs in configs/reconstruction/ as
#     model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_roi_head}})
#     optim_wrapper = {{_base_.recon_optim_wrapper}}
# (``*_tiny`` for the 32-channel tiny models, ``recon_fi_*`` on top of CFINet's FI head); not a runnable config.
# The slides give no values for alpha, beta, gamma (docs/reconstruction.md, "Weights").
recon_roi_head = dict(
    type='ReconstructionRoIHead',
    # G: residual SR network at 64 channels, sub-pixel upsampling by r (PixelShuffle), back to the 7x7 RoI grid by
    # r x r average pooling, zero-initialised tail (G starts as the identity); C and r come from the head
    generator=dict(type='SRGenerator', mid_channels=64, num_blocks=2, num_hr_convs=1, down='avg'),
    # D: real z_HR vs generated G(z_LR), one logit per RoI (never runs at inference)
    discriminator=dict(type='FeatureDiscriminator', mid_channels=64, num_convs=2),
    # z_LR: the same RoI pooled from the FPN maps average-pooled by r = 2 (4 also works)
    lr_features=dict(type='DownsampledRoIFeatures', factor=2),
    loss_adv=dict(type='AdversarialLoss', loss_weight=1e-3, non_saturating=False),  # alpha L_adv (slides' form)
    loss_disc=dict(type='DiscriminatorLoss', fake_weight=1.0),  # D's side: the standard GAN discriminator loss
    loss_mse=dict(type='ReconstructionMSELoss', loss_weight=1.0, reduction='mean'),  # per element (slides: 'sum')
    loss_tv=dict(type='TotalVariationLoss', loss_weight=1.0),
    loss_sr_cls=dict(type='SRClassificationLoss', loss_weight=0.1),  # beta L_cls (its D_cls terms)
    loss_sr_reg=dict(type='SRRegressionLoss', loss_weight=0.1, beta=1.0),  # gamma L_reg (smooth L1 on t_SR)
    # RoIs through G (train and test) and the RoIs that make LR/HR pairs, by size subset of the original image
    sr_subsets=['eS', 'rS'],
    hr_subsets=['gS', 'Normal', 'larger'],
    max_pairs=64)
# tiny models (32-channel RoI features): G at 8 channels with one residual block and no conv on the fine grid (G
# runs on every small RoI of up to 2000 test proposals per patch; the fine-grid conv was half of its cost), D at 16
recon_roi_head_tiny = dict(
    recon_roi_head,
    generator=dict(recon_roi_head['generator'], mid_channels=8, num_blocks=1, num_hr_convs=0),
    discriminator=dict(recon_roi_head['discriminator'], mid_channels=16))
# on top of CFINet's Feature Imitation head (merged over an FIRoIHead config, whose FI settings it keeps)
recon_fi_roi_head = dict(recon_roi_head, type='ReconstructionFIRoIHead')
recon_fi_roi_head_tiny = dict(recon_roi_head_tiny, type='ReconstructionFIRoIHead')

# alternating updates (ReconstructionFasterRCNN.train_step): the inherited optim wrapper stays the detector's (G
# included), D gets its own Adam (lr 1e-4, betas 0.5 / 0.999: the DCGAN / SRGAN setting). One process only: for
# distributed runs drop constructor and discriminator (one optimizer, simultaneous updates).
recon_optim_wrapper = dict(
    constructor='ReconstructionOptimWrapperConstructor',
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))))

# the slides' ablations, merged over a reconstruction roi_head: model = dict(roi_head={{_base_.recon_no_adv}})
recon_no_recon_loss = dict(loss_mse=None, loss_tv=None)  # w/o the reconstruction losses L_MSE and L_TV
recon_no_adv = dict(loss_adv=None)  # w/o L_adv (and no D at all)
recon_no_cls = dict(loss_sr_cls=None)  # w/o L_cls's D_cls terms (the box head's own loss_cls stays)

# controls beyond the slides (docs/reconstruction.md, "Why it does not help here"), merged the same way:
# L_TV at 1 / 100 of its weight (L_TV is 72 % of the full model's loss at weight 1)
recon_tv_1e_2 = dict(loss_tv=dict(type='TotalVariationLoss', loss_weight=1e-2))
# G frozen at its zero-tail initialisation, i.e. G = identity for the whole run (lr and weight decay 0 for G's
# parameters): every loss, D and the LR/HR pairs stay; only G never moves. optim_wrapper = dict(paramwise_cfg=...)
recon_g_frozen_paramwise = dict(custom_keys={'roi_head.generator': dict(lr_mult=0.0, decay_mult=0.0)})
