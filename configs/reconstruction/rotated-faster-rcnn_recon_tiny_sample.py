# Tiny CPU Rotated Faster R-CNN with the generative-discriminative reconstruction (issue 21: G on eS/rS RoIs, LR/HR
# pairs, D, alternating updates) on the embedded sample (data/sample_split).
_base_ = ['../baselines/rotated-faster-rcnn_tiny_sample.py', './_base_/reconstruction.py']

model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_roi_head_tiny}})
optim_wrapper = {{_base_.recon_optim_wrapper}}
