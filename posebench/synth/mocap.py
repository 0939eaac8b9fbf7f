"""Motion-capture importers: BVH, ASF/AMC, the converted-npz layout, DeepMimic (pybullet) clips.

Every reader returns `Clip`s: joints (T, 17, 3) float64 millimetres in a z-up world, in the
Human3.6M-17 order of `posebench.skeletons`, with the clip's frame rate. Y-up sources (BVH,
ASF/AMC, DeepMimic) are turned z-up by ``(x, y, z) -> (x, -z, y)`` (a +90 degree rotation about
x, handedness kept).

Joint-name mapping to Human3.6M-17 (first name found wins, case-insensitive):
    BVH: pelvis=Hips, hips=RightUpLeg|RightHip, knees=RightLeg|RightKnee, ankles=RightFoot|
    RightAnkle, spine=Spine1|Chest|Spine; neck chain (thorax, neck/nose, head_top) = (Neck,
    Neck1, Head) for CMU files, (lowerneck, Neck, Head) for cgspeed files, else (Neck, Head,
    Head end site); shoulders=RightArm|RightShoulder, elbows=RightForeArm|RightElbow,
    wrists=RightHand|RightWrist. (Same joints as the ASF mapping and the converted fixtures.)
    ASF/AMC (CMU bone ends): pelvis=root, hips=*hipjoint, knees=*femur, ankles=*tibia,
    spine=upperback, thorax=thorax, neck/nose=lowerneck, head_top=upperneck, shoulders=
    *clavicle, elbows=*humerus, wrists=*radius.
Units: BVH offsets are scaled to mm by the unit (mm, cm, m, inch or CMU's inch/0.45) that
makes the rest-pose stature closest to 1.7 m, unless `scale_mm` is given; ASF lengths use the
file's ``:units length`` (Acclaim: inches / length).
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posebench.errors import InputError
from posebench.io import load_npz
from posebench.synth.rig import quat_to_matrix


@dataclass
class Clip:
    """One motion clip: joints (T, 17, 3) mm world z-up (H36M-17), fps, names."""

    name: str
    joints: np.ndarray
    fps: float
    subject: str = ""
    action: str = ""


def _y_up_to_z_up(X: np.ndarray) -> np.ndarray:
    return np.stack([X[..., 0], -X[..., 2], X[..., 1]], -1)


def _axis_rot(axis: str, ang: np.ndarray) -> np.ndarray:
    """(T,) radians -> (T, 3, 3) rotation about 'x', 'y' or 'z'."""
    c, s = np.cos(ang), np.sin(ang)
    R = np.zeros(np.shape(ang) + (3, 3))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    k = 3 - i - j
    R[..., k, k] = 1
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def _euler(order: str, angles_deg: np.ndarray) -> np.ndarray:
    """Intrinsic rotation R = R_a1 R_a2 R_a3 for axes `order` ('zxy') and (T, 3) degrees."""
    R = None
    for n, ax in enumerate(order.lower()):
        Ra = _axis_rot(ax, np.radians(angles_deg[..., n]))
        R = Ra if R is None else R @ Ra
    return R


# ------------------------------------------------------------------------------------- BVH
_BVH_MAP = {
    "pelvis": ["hips"], "r_hip": ["rightupleg", "righthip"], "r_knee": ["rightleg", "rightknee"],
    "r_ankle": ["rightfoot", "rightankle"], "l_hip": ["leftupleg", "lefthip"],
    "l_knee": ["leftleg", "leftknee"], "l_ankle": ["leftfoot", "leftankle"],
    "spine": ["spine1", "chest", "spine"], "thorax": ["neck"], "neck": ["head"],
    "head_top": ["head/end"],
    "l_shoulder": ["leftarm", "leftshoulder"], "l_elbow": ["leftforearm", "leftelbow"],
    "l_wrist": ["lefthand", "leftwrist"], "r_shoulder": ["rightarm", "rightshoulder"],
    "r_elbow": ["rightforearm", "rightelbow"], "r_wrist": ["righthand", "rightwrist"],
}
_H36M = ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
         "neck", "head_top", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
         "r_wrist")


def _neck_chain(lower: list[str]) -> dict[str, list[str]]:
    """Neck joints by the chain a file has: CMU (Neck, Neck1, Head), cgspeed (lowerneck, Neck,
    Head) or generic (Neck, Head, Head end site)."""
    if "lowerneck" in lower:
        return {"thorax": ["lowerneck"], "neck": ["neck"], "head_top": ["head"]}
    if "neck1" in lower:
        return {"thorax": ["neck"], "neck": ["neck1"], "head_top": ["head"]}
    return {}


def _bad(path, what):
    return InputError(f"{path} is not a readable {what}; expected a valid file of that format "
                      "(check that it is complete and not another format).")


def read_bvh(path: str | Path, scale_mm: float | None = None) -> Clip:
    """Read a BVH file and map it to Human3.6M-17 (see module docstring)."""
    path = Path(path)
    names, parents, offsets, channels, data, dt = _parse_bvh(path)
    P = _bvh_positions(parents, offsets, channels, data)
    idx = _bvh_h36m_joints(path, names)
    J = np.moveaxis(P[idx], 0, 1)
    if scale_mm is None:
        scale_mm = _bvh_scale_mm(parents, offsets, idx)
    return Clip(path.stem, _y_up_to_z_up(J) * scale_mm, 1.0 / dt)


def _parse_bvh(path: Path):
    """(names, parents, offsets (B, 3), channels, data (T, C), frame time s) of a BVH file;
    InputError for anything that is not one."""
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError):
        raise _bad(path, "BVH file") from None
    if "HIERARCHY" not in text or "MOTION" not in text:
        raise _bad(path, "BVH file (no HIERARCHY/MOTION sections)")
    head, motion = text.split("MOTION", 1)
    tokens = re.findall(r"[{}]|[^\s{}]+", head.split("HIERARCHY", 1)[1])
    try:
        names, parents, offsets, channels = _bvh_hierarchy(tokens)
        m = re.search(r"Frames:\s*(\d+)\s*Frame Time:\s*([0-9.eE+-]+)", motion)
        n_frames, dt = int(m.group(1)), float(m.group(2))
        body = motion[m.end():].split()
        n_ch = sum(len(c) for c in channels)
        data = np.array(body[: n_frames * n_ch], dtype=np.float64).reshape(n_frames, n_ch)
    except (ValueError, IndexError, AttributeError):
        raise _bad(path, "BVH file") from None
    if n_frames == 0 or not names or dt <= 0:
        raise _bad(path, "BVH file (no frames)")
    return names, parents, np.array(offsets), channels, data, dt


def _bvh_hierarchy(tokens: list[str]):
    """(names, parents, offsets, channels) of the HIERARCHY tokens (ValueError / IndexError
    on malformed input)."""
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    pending = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            pending = tokens[i + 1]
            i += 2
        elif tok == "End":
            pending = names[stack[-1]] + "/end"
            i += 2
        elif tok == "{":
            names.append(pending)
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            channels.append([])
            stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            offsets[stack[-1]] = np.array([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels[stack[-1]] = [c.lower() for c in tokens[i + 2:i + 2 + n]]
            i += 2 + n
        else:
            raise ValueError(tok)
    return names, parents, offsets, channels


def _bvh_positions(parents, offsets: np.ndarray, channels, data: np.ndarray) -> np.ndarray:
    """(B, T, 3) global joint positions in the file's units (forward kinematics)."""
    T = len(data)
    G = np.zeros((len(parents), T, 3, 3))
    P = np.zeros((len(parents), T, 3))
    col = 0
    for j, (par, ch) in enumerate(zip(parents, channels)):
        vals = data[:, col:col + len(ch)]
        col += len(ch)
        rot = [(c[0], k) for k, c in enumerate(ch) if c.endswith("rotation")]
        pos = {c[0]: k for k, c in enumerate(ch) if c.endswith("position")}
        R = (_euler("".join(a for a, _ in rot), vals[:, [k for _, k in rot]]) if rot
             else np.broadcast_to(np.eye(3), (T, 3, 3)))
        local_t = (np.stack([vals[:, pos[a]] for a in "xyz"], -1) if len(pos) == 3
                   else np.broadcast_to(offsets[j], (T, 3)))
        if par < 0:
            G[j], P[j] = R, local_t
        else:
            G[j] = G[par] @ R
            P[j] = P[par] + np.einsum("tij,tj->ti", G[par], local_t)
    return P


def _bvh_h36m_joints(path: Path, names: list[str]) -> list[int]:
    """Index of the BVH joint of each Human3.6M-17 joint (InputError naming a missing one)."""
    lower = [n.lower() for n in names]
    idx = []
    for joint in _H36M:
        cands = _neck_chain(lower).get(joint, _BVH_MAP[joint])
        found = next((lower.index(c) for c in cands if c in lower), None)
        if found is None:
            raise InputError(f"{path} has no joint for Human3.6M '{joint}' (looked for "
                             f"{', '.join(cands)}); expected a humanoid BVH with standard "
                             "joint names; rename the joints or convert to npz.")
        idx.append(found)
    return idx


def _bvh_scale_mm(parents, offsets: np.ndarray, idx: list[int]) -> float:
    """mm per file unit: the unit (mm, cm, m, inch, inch/0.45) whose rest-pose stature
    (head to lower ankle) is closest to 1650 mm."""
    rest = np.zeros((len(parents), 3))
    for j, par in enumerate(parents):
        rest[j] = offsets[j] + (rest[par] if par >= 0 else 0)
    stature = rest[idx[10], 1] - min(rest[idx[3], 1], rest[idx[6], 1])
    units = np.array([1.0, 10.0, 1000.0, 25.4, 25.4 / 0.45])
    return float(units[np.argmin(np.abs(np.log(abs(stature) * units / 1650.0 + 1e-12)))])


# --------------------------------------------------------------------------------- ASF/AMC
_ASF_END = {"pelvis": "root", "r_hip": "rhipjoint", "r_knee": "rfemur", "r_ankle": "rtibia",
            "l_hip": "lhipjoint", "l_knee": "lfemur", "l_ankle": "ltibia", "spine": "upperback",
            "thorax": "thorax", "neck": "lowerneck", "head_top": "upperneck",
            "l_shoulder": "lclavicle", "l_elbow": "lhumerus", "l_wrist": "lradius",
            "r_shoulder": "rclavicle", "r_elbow": "rhumerus", "r_wrist": "rradius"}


def read_asf(path: str | Path) -> dict:
    """Parse an ASF skeleton: {'length_mm', 'deg', 'root_order', 'root_axis', 'bones',
    'children'}; bones: name -> direction (3,), length (units), axis (3,) deg, order, dof."""
    path = Path(path)
    try:
        lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    except (OSError, UnicodeDecodeError):
        raise _bad(path, "ASF skeleton") from None
    out = {"length_mm": 25.4, "deg": True, "root_order": ["tx", "ty", "tz", "rx", "ry", "rz"],
           "root_axis": "xyz", "bones": {}, "children": {}}
    section, bone = None, None
    try:
        for ln in lines:
            if not ln:
                continue
            if ln.startswith(":"):
                section = ln.split()[0][1:]
                continue
            parts = ln.split()
            if section == "units":
                if parts[0] == "length":
                    out["length_mm"] = 25.4 / float(parts[1])
                elif parts[0] == "angle":
                    out["deg"] = parts[1].startswith("deg")
            elif section == "root":
                if parts[0] == "order":
                    out["root_order"] = [p.lower() for p in parts[1:]]
                elif parts[0] == "axis":
                    out["root_axis"] = parts[1].lower()
            elif section == "bonedata":
                if parts[0] == "begin":
                    bone = {"dof": [], "axis": np.zeros(3), "order": "xyz"}
                elif parts[0] == "end":
                    out["bones"][bone["name"]] = bone
                elif parts[0] == "name":
                    bone["name"] = parts[1]
                elif parts[0] == "direction":
                    bone["direction"] = np.array([float(v) for v in parts[1:4]])
                elif parts[0] == "length":
                    bone["length"] = float(parts[1])
                elif parts[0] == "axis":
                    bone["axis"] = np.array([float(v) for v in parts[1:4]])
                    bone["order"] = parts[4].lower() if len(parts) > 4 else "xyz"
                elif parts[0] == "dof":
                    bone["dof"] = [p.lower() for p in parts[1:]]
            elif section == "hierarchy" and parts[0] not in ("begin", "end"):
                out["children"][parts[0]] = parts[1:]
    except (ValueError, IndexError, KeyError, TypeError):
        raise _bad(path, "ASF skeleton") from None
    missing = {b for b in _ASF_END.values() if b != "root"} - set(out["bones"])
    if not out["bones"] or missing or "root" not in out["children"]:
        raise InputError(f"{path} lacks the CMU bones {', '.join(sorted(missing)) or 'root'}; "
                         "expected an ASF skeleton with CMU bone names (lfemur, ltibia, ...); "
                         "convert it to BVH or npz.")
    return out


def _axis_matrix(order: str, deg3: np.ndarray) -> np.ndarray:
    """ASF 'axis' rotation: angles about x, y, z applied in `order` (first applied first)."""
    vals = {a: deg3[..., i] for i, a in enumerate("xyz")}
    R = None
    for ax in order:
        Ra = _axis_rot(ax, np.radians(vals[ax]))
        R = Ra if R is None else Ra @ R
    return R


def read_amc(amc_path: str | Path, asf: dict | str | Path, fps: float = 120.0) -> Clip:
    """Read an AMC motion with its ASF skeleton (dict from `read_asf` or a path)."""
    amc_path = Path(amc_path)
    if not isinstance(asf, dict):
        asf = read_asf(asf)
    frames: list[dict] = []
    try:
        for ln in amc_path.read_text().splitlines():
            ln = ln.split("#")[0].strip()
            if not ln or ln.startswith(":"):
                continue
            parts = ln.split()
            if len(parts) == 1 and parts[0].isdigit():
                frames.append({})
            else:
                frames[-1][parts[0].lower()] = np.array([float(v) for v in parts[1:]])
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        raise _bad(amc_path, "AMC motion") from None
    if not frames or "root" not in frames[0]:
        raise _bad(amc_path, "AMC motion (no frames)")
    T = len(frames)
    unit = 1.0 if asf["deg"] else 180.0 / np.pi

    def values(name, dofs):
        arr = np.zeros((T, len(dofs)))
        for t, fr in enumerate(frames):
            v = fr.get(name)
            if v is not None:
                arr[t, : len(v)] = v[: len(dofs)]
        return arr

    root = values("root", asf["root_order"])
    col = {d: root[:, k] for k, d in enumerate(asf["root_order"])}
    trans = np.stack([col.get(a, np.zeros(T)) for a in ("tx", "ty", "tz")], -1)
    rot = np.stack([col.get(a, np.zeros(T)) * unit for a in ("rx", "ry", "rz")], -1)
    G = {"root": _axis_matrix(asf["root_axis"], rot)}
    P = {"root": trans}
    queue = ["root"]
    while queue:
        parent = queue.pop(0)
        for child in asf["children"].get(parent, []):
            b = asf["bones"][child]
            C = _axis_matrix(b["order"], b["axis"])
            dof = values(child, b["dof"]) * unit
            deg = {d[1]: dof[:, k] for k, d in enumerate(b["dof"]) if d.startswith("r")}
            L = _axis_matrix("xyz", np.stack([deg.get(a, np.zeros(T)) for a in "xyz"], -1))
            G[child] = G[parent] @ C @ L @ C.T
            P[child] = P[parent] + b["length"] * np.einsum("tij,j->ti", G[child], b["direction"])
            queue.append(child)
    J = np.stack([P[_ASF_END[n]] for n in _H36M], 1) * asf["length_mm"]
    return Clip(amc_path.stem, _y_up_to_z_up(J), fps)


def find_asf(amc_path: Path) -> Path:
    """The ASF next to an AMC: '<subject>.asf' for '<subject>_<trial>.amc', or the only one."""
    cand = amc_path.with_name(amc_path.stem.split("_")[0] + ".asf")
    if cand.is_file():
        return cand
    asfs = sorted(amc_path.parent.glob("*.asf"))
    if len(asfs) == 1:
        return asfs[0]
    raise InputError(f"no ASF skeleton found for {amc_path}; expected "
                     f"{cand.name} in the same folder; put the subject's .asf next to the .amc.")


# ------------------------------------------------------------------------ converted npz
def read_npz_clips(path: str | Path) -> list[Clip]:
    """Clips from the converted layout: joints3d (N, 17, 3) mm world z-up, clip_id (N,),
    clip_names, and optionally clip_fps, clip_subject, clip_action."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"motion file {path} does not exist; expected an .npz with joints3d "
                         "(N,17,3) mm and clip_id; check the path after npz:.")
    a = load_npz(path, what="a motion-capture npz")
    if "joints3d" not in a or a["joints3d"].ndim != 3 or a["joints3d"].shape[1:] != (17, 3):
        shape = a["joints3d"].shape if "joints3d" in a else "missing"
        raise InputError(f"{path}: joints3d is {shape}, expected (N, 17, 3) millimetres in "
                         "Human3.6M-17 order; convert the clip to that layout.")
    J = a["joints3d"].astype(np.float64)
    cid = a.get("clip_id", np.zeros(len(J), int))
    clips = []
    for c in np.unique(cid):
        sel = np.flatnonzero(cid == c)
        name = str(a["clip_names"][c]) if "clip_names" in a else f"clip{c}"
        fps = float(a["clip_fps"][c]) if "clip_fps" in a else 30.0
        subj = str(a["clip_subject"][c]) if "clip_subject" in a else ""
        act = str(a["clip_action"][c]) if "clip_action" in a else name
        clips.append(Clip(name, J[sel], fps, subj, act))
    return clips


# ------------------------------------------------------------------- DeepMimic (pybullet)
#: DeepMimic humanoid (pybullet humanoid.urdf at globalScaling 0.25): joint offsets in metres
#: in the parent frame (y up, x forward, z right) and the motion-file layout after the
#: frame duration: root position (3), root quaternion (4, w x y z), then per joint a
#: quaternion (4) or a revolute angle (1, about z).
_DM_JOINTS = (  # name, parent, offset (m), channel size
    ("chest", "root", (0.0, 0.236151, 0.0), 4), ("neck", "chest", (0.0, 0.223894, 0.0), 4),
    ("r_hip", "root", (0.0, 0.0, 0.084887), 4), ("r_knee", "r_hip", (0.0, -0.421546, 0.0), 1),
    ("r_ankle", "r_knee", (0.0, -0.40987, 0.0), 4),
    ("r_shoulder", "chest", (-0.02405, 0.24350, 0.18311), 4),
    ("r_elbow", "r_shoulder", (0.0, -0.274788, 0.0), 1),
    ("l_hip", "root", (0.0, 0.0, -0.084887), 4), ("l_knee", "l_hip", (0.0, -0.421546, 0.0), 1),
    ("l_ankle", "l_knee", (0.0, -0.40987, 0.0), 4),
    ("l_shoulder", "chest", (-0.02405, 0.24350, -0.18311), 4),
    ("l_elbow", "l_shoulder", (0.0, -0.274788, 0.0), 1),
)
_DM_WRIST = (0.0, -0.258947, 0.0)
#: synthesised (DeepMimic has no nose / head-top joints): offsets from the neck joint (m)
_DM_NOSE, _DM_HEAD_TOP = (0.06, 0.11, 0.0), (-0.02, 0.27, 0.0)


def _quat_matrix(q):
    return quat_to_matrix(q)


def read_deepmimic(path: str | Path) -> Clip:
    """Read one DeepMimic humanoid motion (JSON with "Frames": rows of 44 numbers)."""
    path = Path(path)
    try:
        frames = np.asarray(json.loads(path.read_text())["Frames"], dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise _bad(path, "DeepMimic motion (JSON with a 'Frames' list)") from None
    if frames.ndim != 2 or frames.shape[1] != 44 or len(frames) == 0:
        raise InputError(f"{path}: frames have shape {frames.shape}, expected (T, 44) rows of "
                         "the DeepMimic humanoid; only humanoid3d_* clips are supported.")
    G = {"root": _quat_matrix(frames[:, 4:8])}
    P = {"root": frames[:, 1:4]}
    col = 8
    for name, parent, off, size in _DM_JOINTS:
        if size == 4:
            R = _quat_matrix(frames[:, col:col + 4])
        else:
            R = _axis_rot("z", frames[:, col])
        col += size
        P[name] = P[parent] + np.einsum("tij,j->ti", G[parent], np.array(off))
        G[name] = G[parent] @ R
    for s in "lr":
        P[f"{s}_wrist"] = P[f"{s}_elbow"] + np.einsum("tij,j->ti", G[f"{s}_elbow"],
                                                      np.array(_DM_WRIST))
    P["nose"] = P["neck"] + np.einsum("tij,j->ti", G["neck"], np.array(_DM_NOSE))
    P["top"] = P["neck"] + np.einsum("tij,j->ti", G["neck"], np.array(_DM_HEAD_TOP))
    order = ("root", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "chest",
             "neck", "nose", "top", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
             "r_wrist")
    J = np.stack([P[n] for n in order], 1) * 1000.0
    dt = float(np.median(frames[:, 0])) or 1.0 / 30.0
    name = path.stem
    return Clip(name, _y_up_to_z_up(J), 1.0 / dt, "deepmimic", name.replace("humanoid3d_", ""))


def pybullet_motion_dir() -> Path:
    """Folder of DeepMimic clips inside the installed pybullet_data (no physics import)."""
    spec = importlib.util.find_spec("pybullet_data")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("--poses pybullet needs the pybullet_data files, which are not "
                         "installed; expected the optional extra; run "
                         "`pip install posebench3d[mocap]`.")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "motions"


def read_pybullet_clips(motion_dir: str | Path | None = None) -> list[Clip]:
    """All humanoid3d_*.txt DeepMimic clips of pybullet_data (or of `motion_dir`)."""
    d = Path(motion_dir) if motion_dir is not None else pybullet_motion_dir()
    files = sorted(d.glob("humanoid3d_*.txt"))
    if not files:
        raise InputError(f"no humanoid3d_*.txt DeepMimic clips in {d}; expected pybullet_data's "
                         "data/motions folder; reinstall with `pip install posebench3d[mocap]`.")
    return [read_deepmimic(f) for f in files]


# ------------------------------------------------------------------------------ dispatcher
def load_clips(spec: str) -> list[Clip]:
    """Clips for `--poses` values: 'pybullet', 'bvh:PATH', 'amc:PATH', 'npz:PATH' (PATH a file
    or, for bvh/amc, a folder of such files)."""
    if spec == "pybullet":
        return read_pybullet_clips()
    kind, _, p = spec.partition(":")
    if kind not in ("bvh", "amc", "npz") or not p:
        raise InputError(f"--poses '{spec}' is not known; expected procedural, pybullet, "
                         "bvh:PATH, amc:PATH or npz:PATH.")
    path = Path(p)
    if not path.exists():
        raise InputError(f"motion path {path} does not exist; expected a {kind} file or folder; "
                         "check the path.")
    if kind == "npz":
        return read_npz_clips(path)
    files = sorted(path.glob(f"*.{kind}")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"no .{kind} files in {path}; expected at least one; check the folder.")
    if kind == "bvh":
        return [read_bvh(f) for f in files]
    return [read_amc(f, find_asf(f)) for f in files]
