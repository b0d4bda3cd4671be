# Tiny CPU Oriented R-CNN + CFINet (CRPN + FI) + the generative-discriminative reconstruction on the embedded sample
# (data/sample_split): ReconstructionFIRoIHead keeps the FI settings of the CFINet config.
_base_ = ['../cfinet/oriented-rcnn_cfinet_tiny_sample.py', './_base_/reconstruction.py']

model = dict(type='ReconstructionFasterRCNN', roi_head={{_base_.recon_fi_roi_head_tiny}})
optim_wrapper = {{_base_.recon_optim_wrapper}}
