"""Bar charts of AP and AR per size subset, several result files side by side."""
import json
import os
import os.path as osp

import numpy as np

from ..structures.size_subsets import AREA_RANGES, stat_key

#: (range, AP key, AR key) of each evaluated range: ('Small', 'AP', 'AR'), ('eS', 'AP_eS', 'AR_eS'), ...
SUBSETS = tuple((name, stat_key('AP', name), stat_key('AR', name)) for name in AREA_RANGES)
# SODA-D files (eval_sodad.py / SODADMetric) have no plain AR: its size-subset ARs are at 1000 detections, so the
# Small column uses AR_1000, the same maxDets
SODAD_AR_KEY = 'AR_1000'


def load_metrics(path):
    """A ``metrics.json`` of eval_sodaa.py / SODAAMetric (12 statistics) or eval_sodad.py / SODADMetric (14), as a
    dict with at least the keys of :data:`SUBSETS` (a SODA-D file's ``AR`` is its ``AR_1000``, and its
    ``dataset`` is 'SODA-D'); a file without the statistics is an error."""
    with open(path, encoding='utf-8') as f:
        try:
            d = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: malformed JSON ({e})') from None
    if not isinstance(d, dict):
        raise ValueError(f'{path}: not a metrics file (a JSON object of statistics expected)')
    d.setdefault('dataset', 'SODA-A')
    if 'AR' not in d and SODAD_AR_KEY in d:
        d = dict(d, AR=d[SODAD_AR_KEY], dataset='SODA-D')
    missing = [k for _, ap, ar in SUBSETS for k in (ap, ar) if k not in d]
    if missing:
        raise ValueError(f'{path}: not a SODA-A or SODA-D metrics file (missing {", ".join(missing)})')
    return d


def plot_size_ap(metrics, labels, out, title=None):
    """Write a PNG with two panels (AP, AR); groups = size subsets, one bar per result.

    Args:
        metrics (list[dict]): loaded metrics files (values as fractions; None = undefined, drawn as 0
            with an 'n/a' mark).
        labels (list[str]): legend names, same length.
        out (str): PNG path.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if len(metrics) != len(labels):
        raise ValueError(f'{len(metrics)} result files but {len(labels)} labels')
    names = [s[0] for s in SUBSETS]
    x = np.arange(len(names))
    width = 0.8 / len(metrics)
    fig, axes = plt.subplots(1, 2, figsize=(5 + 2 * len(names), 4.5), sharey=True)
    for ax, col, what in zip(axes, (1, 2), ('AP', 'AR')):
        for i, (m, lab) in enumerate(zip(metrics, labels)):
            vals = [m[s[col]] for s in SUBSETS]
            h = [100 * v if v is not None else 0.0 for v in vals]
            bars = ax.bar(x + (i - (len(metrics) - 1) / 2) * width, h, width, label=lab)
            for b, v in zip(bars, vals):
                ax.annotate('n/a' if v is None else f'{100 * v:.1f}', (b.get_x() + b.get_width() / 2,
                            b.get_height()), ha='center', va='bottom', fontsize=7)
        ax.set_xticks(x, names)
        note = '; SODA-D: 1000 dets' if what == 'AR' and any(m.get('dataset') == 'SODA-D' for m in metrics) else ''
        ax.set_title(f'{what} (IoU 0.50:0.95{note})')
        ax.set_ylabel(f'{what} (%)')
        ax.grid(axis='y', alpha=0.3)
    axes[0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
