"""Writers of small Human3.6M files in each community layout, from one synthetic motion.

Used by the adapter tests (synthetic content, the real files' structure). Pickle is used
here only to WRITE test files the way VideoPose3D / mmpose do; posebench never unpickles
user files except through its restricted unpickler.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from posebench.data.adapters.h36m_common import CAMERA_IDS, camera_rows, h36m_camera_table
from posebench.geometry.camera import project, world_to_camera
from posebench.skeletons import H36M_32_TO_17

# A standing body in Human3.6M-17 order, metres, world z up, facing +y (right side at +x).
_BODY17 = np.array([
    [0.0, 0.0, 0.95], [0.13, 0.0, 0.95], [0.14, 0.03, 0.52], [0.14, 0.0, 0.08],
    [-0.13, 0.0, 0.95], [-0.14, 0.03, 0.52], [-0.14, 0.0, 0.08], [0.0, 0.0, 1.18],
    [0.0, 0.0, 1.45], [0.0, 0.08, 1.55], [0.0, 0.0, 1.70], [-0.18, 0.0, 1.43],
    [-0.22, 0.05, 1.16], [-0.22, 0.12, 0.92], [0.18, 0.0, 1.43], [0.22, 0.05, 1.16],
    [0.22, 0.12, 0.92],
])


def synthetic_world(num_frames: int, seed: int) -> np.ndarray:
    """(T, 32, 3) float32 world metres: the body turning and walking, plus joint jitter."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None, None]
    yaw = 0.05 * t[..., 0] + rng.uniform(0, 2 * np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.zeros((num_frames, 3, 3))
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = c[:, 0], -s[:, 0], s[:, 0], c[:, 0]
    rot[:, 2, 2] = 1
    body = np.einsum("tij,kj->tki", rot, _BODY17) + rng.normal(0, 0.01, (num_frames, 17, 3))
    body += np.concatenate([0.3 * np.sin(0.02 * t), 0.2 * np.cos(0.03 * t), 0 * t], axis=-1)
    out = np.repeat(body[:, :1], 32, axis=1) + rng.normal(0, 0.05, (num_frames, 32, 3))
    out[:, list(H36M_32_TO_17)] = body
    return out.astype(np.float32)


def camera_frame(world: np.ndarray, subject: str) -> tuple[np.ndarray, np.ndarray]:
    """(T, J, 3) world metres -> (T, 4, J, 3) camera mm and (T, 4, J, 2) px, packaged calib."""
    table = h36m_camera_table([subject])
    rows = camera_rows(table, subject, "test")
    cam = world_to_camera(np.asarray(world, np.float64)[:, None] * 1000.0, table.R[rows][None],
                          table.t[rows][None])
    uv = project(cam, table.f[rows][None], table.c[rows][None], table.k[rows][None],
                 table.p[rows][None])
    return cam, uv


def write_videopose3d(folder: Path, seqs: dict, with_2d: bool = False) -> Path:
    """seqs: {subject: {basename: (T, 32, 3) world m}} -> data_3d_h36m.npz (+ 2D gt file)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "data_3d_h36m.npz", positions_3d=seqs)
    if with_2d:
        pos2d = {s: {b: [uv[:, i, H36M_32_TO_17].astype(np.float32)
                         for i in range(4)]
                     for b, w in acts.items() for uv in [camera_frame(w, s)[1]]}
                 for s, acts in seqs.items()}
        np.savez(folder / "data_2d_h36m_gt.npz", positions_2d=pos2d)
    return folder / "data_3d_h36m.npz"


def write_mmpose(folder: Path, seqs: dict, drop_camera: tuple | None = None) -> Path:
    """Same poses as mmpose's h36m_train.npz / h36m_test.npz + cameras.pkl."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "test": []}
    for subject, acts in seqs.items():
        split = "test" if subject in ("S9", "S11") else "train"
        for basename, world in acts.items():
            cam, uv = camera_frame(world[:, list(H36M_32_TO_17)], subject)
            video = f"{subject}_{basename.replace(' ', '_')}"
            for ci, cid in enumerate(CAMERA_IDS):
                for fr in range(len(world)):
                    name = f"{subject}/{video}.{cid}/{video}.{cid}_{fr + 1:06d}.jpg"
                    rows[split].append((name, cam[fr, ci] / 1000.0, uv[fr, ci]))
    for split, r in rows.items():
        if not r:
            continue
        ones = np.ones((len(r), 17, 1))
        np.savez(folder / f"h36m_{split}.npz", imgname=np.array([x[0] for x in r]),
                 center=np.zeros((len(r), 2)), scale=np.ones(len(r)),
                 part=np.concatenate([np.array([x[2] for x in r]), ones], -1),
                 S=np.concatenate([np.array([x[1] for x in r]), ones], -1))
    table = h36m_camera_table()
    cams = {}
    for i, rid in enumerate(table.ids):
        subject, cid = rid.split(".")
        if (subject, cid) == drop_camera:
            continue
        cams[(subject, cid)] = {"R": table.R[i].T, "T": table.centre[i][:, None] / 1000.0,
                                "c": table.c[i][:, None], "f": table.f[i][:, None],
                                "k": table.k[i][:, None], "p": table.p[i][::-1][:, None],
                                "w": int(table.width[i]), "h": int(table.height[i]),
                                "name": f"camera{i % 4 + 1}", "id": cid}
    with open(folder / "cameras.pkl", "wb") as fh:
        pickle.dump(cams, fh)
    return folder


def write_cdf(root: Path, seqs: dict) -> Path:
    """Same poses as original D3_Positions_mono / D2_Positions CDF files (cdflib writer)."""
    from cdflib.cdfwrite import CDF

    for subject, acts in seqs.items():
        base = root / subject / "MyPoseFeatures"
        for sub in ("D3_Positions_mono", "D2_Positions"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for basename, world in acts.items():
            cam, uv = camera_frame(world, subject)
            for ci, cid in enumerate(CAMERA_IDS):
                for sub, arr in (("D3_Positions_mono", cam[:, ci]), ("D2_Positions", uv[:, ci])):
                    data = arr.reshape(1, len(arr), -1)
                    f = CDF(str(base / sub / f"{basename}.{cid}.cdf"))
                    f.write_var({"Variable": "Pose", "Data_Type": 45, "Num_Elements": 1,
                                 "Rec_Vary": True, "Dim_Sizes": list(data.shape[1:])},
                                var_data=data)
                    f.close()
    return root
