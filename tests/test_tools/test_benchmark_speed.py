"""tools/analysis_tools/benchmark_speed.py without timing: the reconstruction models are built with both of their
optimizers at lr 0 (so every timed iteration sees the same weights) and their configs exist for every pipeline."""
from conftest import ROOT, load_tool


def test_reconstruction_models_train_at_lr_zero_with_both_optimizers():
    bs = load_tool('tools/analysis_tools/benchmark_speed.py')
    for pipeline, configs in bs.CONFIGS.items():
        for name in ('recon', 'crpn_recon', 'cfinet_recon'):
            assert (ROOT / configs[name]).is_file(), (pipeline, name)
    args = bs.parse_args(['--models', 'recon'])
    _, optim = bs.build(str(ROOT / bs.CONFIGS['rotated-faster-rcnn']['recon']), args)
    lrs = {k: [g['lr'] for g in w.optimizer.param_groups] for k, w in optim.items()}
    assert set(lrs) == {'detector', 'discriminator'} and all(lr == 0.0 for v in lrs.values() for lr in v)
    _, optim = bs.build(str(ROOT / bs.CONFIGS['rotated-faster-rcnn']['recon']), bs.parse_args(['--keep-lr']))
    assert optim['discriminator'].optimizer.param_groups[0]['lr'] == 1e-4
