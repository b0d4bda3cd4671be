"""The modules of the generative-discriminative reconstruction (issue 21): G and D shapes, the LR/HR features, and
every loss of the slides against hand-computed values."""
import math

import pytest
import torch

from cfinet_rotated.models.reconstruction import (
    AdversarialLoss,
    DiscriminatorLoss,
    DownsampledRoIFeatures,
    FeatureDiscriminator,
    ReconstructionMSELoss,
    SRClassificationLoss,
    SRGenerator,
    SRRegressionLoss,
    TotalVariationLoss,
)

LN2, LN3 = math.log(2.0), math.log(3.0)


# ---------------------------------------------------------------------------------------------------------- G and D
@pytest.mark.parametrize('upscale', [2, 4])
@pytest.mark.parametrize('down', ['avg', 'conv'])
def test_generator_shapes_and_identity_start(upscale, down):
    torch.manual_seed(0)
    g = SRGenerator(in_channels=32, mid_channels=8, num_blocks=2, upscale=upscale, down=down)
    z = torch.randn(5, 32, 7, 7)
    # sub-pixel upsampling: the fine grid is r times the RoI grid
    assert g.super_resolve(z).shape == (5, 8, 7 * upscale, 7 * upscale)
    assert isinstance(g.upsample[1], torch.nn.PixelShuffle) and g.upsample[1].upscale_factor == upscale
    # zero tail: G starts as the identity, also after init_weights
    g.init_weights()
    assert torch.equal(g(z), z)
    torch.nn.init.normal_(g.tail.weight)
    out = g(z)
    assert out.shape == z.shape and not torch.allclose(out, z)
    assert g(z[:0]).shape == (0, 32, 7, 7)
    # the channels-last forward computes the steps of the docstring, in the standard layout, and returns that layout
    ref = z + g.tail(g.down(torch.relu(g.hr_convs[0](g.upsample(g.blocks(g.head(z)))))))
    assert out.is_contiguous() and torch.allclose(out, ref, atol=1e-5)


@pytest.mark.parametrize('upscale', [2, 4])
def test_generator_without_fine_grid_convs_equals_the_pixel_shuffle_path(upscale):
    """num_hr_convs=0 with average pooling skips the fine grid: the same values as PixelShuffle -> ReLU ->
    r x r average pooling, by hand."""
    torch.manual_seed(0)
    g = SRGenerator(in_channels=16, mid_channels=4, num_blocks=1, upscale=upscale, num_hr_convs=0)
    torch.nn.init.normal_(g.tail.weight)
    z = torch.randn(6, 16, 7, 7)
    assert len(g.hr_convs) == 0 and g.super_resolve(z).shape == (6, 4, 7 * upscale, 7 * upscale)
    y = g.upsample[0](g.blocks(g.head(z)))
    fine = torch.relu(torch.nn.functional.pixel_shuffle(y, upscale))
    ref = z + g.tail(torch.nn.functional.avg_pool2d(fine, upscale))
    assert torch.allclose(g(z), ref, atol=1e-5)
    conv = SRGenerator(in_channels=16, mid_channels=4, num_blocks=1, upscale=upscale, num_hr_convs=0, down='conv')
    assert conv(z).shape == z.shape  # the learned downsampling still runs on the fine grid


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match='upscale'):
        SRGenerator(upscale=1)
    with pytest.raises(ValueError, match='down'):
        SRGenerator(down='max')
    with pytest.raises(ValueError, match='num_hr_convs'):
        SRGenerator(num_hr_convs=-1)


def test_discriminator_gives_one_logit_per_roi():
    torch.manual_seed(0)
    d = FeatureDiscriminator(in_channels=32, mid_channels=16, num_convs=3)
    assert d(torch.randn(6, 32, 7, 7)).shape == (6, )
    assert d(torch.randn(0, 32, 7, 7)).shape == (0, )


# ----------------------------------------------------------------------------------------------------- LR/HR pairs
def _ramp(n_levels=1, size=64, stride=4, a=0.5, b=-0.25, c=3.0):
    """One-image FPN maps holding the linear function a*x + b*y + c of the image coordinates of each cell centre."""
    maps = []
    for lvl in range(n_levels):
        s = stride * 2 ** lvl
        n = size // 2 ** lvl
        ys, xs = torch.meshgrid((torch.arange(n) + 0.5) * s, (torch.arange(n) + 0.5) * s, indexing='ij')
        maps.append((a * xs + b * ys + c).expand(1, 2, n, n).clone())
    return maps


@pytest.mark.parametrize('rotated', [False, True])
@pytest.mark.parametrize('factor', [2, 4])
def test_lr_features_sample_the_same_place_on_a_coarser_grid(rotated, factor):
    """Average pooling keeps a linear function (the mean of a cell is its centre value) and bilinear RoIAlign
    reproduces it, so on a linear ramp z_LR equals z_HR exactly: the RoI is sampled at the same image positions,
    the coordinates of the downsampled maps are aligned with the original ones."""
    if rotated:
        extractor = dict(type='RotatedSingleRoIExtractor', out_channels=2, featmap_strides=[4],
                         roi_layer=dict(type='RoIAlignRotated', out_size=7, sample_num=2, clockwise=True))
        rois = torch.tensor([[0., 120., 130., 40., 24., 0.4]])
    else:
        extractor = dict(type='mmdet.SingleRoIExtractor', out_channels=2, featmap_strides=[4],
                         roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2))
        rois = torch.tensor([[0., 90., 100., 150., 140.]])
    from mmrotate.registry import MODELS
    hr = MODELS.build(extractor)(_ramp(), rois)
    lr_feats = DownsampledRoIFeatures(extractor, factor=factor)
    assert lr_feats.extractor.featmap_strides == [4 * factor]
    lr = lr_feats(_ramp(), rois)
    assert lr.shape == hr.shape == (1, 2, 7, 7)
    assert torch.allclose(lr, hr, atol=1e-4)
    # on a non-linear map the two differ (the LR copy has lost detail) and no gradient flows into the maps
    maps = [torch.randn(1, 2, 64, 64, requires_grad=True)]
    lr = lr_feats(maps, rois)
    assert not torch.allclose(lr, MODELS.build(extractor)(maps, rois), atol=1e-2)
    assert not lr.requires_grad


# ----------------------------------------------------------------------------------------------------------- losses
def test_adversarial_loss_hand_values():
    # D = sigmoid(logit): 0.5 and 0.75; log(1 - D) = ln 0.5, ln 0.25 -> mean -(ln 2 + 2 ln 2) / 2 = -1.5 ln 2
    logits = torch.tensor([0.0, LN3])
    assert AdversarialLoss(loss_weight=0.5)(logits).item() == pytest.approx(0.5 * -1.5 * LN2, abs=1e-6)
    # non-saturating: -log D = ln 2, -ln 0.75 -> mean
    assert AdversarialLoss(non_saturating=True)(logits).item() == pytest.approx(
        (LN2 - math.log(0.75)) / 2, abs=1e-6)
    # G's gradient pushes D(G(z)) up: d/dlogit of log(1 - sigmoid(l)) = -sigmoid(l) < 0
    logits.requires_grad_(True)
    AdversarialLoss()(logits).backward()
    assert logits.grad.tolist() == pytest.approx([-0.5 / 2, -0.75 / 2], abs=1e-6)
    empty = torch.zeros(0, requires_grad=True)
    assert AdversarialLoss()(empty).item() == 0.0


def test_discriminator_loss_hand_values():
    real = torch.tensor([LN3])  # D = 0.75: -ln 0.75
    fake = torch.tensor([0.0, LN3])  # D = 0.5, 0.75: -log(1 - D) = ln 2, ln 4 -> mean 1.5 ln 2
    assert DiscriminatorLoss()(real, fake).item() == pytest.approx(-math.log(0.75) + 1.5 * LN2, abs=1e-6)
    assert DiscriminatorLoss(fake_weight=0.5)(real, fake).item() == pytest.approx(
        -math.log(0.75) + 0.5 * 1.5 * LN2, abs=1e-6)
    assert DiscriminatorLoss()(real[:0], fake[:0]).item() == 0.0


def test_mse_loss_hand_values():
    # pair 1: sr (1, 2) vs hr (0, 0): squared norm 5; pair 2: sr (3, 3) vs hr (1, 1): 8
    sr = torch.tensor([[1., 2.], [3., 3.]]).view(2, 1, 1, 2)
    hr = torch.tensor([[0., 0.], [1., 1.]]).view(2, 1, 1, 2)
    assert ReconstructionMSELoss(reduction='sum')(sr, hr).item() == pytest.approx(6.5)  # (5 + 8) / 2, the slides
    assert ReconstructionMSELoss(reduction='mean')(sr, hr).item() == pytest.approx(3.25)  # / 2 elements per pair
    assert ReconstructionMSELoss(loss_weight=2.0, reduction='mean')(sr, hr).item() == pytest.approx(6.5)
    with pytest.raises(ValueError, match='reduction'):
        ReconstructionMSELoss(reduction='none')


def test_total_variation_loss_hand_values():
    # RoI 1, channel 0 = [[0, 3], [4, 0]], channel 1 constant (no gradient):
    #   forward differences along x: [[3, 0], [-4, 0]], along y: [[4, -3], [0, 0]]
    #   per-pixel norms over (dx, dy) of all channels: sqrt(9 + 16) = 5, sqrt(0 + 9) = 3, sqrt(16 + 0) = 4, 0
    #   -> mean over the 2 x 2 grid 12 / 4 = 3; RoI 2 all zero -> 0; mean over the two RoIs 1.5
    sr = torch.zeros(2, 2, 2, 2)
    sr[0, 0] = torch.tensor([[0., 3.], [4., 0.]])
    sr[0, 1] = 7.0
    loss = TotalVariationLoss(eps=1e-12)
    assert loss(sr).item() == pytest.approx(1.5, abs=1e-5)
    assert TotalVariationLoss(loss_weight=2.0, eps=1e-12)(sr).item() == pytest.approx(3.0, abs=1e-5)
    # finite gradient where the map is flat
    sr.requires_grad_(True)
    TotalVariationLoss()(sr).backward()
    assert torch.isfinite(sr.grad).all()


def test_sr_classification_loss_hand_values():
    # 2 classes + background (label 2). pair 1, label 0: softmax(0, 0, 0)[0] = 1/3 on G(z_LR), softmax(ln 2, 0, 0)[0]
    # = 1/2 on z_HR; pair 2, label 2 (background): softmax(0, 0, ln 2)[2] = 1/2 and 1/3
    sr = torch.tensor([[0., 0., 0.], [0., 0., LN2]])
    hr = torch.tensor([[LN2, 0., 0.], [0., 0., 0.]])
    labels = torch.tensor([0, 2])
    per_pair = LN3 + LN2  # -ln(1/3) - ln(1/2)
    assert SRClassificationLoss(loss_weight=0.1)(sr, hr, labels).item() == pytest.approx(0.1 * per_pair, abs=1e-6)
    assert SRClassificationLoss()(sr[:0], hr[:0], labels[:0]).item() == 0.0


def test_sr_regression_loss_hand_values():
    # smooth L1, beta 1: |0.5| -> 0.5 * 0.25 = 0.125, |2| -> 2 - 0.5 = 1.5; pair 2 is background ([u >= 1] = 0);
    # sum 1.625 / m = 2 pairs -> 0.8125, times gamma = 2
    pred = torch.tensor([[0.5, -2.0], [1.0, 1.0]])
    target = torch.zeros(2, 2)
    fg = torch.tensor([True, False])
    assert SRRegressionLoss(loss_weight=2.0)(pred, target, fg).item() == pytest.approx(1.625)
    # beta 0.5: 0.5 * 0.25 / 0.5 = 0.25 and 2 - 0.25 = 1.75 -> 2.0 / 2
    assert SRRegressionLoss(beta=0.5)(pred, target, fg).item() == pytest.approx(1.0)
    assert SRRegressionLoss()(pred[:0], target[:0], fg[:0]).item() == 0.0
