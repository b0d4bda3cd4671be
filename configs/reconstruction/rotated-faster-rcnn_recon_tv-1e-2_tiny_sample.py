# Control beyond the slides, L_TV at weight 1e-2 instead of 1: the tiny Rotated Faster R-CNN reconstruction model.
_base_ = ['./rotated-faster-rcnn_recon_tiny_sample.py']

model = dict(roi_head={{_base_.recon_tv_1e_2}})
