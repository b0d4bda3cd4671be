# Ablation: the tiny CPU CFINet (Rotated Faster R-CNN) with the paper's printed Eq. (1) and Eq. (3) (mode='paper').
_base_ = ['./rotated-faster-rcnn_cfinet_tiny_sample.py']

model = dict(roi_head={{_base_.fi_paper_rules}}, train_cfg={{_base_.crpn_train_cfg_hbox_paper}})
