"""Detection on a whole (large) image: sliding windows, batched patches, merged detections.

    from cfinet_rotated.apis import init_detector, detect_large_image
    model = init_detector('configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py', 'model.pth')
    result = detect_large_image(model, 'scene.jpg', patch=800, overlap=150, batch_size=4)
    result.pred_instances.bboxes  # (N, 5) le90 (x, y, w, h, t) in image pixels; (N, 4) xyxy for SODA-D models

The windows are those of the split tools (:func:`~cfinet_rotated.datasets.sodaa_split.sliding_windows`: ``patch`` px,
``overlap`` px between neighbours, the last window of a row or column snapped to the border, images smaller than a
patch padded bottom/right with the split's padding value), so a model sees the same patches at inference as in
training and in ``tools/test.py``. Each batch of patches goes through the config's test pipeline (its loader
replaced by MMRotate's ``LoadPatchFromNDArray``) and ``model.test_step``; the detections are shifted to image
coordinates and merged with class-wise NMS by :func:`~cfinet_rotated.evaluation.merge.merge_patch_predictions`, the
merge the SODA-A/SODA-D evaluation applies to ``tools/test.py`` results (rotated NMS for rotated models, horizontal
NMS for horizontal ones, detected from the predictions' box dimension).

MMRotate 1.x's ``inference_detector_by_patches`` is not called as a whole because it decodes the whole image into
one array before slicing and merges with one offset ``batched_nms`` that differs from the evaluation's merge; this
module keeps its pieces (the loader ``LoadPatchFromNDArray``, ``test_step`` on batches of patches, the same window
layout as ``mmrotate.utils.slide_window``) and reads windows lazily (:class:`~.image_reader.PatchReader`).
"""
import copy
import os.path as osp
import warnings
from collections import Counter

import numpy as np
import torch

from ..datasets.sodaa_split import SplitConfig, sliding_windows
from ..datasets.sodad_split import SodadSplitConfig
from ..evaluation.merge import merge_patch_predictions
from .image_reader import PatchReader

#: pipeline steps that need annotations and are left out at inference
_ANNOTATION_STEPS = ('LoadAnnotations', 'LoadPanopticAnnotations')


def patch_windows(width, height, patch=800, overlap=150):
    """Windows ``(N, 4)`` int64 ``[x1, y1, x2, y2]`` covering a ``width x height`` image: the split tools' layout
    (:func:`~cfinet_rotated.datasets.sodaa_split.sliding_windows`). With the last window snapped to the border every
    window has the same image-area ratio, so the split's ratio filter never drops one; ``img_rate_thr=0`` says
    so explicitly."""
    if not (isinstance(patch, (int, np.integer)) and patch > 0):
        raise ValueError(f'patch must be a positive integer, got {patch!r}')
    if not 0 <= overlap < patch:
        raise ValueError(f'overlap must satisfy 0 <= overlap < patch (= {patch}), got {overlap}')
    if width < 1 or height < 1:
        raise ValueError(f'image size must be positive, got {width}x{height}')
    return sliding_windows(int(width), int(height), int(patch), int(overlap), img_rate_thr=0.0)


def _dataset_metainfo(cfg):
    """``METAINFO`` of the config's test dataset class (class attribute; nothing is loaded)."""
    from mmengine.registry import DATASETS
    ds = cfg.get('test_dataloader', {}).get('dataset', {})
    ds_type = ds.get('type') if isinstance(ds, dict) else None
    if ds_type is None:
        return {}
    cls = ds_type if isinstance(ds_type, type) else DATASETS.get(ds_type)
    if cls is None and isinstance(ds_type, str) and '.' not in ds_type:
        cls = DATASETS.get(f'{cfg.get("default_scope", "mmrotate")}.{ds_type}')
    meta = copy.deepcopy(dict(getattr(cls, 'METAINFO', {}) or {}))
    meta.update(copy.deepcopy(dict(ds.get('metainfo') or {})))
    return meta


def _num_classes(model):
    head = getattr(getattr(model, 'roi_head', None), 'bbox_head', None)
    if head is None:
        head = getattr(model, 'bbox_head', None)
    return getattr(head, 'num_classes', None)


def init_detector(config, checkpoint=None, device='cpu', cfg_options=None):
    """A detector from a config (file or ``Config``) and a checkpoint, ready for :func:`detect_large_image`.

    MMDetection's ``init_detector`` builds the model (config scope, no pretrained-weight download, eval mode);
    the checkpoint is then loaded here with MMEngine's ``load_checkpoint`` inside
    :func:`~cfinet_rotated.utils.mmengine_checkpoint_globals` (training checkpoints pickle MMEngine objects that
    torch's ``weights_only`` loader refuses), and ``model.dataset_meta`` comes from the checkpoint or, without one
    (random weights) or without ``dataset_meta`` in it, from the config's dataset class (mmdet would assume
    COCO's 80 classes). The class count must match the model's.
    """
    from mmdet.apis import init_detector as mmdet_init_detector
    from mmengine.config import Config

    import cfinet_rotated  # noqa: F401  (registers our modules, also when the config has no custom_imports)

    from ..utils import mmengine_checkpoint_globals

    if isinstance(config, (str, bytes)) or hasattr(config, '__fspath__'):
        if not osp.isfile(str(config)):
            raise FileNotFoundError(f'{config}: no such config file')
        config = Config.fromfile(str(config))
    elif isinstance(config, Config):
        config = copy.deepcopy(config)
    else:
        raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if checkpoint is not None and not osp.isfile(str(checkpoint)):
        raise FileNotFoundError(f'{checkpoint}: no such checkpoint file')
    from mmengine.registry import init_default_scope
    init_default_scope(config.get('default_scope', 'mmdet'))
    meta = _dataset_metainfo(config)
    palette = meta.get('palette') or 'random'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model = mmdet_init_detector(config, None, palette=palette, device='cpu')
    for w in caught:  # mmdet says it assumes COCO's classes without a checkpoint; ours are set below
        if 'COCO classes' not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    ckpt_meta = {}
    if checkpoint is not None:
        from mmengine.runner import load_checkpoint
        with mmengine_checkpoint_globals():
            ckpt = load_checkpoint(model, str(checkpoint), map_location='cpu')
        ckpt_meta = ckpt.get('meta', {}) or {}
    if 'dataset_meta' in ckpt_meta:
        model.dataset_meta = {k.lower(): v for k, v in ckpt_meta['dataset_meta'].items()}
        model.dataset_meta.setdefault('palette', palette)
    else:
        if not meta.get('classes'):
            raise ValueError(f'{checkpoint or "no checkpoint"}: no class names in the checkpoint nor in the '
                             "config's test dataset")
        model.dataset_meta = dict(classes=tuple(meta['classes']), palette=palette)
    model.to(device)
    n = _num_classes(model)
    classes = model.dataset_meta.get('classes', ())
    if n is not None and len(classes) != n:
        raise ValueError(f'{checkpoint}: {len(classes)} class names for a model with {n} classes')
    return model


def test_resize_index(steps):
    """Index of the one ``Resize`` with a fixed ``scale`` in a test pipeline (upscaled / multi-scale testing)."""
    at = [i for i, t in enumerate(steps) if str(t.get('type', '')).split('.')[-1] == 'Resize' and 'scale' in t]
    if len(at) != 1:
        raise ValueError(f'the test pipeline needs exactly one Resize with a fixed scale, found {len(at)}')
    return at[0]


def scaled_resize(resize, factor):
    """A copy of a ``Resize`` step with its scale multiplied by ``factor``."""
    w, h = resize['scale']
    return dict(resize, scale=(round(w * factor), round(h * factor)))


def _build_patch_pipeline(model, pad_value, scale=1.0):
    """The config's test pipeline with its image loader replaced by MMRotate's ``LoadPatchFromNDArray`` and the
    annotation loaders removed (as ``inference_detector_by_patches`` does); ``scale`` multiplies its Resize's
    scale (upscaled inference)."""
    from mmcv.transforms import Compose
    from mmdet.utils import get_test_pipeline_cfg
    steps = copy.deepcopy(list(get_test_pipeline_cfg(model.cfg)))
    if not steps or 'LoadImage' not in str(steps[0].get('type', '')):
        raise ValueError(f'the test pipeline must start with an image loader, got {steps[:1]}')
    steps[0] = dict(type='mmrotate.LoadPatchFromNDArray', pad_val=tuple(int(v) for v in pad_value))
    steps = [s for s in steps if str(s.get('type', '')).split('.')[-1] not in _ANNOTATION_STEPS]
    if scale != 1.0:
        at = test_resize_index(steps)
        steps[at] = scaled_resize(steps[at], scale)
    # the dataset's scope (the SODA-D configs' data parts carry _scope_='mmdet'), else the current one
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(model.cfg.test_dataloader.dataset.get('_scope_')):
        return Compose(steps)


def model_box_type(model):
    """``'rbox'`` for rotated detectors (MMRotate's heads, 5-dim boxes), ``'hbox'`` for horizontal ones."""
    head = getattr(getattr(model, 'roi_head', None), 'bbox_head', None) or getattr(model, 'bbox_head', None)
    coder = getattr(head, 'bbox_coder', None)
    dim = getattr(coder, 'encode_size', None)
    if dim is None:
        return None
    return 'rbox' if dim == 5 else 'hbox'


class ModelPatchPredictor:
    """``predictor(crops, windows)`` -> per-window ``InstanceData`` (window coordinates), a batch through the
    model's test pipeline and ``test_step``. ``crops`` are the windows' image parts (BGR), padded here to the
    window size with ``pad_value``. ``scales`` (small-object lever 5, issue 23): each window is predicted at
    these factors of the test scale and the views' detections are concatenated (the caller's class-wise NMS
    merges them, as it merges the windows' overlaps)."""

    def __init__(self, model, pad_value, scales=(1.0, )):
        scales = [float(s) for s in scales]
        if not scales or min(scales) <= 0:
            raise ValueError(f'scales must be > 0, got {scales}')
        self.model = model
        self.pipelines = [_build_patch_pipeline(model, pad_value, s) for s in scales]

    def _predict(self, pipeline, crops, windows, img_path):
        data = dict(inputs=[], data_samples=[])
        for crop, win in zip(crops, windows):
            w, h = int(win[2] - win[0]), int(win[3] - win[1])
            d = pipeline(dict(img=crop, img_id=f'{int(win[0])}_{int(win[1])}', img_path=img_path,
                              patch=[0, 0, w, h]))
            data['inputs'].append(d['inputs'])
            data['data_samples'].append(d['data_samples'])
        with torch.no_grad():
            return [s.pred_instances for s in self.model.test_step(data)]

    def __call__(self, crops, windows, img_path=None):
        views = [self._predict(p, crops, windows, img_path) for p in self.pipelines]
        if len(views) == 1:
            return views[0]
        from mmengine.structures import InstanceData

        def cat(key, preds):
            vals = [getattr(p, key) for p in preds]
            return torch.cat([v.tensor if hasattr(v, 'tensor') else v for v in vals])
        return [InstanceData(bboxes=cat('bboxes', preds), scores=cat('scores', preds), labels=cat('labels', preds))
                for preds in zip(*views)]


def detect_with_predictor(reader, predictor, num_classes, patch=800, overlap=150, batch_size=4,
                          nms_iou_thr=0.5, score_thr=0.0, box_type=None, progress=False):
    """Slide windows over ``reader`` (:class:`PatchReader`), run ``predictor(crops, windows)`` on batches of
    ``batch_size`` windows, shift the detections to image coordinates and merge them with class-wise NMS.

    ``predictor`` returns one ``InstanceData`` (``bboxes`` tensor or box type, ``scores``, ``labels``) per window
    in window coordinates; tests pass a stand-in with known boxes. ``box_type`` None: from the predictions'
    box dimension (5 -> rotated NMS, 4 -> horizontal NMS). Returns ``(merged, windows, box_type)``, ``merged``
    a dict of numpy ``bboxes``, ``scores``, ``labels`` in image pixels.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    windows = patch_windows(reader.width, reader.height, patch, overlap)
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(windows))
    samples = []
    dim = None
    for start in range(0, len(windows), batch_size):
        batch = windows[start:start + batch_size]
        preds = predictor([reader.read(w) for w in batch], batch)
        if len(preds) != len(batch):
            raise RuntimeError(f'the predictor returned {len(preds)} results for {len(batch)} windows')
        for win, pred in zip(batch, preds):
            bboxes = pred.bboxes
            bboxes = bboxes.tensor if hasattr(bboxes, 'tensor') else bboxes
            bboxes = torch.as_tensor(bboxes).detach().cpu().float()
            scores = torch.as_tensor(pred.scores).detach().cpu().float().reshape(-1)
            labels = torch.as_tensor(pred.labels).detach().cpu().long().reshape(-1)
            dim = bboxes.shape[-1] if bboxes.ndim == 2 else dim
            keep = scores >= score_thr
            samples.append(dict(img_id=f'window_{int(win[0])}_{int(win[1])}', ori_id='image',
                                x_start=int(win[0]), y_start=int(win[1]),
                                pred_instances=dict(bboxes=bboxes[keep].numpy(), scores=scores[keep].numpy(),
                                                    labels=labels[keep].numpy())))
            if bar is not None:
                bar.update()
    if box_type is None:
        if dim not in (4, 5):
            raise ValueError(f'cannot tell the box type from predictions with box dimension {dim}; pass box_type')
        box_type = 'rbox' if dim == 5 else 'hbox'
    skipped = Counter()
    merged = merge_patch_predictions(samples, num_classes, box_type, nms_iou_thr, warnings=skipped)['image']
    if skipped:
        warnings.warn(f'{reader.path or "image"}: skipped ' + ', '.join(f'{n} {k}' for k, n in skipped.items()))
    return merged, windows, box_type


def detect_large_image(model, image, patch=800, overlap=150, batch_size=4, nms_iou_thr=0.5, score_thr=0.0,
                       pad_value=None, progress=False, scales=(1.0, )):
    """Detect objects on an image of any size with a model trained on ``patch`` px patches.

    Args:
        model: a detector from :func:`init_detector`.
        image (str | np.ndarray): image file (read lazily where the format allows, see :class:`PatchReader`)
            or BGR array.
        patch, overlap (int): window size and overlap in px (the split's 800 / 150 by default).
        batch_size (int): windows per forward pass.
        nms_iou_thr (float | None): IoU of the class-wise merge NMS (0.5 as the evaluation); None keeps every
            detection.
        score_thr (float): drop detections below this score before merging (the model's own ``test_cfg``
            threshold applies first).
        pad_value (tuple | None): BGR fill of windows reaching past the image; None: the split tool's value for
            the model's box type ((104, 116, 124) rotated / SODA-A, (0, 0, 0) horizontal / SODA-D).
        progress (bool): MMEngine progress bar over the windows.
        scales (sequence of float): test each window at these factors of the model's test scale, e.g. (1, 1.5)
            to show small objects 1.5x larger as well; the views are merged by the class-wise NMS above (cost:
            the sum of the squared factors, 3.25x for (1, 1.5)).

    Returns:
        DetDataSample: ``pred_instances`` with ``bboxes`` (N, 5) rotated le90 or (N, 4) xyxy float32 tensor in
        image pixels, ``scores``, ``labels``; metainfo ``img_path``, ``ori_shape``/``img_shape`` (H, W),
        ``patch``, ``overlap``, ``num_windows``, ``box_type``, ``read_mode``.
    """
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    reader = image if isinstance(image, PatchReader) else PatchReader(image)
    box_type = model_box_type(model)
    if pad_value is None:
        pad_value = (SodadSplitConfig() if box_type == 'hbox' else SplitConfig()).padding_value
    predictor = ModelPatchPredictor(model, pad_value, scales)
    classes = model.dataset_meta.get('classes', ())
    num_classes = _num_classes(model) or len(classes)
    merged, windows, box_type = detect_with_predictor(reader, lambda c, w: predictor(c, w, reader.path),
                                                      num_classes, patch, overlap, batch_size, nms_iou_thr,
                                                      score_thr, box_type, progress)
    result = DetDataSample(metainfo=dict(
        img_path=reader.path, ori_shape=(reader.height, reader.width), img_shape=(reader.height, reader.width),
        patch=patch, overlap=overlap, num_windows=len(windows), box_type=box_type, read_mode=reader.mode))
    result.pred_instances = InstanceData(bboxes=torch.from_numpy(np.ascontiguousarray(merged['bboxes'])),
                                         scores=torch.from_numpy(merged['scores']),
                                         labels=torch.from_numpy(merged['labels']))
    return result
