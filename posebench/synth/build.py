"""Generate the synthetic multi-view benchmark and write it in the canonical dataset format.

Splits (default, 7 subjects):
    train    S1, S5, S6, S7, S8  x 10 actions x frames_per_action frames x every camera
    test     (test_layout "sequences", default) S9, S11 and 6 more subjects (S12..S17) x 10
             actions x 5 subactions, each a clip spanning frames_per_action frames kept at a
             stride (10 of 200 frames, every 20th): 400 sequences, the same 16,000 crops as
             2 subjects x 200 frames; many short sequences give the sequence-block intervals
             their power (docs/statistics.md). test_layout "h36m": S9, S11, one clip per
             action with every frame (20 sequences; the layout before posebench 0.2)
    train2d  M1..M8: other subjects, single views from random cameras, 2D labels only
             (poses_3d all NaN; meta split_info role "2d-only"), MPII's role for 2D pre-training
Synthetic subjects use the Human3.6M extrinsics of the subject with the same name (other names
map cyclically, see `rig.h36m_subject_for`). Keys: action names of `motions.ACTIONS`, subaction
1, camera = Human3.6M camera id (h36m / moving rig), ``ringK`` or ``random``; frame 0-based at
25 fps. Images: (N, S, S, 3) uint8 crops in ``<split>_images.npy`` (memory-mapped on load).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys, write_dataset
from posebench.errors import InputError
from posebench.geometry.camera import project_with_table, world_to_camera
from posebench.synth import render as R
from posebench.synth import rig
from posebench.synth.body import Body, sample_body
from posebench.synth.mocap import load_clips
from posebench.synth.motions import ACTION_NAMES, FPS, action_sequence

TRAIN_NAMES = ("S1", "S5", "S6", "S7", "S8")
TEST_NAMES = ("S9", "S11")


@dataclass
class SynthOptions:
    """Every knob that changes the generated numbers (recorded in meta.json)."""

    poses: str = "procedural"
    subjects: int = 7
    frames_per_action: int = 200
    cameras: str = "h36m"
    image_size: int = 64
    images: bool = True
    seed: int = 0
    name: str = "synth"
    train2d_subjects: int = 8
    train2d_frames_per_action: int = 125
    occluder_probability: float = 0.0
    background_textures: int = 64
    test_layout: str = "sequences"
    test_subjects: int = 8
    test_subactions: int = 5
    trajectory: str = "capture"


def subject_names(n: int) -> tuple[list[str], list[str]]:
    """(train, test) names for `n` subjects: 5/2 for 7 (Human3.6M's), else about 2/7 test."""
    if n < 2:
        raise InputError(f"--subjects {n} is too few; expected at least 2 (one train, one test).")
    pool = [*TRAIN_NAMES, *TEST_NAMES] + [f"S{12 + i}" for i in range(max(0, n - 7))]
    n_test = max(1, round(n * 2 / 7))
    if n == 7:
        return list(TRAIN_NAMES), list(TEST_NAMES)
    names = pool[:n]
    return names[: n - n_test], names[n - n_test:]


# ------------------------------------------------------------------------------ sequences
@dataclass
class _Seqs:
    """World poses of one split: subject/action per sequence, joints (T, 17, 3) each."""

    subjects: list
    actions: list
    joints: list
    bodies: dict
    subactions: list | None = None  # None: all 1
    frame_step: int = 1  # key frame = clip index x frame_step (25 fps frame numbers)


def _procedural(subjects, n_frames, rng, centre_of) -> _Seqs:
    seqs = _Seqs([], [], [], {})
    for s in subjects:
        body = sample_body(rng)
        seqs.bodies[s] = body
        for a in ACTION_NAMES:
            seqs.subjects.append(s)
            seqs.actions.append(a)
            seqs.joints.append(action_sequence(a, n_frames, body, rng, centre_of(s)))
    return seqs


def heldout_subject_names(train: list[str], test: list[str], n: int) -> list[str]:
    """`test` extended with fresh names (S12, S13, ... not used by `train`) to `n` subjects."""
    used = set(train) | set(test)
    extra = (f"S{i}" for i in range(12, 12 + n + len(used)) if f"S{i}" not in used)
    return list(test) + [next(extra) for _ in range(max(0, n - len(test)))]


def _test_sequences(opts, train_s, test_s, rng, centre_of) -> _Seqs:
    """Test layout "sequences": many short strided clips at the crop budget of the "h36m"
    layout (len(test_s) x frames_per_action instants per action)."""
    budget = len(test_s) * opts.frames_per_action  # instants per action, as in "h36m"
    names = heldout_subject_names(train_s, test_s, min(opts.test_subjects, budget))
    n_sub = max(1, min(opts.test_subactions, budget // len(names)))
    length = max(1, budget // (len(names) * n_sub))
    step = max(1, opts.frames_per_action // length)
    seqs = _Seqs([], [], [], {}, subactions=[], frame_step=step)
    for s in names:
        body = sample_body(rng)
        seqs.bodies[s] = body
        for a in ACTION_NAMES:
            for sub in range(1, n_sub + 1):
                seqs.subjects.append(s)
                seqs.actions.append(a)
                seqs.subactions.append(sub)
                seqs.joints.append(action_sequence(a, length * step, body, rng,
                                                   centre_of(s))[::step])
    return seqs


#: radius (mm) of the capture disc imported mocap is kept in (``trajectory="capture"``)
CAPTURE_RADIUS_MM = 1000.0
#: joints nearer than this to a camera's image plane (mm, camera z) are not visible
MIN_DEPTH_MM = 100.0


def place_in_capture_volume(J: np.ndarray, centre, radius: float = CAPTURE_RADIUS_MM
                            ) -> np.ndarray:
    """Keep a clip's root inside the capture disc, as Human3.6M's subjects stay in view.

    J (T, 17, 3) mm world z-up, root already centred on `centre` (2,) by its mean. Frames
    whose root lies farther than `radius` from the centre are shifted back (horizontally,
    toward the centre) onto the disc's edge: inside the disc the motion is unchanged, outside
    the person walks on the spot at the edge. Returns a new array."""
    d = J[:, 0, :2] - np.asarray(centre, float)
    r = np.linalg.norm(d, axis=-1)
    excess = np.where(r > radius, 1.0 - radius / np.maximum(r, 1e-9), 0.0)
    out = J.copy()
    out[..., :2] -= (excess[:, None] * d)[:, None, :]
    return out


def _from_clips(clips, subjects, n_frames, rng, centre_of, trajectory="capture") -> _Seqs:
    """Distribute clips over subjects round-robin; resample to 25 fps; centre each clip's
    mean root on the capture centre; keep it in the capture volume (`place_in_capture_volume`,
    unless ``trajectory="original"``); put feet on the floor."""
    seqs = _Seqs([], [], [], {s: sample_body(rng) for s in subjects})
    counts: dict = {}
    for i, clip in enumerate(clips):
        s = subjects[i % len(subjects)]
        idx = np.round(np.arange(0, len(clip.joints) / clip.fps, 1.0 / FPS) * clip.fps)
        J = clip.joints[np.minimum(idx.astype(int), len(clip.joints) - 1)][:n_frames].copy()
        J[..., :2] += np.asarray(centre_of(s)) - J[:, 0, :2].mean(0)
        if trajectory == "capture":
            J = place_in_capture_volume(J, centre_of(s))
        J[..., 2] += 80.0 - np.minimum(J[:, 3, 2], J[:, 6, 2]).min()
        base = (clip.action or clip.name).replace("|", "_")
        counts[(s, base)] = counts.get((s, base), 0) + 1
        seqs.subjects.append(s)
        seqs.actions.append(base if counts[(s, base)] == 1 else f"{base}_{counts[(s, base)]}")
        seqs.joints.append(J)
    return seqs


# ------------------------------------------------------------------------- split builder
def _camera_rows(opts, subject, n_frames, rng):
    """CameraTable of one subject: rows per camera (h36m, ring) or per frame x camera."""
    kind, n = rig.parse_cameras(opts.cameras)
    base = rig.h36m_cameras(subject)
    centre = rig.capture_centre(base)
    if kind == "h36m":
        return base, centre, False
    if kind == "ring":
        return rig.ring_cameras(n, centre), centre, False
    ang = rig.moving_angles(n_frames, len(base), rng)  # (T, C)
    rows = base.take(np.tile(np.arange(len(base)), n_frames))
    return rig.orbit(rows, ang.reshape(-1), centre), centre, True


def _multiview_split(opts, name, split, seqs, cams_of, rng, image_store) -> PoseDataset:
    tables: list[CameraTable] = []
    X_all, cam_rows, keys, body_of = [], [], [], []
    row0 = 0
    subs = seqs.subactions or [1] * len(seqs.joints)
    for s, a, J, sub in zip(seqs.subjects, seqs.actions, seqs.joints, subs):
        table, moving = cams_of[s](len(J))
        C = len(table) if not moving else len(table) // len(J)
        T = len(J)
        frame = np.repeat(np.arange(T), C)
        cam = np.tile(np.arange(C), T)
        rows = cam + (frame * C if moving else 0)
        tables.append(table)
        cam_rows.append(row0 + rows)
        row0 += len(table)
        X_all.append(world_to_camera(J[frame], table.R[rows], table.t[rows]))
        keys.append((np.full(T * C, s), np.full(T * C, a), frame * seqs.frame_step,
                     table.ids[rows], np.full(T * C, sub)))
        body_of.append(np.full(T * C, s))
    cameras = _concat_tables(tables)
    X_c = np.concatenate(X_all)
    ci = np.concatenate(cam_rows)
    k = SampleKeys(np.concatenate([x[0] for x in keys]), np.concatenate([x[1] for x in keys]),
                   np.concatenate([x[4] for x in keys]).astype(np.int64),
                   np.concatenate([x[3] for x in keys]),
                   np.concatenate([x[2] for x in keys]))
    order = k.sort_order()
    X_c, ci, k = X_c[order], ci[order], k.take(order)
    subj = np.concatenate(body_of)[order]
    uv, visibility = visible_projection(X_c, cameras, ci)
    ds = PoseDataset(name, split, "h36m17", X_c, uv, k, ci, cameras,
                     meta={"split_info": {"role": "multi-view", "fps": FPS,
                                          "not_visible": visibility_counts(
                                              ~np.isfinite(uv).all(-1), k.camera, k)}})
    return _with_images(opts, ds, subj, seqs.bodies, rng, image_store)


def visible_projection(X_c: np.ndarray, cameras: CameraTable, ci: np.ndarray,
                       min_depth: float = MIN_DEPTH_MM) -> tuple[np.ndarray, np.ndarray]:
    """2D labels with not-visible joints as NaN: X_c (N, J, 3) mm camera frame, camera rows
    ci (N,). A joint is visible when its depth exceeds `min_depth` mm and its projection lies
    inside the image [0, width) x [0, height). Returns (uv (N, J, 2) px, visible (N, J))."""
    with np.errstate(all="ignore"):
        uv = project_with_table(X_c, cameras, ci)
    w = np.asarray(cameras.width, float)[ci][:, None]
    h = np.asarray(cameras.height, float)[ci][:, None]
    vis = (X_c[..., 2] > min_depth) & np.isfinite(uv).all(-1)
    vis &= (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
    return np.where(vis[..., None], uv, np.nan), vis


def visibility_counts(hidden: np.ndarray, camera: np.ndarray, keys: SampleKeys) -> dict:
    """Per camera id: joints not visible, frames (samples) with any / every joint not
    visible, samples. hidden (N, J) bool; camera (N,) ids."""
    out = {}
    for c in np.unique(camera):
        m = camera == c
        h = hidden[m]
        out[str(c)] = {"joints": int(h.sum()), "frames_any": int(h.any(-1).sum()),
                       "frames_all": int(h.all(-1).sum()), "frames": int(m.sum())}
    return out


def _concat_tables(tables: list[CameraTable]) -> CameraTable:
    cat = {f: np.concatenate([getattr(t, f) for t in tables])
           for f in ("ids", "f", "c", "k", "p", "R", "t", "width", "height")}
    return CameraTable(distortion=tables[0].distortion, **cat)


def _train2d_split(opts, name, seqs, rng, image_store) -> PoseDataset:
    """Single views: every frame of every sequence seen by one random camera."""
    J = np.concatenate(seqs.joints)
    n = len(J)
    subj = np.concatenate([np.full(len(j), s) for s, j in zip(seqs.subjects, seqs.joints)])
    act = np.concatenate([np.full(len(j), a) for a, j in zip(seqs.actions, seqs.joints)])
    frame = np.concatenate([np.arange(len(j)) for j in seqs.joints])
    az = rng.uniform(0, 2 * np.pi, n)
    dist = rng.uniform(3000, 7000, n)
    target = J[:, 0] + rng.normal(0, 150, (n, 3))
    centres = target + np.stack([dist * np.cos(az), dist * np.sin(az),
                                 rng.uniform(-600, 1400, n)], -1)
    Rm, t = rig.look_at(centres, target)
    cameras = rig.pinhole_table(np.full(n, "random"), Rm, t, rng.uniform(800, 1600, n))
    ci = np.arange(n)
    X_c = world_to_camera(J, Rm, t)
    uv = project_with_table(X_c, cameras, ci)
    keys = SampleKeys(subj, act, np.ones(n, np.int64), np.full(n, "random"), frame)
    order = keys.sort_order()
    ds = PoseDataset(name, "train2d", "h36m17", np.full_like(X_c, np.nan), uv, keys, ci,
                     cameras, meta={"split_info": {"role": "2d-only", "has_3d": False}})
    ds = ds.take(order)
    ds.meta = {"split_info": {"role": "2d-only", "has_3d": False}}
    return _with_images(opts, ds, subj[order], seqs.bodies, rng, image_store, X_c=X_c[order])


# -------------------------------------------------------------------------------- images
def _with_images(opts, ds, subj, bodies: dict[str, Body], rng, image_store, X_c=None):
    """Render crops for every sample (chunks of 2048) into a memory-mapped array."""
    tl, side = R.crop_boxes(ds.poses_2d)
    ds.crop_affine = R.crop_affines(tl, side, opts.image_size)
    if not opts.images:
        return ds
    X_c = ds.poses_3d if X_c is None else X_c
    S = opts.image_size
    n = len(ds)
    images = image_store(ds.split, (n, S, S, 3))
    bank = R.texture_bank(rng, opts.background_textures, 2 * S)
    names = sorted(bodies)
    radii = np.array([[bodies[s].radii[k] for k in R.RADIUS_KEYS] for s in names])
    colours = np.stack([R.part_colours(bodies[s].colours) for s in names])
    sidx = np.searchsorted(names, subj)
    cams = ds.cameras
    step = 2048
    bar = _progress(n, f"rendering {ds.split}")
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        ci = ds.camera_index[lo:hi]
        ends, rad = R.body_primitives(X_c[lo:hi], radii[sidx[lo:hi]], None)
        uv, rpx, z = R.project_primitives(ends, rad, cams.f[ci], cams.c[ci], cams.k[ci],
                                          cams.p[ci], cams.distortion)
        bg = R.sample_backgrounds(bank, hi - lo, S, rng)
        block = R.render(uv, rpx, z, rad, colours[sidx[lo:hi]], ds.crop_affine[lo:hi], S, bg)
        if opts.occluder_probability > 0:
            R.add_occluders(block, opts.occluder_probability, rng)
        images[lo:hi] = block
        bar.update(hi - lo)
    bar.close()
    ds.images = images
    return ds


def _progress(total, desc):
    from tqdm import tqdm  # lazy: only with a progress bar

    return tqdm(total=total, desc=desc, unit="crop", disable=not sys.stderr.isatty(),
                leave=False)


# ----------------------------------------------------------------------------------- main
def build(root: str | Path, options: SynthOptions | None = None) -> Path:
    """Generate the benchmark described by `options` into the dataset folder `root`."""
    opts = options or SynthOptions()
    _check_options(opts)
    root = Path(root)
    train_s, test_s = subject_names(opts.subjects)
    rngs = {k: np.random.default_rng([opts.seed, i]) for i, k in
            enumerate(("poses", "cameras", "train", "test", "train2d", "poses2d"))}
    if opts.test_layout not in ("sequences", "h36m"):
        raise InputError(f"test layout '{opts.test_layout}' is unknown; expected 'sequences' "
                         "(default) or 'h36m'; pick one of those.")
    seqs, test_s = _pose_sequences(opts, train_s, test_s, rngs["poses"])
    names2d = [f"M{i + 1}" for i in range(opts.train2d_subjects)]
    seqs2d = _procedural(names2d, opts.train2d_frames_per_action, rngs["poses2d"],
                         _capture_centre)
    meta = {"synth_options": asdict(opts), "train_subjects": train_s,
            "test_subjects": test_s, "train2d_subjects": names2d,
            "actions": sorted(set(seqs["train"].actions)), "fps": FPS,
            "pixel_convention": "crop pixel (row i, col j) shows image point "
                                "crop_affine^-1 (j, i)"}
    _render_and_write(root, opts, seqs, seqs2d, rngs, meta)
    return root


def _check_options(opts: SynthOptions) -> None:
    """InputError (one sentence) for an image size, frame count, camera spec or trajectory
    mode the generator cannot use."""
    if opts.image_size < 16:
        raise InputError(f"--image-size {opts.image_size} is too small; expected >= 16 "
                         "(64 default, 128 or 256).")
    if opts.frames_per_action < 1:
        raise InputError(f"--frames-per-action {opts.frames_per_action} is below 1; "
                         "expected a positive frame count.")
    rig.parse_cameras(opts.cameras)
    if opts.trajectory not in ("capture", "original"):
        raise InputError(f"--trajectory '{opts.trajectory}' is not known; expected capture "
                         "(keep imported mocap in view of the rig) or original.")


def _capture_centre(subject: str) -> np.ndarray:
    """(3,) mm world point the subject's rig looks at."""
    return rig.capture_centre(rig.h36m_cameras(subject))


def _pose_sequences(opts: SynthOptions, train_s: list[str], test_s: list[str], rng):
    """({"train": _Seqs, "test": _Seqs}, test subject names): procedural motion or the mocap
    clips of `opts.poses`, split by subject."""
    if opts.poses == "procedural":
        seqs = {"train": _procedural(train_s, opts.frames_per_action, rng, _capture_centre)}
        seqs["test"] = (_procedural(test_s, opts.frames_per_action, rng, _capture_centre)
                        if opts.test_layout == "h36m" else
                        _test_sequences(opts, train_s, test_s, rng, _capture_centre))
        return seqs, list(seqs["test"].bodies)
    clips = load_clips(opts.poses)
    clips_all = _from_clips(clips, train_s + test_s, opts.frames_per_action, rng,
                            _capture_centre, opts.trajectory)
    seqs = {}
    for sp, subs in (("train", train_s), ("test", test_s)):
        keep = [i for i, s in enumerate(clips_all.subjects) if s in subs]
        seqs[sp] = _Seqs([clips_all.subjects[i] for i in keep],
                         [clips_all.actions[i] for i in keep],
                         [clips_all.joints[i] for i in keep],
                         {s: clips_all.bodies[s] for s in subs})
        if not keep:
            raise InputError(f"{len(clips)} clip(s) from {opts.poses} leave the {sp} "
                             "subjects without motion; expected at least one clip per "
                             "subject; pass more clips or fewer --subjects.")
    return seqs, test_s


def _render_and_write(root: Path, opts: SynthOptions, seqs: dict, seqs2d, rngs: dict,
                      meta: dict) -> None:
    """Render the train, test and train2d splits (images in memory-mapped temporaries next to
    `root`) and write the dataset atomically; the temporaries are always removed."""
    cams_cache: dict = {}

    def cams_of_factory(s):
        def get(n_frames):
            key = (s, n_frames)
            if key not in cams_cache:
                table, _, moving = _camera_rows(opts, s, n_frames, rngs["cameras"])
                cams_cache[key] = (table, moving)
            return cams_cache[key]
        return get

    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-images-", dir=_tmp_parent(root)))
    splits = {}
    try:
        def image_store(split, shape):
            return np.lib.format.open_memmap(tmp / f"{split}.npy", mode="w+", dtype=np.uint8,
                                             shape=shape)

        for sp in ("train", "test"):
            cams_of = {s: cams_of_factory(s) for s in set(seqs[sp].subjects)}
            splits[sp] = _multiview_split(opts, opts.name, sp, seqs[sp], cams_of, rngs[sp],
                                          image_store)
        splits["train2d"] = _train2d_split(opts, opts.name, seqs2d, rngs["train2d"], image_store)
        write_dataset(root, splits, kind="synth", source=f"posebench synth ({opts.poses})",
                      extra_meta=meta)
    finally:
        for ds in splits.values():
            ds.images = None
        shutil.rmtree(tmp, ignore_errors=True)


def _tmp_parent(root: Path) -> Path:
    parent = root.parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def build_default(root: str | Path) -> Path:
    """The default benchmark (used by `ensure_dataset('synth')`)."""
    return build(root, SynthOptions())
