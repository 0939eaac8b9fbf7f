"""A kinematic Human3.6M-17 body: per-subject bone lengths, joint limits, forward kinematics.

Body frame (before the root yaw): x forward, y left, z up, millimetres (world is z-up like
Human3.6M). A pose is a dict of joint-angle tracks (radians, each (T,)) named in `ANGLES`;
`forward_kinematics(angles, body)` turns them into (T, 17, 3) joint positions in the
Human3.6M-17 order of `posebench.skeletons` (pelvis at the origin, root yaw applied).

Angle conventions (positive direction):
    root_yaw about +z (turn left), root_pitch (lean forward), root_roll (lean left);
    spine_flex forward, spine_side toward the left, spine_twist to the left (spread over the
    two spine segments); neck_flex forward (nod), neck_turn to the left;
    {l,r}_hip_flex thigh forward, {l,r}_hip_abd thigh outward, {l,r}_hip_rot internal;
    {l,r}_knee flexion (shin backward, >= 0);
    {l,r}_sh_flex arm forward/up, {l,r}_sh_abd arm outward/up, {l,r}_sh_rot internal;
    {l,r}_elbow flexion (forearm forward, >= 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDE_ANGLES = ("hip_flex", "hip_abd", "hip_rot", "knee", "sh_flex", "sh_abd", "sh_rot", "elbow")
ANGLES: tuple[str, ...] = (
    "root_yaw", "root_pitch", "root_roll", "spine_flex", "spine_side", "spine_twist",
    "neck_flex", "neck_turn",
    *(f"{s}_{a}" for s in ("l", "r") for a in SIDE_ANGLES),
)

#: Anatomical limits (degrees), applied by `clamp_angles`; values from common ROM tables.
LIMITS_DEG: dict[str, tuple[float, float]] = {
    "root_pitch": (-30, 95), "root_roll": (-30, 30),
    "spine_flex": (-30, 80), "spine_side": (-35, 35), "spine_twist": (-45, 45),
    "neck_flex": (-45, 60), "neck_turn": (-70, 70),
    "hip_flex": (-30, 125), "hip_abd": (-25, 50), "hip_rot": (-40, 40), "knee": (0, 150),
    "sh_flex": (-60, 180), "sh_abd": (-15, 175), "sh_rot": (-80, 80), "elbow": (0, 150),
}

#: Nominal bone lengths (mm) of a 1.75 m adult (close to Human3.6M subject averages).
NOMINAL_MM: dict[str, float] = {
    "hip_half_width": 130.0, "thigh": 450.0, "shin": 440.0, "lower_spine": 235.0,
    "upper_spine": 255.0, "neck": 115.0, "head": 115.0, "shoulder_half_width": 150.0,
    "upper_arm": 280.0, "forearm": 250.0,
}
#: Capsule radii (mm) of the nominal body (used by the renderer).
NOMINAL_RADII_MM: dict[str, float] = {
    "hips": 105.0, "belly": 125.0, "chest": 140.0, "shoulders": 65.0, "neck": 45.0,
    "head": 100.0, "upper_arm": 48.0, "forearm": 38.0, "hand": 42.0, "thigh": 72.0,
    "shin": 50.0, "foot": 38.0,
}


@dataclass(frozen=True)
class Body:
    """One subject's body: bone lengths and capsule radii (mm), clothing colours (RGB 0-1)."""

    lengths: dict
    radii: dict
    colours: dict
    height_mm: float


def sample_body(rng: np.random.Generator) -> Body:
    """A random adult: stature 1.55-1.92 m, per-bone jitter +-5 %, girth +-15 %."""
    height = float(rng.uniform(1550.0, 1920.0))
    scale = height / 1750.0
    lengths = {k: v * scale * float(rng.uniform(0.95, 1.05)) for k, v in NOMINAL_MM.items()}
    # keep left/right symmetric: one length per bone, used by both sides
    girth = float(rng.uniform(0.85, 1.15))
    radii = {k: v * scale * girth * float(rng.uniform(0.95, 1.05))
             for k, v in NOMINAL_RADII_MM.items()}
    radii["head"] = NOMINAL_RADII_MM["head"] * scale * float(rng.uniform(0.95, 1.05))
    shirt, trousers = rng.uniform(0.15, 0.95, size=(2, 3))
    skin = np.array([0.87, 0.67, 0.52]) * float(rng.uniform(0.45, 1.1))
    colours = {"shirt": shirt, "trousers": trousers, "skin": np.clip(skin, 0, 1),
               "shoes": rng.uniform(0.05, 0.35, size=3), "hair": rng.uniform(0.05, 0.5, size=3)}
    return Body(lengths, radii, colours, height)


def clamp_angles(angles: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Clip every angle track (radians) to `LIMITS_DEG` (side prefix l_/r_ stripped)."""
    out = {}
    for name, v in angles.items():
        key = name[2:] if name[:2] in ("l_", "r_") else name
        lo_hi = LIMITS_DEG.get(key)
        out[name] = v if lo_hi is None else np.clip(v, *np.radians(lo_hi))
    return out


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                     np.stack([z, z, o], -1)], -2)


def _apply(R, v):
    """(T,3,3) @ (3,) or (T,3) -> (T,3)."""
    return np.einsum("tij,tj->ti", R, np.broadcast_to(v, R.shape[:-1]))


def forward_kinematics(angles: dict[str, np.ndarray], body: Body) -> np.ndarray:
    """Joint positions (T, 17, 3) mm in the yawed body frame, pelvis at the origin.

    `angles`: tracks (T,) radians for the names in `ANGLES` (missing ones are 0).
    """
    T = len(next(iter(angles.values())))
    zero = np.zeros(T)
    a = {n: np.asarray(angles.get(n, zero), dtype=np.float64) for n in ANGLES}
    L = body.lengths
    J = np.zeros((T, 17, 3))
    G0 = _rz(a["root_yaw"]) @ _ry(a["root_pitch"]) @ _rx(-a["root_roll"])
    half = 0.5
    Rs = _rz(half * a["spine_twist"]) @ _ry(half * a["spine_flex"]) @ _rx(-half * a["spine_side"])
    G1 = G0 @ Rs
    J[:, 7] = _apply(G1, np.array([0.0, 0.0, L["lower_spine"]]))
    G2 = G1 @ Rs
    J[:, 8] = J[:, 7] + _apply(G2, np.array([0.0, 0.0, L["upper_spine"]]))
    Gn = G2 @ _rz(a["neck_turn"]) @ _ry(a["neck_flex"])
    J[:, 9] = J[:, 8] + _apply(Gn, np.array([0.25 * L["neck"], 0.0, 0.97 * L["neck"]]))
    J[:, 10] = J[:, 9] + _apply(Gn, np.array([-0.15 * L["head"], 0.0, 0.99 * L["head"]]))
    for side, sgn, (hip, knee, ankle), (sho, elb, wri) in (
        ("l", 1.0, (4, 5, 6), (11, 12, 13)), ("r", -1.0, (1, 2, 3), (14, 15, 16)),
    ):
        g = lambda n, side=side: a[f"{side}_{n}"]  # noqa: E731
        J[:, hip] = _apply(G0, np.array([0.0, sgn * L["hip_half_width"], -20.0]))
        Gt = G0 @ _rz(-sgn * g("hip_rot")) @ _ry(-g("hip_flex")) @ _rx(sgn * g("hip_abd"))
        J[:, knee] = J[:, hip] + _apply(Gt, np.array([0.0, 0.0, -L["thigh"]]))
        Gs = Gt @ _ry(g("knee"))
        J[:, ankle] = J[:, knee] + _apply(Gs, np.array([0.0, 0.0, -L["shin"]]))
        J[:, sho] = J[:, 8] + _apply(G2, np.array([-10.0, sgn * L["shoulder_half_width"], -25.0]))
        Ga = G2 @ _rx(sgn * g("sh_abd")) @ _ry(-g("sh_flex")) @ _rz(-sgn * g("sh_rot"))
        J[:, elb] = J[:, sho] + _apply(Ga, np.array([0.0, 0.0, -L["upper_arm"]]))
        Gf = Ga @ _ry(-g("elbow"))
        J[:, wri] = J[:, elb] + _apply(Gf, np.array([0.0, 0.0, -L["forearm"]]))
    return J


def bone_lengths(poses: np.ndarray, parents) -> np.ndarray:
    """(..., J, 3) -> (..., J-1) lengths of the bones (child, parent) for children 1..J-1."""
    par = np.asarray(parents)
    child = np.flatnonzero(par >= 0)
    return np.linalg.norm(poses[..., child, :] - poses[..., par[child], :], axis=-1)


def body_frame(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward and left unit vectors (..., 3) of H36M-17 poses (from hips and spine).

    forward = (l_hip - r_hip) x (thorax - pelvis), normalised; left = l_hip - r_hip made
    orthogonal to forward.
    """
    left = poses[..., 4, :] - poses[..., 1, :]
    up = poses[..., 8, :] - poses[..., 0, :]
    fwd = np.cross(left, up)
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True) + 1e-9
    left = left / (np.linalg.norm(left, axis=-1, keepdims=True) + 1e-9)
    return fwd, left
