"""Box helpers on numpy arrays through MMDetection/MMRotate box types, shared by evaluation, the inference API,
the visualisation and the tools: ``box_type`` ``'rbox'`` -> MMRotate ``RotatedBoxes`` (IoU by mmcv's
``box_iou_rotated``), ``'hbox'`` -> MMDetection ``HorizontalBoxes`` (``bbox_overlaps``)."""
import numpy as np
import torch


def get_box_class(box_type):
    """``'rbox'`` / ``'hbox'`` (or a box class) -> the registered box class (MMDet/MMRotate box types)."""
    import mmrotate.structures.bbox  # noqa: F401  (registers 'rbox' and its converters)
    from mmdet.structures.bbox import get_box_type
    return get_box_type(box_type)[1]


def _box_dtype(box_cls):
    # mmcv's CPU box_iou_rotated only has a float32 kernel; horizontal IoU in float64 as pycocotools
    return torch.float64 if box_cls.box_dim == 4 else torch.float32


def box_areas(boxes, box_type='rbox'):
    """Areas (float64 numpy) as the evaluator uses them: w*h of the box (RotatedBoxes/HorizontalBoxes.areas)."""
    box_cls = get_box_class(box_type)
    t = torch.as_tensor(np.asarray(boxes), dtype=torch.float64).reshape(-1, box_cls.box_dim)
    return box_cls(t).areas.numpy()


def box_hulls(boxes, box_type='rbox'):
    """Axis-aligned hulls (x1, y1, x2, y2), float64 numpy, through the box type's converter."""
    box_cls = get_box_class(box_type)
    t = torch.as_tensor(np.asarray(boxes), dtype=torch.float64).reshape(-1, box_cls.box_dim)
    if box_cls.box_dim == 4:
        return t.numpy()
    return box_cls(t).convert_to('hbox').tensor.numpy()


def _overlaps_fn(box_cls):
    """The IoU kernel of a box type: rotated -> mmrotate ``rbbox_overlaps`` (mmcv ``box_iou_rotated``),
    horizontal -> mmdet ``bbox_overlaps``. (``RotatedBoxes.overlaps`` of mmrotate 1.0.1 passes an ``eps`` that
    ``rbbox_overlaps`` does not accept, so the functions are called directly.)"""
    if box_cls.box_dim == 5:
        from mmrotate.structures.bbox import rbbox_overlaps
        return rbbox_overlaps
    from mmdet.structures.bbox import bbox_overlaps
    return bbox_overlaps


def pairwise_iou(boxes1, boxes2, box_type='rbox', aligned=False):
    """IoU (float64 numpy) through the box type: rotated -> mmcv box_iou_rotated, horizontal -> bbox_overlaps."""
    box_cls = get_box_class(box_type)
    dt = _box_dtype(box_cls)
    b1 = torch.as_tensor(np.asarray(boxes1), dtype=dt).reshape(-1, box_cls.box_dim)
    b2 = torch.as_tensor(np.asarray(boxes2), dtype=dt).reshape(-1, box_cls.box_dim)
    if aligned and len(b1) == 0:
        return np.zeros(0)
    if not aligned and (len(b1) == 0 or len(b2) == 0):
        return np.zeros((len(b1), len(b2)))
    return _overlaps_fn(box_cls)(b1, b2, mode='iou', is_aligned=aligned).double().numpy()
