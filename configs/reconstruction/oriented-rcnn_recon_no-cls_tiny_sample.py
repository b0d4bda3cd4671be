# Ablation of the slides, w/o L_cls's D_cls terms: the tiny Oriented R-CNN reconstruction model.
_base_ = ['./oriented-rcnn_recon_tiny_sample.py']

model = dict(roi_head={{_base_.recon_no_cls}})
