# Control beyond the slides, G frozen as the identity (its zero-initialised tail never trained; all losses and D
# stay): the tiny Faster R-CNN (SODA-D, horizontal) reconstruction model.
_base_ = ['./faster-rcnn_recon_tiny_sample.py']

optim_wrapper = dict(paramwise_cfg={{_base_.recon_g_frozen_paramwise}})
