# Ablation: CFINet on Rotated Faster R-CNN, SODA-A, with the paper's printed formulas instead of the official rules:
# Eq. (1) max(0.25, 0.20 + 0.15 ln(s/12)) for CRPN's stage-1 positives and Eq. (3) over arg-max-correct
# predictions with the IoU of the decoded box. The default configs use the authors' rules (see docs/deviations.md).
_base_ = ['./rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py']

model = dict(roi_head={{_base_.fi_paper_rules}}, train_cfg={{_base_.crpn_train_cfg_hbox_paper}})
