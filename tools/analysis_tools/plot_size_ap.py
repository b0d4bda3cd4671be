"""Bar chart of AP and AR per size subset from one or more metrics.json files (e.g. baseline vs CFINet).

    python tools/analysis_tools/plot_size_ap.py baseline/metrics.json cfinet/metrics.json \
        --labels "Faster R-CNN" CFINet --out size_ap.png
"""
import os.path as osp
import sys

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.evaluation.plot import load_metrics, plot_size_ap


def main(argv=None):
    p = tool_parser(__doc__)
    p.add_argument('metrics', nargs='+',
                   help='metrics JSON files of tools/analysis_tools/eval_sodaa.py / eval_sodad.py, or of '
                        'SODAAMetric / SODADMetric')
    p.add_argument('--labels', nargs='+', help='legend names (unset: the parent folder names)')
    p.add_argument('--out', required=True, help='PNG file to write')
    p.add_argument('--title', default=None, help='figure title')
    args = p.parse_args(argv)
    labels = args.labels or [osp.basename(osp.dirname(osp.abspath(m))) or m for m in args.metrics]
    try:
        metrics = [load_metrics(m) for m in args.metrics]
        plot_size_ap(metrics, labels, args.out, args.title)
    except (OSError, ValueError) as e:
        print(f'plot_size_ap: error: {e}', file=sys.stderr)
        return 2
    for lab, m in zip(labels, metrics):
        print(f'{lab}: ' + ' '.join(f'{k}={m[k]:.3f}' if m[k] is not None else f'{k}=n/a'
                                    for k in ('AP', 'AP_eS', 'AP_rS', 'AP_gS', 'AP_N', 'AR')))
    print(f'plot written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
