# Ablation of the slides, w/o the adversarial loss (no D): the tiny Faster R-CNN (SODA-D, horizontal) reconstruction
# model.
_base_ = ['./faster-rcnn_recon_tiny_sample.py']

model = dict(roi_head={{_base_.recon_no_adv}})
