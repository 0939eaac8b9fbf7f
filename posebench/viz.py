"""Figures: dataset sample grids (crops + 2D labels + 3D skeleton). matplotlib is imported
lazily, with the Agg backend, so importing posebench never pulls it in."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posebench.io import atomic_path
from posebench.skeletons import get_skeleton

LEFT_COLOUR, RIGHT_COLOUR, MID_COLOUR = "#ff3b30", "#2f7bff", "#ffd60a"


def _pyplot():
    import matplotlib  # lazy: heavy, only when plotting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: heavy

    return plt


def _bone_colour(skeleton, child: int) -> str:
    name = skeleton.names[child]
    return LEFT_COLOUR if name.startswith("l_") else RIGHT_COLOUR if name.startswith("r_") \
        else MID_COLOUR


def instants(ds, count: int, seed: int = 0, index: int | None = None) -> list[np.ndarray]:
    """Sample indices of `count` instants (same subject, action, subaction, frame), all views."""
    k = ds.keys
    inst = np.char.add(np.char.add(k.subject, "|"), np.char.add(k.action, "|"))
    inst = np.char.add(inst, np.char.add(k.subaction.astype(str), "|" ))
    inst = np.char.add(inst, k.frame.astype(str))
    uniq, inv = np.unique(inst, return_inverse=True)
    rng = np.random.default_rng(seed)
    picks = list(rng.choice(len(uniq), size=min(count, len(uniq)), replace=False))
    if index is not None:
        picks[0] = inv[index]
    return [np.flatnonzero(inv == p) for p in picks]


def sample_grid(ds, out: str | Path, index: int | None = None, seed: int = 0,
                rows: int = 3) -> Path:
    """Grid: per row one instant, its crops from every view with 2D labels (mapped through
    crop_affine) and bones drawn, and the 3D skeleton of the first view (camera frame mm)."""
    plt = _pyplot()
    sk = get_skeleton(ds.skeleton)
    groups = instants(ds, rows, seed, index)
    cols = max(len(g) for g in groups) + 1
    fig = plt.figure(figsize=(2.2 * cols, 2.3 * len(groups)))
    for r, g in enumerate(groups):
        for c, i in enumerate(g):
            ax = fig.add_subplot(len(groups), cols, r * cols + c + 1)
            uv = ds.poses_2d[i]
            if ds.crop_affine is not None:
                A = ds.crop_affine[i]
                uv = uv @ A[:, :2].T + A[:, 2]
            if ds.images is not None:
                ax.imshow(np.asarray(ds.images[i]), interpolation="nearest")
            else:
                ax.set_facecolor("black")
                ax.invert_yaxis()
            for p, ch in sk.bones:
                ax.plot(uv[[p, ch], 0], uv[[p, ch], 1], color=_bone_colour(sk, ch), lw=1.2)
            ax.scatter(uv[:, 0], uv[:, 1], s=4, c="white", zorder=3)
            ax.set_title(f"{ds.keys.subject[i]} {ds.keys.action[i]}\n"
                         f"cam {ds.keys.camera[i]} f{ds.keys.frame[i]}", fontsize=6)
            ax.set_xticks([])
            ax.set_yticks([])
        ax3 = fig.add_subplot(len(groups), cols, r * cols + cols, projection="3d")
        X = ds.poses_3d[g[0]]
        if np.isfinite(X).all():
            P = np.stack([X[:, 0], X[:, 2], -X[:, 1]], -1)  # camera frame -> x, depth, up
            for p, ch in sk.bones:
                ax3.plot(*P[[p, ch]].T, color=_bone_colour(sk, ch), lw=1.5)
            mid, half = P.mean(0), np.ptp(P, 0).max() / 2 + 50
            ax3.set_xlim(mid[0] - half, mid[0] + half)
            ax3.set_ylim(mid[1] - half, mid[1] + half)
            ax3.set_zlim(mid[2] - half, mid[2] + half)
            ax3.set_title("3D (camera of first view, mm)", fontsize=6)
        else:
            ax3.set_title("no 3D (2D-only split)", fontsize=6)
        ax3.tick_params(labelsize=4)
    fig.suptitle(f"{ds.name} / {ds.split}: left limbs red, right limbs blue", fontsize=8)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out, suffix=out.suffix) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return out


def prediction_overlay(pred: np.ndarray, gt: np.ndarray, skeleton, titles: list[str],
                       out: str | Path, count: int = 3) -> dict:
    """Predictions over ground truth: 3D overlays of `count` samples (best, median, worst by
    MPJPE) and the per-joint mean error of all samples, so a left/right or order mix-up shows.

    pred, gt  (N, J, 3) mm, root-centred, camera frame, in `skeleton`'s joint order
    titles    (N,) sample descriptions
    Returns {"path", "per_joint_mm" {joint: mm}, "shown" [indices], "axis_labels" [...]}.
    """
    plt = _pyplot()
    err = np.linalg.norm(pred - gt, axis=-1)                # (N, J) mm
    per_sample = err.mean(axis=1)
    order = np.argsort(per_sample, kind="stable")
    picks = list(dict.fromkeys([int(order[0]), int(order[len(order) // 2]), int(order[-1])]))
    picks = picks[:max(1, count)]
    fig = plt.figure(figsize=(3.6 * (len(picks) + 1), 3.8))
    labels = []
    for c, i in enumerate(picks):
        ax = fig.add_subplot(1, len(picks) + 1, c + 1, projection="3d")
        for X, style, name in ((gt[i], "-", "ground truth"), (pred[i], "--", "prediction")):
            P = np.stack([X[:, 0], X[:, 2], -X[:, 1]], -1)   # camera frame -> x, depth, up
            for k, (p, ch) in enumerate(skeleton.bones):
                ax.plot(*P[[p, ch]].T, style, color=_bone_colour(skeleton, ch), lw=1.4,
                        label=name if k == 0 else None)
        both = np.concatenate([gt[i], pred[i]])
        P = np.stack([both[:, 0], both[:, 2], -both[:, 1]], -1)
        mid, half = P.mean(0), np.ptp(P, 0).max() / 2 + 50
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] - half, mid[1] + half)
        ax.set_zlim(mid[2] - half, mid[2] + half)
        ax.set_box_aspect((1, 1, 1))                          # aspect kept: equal mm per axis
        ax.set_xlabel("x (mm)", fontsize=6)
        ax.set_ylabel("depth z (mm)", fontsize=6)
        ax.set_zlabel("up -y (mm)", fontsize=6)
        ax.tick_params(labelsize=4)
        ax.set_title(f"{titles[i]}\nMPJPE {per_sample[i]:.1f} mm", fontsize=6)
        labels.append((ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()))
        if c == 0:
            ax.legend(fontsize=5, loc="upper left")
    axb = fig.add_subplot(1, len(picks) + 1, len(picks) + 1)
    means = err.mean(axis=0)
    colours = [_bone_colour(skeleton, j) for j in range(skeleton.num_joints)]
    axb.barh(np.arange(len(means)), means, color=colours)
    axb.set_yticks(np.arange(len(means)), skeleton.names, fontsize=5)
    axb.invert_yaxis()
    axb.set_xlabel("mean error (mm)", fontsize=6)
    axb.set_title(f"per-joint error, {len(pred)} samples", fontsize=6)
    axb.tick_params(axis="x", labelsize=5)
    labels.append((axb.get_xlabel(), "joint"))
    fig.suptitle("prediction (dashed) over ground truth (solid); left limbs red, right blue",
                 fontsize=8)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out, suffix=out.suffix) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return {"path": out, "per_joint_mm": dict(zip(skeleton.names, map(float, means))),
            "shown": picks, "axis_labels": labels}
