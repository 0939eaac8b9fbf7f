"""A tiny MPII folder in mmpose's layout (synthetic JPEGs + annotation JSON) for tests.

Each person is 16 joints at integer 0-based px around its centre; the JSON stores them 1-based
(MATLAB, as MPII's files do). Every image is grey with a red disc at each person's head_top
(MPII joint 9) and a blue disc at its r_ankle (joint 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# joint offsets from the person centre (px), MPII order; a standing figure ~100 px tall
OFFSETS = np.array([[-8, 45], [-8, 25], [-8, 5], [8, 5], [8, 25], [8, 45], [0, 5], [0, -25],
                    [0, -32], [0, -45], [-22, 0], [-16, -12], [-10, -25], [10, -25], [16, -12],
                    [22, 0]])
BACKGROUND = (100, 100, 100)
RED, BLUE = (230, 20, 20), (20, 20, 230)
DISC_RADIUS = 4

# image name -> (width, height, [(centre x, centre y, scale, invisible joints), ...])
TRAIN = {"000000001.jpg": (160, 140, [(80, 70, 0.6, (1,))]),
         "000000002.jpg": (240, 150, [(60, 75, 0.5, ()), (180, 72, 0.55, (4, 14))])}
VAL = {"000000003.jpg": (130, 170, [(64, 90, 0.65, ())])}


def _person(cx, cy, scale, invisible):
    joints = OFFSETS + np.array([cx, cy])
    vis = np.ones(16, int)
    vis[list(invisible)] = 0
    return joints, vis


def write_layout(root: Path, annotations_subdir: bool = True) -> dict:
    """Write images/ and (annotations/)mpii_{train,val}.json; returns {split: [(image,
    joints (16, 2) 0-based px, visible (16,) bool), ...]} in file order."""
    from PIL import Image, ImageDraw

    (root / "images").mkdir(parents=True, exist_ok=True)
    ann = root / "annotations" if annotations_subdir else root
    ann.mkdir(parents=True, exist_ok=True)
    truth = {}
    for split, fname, table in (("train2d", "mpii_train.json", TRAIN),
                                ("val2d", "mpii_val.json", VAL)):
        records, truth[split] = [], []
        for image, (w, h, people) in table.items():
            im = Image.new("RGB", (w, h), BACKGROUND)
            draw = ImageDraw.Draw(im)
            for cx, cy, scale, invisible in people:
                joints, vis = _person(cx, cy, scale, invisible)
                for j, colour in ((9, RED), (0, BLUE)):
                    x, y = joints[j]
                    draw.ellipse([x - DISC_RADIUS, y - DISC_RADIUS, x + DISC_RADIUS,
                                  y + DISC_RADIUS], fill=colour)
                j1 = np.where(vis[:, None] > 0, joints + 1, -1)  # MATLAB 1-based; -1 unlabelled
                records.append({"image": image, "center": [cx + 1, cy + 1], "scale": scale,
                                "joints": j1.tolist(), "joints_vis": vis.tolist()})
                truth[split].append((image, joints.astype(float), vis > 0))
            im.save(root / "images" / image, quality=95)
        (ann / fname).write_text(json.dumps(records))
    return truth
