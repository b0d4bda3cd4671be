"""tools/analysis_tools/benchmark_accuracy.py without training: argument checks, the warm-start filter and the
summary."""

import pytest
import torch

from conftest import ROOT, load_tool


def test_arguments_are_checked():
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    assert ba.parse_args([]).models == ['baseline', 'crpn', 'fi', 'cfinet']
    with pytest.raises(SystemExit):
        ba.parse_args(['--models', 'cfinet-paper', '--pipeline', 'oriented-rcnn'])  # rotated-faster-rcnn only
    with pytest.raises(SystemExit):
        ba.parse_args(['--iters', '0'])


def test_summary_table_and_last_line(capsys):
    """Mean and sample std (ddof 1) over seeds, hand-computed; std_ap_es is the larger of the two models'."""
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    args = ba.parse_args(['--models', 'baseline', 'cfinet', '--seeds', '0', '1', '2'])

    def row(model, seed, ap_es, ar_es, ex=None):
        r = dict(model=model, seed=seed, AP=0.1, AP_eS=ap_es, AR_eS=ar_es, AR=0.2, s_per_iter=1.0,
                 exemplars=None if ex is None else dict(total=ex, per_class=[ex] + [0] * 8))
        if ex is not None:
            r.update(first_exemplar_iter=None, loss_fi_quarters=[0.0, 0.0, 0.1, None], unmeasured_gts=3.0)
        return r
    results = [row('baseline', s, v, 0.3) for s, v in enumerate((0.1, 0.2, 0.3))]
    results += [row('cfinet', s, v, w, ex=s) for s, (v, w) in enumerate(((0.2, 0.4), (0.4, 0.5), (0.6, 0.6)))]
    ba.summarize(args, results)
    out = capsys.readouterr().out.strip().splitlines()
    # baseline AP_eS 0.2 +- 0.1; cfinet 0.4 +- 0.2, AR_eS 0.5 +- 0.1
    assert '| baseline | 3 | 0.100 +- 0.000 | 0.200 +- 0.100 | 0.300 +- 0.000 |' in '\n'.join(out)
    assert '| CFINet | 3 | 0.100 +- 0.000 | 0.400 +- 0.200 | 0.500 +- 0.100 | 0.200 +- 0.000 | 0 / 1 / 2 |' in \
        '\n'.join(out)
    assert out[-1] == ('ap_es_baseline=0.2000 ap_es_cfinet=0.4000 ar_es_baseline=0.3000 ar_es_cfinet=0.5000 '
                       'std_ap_es=0.2000')


def test_warm_start_takes_only_matching_backbone_neck_and_roi_head(tmp_path, capsys):
    """CFINet from a baseline warm-up: backbone, neck and the box head load; the RPN (another head) and the
    FI modules do not."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmrotate.registry import MODELS

    import cfinet_rotated  # noqa: F401
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    args = ba.parse_args([])
    cfg = Config.fromfile(str(ROOT / ba.PIPELINES[args.pipeline]['configs']['baseline']))
    init_default_scope('mmrotate')
    warm = {k: v + 1.0 if v.is_floating_point() else v for k, v in MODELS.build(cfg.model).state_dict().items()}
    torch.save(dict(state_dict=warm), tmp_path / 'warm.pth')
    out = ba.start_checkpoint(args, 'cfinet', str(tmp_path / 'warm.pth'), str(tmp_path))
    keep = torch.load(out, map_location='cpu')['state_dict']
    assert {k.split('.')[0] for k in keep} == {'backbone', 'neck', 'roi_head'}
    assert not any('feat2embed' in k or 'exemplar_set' in k for k in keep)
    assert all(torch.equal(keep[k], warm[k]) for k in keep)
    assert 'rpn_head 0/' in capsys.readouterr().out


def test_fi_protocol_continues_both_arms_from_one_crpn(tmp_path):
    """--warmup-model crpn with rpn_head among the parts: CRPN-only and CFINet take over the whole CRPN
    warm-up (backbone, neck, both CRPN stages, box head); only CFINet's FI modules start fresh."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmrotate.registry import MODELS

    import cfinet_rotated  # noqa: F401
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    with pytest.raises(SystemExit):
        ba.parse_args(['--warmup-model', 'nonexistent'])
    args = ba.parse_args(['--models', 'crpn', 'cfinet', '--warmup-model', 'crpn', '--warmup-iters', '10',
                          '--warm-parts', 'backbone', 'neck', 'rpn_head', 'roi_head'])
    cfg = Config.fromfile(str(ROOT / ba.PIPELINES[args.pipeline]['configs']['crpn']))
    init_default_scope('mmrotate')
    warm = {k: v + 1.0 if v.is_floating_point() else v for k, v in MODELS.build(cfg.model).state_dict().items()}
    torch.save(dict(state_dict=warm), tmp_path / 'warm.pth')
    same = torch.load(ba.start_checkpoint(args, 'crpn', str(tmp_path / 'warm.pth'), str(tmp_path)))['state_dict']
    assert set(same) == set(warm)  # the CRPN-only arm continues the warm-up exactly
    fi = torch.load(ba.start_checkpoint(args, 'cfinet', str(tmp_path / 'warm.pth'), str(tmp_path)))['state_dict']
    assert {k for k in warm if k.startswith('rpn_head.')} <= set(fi)
    assert {k for k in warm if k.startswith('roi_head.bbox_head.')} <= set(fi)
    assert not any('feat2embed' in k or 'exemplar_set' in k for k in fi)
