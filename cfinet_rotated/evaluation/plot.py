"""Bar charts of AP and AR per size subset, several result files side by side."""
import json
import os
import os.path as osp

import numpy as np

SUBSETS = (('Small', 'AP', 'AR'), ('eS', 'AP_eS', 'AR_eS'), ('rS', 'AP_rS', 'AR_rS'),
           ('gS', 'AP_gS', 'AR_gS'), ('Normal', 'AP_N', 'AR_N'))


def load_metrics(path):
    """A ``metrics.json`` of eval_sodaa.py / SODAAMetric; a file without the statistics is an error."""
    with open(path, encoding='utf-8') as f:
        try:
            d = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: malformed JSON ({e})') from None
    missing = [k for _, ap, ar in SUBSETS for k in (ap, ar) if k not in d]
    if missing:
        raise ValueError(f'{path}: not a SODA-A metrics file (missing {", ".join(missing)})')
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
        ax.set_title(f'{what} (IoU 0.50:0.95)')
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
