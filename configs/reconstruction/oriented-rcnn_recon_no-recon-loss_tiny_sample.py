# Ablation of the slides, w/o the reconstruction losses (L_MSE, L_TV): the tiny Oriented R-CNN reconstruction model.
_base_ = ['./oriented-rcnn_recon_tiny_sample.py']

model = dict(roi_head={{_base_.recon_no_recon_loss}})
