# Ablation: CFINet on Oriented R-CNN, SODA-A, with the paper's printed Eq. (1) and Eq. (3) (mode='paper').
_base_ = ['./oriented-rcnn_r50_fpn_cfinet_1x_sodaa.py']

model = dict(roi_head={{_base_.fi_paper_rules}}, train_cfg={{_base_.crpn_train_cfg_rbox_paper}})
