# Tiny CPU Faster R-CNN (SODA-D, horizontal) + CRPN + the generative-discriminative reconstruction on the embedded
# SODA-D sample (data/sample_sodad_split).
_base_ = ['../../sodad/faster-rcnn_crpn_tiny_sample.py', '../_base_/reconstruction.py']

model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_roi_head_tiny}})
optim_wrapper = {{_base_.recon_optim_wrapper}}
