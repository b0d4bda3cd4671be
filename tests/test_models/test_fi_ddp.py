"""Two CPU processes (gloo): the exemplar set is identical on both ranks after a push / a training step."""
import socket

import torch
import torch.distributed as tdist
import torch.multiprocessing as mp


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    tdist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    try:
        from cfinet_rotated.models.fi import ExemplarSet
        es = ExemplarSet(num_classes=3, capacity=4, feat_shape=(1, 1, 1))
        # step 1: rank 0 has two class-0 exemplars, rank 1 one class-2 exemplar
        if rank == 0:
            es.push(torch.tensor([1., 2.]).view(2, 1, 1, 1), torch.tensor([0, 0]))
        else:
            es.push(torch.tensor([11.]).view(1, 1, 1, 1), torch.tensor([2]))
        # step 2: rank 0 has none, rank 1 three of class 0
        if rank == 0:
            es.push(torch.zeros(0, 1, 1, 1), torch.zeros(0, dtype=torch.long))
        else:
            es.push(torch.tensor([12., 13., 14.]).view(3, 1, 1, 1), torch.tensor([0, 0, 0]))
        # a training step of FIRoIHead on rank-specific data; a spawned process runs no pytest fixture, so it sets
        # MMRotate's registry scope itself (conftest's autouse fixture does it for the tests)
        from mmengine.registry import init_default_scope
        from test_fi_roi_head import build_head, every_gt_is_exemplar, make_batch
        init_default_scope('mmrotate')
        torch.manual_seed(0)
        head = build_head()
        every_gt_is_exemplar(head)
        x, rpn, samples = make_batch(seed=rank)
        head.loss(x, rpn, samples)['loss_fi'].backward()
        torch.save(dict(es=es.state_dict(), head=head.exemplar_set.state_dict()), f'{out_dir}/rank{rank}.pt')
    finally:
        tdist.destroy_process_group()


def test_exemplar_set_is_synchronised_across_two_ranks(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pt')
    r1 = torch.load(tmp_path / 'rank1.pt')
    for part in ('es', 'head'):
        for key in r0[part]:
            assert torch.equal(r0[part][key], r1[part][key]), (part, key)
    es = r0['es']
    # class 0: [1, 2] (rank 0, step 1) then [12, 13, 14] (rank 1, step 2) -> newest 4 = 2, 12, 13, 14
    assert es['count'].tolist() == [4, 0, 1]
    assert sorted(es['feats'][0].flatten().tolist()) == [2., 12., 13., 14.]
    assert es['feats'][2, 0].item() == 11.
    # head step: both ranks pushed their gts (rank data differ), all gathered: 2 images x 3 gts per rank
    assert r0['head']['count'].sum().item() == 6
