"""Masked regression losses on normalised crop coordinates (B, J, 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_pose_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                     kind: str = "smooth_l1", beta: float = 0.02) -> torch.Tensor:
    """Mean loss over the labelled coordinates.

    pred, target, weight (B, J, 3); weight 0 marks a coordinate without a label (2D-only data,
    a failed pseudo-label). kind: "smooth_l1" (Huber-like, quadratic below `beta` normalised
    units, the paper's loss), "l1" (integral regression's loss) or "l2" (0.5 * squared error,
    what the official code effectively uses). The denominator is the number of labelled
    coordinates in the batch (at least 1), so unlabelled coordinates never dilute the loss.
    """
    if kind == "smooth_l1":
        per = F.smooth_l1_loss(pred, target, reduction="none", beta=beta)
    elif kind == "l1":
        per = (pred - target).abs()
    elif kind == "l2":
        per = 0.5 * (pred - target) ** 2
    else:
        raise ValueError(f"unknown loss kind {kind!r}; use smooth_l1, l1 or l2")
    return (per * weight).sum() / weight.sum().clamp_min(1.0)
