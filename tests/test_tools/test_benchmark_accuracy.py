"""tools/analysis_tools/benchmark_accuracy.py without training: argument checks, the warm-start filter and the
summary."""

import numpy as np
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
    from mmrotate.registry import MODELS

    import cfinet_rotated  # noqa: F401
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    args = ba.parse_args([])
    cfg = Config.fromfile(str(ROOT / ba.PIPELINES[args.pipeline]['configs']['baseline']))
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
    from mmrotate.registry import MODELS

    import cfinet_rotated  # noqa: F401
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    with pytest.raises(SystemExit):
        ba.parse_args(['--warmup-model', 'nonexistent'])
    args = ba.parse_args(['--models', 'crpn', 'cfinet', '--warmup-model', 'crpn', '--warmup-iters', '10',
                          '--warm-parts', 'backbone', 'neck', 'rpn_head', 'roi_head'])
    cfg = Config.fromfile(str(ROOT / ba.PIPELINES[args.pipeline]['configs']['crpn']))
    warm = {k: v + 1.0 if v.is_floating_point() else v for k, v in MODELS.build(cfg.model).state_dict().items()}
    torch.save(dict(state_dict=warm), tmp_path / 'warm.pth')
    same = torch.load(ba.start_checkpoint(args, 'crpn', str(tmp_path / 'warm.pth'), str(tmp_path)))['state_dict']
    assert set(same) == set(warm)  # the CRPN-only arm continues the warm-up exactly
    fi = torch.load(ba.start_checkpoint(args, 'cfinet', str(tmp_path / 'warm.pth'), str(tmp_path)))['state_dict']
    assert {k for k in warm if k.startswith('rpn_head.')} <= set(fi)
    assert {k for k in warm if k.startswith('roi_head.bbox_head.')} <= set(fi)
    assert not any('feat2embed' in k or 'exemplar_set' in k for k in fi)


def test_fi_protocol_defaults_and_variants_resolve():
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    args = ba.parse_args(['--fi-protocol', '--pipeline', 'oriented-rcnn'])
    assert (args.models, args.warmup_model, args.warmup_iters, args.iters) == (['crpn', 'cfinet'], 'crpn', 600, 400)
    assert args.warm_parts == ['backbone', 'neck', 'rpn_head', 'roi_head']
    assert args.work_dir == 'work_dirs/fi_protocol_oriented-rcnn'
    assert ba.parse_args(['--fi-protocol', '--iters', '50']).iters == 50  # explicit values win
    plain = ba.parse_args([])
    assert (plain.warmup_iters, plain.warm_parts, plain.iters) == (0, ['backbone', 'neck', 'roi_head'], 600)
    for pipeline in ('rotated-faster-rcnn', 'oriented-rcnn'):  # every variant has a config that exists
        for v in ba.FI_VARIANTS:
            cfg = ba.PIPELINES[pipeline]['configs'][f'cfinet-{v}']
            assert (ROOT / cfg).is_file(), cfg


def test_paired_differences_and_fi_plot(tmp_path, capsys):
    """Per-seed differences to CRPN only (hand-computed), the FI regime lines and the PNG."""
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    plot = tmp_path / 'fi.png'
    args = ba.parse_args(['--fi-protocol', '--seeds', '0', '1', '2', '--plot', str(plot)])
    trace = [dict(iter=i, loss_fi=0.1, fi_exemplars=i, fi_iq_p90=0.3, fi_iq_max=0.5, fi_high_thr=0.65,
                  fi_anchors=10, fi_anchors_with_pos=i // 10) for i in (10, 20, 30)]
    results = [dict(model='crpn', seed=s, AP=0.3, AP_eS=v, AR_eS=0.4, AR=0.5) for s, v in enumerate((0.1, 0.2, 0.3))]
    results += [dict(model='cfinet', seed=s, AP=0.3, AP_eS=v, AR_eS=0.4, AR=0.5, fi_trace=trace,
                     iters_with_exemplars=1.0, anchors_with_pos_share=0.2, iq_p90_mean=0.3, iq_max_mean=0.5)
                for s, v in enumerate((0.2, 0.2, 0.5))]
    paired = ba.paired_differences(args, results, 'crpn')
    (ref, n, cells), = paired.values()
    assert ref == 'crpn' and n == 3  # d = .1 0 .2
    assert cells[1][0] == pytest.approx(0.1) and cells[1][1] == pytest.approx(0.1)
    ba.summarize(args, results)
    out = capsys.readouterr().out
    assert '| CFINet | CRPN only | 3 | +0.000 +- 0.000 | +0.100 +- 0.100 |' in out
    assert 'anchors with positives 0.200' in out
    assert out.strip().splitlines()[-1] == 'fi_protocol: ap_es_crpn=0.2000 ap_es_cfinet=0.3000 std_ap_es=0.1732'
    ba.plot_fi(args, results, str(plot))
    assert plot.is_file() and plot.stat().st_size > 10_000


def test_lever_models_pair_with_their_own_model():
    """Issue 23: every lever model has a config on disk; a lever or test view is paired with the model it modifies
    (hand-computed), the others with the protocol's reference; a test view names its source and test.py options."""
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    configs = ba.PIPELINES['rotated-faster-rcnn']['configs']
    for m in ('baseline', 'cfinet'):
        for v in list(ba.LEVERS) + list(ba.TEST_VIEWS):
            if (m, v) != ('cfinet', 'anchors'):
                assert (ROOT / configs[f'{m}-{v}']).is_file() and f'{m}-{v}' in ba.MODEL_NAMES
    assert configs['cfinet-tta'] == configs['cfinet']
    assert ba.test_view('cfinet-tta') == ('cfinet', ['--tta', '1', '1.5'])
    assert ba.test_view('cfinet-focal') is None and ba.lever_base('cfinet-focal') == 'cfinet'
    assert ba.lever_base('cfinet-small-anchors') is None and ba.lever_base('recon-no-adv') is None
    args = ba.parse_args(['--recon-protocol', '--models', 'baseline', 'cfinet', 'cfinet-focal', 'baseline-tta',
                          '--seeds', '0', '1'])
    row = dict(AP=0.3, AR_eS=0.4, AR=0.5)
    results = [dict(row, model=m, seed=s, AP_eS=v) for m, vals in
               (('baseline', (0.10, 0.20)), ('cfinet', (0.30, 0.30)), ('cfinet-focal', (0.40, 0.20)),
                ('baseline-tta', (0.15, 0.30))) for s, v in enumerate(vals)]
    paired = ba.paired_differences(args, results, 'baseline')
    assert paired['cfinet'][0] == 'baseline' and paired['cfinet'][2][1][0] == pytest.approx(0.15)
    assert paired['cfinet-focal'][0] == 'cfinet' and paired['cfinet-focal'][2][1][0] == pytest.approx(0.0)
    assert paired['cfinet-focal'][2][1][1] == pytest.approx(np.std([0.1, -0.1], ddof=1))
    assert paired['baseline-tta'][0] == 'baseline' and paired['baseline-tta'][2][1][0] == pytest.approx(0.075)


def test_recon_protocol_defaults_models_and_warm_start(tmp_path, capsys):
    """--recon-protocol: every arm continues one baseline warm-up; the reconstruction model takes over the whole
    baseline (RPN and box head included) and only G and D start fresh; the last line compares it to the baseline."""
    from mmengine.config import Config
    from mmrotate.registry import MODELS

    import cfinet_rotated  # noqa: F401
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    with pytest.raises(SystemExit):
        ba.parse_args(['--recon-protocol', '--fi-protocol'])
    args = ba.parse_args(['--recon-protocol', '--warmup-iters', '10'])
    assert args.models == ['baseline', 'recon', 'recon-no-recon-loss', 'recon-no-adv', 'recon-no-cls']
    assert (args.warmup_model, args.iters, args.work_dir) == ('baseline', 400, 'work_dirs/recon_protocol_'
                                                                               'rotated-faster-rcnn')
    for pipeline, spec in ba.PIPELINES.items():  # every reconstruction model of every pipeline has its config
        for m in ba.RECON_MODELS:
            assert (ROOT / spec['configs'][m]).is_file(), (pipeline, m)
    cfg = Config.fromfile(str(ROOT / ba.PIPELINES[args.pipeline]['configs']['baseline']))
    warm = {k: v + 1.0 if v.is_floating_point() else v for k, v in MODELS.build(cfg.model).state_dict().items()}
    torch.save(dict(state_dict=warm), tmp_path / 'warm.pth')
    keep = torch.load(ba.start_checkpoint(args, 'recon', str(tmp_path / 'warm.pth'), str(tmp_path)))['state_dict']
    assert set(keep) == set(warm)
    own = MODELS.build(Config.fromfile(str(ROOT / ba.PIPELINES[args.pipeline]['configs']['recon'])).model)
    fresh = [k for k in own.state_dict() if k not in keep]
    assert fresh and all(k.startswith(('roi_head.generator.', 'roi_head.discriminator.')) for k in fresh)
    n_roi = sum(k.startswith('roi_head.') for k in own.state_dict())
    assert f'roi_head {n_roi - len(fresh)}/{n_roi}' in capsys.readouterr().out
    results = [dict(model='baseline', seed=s, AP=0.3, AP_eS=v, AR_eS=0.4, AR=0.5) for s, v in enumerate((.1, .2, .3))]
    results += [dict(model='recon', seed=s, AP=0.3, AP_eS=v, AR_eS=0.4, AR=0.5) for s, v in enumerate((.2, .2, .5))]
    ba.summarize(args, results)
    out = capsys.readouterr().out
    assert '| reconstruction | baseline | 3 | +0.000 +- 0.000 | +0.100 +- 0.100 |' in out  # paired: d = .1 0 .2
    assert out.strip().splitlines()[-1] == 'recon_protocol: ap_es_baseline=0.2000 ap_es_recon=0.3000 std_ap_es=0.1732'


def test_training_data_root_is_set_through_dataset_wrappers():
    """The resampling lever wraps the training set in ClassBalancedDataset: the benchmark points the wrapped set at
    its data (train_dataloader.dataset.dataset.data_root), which a plain dataset.data_root did not (every
    baseline-balanced run failed with missing data/sample_split)."""
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    configs = ba.PIPELINES['rotated-faster-rcnn']['configs']
    assert ba.data_root_key(configs['baseline'], 'train_dataloader') == 'train_dataloader.dataset.data_root'
    for m in ('baseline-balanced', 'cfinet-balanced'):
        assert ba.data_root_key(configs[m], 'train_dataloader') == 'train_dataloader.dataset.dataset.data_root'
    args = ba.parse_args(['--recon-protocol', '--models', 'baseline-balanced'])
    cmd = ba._train_cmd(args, configs['baseline-balanced'], '/tmp/w', 0, 4, dict(train_split='/tmp/split'))
    assert 'train_dataloader.dataset.dataset.data_root=/tmp/split/' in cmd


def test_test_data_root_is_set_through_dataset_wrappers(tmp_path):
    """The held-out test set is pointed at through the same key search as the training set: a config whose test set
    is wrapped (RepeatDataset here) gets test_dataloader.dataset.dataset.data_root, a plain one dataset.data_root."""
    ba = load_tool('tools/analysis_tools/benchmark_accuracy.py')
    configs = ba.PIPELINES['rotated-faster-rcnn']['configs']
    assert ba.data_root_key(configs['baseline-balanced'], 'test_dataloader') == 'test_dataloader.dataset.data_root'
    cfg = tmp_path / 'wrapped_test.py'
    cfg.write_text("test_dataloader = dict(dataset=dict(type='RepeatDataset', times=2,\n"
                   "                                    dataset=dict(type='SODAADataset', data_root='x/')))\n")
    assert ba.data_root_key(str(cfg), 'test_dataloader') == 'test_dataloader.dataset.dataset.data_root'
