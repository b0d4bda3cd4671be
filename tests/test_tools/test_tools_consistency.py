"""The tools agree with each other and prepare what they need: one set of option names for both evaluation tools
(old spellings kept), SODA-D metrics in plot_size_ap, the sample split made on demand, slurm launchers that drive
the same entry points, TensorBoard as an optional visualizer backend, and the full configs' checkpoint policy."""
import json
import os
import stat

import pytest
from mmengine.config import Config

from cfinet_rotated import sample_data
from cfinet_rotated.evaluation.plot import load_metrics
from cfinet_rotated.utils import apply_tensorboard

from conftest import ROOT, data_options, load_tool, run_tool

SODAD_STATS = dict(AP=0.2, AP50=0.4, AP75=0.1, AP_eS=0.05, AP_rS=0.15, AP_gS=0.3, AP_N=None, AR_100=0.3,
                   AR_300=0.32, AR_1000=0.33, AR_eS=0.1, AR_rS=0.3, AR_gS=0.4, AR_N=None)


@pytest.mark.parametrize('tool, old, new', [
    ('tools/analysis_tools/eval_sodaa.py', ['--ann-dir', 'A', '--dota-dir', 'D'], ['--ann', 'A', '--merged-out', 'D']),
    ('tools/analysis_tools/eval_sodad.py', ['--ann-file', 'A', '--coco-out', 'D'], ['--ann', 'A', '--merged-out', 'D']),
])
def test_eval_tools_share_option_names_and_keep_the_old_ones(tool, old, new):
    mod = load_tool(tool)
    for argv in (old, new):
        args = mod.parse_args([*argv, '--pred', 'P', '--plot', 'x.png', '--nproc', '1'])
        assert (args.ann, args.merged_out, args.pred, args.plot, args.nproc) == ('A', 'D', 'P', 'x.png', 1)
        assert (args.out, args.nms_iou_thr, args.merge_device) == (None, 0.5, 'cpu')


def test_plot_size_ap_reads_sodad_metrics(tmp_path, run_main):
    sodad, sodaa = tmp_path / 'cfinet' / 'metrics.json', tmp_path / 'base' / 'metrics.json'
    for p, d in ((sodad, SODAD_STATS), (sodaa, dict(AP=0.1, AP_eS=0.0, AP_rS=0.1, AP_gS=0.2, AP_N=0.3, AR=0.2,
                                                    AR_eS=0.1, AR_rS=0.2, AR_gS=0.3, AR_N=0.4))):
        p.parent.mkdir()
        p.write_text(json.dumps(d))
    m = load_metrics(sodad)
    assert m['AR'] == 0.33 and m['dataset'] == 'SODA-D'  # AR over Small at the subsets' 1000 detections
    r = run_main('tools/analysis_tools/plot_size_ap.py', sodad, sodaa, '--out', tmp_path / 'p.png')
    assert r.returncode == 0 and (tmp_path / 'p.png').stat().st_size > 1000, r.stderr
    assert 'cfinet: AP=0.200' in r.stdout and 'AP_N=n/a' in r.stdout
    (tmp_path / 'bad.json').write_text(json.dumps(dict(AP=0.1)))
    r = run_main('tools/analysis_tools/plot_size_ap.py', tmp_path / 'bad.json', '--out', tmp_path / 'q.png')
    assert r.returncode == 2 and 'not a SODA-A or SODA-D metrics file' in r.stderr


def test_sample_split_is_made_on_demand(tmp_path, monkeypatch):
    split = tmp_path / 'split'
    assert sample_data.ensure_sodaa_sample_split(split=str(split)) == str(split)
    assert len(list((split / 'Annotations').glob('*.json'))) > 0
    mtime = (split / 'Annotations').stat().st_mtime_ns
    sample_data.ensure_sodaa_sample_split(split=str(split))  # present: not split again
    assert (split / 'Annotations').stat().st_mtime_ns == mtime
    with pytest.raises(FileNotFoundError, match='make_sample.py'):
        sample_data.ensure_sodaa_sample_split(raw=str(tmp_path / 'none'), split=str(tmp_path / 's2'))
    # which configs need which split (the tools call this before anything else)
    calls = []
    monkeypatch.setattr(sample_data, 'ensure_sodaa_sample_split', lambda: calls.append('a') or 'A')
    monkeypatch.setattr(sample_data, 'ensure_sodad_sample_split', lambda: calls.append('d') or 'D')
    tiny = Config.fromfile(ROOT / 'configs/crpn/rotated-faster-rcnn_crpn_tiny_sample.py')
    assert sample_data.prepare_sample_data(tiny) == ['A']
    assert sample_data.prepare_sample_data(Config.fromfile(ROOT / 'configs/sodad/faster-rcnn_tiny_sample.py')) == ['D']
    full = Config.fromfile(ROOT / 'configs/baselines/rotated-faster-rcnn_r50_fpn_1x_sodaa.py')
    assert sample_data.prepare_sample_data(full) == []


@pytest.mark.parametrize('script, args, expect', [
    ('tools/slurm_train.sh', ['CONFIG.py', 'work_dirs/w', '--auto-scale-lr'],
     ['tools/train.py CONFIG.py --work-dir=work_dirs/w --launcher=slurm --auto-scale-lr']),
    ('tools/slurm_test.sh', ['CONFIG.py', 'ck.pth', '--out', 'r.pkl'],
     ['tools/test.py CONFIG.py ck.pth --launcher=slurm --out r.pkl']),
])
def test_slurm_scripts_drive_the_entry_points(script, args, expect, tmp_path):
    """A stand-in ``srun`` records its command line: MMRotate's srun options, then our entry point with
    --launcher=slurm and the remaining options."""
    srun = tmp_path / 'srun'
    srun.write_text('#!/usr/bin/env bash\necho "$@" > "$SRUN_LOG"\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / 'srun.log'
    env = {'PATH': f'{tmp_path}:{os.environ["PATH"]}', 'SRUN_LOG': str(log), 'GPUS': '16', 'GPUS_PER_NODE': '8',
           'SRUN_ARGS': '--time=48:00:00'}
    run_tool(script, 'gpu', 'job1', *args, env=env, timeout=60)
    line = log.read_text()
    for part in ['-p gpu', '--job-name=job1', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
                 '--cpus-per-task=5', '--kill-on-bad-exit=1', '--time=48:00:00', *expect]:
        assert part in line, line
    proc = run_tool(script, 'gpu', check=False, timeout=60)
    assert proc.returncode == 2 and 'PARTITION' in proc.stdout


def test_full_configs_keep_three_checkpoints_and_tensorboard_is_off():
    for path in ('configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py',
                 'configs/cfinet/oriented-rcnn_r50_fpn_cfinet_1x_sodaa.py',
                 'configs/baselines/rotated-faster-rcnn_r50_fpn_1x_sodaa.py',
                 'configs/sodad/faster-rcnn_r50_fpn_cfinet_1x_sodad.py',
                 'configs/sodad/faster-rcnn_r50_fpn_1x_sodad.py'):
        cfg = Config.fromfile(ROOT / path)
        ckpt = cfg.default_hooks.checkpoint
        assert (ckpt.type, ckpt.interval, ckpt.max_keep_ckpts) == ('CheckpointHook', 1, 3), path
        assert cfg.tensorboard is False
        before = [b.type for b in cfg.visualizer.vis_backends]
        assert not apply_tensorboard(cfg) and [b.type for b in cfg.visualizer.vis_backends] == before


@pytest.mark.slow
def test_tensorboard_flag_writes_event_files(tmp_path, sample_split):
    pytest.importorskip('tensorboard', reason='tensorboard is optional (requirements/optional.txt)')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run_tool('tools/train.py', 'configs/baselines/rotated-faster-rcnn_tiny_sample.py', '--work-dir', tmp_path,
             '--cfg-options', 'tensorboard=True', 'train_cfg.max_iters=2', 'default_hooks.logger.interval=1',
             'default_hooks.checkpoint.interval=2', *data_options(sample_split), timeout=600)
    events = list(tmp_path.glob('*/vis_data/events.out.tfevents.*'))
    assert events, sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob('*'))
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert 'loss' in acc.Tags()['scalars'] and len(acc.Scalars('loss')) == 2
