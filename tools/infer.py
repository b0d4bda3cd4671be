"""Detect objects on whole images of any size with a trained detector (sliding windows, merged detections).

    python tools/infer.py data/sample/Images configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py \\
        checkpoints/MODEL.pth --out-dir work_dirs/infer --show-dir work_dirs/infer/vis \\
        --ignore-ann data/sample/Annotations

IMAGES is an image file or a folder of images. Each image is cut into the split tools' windows (``--patch`` px,
``--overlap`` px; padded where the image ends), the windows run through the model in batches, and the detections
are shifted back and merged with class-wise NMS (rotated for MMRotate models, horizontal for SODA-D models): the
API ``cfinet_rotated.apis.detect_large_image``. Writes to ``--out-dir``:

* ``Task1/Task1_<class>.txt``: DOTA Task1 files of all images (``<stem> <score> x1 y1 ... x4 y4``), which
  ``tools/analysis_tools/eval_sodaa.py --pred OUT/Task1`` evaluates against a SODA-A annotation folder;
* ``json/<stem>.json``: the detections of each image (box, polygon, score, class) with the image size and timing;
* ``geojson/<stem>.geojson`` for georeferenced images (GeoTIFF, read window by window with rasterio, never whole):
  the detections as polygons in the image's CRS, with class and score;

and with ``--show-dir`` one PNG per image (MMRotate's ``RotLocalVisualizer`` / MMDetection's
``DetLocalVisualizer``: class colour, name and score, detections under ``--score-thr`` left out, ignore regions
of ``--ignore-ann`` shaded; with more than 150 drawn boxes, or ``--labels none|class``, thinner lines and a legend
of the class counts instead of a text at every box).
"""
import json
import os
import os.path as osp
import sys
import time
from collections import OrderedDict

import numpy as np

from cfinet_rotated.visualization import AUTO_LABEL_MAX, LABEL_MODES

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.ppm', '.pgm', '.webp', '.npy')


def parse_args(argv=None):
    from mmengine.config import DictAction

    from cfinet_rotated.cli import tool_parser
    doc = __doc__.split('\n\n')
    p = tool_parser('\n\n'.join(doc[:2]))
    p.add_argument('images', help='an image file or a folder of images (' + ', '.join(IMAGE_EXTS) + ')')
    p.add_argument('config', help='model config file')
    p.add_argument('checkpoint', help='checkpoint file (a published or a training checkpoint)')
    p.add_argument('--out-dir', required=True, help='folder for Task1/ and json/')
    p.add_argument('--show-dir',
                   help='also draw each image with its detections into this folder (PNG; unset: no pictures)')
    p.add_argument('--score-thr', type=float, default=0.3, help='score threshold of the drawn detections')
    p.add_argument('--labels', choices=LABEL_MODES, default='auto',
                   help='text at the drawn boxes: score (class and score), class (class name), none (a legend of '
                        'the class counts instead: dense scenes); auto: score up to 150 drawn boxes, else none')
    p.add_argument('--line-width', type=float, default=None,
                   help='box line width in the pictures (default 1; 0.6 with more than 150 drawn boxes)')
    p.add_argument('--save-thr', type=float, default=0.0,
                   help='score threshold of the written detections (the model\'s test_cfg applies first)')
    p.add_argument('--ignore-ann', help='SODA-A annotation folder or SODA-D COCO JSON whose ignore regions are '
                                        'shaded in the pictures (unset: none shaded)')
    p.add_argument('--patch', type=int, default=800, help='window size in px (as the training split)')
    p.add_argument('--overlap', type=int, default=150, help='overlap of neighbouring windows in px')
    p.add_argument('--batch-size', type=int, default=4, help='windows per forward pass')
    p.add_argument('--scales', type=float, nargs='+', default=[1.0],
                   help='test every window at these factors of the test scale, e.g. 1 1.5 (upscaled inference for '
                        'small objects; views merged by the class-wise NMS; cost: sum of the squared factors)')
    p.add_argument('--nms-iou-thr', type=float, default=0.5,
                   help='IoU of the class-wise merge NMS (as the evaluation); <= 0 keeps every detection')
    p.add_argument('--show-max-side', type=int, default=6000,
                   help='pictures of larger images are drawn downscaled to this longest side; 0 = never')
    p.add_argument('--device', default='cpu', help="device, e.g. 'cpu' or 'cuda:0'")
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, e.g. model.test_cfg.rcnn.score_thr=0.1 (unset: the config as is)')
    return p.parse_args(argv)


def list_images(path):
    """Image files of a file or folder argument; an empty folder or a missing path is an error."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise ValueError(f'{path}: no such file or folder')
    files = sorted(osp.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTS))
    if not files:
        raise ValueError(f'{path}: no image files ({", ".join(IMAGE_EXTS)})')
    return files


def detections_json(result, classes, stem, seconds):
    """The per-image JSON: image size, box format, and one entry per detection."""
    from cfinet_rotated.evaluation.size_ap import get_box_class
    pred = result.pred_instances
    box_type = result.metainfo['box_type']
    bboxes = pred.bboxes.numpy()
    polys = get_box_class(box_type)(pred.bboxes).convert_to('qbox').tensor.numpy() if len(bboxes) else bboxes
    fmt = 'rbox: cx, cy, w, h, angle (rad, le90)' if box_type == 'rbox' else 'hbox: x1, y1, x2, y2'
    h, w = result.metainfo['ori_shape']
    return dict(image=result.metainfo['img_path'], stem=stem, width=int(w), height=int(h), box_type=box_type,
                box_format=fmt, classes=list(classes), windows=int(result.metainfo['num_windows']),
                seconds=round(seconds, 3),
                detections=[dict(label=int(lab), cls=classes[int(lab)], score=round(float(s), 5),
                                 bbox=[round(float(v), 3) for v in b], poly=[round(float(v), 2) for v in p])
                            for b, p, s, lab in zip(bboxes, polys, pred.scores.tolist(), pred.labels.tolist())])


def detections_geojson(det, reader):
    """A GeoJSON FeatureCollection of the per-image JSON ``det`` in the image's CRS (georeferenced images): one
    polygon per detection (the box's corners through the image's affine transform) with class and score. The CRS
    is named in a top-level ``crs`` member (GeoJSON 2008 form; RFC 7946 readers assume WGS 84 without it)."""
    features = []
    for d in det['detections']:
        ring = reader.pixel_to_crs(np.asarray(d['poly']).reshape(4, 2)).tolist()
        features.append(dict(type='Feature', properties=dict(cls=d['cls'], label=d['label'], score=d['score']),
                             geometry=dict(type='Polygon', coordinates=[ring + ring[:1]])))
    out = dict(type='FeatureCollection', name=det['stem'], features=features)
    if reader.crs:
        out['crs'] = dict(type='name', properties=dict(name=reader.crs))
    return out


def main(argv=None):
    args = parse_args(argv)
    from mmengine.utils import ProgressBar

    from cfinet_rotated.apis import PatchReader, detect_large_image, init_detector
    from cfinet_rotated.evaluation.sodaa_eval import write_task1
    try:
        images = list_images(args.images)
        ignore_src = None
        if args.ignore_ann:
            from cfinet_rotated.visualization import GroundTruthSource
            ignore_src = GroundTruthSource(args.ignore_ann)
        model = init_detector(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
    except (ValueError, FileNotFoundError) as e:
        print(f'infer: error: {e}', file=sys.stderr)
        return 2
    classes = tuple(model.dataset_meta['classes'])
    palette = model.dataset_meta.get('palette')
    trained_on = getattr(model, 'cfg', {}).get('trained_on') or {}
    if trained_on.get('synthetic'):
        print(f'warning: this model was trained on {trained_on.get("data", "synthetic data")}, not on real imagery: '
              'on real aerial images its detections and scores are not meaningful (a smoke-test model; train on '
              'your data for real use)', file=sys.stderr)
    os.makedirs(osp.join(args.out_dir, 'json'), exist_ok=True)
    if args.show_dir:
        os.makedirs(args.show_dir, exist_ok=True)
    nms = args.nms_iou_thr if args.nms_iou_thr > 0 else None
    merged, rows, failed, no_ann = OrderedDict(), [], [], []
    n_geo = 0
    box_type = None
    t_all = time.time()
    bar = ProgressBar(len(images))
    for path in images:
        stem = osp.splitext(osp.basename(path))[0]
        t0 = time.time()
        try:
            reader = PatchReader(path)
            result = detect_large_image(model, reader, args.patch, args.overlap, args.batch_size, nms,
                                        args.save_thr, scales=args.scales)
        except (ValueError, FileNotFoundError, OSError) as e:
            failed.append(f'{path}: {e}')
            bar.update()
            continue
        seconds = time.time() - t0
        box_type = result.metainfo['box_type']
        pred = result.pred_instances
        merged[stem] = dict(bboxes=pred.bboxes.numpy(), scores=pred.scores.numpy(), labels=pred.labels.numpy())
        det = detections_json(result, classes, stem, seconds)
        with open(osp.join(args.out_dir, 'json', f'{stem}.json'), 'w', encoding='utf-8') as f:
            json.dump(det, f)
        if reader.transform is not None:  # a georeferenced image: the detections in its CRS too
            os.makedirs(osp.join(args.out_dir, 'geojson'), exist_ok=True)
            with open(osp.join(args.out_dir, 'geojson', f'{stem}.geojson'), 'w', encoding='utf-8') as f:
                json.dump(detections_geojson(det, reader), f)
            n_geo += 1
        if args.show_dir:
            from cfinet_rotated.visualization import draw_detections
            ignore_polys = []
            if ignore_src is not None:
                gt = ignore_src.get(stem)
                if gt is None:
                    no_ann.append(stem)
                else:
                    ignore_polys = gt['ignore_polygons']
            import mmcv
            img = reader.read_all(args.show_max_side or None)
            small = img.shape[:2] != (reader.height, reader.width)  # a decimated GeoTIFF read
            n_drawn = int((pred.scores >= args.score_thr).sum())
            width = args.line_width or (0.6 if n_drawn > AUTO_LABEL_MAX else 1)
            picture = draw_detections(img, result, classes, palette, args.score_thr, ignore_polys,
                                      args.show_max_side or None, line_width=width, labels=args.labels,
                                      full_size=(reader.width, reader.height) if small else None)
            mmcv.imwrite(picture[..., ::-1], osp.join(args.show_dir, f'{stem}.png'))
            del img, picture
        mpix = reader.width * reader.height / 1e6
        rows.append((stem, f'{reader.width}x{reader.height}', result.metainfo['num_windows'], len(pred),
                     int((pred.scores >= args.score_thr).sum()), seconds, seconds / mpix))
        bar.update()
    print()
    if merged:
        write_task1(merged, osp.join(args.out_dir, 'Task1'), classes, box_type)
    print(f'{"image":<28}{"size":>12}{"windows":>9}{"dets":>8}{f">={args.score_thr:g}":>8}{"s":>8}{"s/MPix":>8}')
    for stem, size, nw, nd, ns, s, spm in rows:
        print(f'{stem:<28}{size:>12}{nw:>9}{nd:>8}{ns:>8}{s:>8.2f}{spm:>8.2f}')
    total = sum(r[3] for r in rows)
    print(f'{len(rows)} image(s), {total} detections in {time.time() - t_all:.1f} s; Task1 files in '
          f'{osp.join(args.out_dir, "Task1")}, per-image JSON in {osp.join(args.out_dir, "json")}'
          + (f', GeoJSON of {n_geo} georeferenced image(s) in {osp.join(args.out_dir, "geojson")}' if n_geo else '')
          + (f', pictures in {args.show_dir}' if args.show_dir else ''))
    if no_ann:
        print(f'warning: {len(no_ann)} image(s) without an entry in {args.ignore_ann} (no ignore regions drawn): '
              + ', '.join(no_ann[:5]) + (' ...' if len(no_ann) > 5 else ''))
    for f in failed:
        print(f'FAILED: {f}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
