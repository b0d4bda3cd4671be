# Tiny CPU Oriented R-CNN + CRPN + the generative-discriminative reconstruction on the embedded sample
# (data/sample_split).
_base_ = ['../crpn/oriented-rcnn_crpn_tiny_sample.py', './_base_/reconstruction.py']

model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_roi_head_tiny}})
optim_wrapper = {{_base_.recon_optim_wrapper}}
