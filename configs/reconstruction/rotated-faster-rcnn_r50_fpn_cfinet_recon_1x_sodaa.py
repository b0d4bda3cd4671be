# CFINet (CRPN + FI) Rotated Faster R-CNN (ResNet-50 FPN, SODA-A, 12 epochs) + the generative-discriminative
# reconstruction (issue 21): ReconstructionFIRoIHead keeps the FI settings of the CFINet config.
_base_ = ['../cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py', './_base_/reconstruction.py']

model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_fi_roi_head}})
optim_wrapper = {{_base_.recon_optim_wrapper}}
