# Tiny CPU Faster R-CNN (SODA-D, horizontal) + CFINet (CRPN + FI) + the generative-discriminative reconstruction on
# the embedded SODA-D sample (data/sample_sodad_split): ReconstructionFIRoIHead keeps the FI settings of the CFINet
# config.
_base_ = ['../../sodad/faster-rcnn_cfinet_tiny_sample.py', '../_base_/reconstruction.py']

model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_fi_roi_head_tiny}})
optim_wrapper = {{_base_.recon_optim_wrapper}}
