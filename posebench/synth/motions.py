"""Parametric motion library and action sequencer for the procedural body.

A *primitive* (walk, run, turn, sit down, stand up, sit, squat, bend, reach, wave, point, kick,
jump, crouch, idle, gesture, phone, eat, photo, pose) maps a time axis `t` (T,) seconds and a
Generator to joint-angle tracks (radians, names of `body.ANGLES`) plus three root tracks:
``speed`` (mm/s along the walking path), ``lean`` (forward pitch of the pelvis, compensated at
the hips) and ``lift`` (mm above ground contact, jumps). An *action* (Human3.6M-like name) is a
weighted list of primitives; `action_sequence` chains random primitives with cross-faded
transitions (smooth: raised-cosine blends of 0.5 s) and integrates the root along a circular
path around the capture-area centre, so a person stays in view of every camera.
"""

from __future__ import annotations

import numpy as np

from posebench.synth.body import ANGLES, Body, clamp_angles, forward_kinematics

FPS = 25.0
DEG = np.pi / 180.0
_ROOT_TRACKS = ("speed", "lean", "lift", "turn")
ANKLE_HEIGHT_MM = 80.0


def _zeros(t):
    return {n: np.zeros_like(t) for n in (*ANGLES, *_ROOT_TRACKS)}


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _sym(tr, name, left, right):
    tr[f"l_{name}"] = tr[f"l_{name}"] + left
    tr[f"r_{name}"] = tr[f"r_{name}"] + right


def _arms_relaxed(tr, rng):
    _sym(tr, "sh_abd", rng.uniform(5, 15) * DEG, rng.uniform(5, 15) * DEG)
    _sym(tr, "elbow", rng.uniform(5, 25) * DEG, rng.uniform(5, 25) * DEG)


def idle(t, rng):
    """Standing with weight shift and small sway."""
    tr = _zeros(t)
    w = 2 * np.pi * rng.uniform(0.15, 0.4)
    ph = rng.uniform(0, 2 * np.pi)
    tr["root_roll"] += 3 * DEG * np.sin(w * t + ph)
    _sym(tr, "hip_abd", 3 * DEG * np.sin(w * t + ph), -3 * DEG * np.sin(w * t + ph))
    tr["neck_turn"] += rng.uniform(-30, 30) * DEG * np.sin(0.5 * w * t)
    tr["spine_twist"] += rng.uniform(-10, 10) * DEG
    _arms_relaxed(tr, rng)
    return tr


def walk(t, rng, run=False):
    """Gait cycle; `run` gives larger strides, bent elbows, flight phase and forward lean."""
    tr = _zeros(t)
    f = rng.uniform(1.3, 1.6) if run else rng.uniform(0.85, 1.05)  # strides per second
    ph = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
    amp = rng.uniform(40, 50) if run else rng.uniform(22, 30)
    for side, off in (("l", 0.0), ("r", np.pi)):
        p = ph + off
        tr[f"{side}_hip_flex"] += amp * DEG * np.sin(p) + (15 if run else 5) * DEG
        knee = (90 if run else 55) * np.clip(np.sin(p - 1.9), 0, None) ** 1.5 + 5
        tr[f"{side}_knee"] += knee * DEG
        tr[f"{side}_sh_flex"] += -(amp * 0.8) * DEG * np.sin(p)
        tr[f"{side}_elbow"] += ((85 if run else 20) + 10 * np.sin(p)) * DEG
        tr[f"{side}_sh_abd"] += 8 * DEG
    tr["spine_twist"] += 8 * DEG * np.sin(ph)
    tr["root_roll"] += 3 * DEG * np.sin(ph)
    tr["lean"] += (15 if run else 4) * DEG
    tr["speed"] += rng.uniform(2800, 3800) if run else rng.uniform(1000, 1500)
    if run:
        tr["lift"] += 60 * np.clip(np.sin(2 * ph), 0, None)
    return tr


def run(t, rng):
    return walk(t, rng, run=True)


def turn(t, rng):
    """Turn on the spot by 60-180 degrees with small steps."""
    tr = idle(t, rng)
    ang = rng.choice([-1, 1]) * rng.uniform(60, 180) * DEG
    tr["turn"] += ang * _smoothstep(t / max(t[-1], 1e-6))
    step = np.clip(np.sin(2 * np.pi * 1.6 * t), 0, None)
    _sym(tr, "hip_flex", 20 * DEG * step, 20 * DEG * np.roll(step, 8))
    _sym(tr, "knee", 35 * DEG * step, 35 * DEG * np.roll(step, 8))
    return tr


def _ramp(t, rising=True):
    x = _smoothstep(t / max(t[-1], 1e-6))
    return x if rising else 1 - x


def _sit_pose(tr, w, rng):
    tr["l_hip_flex"] += 88 * DEG * w
    tr["r_hip_flex"] += 88 * DEG * w
    _sym(tr, "knee", 92 * DEG * w, 92 * DEG * w)
    _sym(tr, "hip_abd", rng.uniform(0, 15) * DEG * w, rng.uniform(0, 15) * DEG * w)


def sit_down(t, rng):
    tr = idle(t, rng)
    w = _ramp(t)
    _sit_pose(tr, w, rng)
    tr["lean"] += 35 * DEG * np.sin(np.pi * np.clip(t / max(t[-1], 1e-6), 0, 1))
    return tr


def stand_up(t, rng):
    tr = idle(t, rng)
    w = _ramp(t, rising=False)
    _sit_pose(tr, w, rng)
    tr["lean"] += 35 * DEG * np.sin(np.pi * np.clip(t / max(t[-1], 1e-6), 0, 1))
    return tr


def sit(t, rng):
    """Seated, gesturing a little (a chair is implied, not rendered)."""
    tr = gesture(t, rng, amount=0.5)
    tr["speed"][:] = 0
    _sit_pose(tr, np.ones_like(t), rng)
    tr["lean"] += rng.uniform(-10, 15) * DEG
    return tr


def squat(t, rng):
    tr = _zeros(t)
    depth = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(0.3, 0.5) * t)
    _sym(tr, "hip_flex", 100 * DEG * depth, 100 * DEG * depth)
    _sym(tr, "knee", 125 * DEG * depth, 125 * DEG * depth)
    tr["lean"] += 25 * DEG * depth
    _sym(tr, "sh_flex", 85 * DEG * depth, 85 * DEG * depth)
    _sym(tr, "hip_abd", 12 * DEG, 12 * DEG)
    return tr


def crouch(t, rng):
    tr = _zeros(t)
    w = np.sin(np.pi * np.clip(t / max(t[-1], 1e-6), 0, 1)) ** 0.5
    _sym(tr, "hip_flex", 115 * DEG * w, 110 * DEG * w)
    _sym(tr, "knee", 145 * DEG * w, 140 * DEG * w)
    tr["spine_flex"] += 35 * DEG * w
    tr["lean"] += 20 * DEG * w
    _sym(tr, "sh_flex", 40 * DEG * w, 50 * DEG * w)
    _sym(tr, "elbow", 40 * DEG * w, 30 * DEG * w)
    return tr


def bend(t, rng):
    """Bend forward to pick something up, arms reaching down."""
    tr = idle(t, rng)
    w = np.sin(np.pi * np.clip(t / max(t[-1], 1e-6), 0, 1))
    tr["lean"] += rng.uniform(40, 70) * DEG * w
    tr["spine_flex"] += rng.uniform(20, 45) * DEG * w
    _sym(tr, "knee", 20 * DEG * w, 20 * DEG * w)
    _sym(tr, "sh_flex", 60 * DEG * w, 50 * DEG * w)
    return tr


def _one_arm(rng):
    return "l" if rng.random() < 0.5 else "r"


def reach(t, rng):
    tr = idle(t, rng)
    s = _one_arm(rng)
    w = np.sin(np.pi * np.clip(t / max(t[-1], 1e-6), 0, 1))
    tr[f"{s}_sh_flex"] += rng.uniform(70, 160) * DEG * w
    tr[f"{s}_sh_abd"] += rng.uniform(0, 40) * DEG * w
    tr[f"{s}_elbow"] *= 1 - w
    tr["spine_side"] += (1 if s == "l" else -1) * 10 * DEG * w
    return tr


def wave(t, rng):
    tr = idle(t, rng)
    s = _one_arm(rng)
    w = _smoothstep(4 * np.minimum(t, t[-1] - t) / max(t[-1], 1e-6))
    tr[f"{s}_sh_abd"] += 140 * DEG * w
    tr[f"{s}_sh_flex"] += 20 * DEG * w
    tr[f"{s}_elbow"] += (45 + 30 * np.sin(2 * np.pi * rng.uniform(1.5, 2.5) * t)) * DEG * w
    tr["neck_turn"] += (1 if s == "l" else -1) * 20 * DEG * w
    return tr


def point(t, rng):
    tr = idle(t, rng)
    s = _one_arm(rng)
    w = _smoothstep(4 * np.minimum(t, t[-1] - t) / max(t[-1], 1e-6))
    tr[f"{s}_sh_flex"] += rng.uniform(70, 110) * DEG * w
    tr[f"{s}_sh_abd"] += rng.uniform(0, 50) * DEG * w
    tr["neck_turn"] += (1 if s == "l" else -1) * rng.uniform(10, 40) * DEG * w
    tr["spine_twist"] += (1 if s == "l" else -1) * 10 * DEG * w
    return tr


def kick(t, rng):
    tr = idle(t, rng)
    s = _one_arm(rng)
    k = np.sin(np.pi * np.clip((t - 0.2 * t[-1]) / (0.6 * max(t[-1], 1e-6)), 0, 1)) ** 2
    tr[f"{s}_hip_flex"] += rng.uniform(60, 95) * DEG * k
    tr[f"{s}_knee"] += 50 * DEG * np.sin(np.pi * k) + 5 * DEG
    tr["lean"] -= 10 * DEG * k
    _sym(tr, "sh_abd", 35 * DEG * k, 35 * DEG * k)
    return tr


def jump(t, rng):
    tr = _zeros(t)
    T = max(t[-1], 1e-6)
    x = np.clip(t / T, 0, 1)
    crouch_w = np.exp(-(((x - 0.25) / 0.1) ** 2)) + np.exp(-(((x - 0.8) / 0.08) ** 2))
    fly = np.clip(np.sin(np.pi * (x - 0.35) / 0.35), 0, None) * (x > 0.35) * (x < 0.7)
    _sym(tr, "hip_flex", 70 * DEG * crouch_w + 10 * DEG * fly, 70 * DEG * crouch_w)
    _sym(tr, "knee", 95 * DEG * crouch_w + 25 * DEG * fly, 95 * DEG * crouch_w + 25 * DEG * fly)
    tr["lean"] += 25 * DEG * crouch_w
    arms = 150 * DEG * fly - 40 * DEG * crouch_w
    _sym(tr, "sh_flex", arms, arms)
    tr["lift"] += rng.uniform(200, 400) * fly
    return tr


def gesture(t, rng, amount=1.0):
    """Conversation: hands in front, moving."""
    tr = idle(t, rng)
    for s in ("l", "r"):
        f = rng.uniform(0.3, 0.9)
        ph = rng.uniform(0, 2 * np.pi)
        tr[f"{s}_sh_flex"] += amount * (25 + 20 * np.sin(2 * np.pi * f * t + ph)) * DEG
        tr[f"{s}_elbow"] += amount * (75 + 25 * np.sin(2 * np.pi * f * 1.3 * t + ph)) * DEG
        tr[f"{s}_sh_abd"] += amount * 15 * DEG
    return tr


def phone(t, rng):
    tr = idle(t, rng)
    s = _one_arm(rng)
    tr[f"{s}_sh_flex"] += 35 * DEG
    tr[f"{s}_sh_abd"] += 35 * DEG
    tr[f"{s}_elbow"] += 140 * DEG
    tr[f"{s}_sh_rot"] += 30 * DEG
    tr["neck_flex"] += 10 * DEG
    return tr


def eat(t, rng):
    tr = idle(t, rng)
    s = _one_arm(rng)
    cyc = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(0.2, 0.4) * t)
    tr[f"{s}_sh_flex"] += (20 + 30 * cyc) * DEG
    tr[f"{s}_elbow"] += (60 + 80 * cyc) * DEG
    other = "r" if s == "l" else "l"
    tr[f"{other}_sh_flex"] += 30 * DEG
    tr[f"{other}_elbow"] += 80 * DEG
    tr["neck_flex"] += 15 * DEG
    return tr


def photo(t, rng):
    tr = idle(t, rng)
    _sym(tr, "sh_flex", 60 * DEG, 60 * DEG)
    _sym(tr, "sh_abd", 20 * DEG, 20 * DEG)
    _sym(tr, "elbow", 125 * DEG, 125 * DEG)
    _sym(tr, "sh_rot", 20 * DEG, 20 * DEG)
    tr["spine_twist"] += rng.uniform(-25, 25) * DEG * np.sin(2 * np.pi * 0.2 * t)
    return tr


def pose(t, rng):
    """A random held pose within joint limits (Posing)."""
    tr = idle(t, rng)
    for s in ("l", "r"):
        tr[f"{s}_sh_flex"] += rng.uniform(-30, 170) * DEG
        tr[f"{s}_sh_abd"] += rng.uniform(0, 120) * DEG
        tr[f"{s}_elbow"] += rng.uniform(0, 130) * DEG
        tr[f"{s}_sh_rot"] += rng.uniform(-40, 40) * DEG
    s = _one_arm(rng)
    tr[f"{s}_hip_abd"] += rng.uniform(0, 30) * DEG
    tr[f"{s}_hip_flex"] += rng.uniform(-10, 40) * DEG
    tr[f"{s}_knee"] += rng.uniform(0, 40) * DEG
    tr["spine_side"] += rng.uniform(-20, 20) * DEG
    tr["spine_flex"] += rng.uniform(-15, 25) * DEG
    return tr


PRIMITIVES = {
    "idle": idle, "walk": walk, "run": run, "turn": turn, "sit_down": sit_down,
    "stand_up": stand_up, "sit": sit, "squat": squat, "crouch": crouch, "bend": bend,
    "reach": reach, "wave": wave, "point": point, "kick": kick, "jump": jump,
    "gesture": gesture, "phone": phone, "eat": eat, "photo": photo, "pose": pose,
}

#: Human3.6M-like actions: primitive -> weight. A sequence is a random chain of these.
ACTIONS: dict[str, dict[str, float]] = {
    "Directions": {"point": 3, "walk": 2, "turn": 1, "idle": 1},
    "Discussion": {"gesture": 4, "idle": 1, "turn": 1},
    "Eating": {"eat": 4, "sit": 1},
    "Greeting": {"wave": 3, "walk": 2, "idle": 1},
    "Phoning": {"phone": 4, "walk": 1, "turn": 1},
    "Posing": {"pose": 4, "idle": 1},
    "Purchases": {"reach": 3, "bend": 2, "walk": 1},
    "Sitting": {"sit_down": 0, "sit": 3},
    "Walking": {"walk": 4, "run": 1, "turn": 1},
    "Exercise": {"squat": 2, "jump": 2, "kick": 2, "crouch": 2, "run": 1},
}
ACTION_NAMES: tuple[str, ...] = tuple(ACTIONS)


def _chain(action: str, n_frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Primitive tracks chained with raised-cosine cross-fades (0.5 s)."""
    blend = int(0.5 * FPS)
    names = list(ACTIONS[action])
    w = np.array([ACTIONS[action][n] for n in names], float)
    plan: list[str] = []
    lengths: list[int] = []
    total = 0
    if action == "Sitting":  # sit down, stay, stand up
        seg = max(n_frames // 4, blend + 2)
        plan, lengths = ["sit_down", "sit", "stand_up"], [seg, n_frames - 2 * seg, seg]
        lengths[1] = max(lengths[1], blend + 2)
        total = sum(lengths)
    while total < n_frames:
        name = str(rng.choice(names, p=w / w.sum()))
        length = int(rng.uniform(2.0, 4.5) * FPS)
        plan.append(name)
        lengths.append(length)
        total += length
    out = {n: np.zeros(n_frames + blend) for n in (*ANGLES, *_ROOT_TRACKS)}
    weight = np.zeros(n_frames + blend)
    start = 0
    for name, length in zip(plan, lengths):
        t = np.arange(length + blend) / FPS
        tr = PRIMITIVES[name](t, rng)
        win = np.ones(length + blend)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(blend) + 0.5) / blend)
        if start > 0:
            win[:blend] = ramp
        win[length:] = ramp[::-1]
        stop = min(start + length + blend, n_frames + blend)
        n = stop - start
        if n <= 0:
            break
        for k in out:
            out[k][start:stop] += win[:n] * tr[k][:n]
        weight[start:stop] += win[:n]
        start += length
    weight = np.maximum(weight, 1e-9)
    return {k: v[:n_frames] / weight[:n_frames] for k, v in out.items()}


def action_sequence(action: str, n_frames: int, body: Body, rng: np.random.Generator,
                    centre_xy=(0.0, 0.0)) -> np.ndarray:
    """World joint positions (n_frames, 17, 3) mm (z up) of one subject doing `action`.

    The root walks on a circle (radius 0.6-1.6 m) around `centre_xy`; standing primitives
    face a random offset from the path tangent; feet touch the floor (z = 0) unless jumping.
    """
    tr = _chain(action, n_frames, rng)
    radius = rng.uniform(600, 1600)
    direction = rng.choice([-1.0, 1.0])
    theta = rng.uniform(0, 2 * np.pi) + direction * np.cumsum(tr["speed"]) / FPS / radius
    pos = np.stack([centre_xy[0] + radius * np.cos(theta),
                    centre_xy[1] + radius * np.sin(theta)], -1)
    tangent = theta + direction * np.pi / 2
    moving = np.clip(tr["speed"] / 600.0, 0, 1)
    facing = tangent + (1 - moving) * (rng.uniform(-2.5, 2.5) + tr["turn"])
    angles = {n: tr[n] for n in ANGLES}
    angles["root_yaw"] = facing
    angles["root_pitch"] = tr["root_pitch"] + tr["lean"]
    angles["l_hip_flex"] = tr["l_hip_flex"] + tr["lean"]
    angles["r_hip_flex"] = tr["r_hip_flex"] + tr["lean"]
    angles = clamp_angles(angles)
    J = forward_kinematics(angles, body)
    floor = np.minimum(J[:, 3, 2], J[:, 6, 2])
    J[..., 2] += (ANKLE_HEIGHT_MM - floor + tr["lift"])[:, None]
    J[..., :2] += pos[:, None, :]
    return J
