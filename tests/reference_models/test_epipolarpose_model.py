"""EpipolarPose network: backbone sizes, volumetric head shapes, integral soft-argmax values."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from reference_models.epipolarpose.model import (  # noqa: E402
    ModelConfig,
    build_model,
    count_parameters,
    soft_argmax_3d,
)
from reference_models.epipolarpose.resnet import ResNetBackbone  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.mark.parametrize("depth,expected", [(18, 11_176_512), (34, 21_284_672),
                                            (50, 23_508_032)])
def test_backbone_parameter_counts_match_torchvision_resnets_without_classifier(depth, expected):
    # torchvision's resnet18/34/50 have 11.69M / 21.80M / 25.56M parameters including the
    # 1000-way classifier (512*1000+1000 = 513,000 and 2048*1000+1000 = 2,049,000)
    assert count_parameters(ResNetBackbone(depth)) == expected


def test_peaked_volume_gives_its_voxel_centre():
    D, H, W, J = 4, 8, 8, 2
    logits = torch.full((1, J * D, H, W), -1e4)
    logits[0, 0 * D + 1, 2, 5] = 0.0   # joint 0 at d=1, y=2, x=5
    logits[0, 1 * D + 3, 7, 0] = 0.0   # joint 1 at d=3, y=7, x=0
    xyz = soft_argmax_3d(logits, D)[0]
    expected = torch.tensor([[(5.5 / W) - 0.5, (2.5 / H) - 0.5, (1.5 / D) - 0.5],
                             [(0.5 / W) - 0.5, (7.5 / H) - 0.5, (3.5 / D) - 0.5]])
    assert torch.allclose(xyz, expected, atol=1e-6)


def test_uniform_volume_gives_the_centre_and_two_peaks_their_mean():
    D, H, W = 4, 6, 6
    assert torch.allclose(soft_argmax_3d(torch.zeros(2, 3 * D, H, W), D), torch.zeros(2, 3, 3),
                          atol=1e-6)
    logits = torch.full((1, D, H, W), -1e4)
    logits[0, 0, 0, 0] = logits[0, 3, 5, 5] = 0.0
    assert torch.allclose(soft_argmax_3d(logits, D), torch.zeros(1, 1, 3), atol=1e-6)


@pytest.mark.parametrize("size,bins,heat", [(32, 8, 8), (64, 16, 16)])
def test_network_shapes_and_2d_branch_is_the_xy_of_the_volume(size, bins, heat):
    cfg = ModelConfig(depth=18, width=0.25, image_size=size, depth_bins=bins,
                      deconv_channels=16)
    torch.manual_seed(0)
    net = build_model(cfg).eval()
    x = torch.randn(2, 3, size, size)
    logits = net.heatmap_logits(x)
    assert logits.shape == (2, 17 * bins, heat, heat)
    pose = net(x)
    assert pose.shape == (2, 17, 3)
    assert pose.abs().max() <= 0.5
    assert torch.equal(net.pose_2d(x), pose[..., :2])


def test_same_seed_builds_identical_weights():
    cfg = ModelConfig(depth=18, width=0.25, image_size=32, depth_bins=8, deconv_channels=16)
    torch.manual_seed(3)
    a = build_model(cfg).state_dict()
    torch.manual_seed(3)
    b = build_model(cfg).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
