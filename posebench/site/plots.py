"""The site's figures as small SVG files (matplotlib, Agg backend, text kept as text)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib  # lazy: heavy, only when plotting

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # lazy: heavy

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 8, "svg.hashsalt": "posebench"})
    return plt


def _save(fig, path: Path) -> Path:
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    return path


def scatter(points: list[dict], x: str, y: str, path: Path) -> Path:
    """`y` vs `x` per method with 95% interval bars. points: {name, x, y, x_ci, y_ci}."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, p in enumerate(points):
        xe = None if p["x_ci"] is None else [[p["x"] - p["x_ci"][0]], [p["x_ci"][1] - p["x"]]]
        ye = None if p["y_ci"] is None else [[p["y"] - p["y_ci"][0]], [p["y_ci"][1] - p["y"]]]
        ax.errorbar(p["x"], p["y"], xerr=xe, yerr=ye, fmt="o", ms=4, capsize=2,
                    color=f"C{i % 10}")
        ax.annotate(p["name"], (p["x"], p["y"]), textcoords="offset points", xytext=(4, 3),
                    fontsize=6)
    ax.set_xlabel(f"{x} (mm, lower is better)")
    ax.set_ylabel(f"{y} (higher is better)")
    ax.grid(alpha=0.3)
    ax.set_title(f"{y} vs {x}: equal error, different structure")
    return _save(fig, path)


def action_bars(table: dict[str, dict[str, float]], metric: str, path: Path,
                title: str) -> Path:
    """Grouped bars: one group per action, one bar per method. table: method -> action -> v."""
    plt = _plt()
    methods = list(table)
    actions = sorted({a for t in table.values() for a in t})
    fig, ax = plt.subplots(figsize=(max(6.4, 0.45 * len(actions) * max(1, len(methods)) ** 0.5),
                                    3.6))
    width = 0.8 / max(len(methods), 1)
    xs = np.arange(len(actions))
    for i, m in enumerate(methods):
        vals = [table[m].get(a, np.nan) for a in actions]
        ax.bar(xs + i * width - 0.4 + width / 2, vals, width, label=m, color=f"C{i % 10}")
    ax.set_xticks(xs)
    ax.set_xticklabels(actions, rotation=45, ha="right")
    ax.set_ylabel(metric)
    ax.set_title(title)
    if 1 < len(methods) <= 12:
        ax.legend(fontsize=6, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def joint_heatmap(rows: dict[str, dict[str, float]], path: Path) -> Path:
    """Methods x joints MPJPE heat map (mm). rows: method -> joint -> mm."""
    plt = _plt()
    methods = list(rows)
    joints = list(dict.fromkeys(j for r in rows.values() for j in r))
    grid = np.array([[rows[m].get(j, np.nan) for j in joints] for m in methods])
    fig, ax = plt.subplots(figsize=(max(6.4, 0.4 * len(joints)), 0.35 * len(methods) + 1.6))
    im = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(joints)))
    ax.set_xticklabels(joints, rotation=60, ha="right")
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods)
    fig.colorbar(im, ax=ax, label="MPJPE (mm)")
    ax.set_title("per-joint error")
    return _save(fig, path)


def skeleton_gallery(centres: np.ndarray, bones, captions: list[str], path: Path,
                     cols: int = 10) -> Path:
    """Small multiples of cluster centres (K, J, 3), front view (x right, y down)."""
    plt = _plt()
    k = len(centres)
    cols = max(1, min(cols, k))
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.25), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if i >= k:
            continue
        c = centres[i]
        for a, b in bones:
            ax.plot(c[[a, b], 0], c[[a, b], 1], color="C0" if a % 2 else "C3", lw=1.2)
        ax.scatter(c[:, 0], c[:, 1], s=2, color="k")
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.set_title(captions[i], fontsize=5)
    return _save(fig, path)
