"""Turn a training checkpoint into a release checkpoint, as MMDetection's tools/model_converters/publish_model.py.

    python tools/model_converters/publish_model.py work_dirs/cfinet/iter_3000.pth checkpoints/cfinet_tiny.pth
    # -> checkpoints/cfinet_tiny-<first 8 hex digits of its sha256>.pth

Keeps only ``meta`` and ``state_dict`` (``--save-keys``): the optimizer state, the message hub (training logs) and
the parameter schedulers go. From ``state_dict`` it also removes the FI head's exemplar set
(``roi_head.exemplar_set.{feats,ptr,count}``, :class:`~cfinet_rotated.models.fi.ExemplarSet`): training-only
state that inference never reads, ``num_classes x 256 x 256 x 7 x 7`` floats (116 MB for the full SODA-A
config). A model loads such a checkpoint without missing-key warnings and starts with an empty exemplar set; its
predictions are those of the full checkpoint. The file is renamed with the first 8 hex digits of its sha256, as
MMDetection does, and the full sha256 is printed.
"""
import hashlib
import io
import os
import os.path as osp
import re
import sys

import torch

#: state_dict keys of the FI exemplar set (the buffers of ExemplarSet, attribute ``exemplar_set`` of FIRoIHead)
EXEMPLAR_KEY = re.compile(r'(^|\.)exemplar_set\.(feats|ptr|count)$')


def parse_args(argv=None):
    from cfinet_rotated.cli import tool_parser
    p = tool_parser('\n\n'.join(__doc__.split('\n\n')[:2]))
    p.add_argument('in_file', help='input checkpoint (an MMEngine training checkpoint)')
    p.add_argument('out_file', help='output file name; "-<sha256[:8]>" is inserted before ".pth"')
    p.add_argument('--save-keys', nargs='+', default=['meta', 'state_dict'],
                   help='top-level checkpoint keys to keep (MMDetection\'s option)')
    p.add_argument('--keep-exemplars', action='store_true',
                   help='keep the FI exemplar set in state_dict (only needed to resume training from it)')
    return p.parse_args(argv)


def strip_checkpoint(checkpoint, save_keys=('meta', 'state_dict'), keep_exemplars=False):
    """The published form of a loaded checkpoint dict -> ``(checkpoint, removed)``; ``removed`` lists the
    dropped top-level keys and state_dict entries."""
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise ValueError('not an MMEngine checkpoint: expected a dict with a "state_dict" entry')
    removed = [k for k in checkpoint if k not in save_keys]
    out = {k: v for k, v in checkpoint.items() if k in save_keys}
    if 'state_dict' in out and not keep_exemplars:
        sd = out['state_dict']
        drop = [k for k in sd if EXEMPLAR_KEY.search(k)]
        out['state_dict'] = type(sd)((k, v) for k, v in sd.items() if k not in drop)
        removed += [f'state_dict.{k}' for k in drop]
    return out, removed


def _nbytes(obj):
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    return 0


def publish(in_file, out_file, save_keys=('meta', 'state_dict'), keep_exemplars=False):
    """Write the published checkpoint; returns ``(final_path, sha256, removed)``."""
    from cfinet_rotated.utils import mmengine_checkpoint_globals
    if not osp.isfile(in_file):
        raise FileNotFoundError(f'{in_file}: no such checkpoint file')
    with mmengine_checkpoint_globals():
        try:
            checkpoint = torch.load(in_file, map_location='cpu', weights_only=True)
        except Exception as e:  # noqa: BLE001  (a truncated or foreign file)
            raise ValueError(f'{in_file}: not a readable checkpoint ({type(e).__name__}: {e})') from None
    try:
        out, removed = strip_checkpoint(checkpoint, save_keys, keep_exemplars)
    except ValueError as e:
        raise ValueError(f'{in_file}: {e}') from None
    for k in removed:
        part = checkpoint
        for name in k.split('.', 1) if k.startswith('state_dict.') else [k]:
            part = part[name]
        print(f'removed {k} ({_nbytes(part) / 2**20:.2f} MB of tensors)')
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    buf = io.BytesIO()  # saved through a buffer: the zip's record names do not depend on the file name
    torch.save(out, buf)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    stem = out_file[:-4] if out_file.endswith('.pth') else out_file
    final = f'{stem}-{sha[:8]}.pth'
    tmp = final + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, final)
    return final, sha, removed


def main(argv=None):
    args = parse_args(argv)
    try:
        final, sha, _ = publish(args.in_file, args.out_file, tuple(args.save_keys), args.keep_exemplars)
    except (ValueError, FileNotFoundError) as e:
        print(f'publish_model: error: {e}', file=sys.stderr)
        return 2
    print(f'published {final} ({osp.getsize(final) / 2**20:.2f} MB, from {osp.getsize(args.in_file) / 2**20:.2f} MB)')
    print(f'sha256 {sha}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
