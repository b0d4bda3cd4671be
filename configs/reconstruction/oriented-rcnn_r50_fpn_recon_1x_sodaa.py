# Oriented R-CNN (ResNet-50 FPN, SODA-A, 12 epochs) with the generative-discriminative reconstruction (issue 21).
_base_ = ['../baselines/oriented-rcnn_r50_fpn_1x_sodaa.py', './_base_/reconstruction.py']

model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_roi_head}})
optim_wrapper = {{_base_.recon_optim_wrapper}}
