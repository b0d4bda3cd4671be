# Tiny CPU Faster R-CNN (SODA-D, horizontal) with the generative-discriminative reconstruction (issue 21: G on eS/rS
# RoIs, LR/HR pairs, D, alternating updates) on the embedded SODA-D sample (data/sample_sodad_split).
_base_ = ['../../sodad/faster-rcnn_tiny_sample.py', '../_base_/reconstruction.py']

model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_roi_head_tiny}})
optim_wrapper = {{_base_.recon_optim_wrapper}}
