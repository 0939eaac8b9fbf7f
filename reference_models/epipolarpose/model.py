"""The EpipolarPose pose network: ResNet -> 3 deconvolutions -> volumetric heatmaps -> soft-argmax.

Output coordinates are *normalised crop coordinates* (see `data.py` for the depth
representation): x_n, y_n in [-0.5, 0.5] span the crop's width / height (pixel centre i of a
W-wide heatmap sits at (i + 0.5) / W - 0.5), z_n in [-0.5, 0.5] spans a depth range of one crop
width around the root (z_n = depth offset from the root in crop pixels / crop size).

The integral soft-argmax takes one softmax over the whole (D, H, W) volume of each joint; the
3D pose is its expectation, and the 2D pose (the frozen "lower branch") is the expectation of
the x, y marginals of the same distribution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from reference_models.epipolarpose.resnet import ResNetBackbone


@dataclass
class ModelConfig:
    """Every number-changing knob of the network.

    depth: ResNet depth (18/34/50); width: channel multiplier of the backbone; image_size: crop
    side S px; num_joints: J; depth_bins: D (volume depth); deconv_channels / deconv_kernel:
    the three deconvolution layers; stem_pool: keep the stem max-pool (stride 32 backbone).
    """

    depth: int = 50
    width: float = 1.0
    image_size: int = 256
    num_joints: int = 17
    depth_bins: int = 64
    deconv_channels: int = 256
    deconv_kernel: int = 4
    stem_pool: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def soft_argmax_3d(logits: torch.Tensor, depth_bins: int) -> torch.Tensor:
    """Integral soft-argmax over whole volumes.

    logits (B, J*D, H, W) -> (B, J, 3) normalised (x_n, y_n, z_n), each in [-0.5, 0.5].
    """
    b, jd, h, w = logits.shape
    j = jd // depth_bins
    prob = torch.softmax(logits.reshape(b, j, -1), dim=-1).reshape(b, j, depth_bins, h, w)
    px = prob.sum(dim=(2, 3))  # (B, J, W)
    py = prob.sum(dim=(2, 4))  # (B, J, H)
    pz = prob.sum(dim=(3, 4))  # (B, J, D)

    def grid(n: int) -> torch.Tensor:
        return (torch.arange(n, dtype=logits.dtype, device=logits.device) + 0.5) / n - 0.5

    return torch.stack([(px * grid(w)).sum(-1), (py * grid(h)).sum(-1),
                        (pz * grid(depth_bins)).sum(-1)], dim=-1)


class PoseNet(nn.Module):
    """Images (B, 3, S, S) float (normalised) -> poses (B, J, 3) normalised crop coordinates."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = ResNetBackbone(cfg.depth, cfg.width, cfg.stem_pool)
        layers, c_in = [], self.backbone.out_channels
        pad = (cfg.deconv_kernel - 2) // 2
        out_pad = cfg.deconv_kernel % 2
        for _ in range(3):
            layers += [nn.ConvTranspose2d(c_in, cfg.deconv_channels, cfg.deconv_kernel, 2, pad,
                                          out_pad, bias=False),
                       nn.BatchNorm2d(cfg.deconv_channels), nn.ReLU(inplace=True)]
            c_in = cfg.deconv_channels
        self.deconv = nn.Sequential(*layers)
        self.final = nn.Conv2d(c_in, cfg.num_joints * cfg.depth_bins, 1)
        for m in self.deconv.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)

    def heatmap_logits(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, J*D, S/stride*8, S/stride*8) volumetric logits."""
        return self.final(self.deconv(self.backbone(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return soft_argmax_3d(self.heatmap_logits(images), self.cfg.depth_bins)

    def pose_2d(self, images: torch.Tensor) -> torch.Tensor:
        """The 2D branch: (B, J, 2) normalised x_n, y_n (x, y marginals of the same volume)."""
        return self.forward(images)[..., :2]


def build_model(cfg: ModelConfig | dict) -> PoseNet:
    if isinstance(cfg, dict):
        cfg = ModelConfig(**cfg)
    return PoseNet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
