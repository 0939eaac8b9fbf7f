"""Vectorised numpy renderer: shaded capsules and spheres, z-buffered, drawn directly into
square crops around the person.

Geometry. Every body part is a *primitive*: a capsule between two 3D points (camera frame, mm)
with an end radius each (a sphere when both ends coincide). Its axis ends are projected with
the camera's full (distorted) model, so the drawn limb axes pass exactly through the 2D labels
(which are the same projection of the same joints); the image radius at an end is f r / Z.
Depth along the axis is interpolated linearly and bulges toward the camera by the 3D radius, so
the z-buffer orders limbs correctly and the shading sees a round surface.

Crops. `crop_boxes` takes the square box around the projected person (margin 1.3 about the 2D
box); `crop_affines` gives (N, 2, 3) full-image px -> crop px (applied by
`posebench.geometry.image_affine.apply_affine`). Pixel convention (OpenCV's
warpAffine): crop pixel (row i, col j) shows the image point ``A^-1 (j, i)``, so a label at crop
coordinate (u, v) lies in pixel (round(v), round(u)).

Speed. Crops are processed in chunks; for each primitive only the pixels of its bounding box
are tested (sparse candidates), so the cost is about the covered area, not S^2 x primitives.
"""

from __future__ import annotations

import numpy as np

from posebench.geometry.camera import project
from posebench.geometry.image_affine import apply_affine
from posebench.synth.body import body_frame

#: light direction (toward the light) in camera coordinates: up-left, near the camera
LIGHT = np.array([-0.35, -0.55, -0.75]) / np.linalg.norm([-0.35, -0.55, -0.75])
AMBIENT, DIFFUSE = 0.35, 0.75

#: primitives of the body: (name, end A spec, end B spec, radius key A, radius key B, colour key)
PART_NAMES = (
    "hips", "belly", "chest", "shoulders", "neck", "head", "hair", "nose",
    "l_upper_arm", "l_forearm", "l_hand", "r_upper_arm", "r_forearm", "r_hand",
    "l_thigh", "l_shin", "l_foot", "r_thigh", "r_shin", "r_foot",
)
#: parts whose axis runs joint A -> joint B of H36M-17 (for tests): name -> (A, B)
LIMB_JOINTS = {"l_upper_arm": (11, 12), "l_forearm": (12, 13), "r_upper_arm": (14, 15),
               "r_forearm": (15, 16), "l_thigh": (4, 5), "l_shin": (5, 6),
               "r_thigh": (1, 2), "r_shin": (2, 3)}


def crop_boxes(uv: np.ndarray, margin: float = 1.3) -> tuple[np.ndarray, np.ndarray]:
    """Square boxes around 2D poses. uv (N, J, 2) px -> top-left (N, 2) px, side (N,) px.

    The box is centred on the 2D bounding box (head top extended by 15 % of the body height)
    with side `margin` times its larger extent. NaN joints (not visible) are ignored; a pose
    with no visible joint gets a 32 px box at the origin.
    """
    vis = np.isfinite(uv).all(-1)
    seen = vis.any(-1)
    big = np.where(vis[..., None], uv, np.inf)
    lo = np.where(seen[:, None], big.min(1), 0.0)  # not-visible joints (NaN) are ignored
    hi = np.where(seen[:, None], np.where(vis[..., None], uv, -np.inf).max(1), 0.0)
    ext = hi - lo
    lo = lo - np.stack([np.zeros(len(uv)), 0.08 * ext[:, 1]], -1)
    side = margin * np.maximum(ext[:, 0], ext[:, 1] * 1.08)
    side = np.maximum(side, 32.0)
    centre = 0.5 * (lo + hi)
    return centre - side[:, None] / 2, side


def crop_affines(top_left: np.ndarray, side: np.ndarray, size: int) -> np.ndarray:
    """(N, 2, 3) affine maps full-image px -> crop px: ``crop = s (img - top_left) - 0.5``,
    s = size / side (the box's pixel centres at integer crop coordinates 0..size-1)."""
    s = size / side
    A = np.zeros((len(side), 2, 3))
    A[:, 0, 0] = A[:, 1, 1] = s
    A[:, :, 2] = -s[:, None] * top_left - 0.5
    return A


def body_primitives(X_c: np.ndarray, radii: np.ndarray, colour_keys: dict) -> tuple:
    """3D primitives of H36M-17 poses. X_c (N, 17, 3) camera mm; radii (N, R) mm with columns
    named by `RADIUS_KEYS`. Returns ends (N, P, 2, 3) mm and end radii (N, P, 2) mm."""
    n = len(X_c)
    rk = {k: radii[:, i] for i, k in enumerate(RADIUS_KEYS)}
    fwd, _ = body_frame(X_c)
    head_axis = X_c[:, 10] - X_c[:, 8]
    up = head_axis / (np.linalg.norm(head_axis, axis=-1, keepdims=True) + 1e-9)
    head_c = 0.5 * (X_c[:, 9] + X_c[:, 10])
    ends = np.zeros((n, len(PART_NAMES), 2, 3))
    rad = np.zeros((n, len(PART_NAMES), 2))

    def put(name, a, b, ra, rb):
        i = PART_NAMES.index(name)
        ends[:, i, 0], ends[:, i, 1] = a, b
        rad[:, i, 0], rad[:, i, 1] = ra, rb

    put("hips", X_c[:, 1], X_c[:, 4], rk["hips"], rk["hips"])
    put("belly", X_c[:, 0], X_c[:, 7], rk["belly"], rk["belly"])
    put("chest", X_c[:, 7], X_c[:, 8] - 0.3 * (X_c[:, 8] - X_c[:, 7]), rk["belly"], rk["chest"])
    put("shoulders", X_c[:, 11], X_c[:, 14], rk["shoulders"], rk["shoulders"])
    put("neck", X_c[:, 8], X_c[:, 9], rk["neck"], rk["neck"])
    put("head", head_c, head_c, rk["head"], rk["head"])
    hair = head_c + 0.2 * rk["head"][:, None] * up - 0.25 * rk["head"][:, None] * fwd
    put("hair", hair, hair, 0.97 * rk["head"], 0.97 * rk["head"])
    nose = head_c + 0.95 * rk["head"][:, None] * fwd - 0.1 * rk["head"][:, None] * up
    put("nose", nose, nose, 0.22 * rk["head"], 0.22 * rk["head"])
    for s, (sh, el, wr), (hp, kn, an) in (("l", (11, 12, 13), (4, 5, 6)),
                                          ("r", (14, 15, 16), (1, 2, 3))):
        put(f"{s}_upper_arm", X_c[:, sh], X_c[:, el], rk["upper_arm"], rk["forearm"])
        put(f"{s}_forearm", X_c[:, el], X_c[:, wr], rk["forearm"], 0.8 * rk["forearm"])
        fa = X_c[:, wr] - X_c[:, el]
        fa = fa / (np.linalg.norm(fa, axis=-1, keepdims=True) + 1e-9)
        hand = X_c[:, wr] + 0.6 * rk["hand"][:, None] * fa
        put(f"{s}_hand", hand, hand, rk["hand"], rk["hand"])
        put(f"{s}_thigh", X_c[:, hp], X_c[:, kn], rk["thigh"], rk["shin"])
        put(f"{s}_shin", X_c[:, kn], X_c[:, an], rk["shin"], 0.75 * rk["shin"])
        shin = X_c[:, an] - X_c[:, kn]
        shin = shin / (np.linalg.norm(shin, axis=-1, keepdims=True) + 1e-9)
        foot_dir = fwd - np.sum(fwd * shin, -1, keepdims=True) * shin
        foot_dir /= np.linalg.norm(foot_dir, axis=-1, keepdims=True) + 1e-9
        toe = X_c[:, an] + 2.6 * rk["foot"][:, None] * foot_dir + 0.5 * rk["foot"][:, None] * shin
        put(f"{s}_foot", X_c[:, an], toe, rk["foot"], 0.9 * rk["foot"])
    return ends, rad


RADIUS_KEYS = ("hips", "belly", "chest", "shoulders", "neck", "head", "upper_arm", "forearm",
               "hand", "thigh", "shin", "foot")

_LEFT_TINT, _RIGHT_TINT = np.array([0.95, 0.25, 0.2]), np.array([0.2, 0.45, 0.95])


def part_colours(colours: dict) -> np.ndarray:
    """(P, 3) RGB 0-1 of each part for one subject's clothing; left limbs tinted red, right
    limbs blue (different colours for left and right)."""
    shirt, trousers, skin = colours["shirt"], colours["trousers"], colours["skin"]
    table = {"hips": trousers, "belly": shirt, "chest": shirt, "shoulders": shirt,
             "neck": skin, "head": skin, "hair": colours["hair"], "nose": skin * 0.85}
    for s, tint in (("l", _LEFT_TINT), ("r", _RIGHT_TINT)):
        table[f"{s}_upper_arm"] = 0.55 * shirt + 0.45 * tint
        table[f"{s}_forearm"] = 0.5 * skin + 0.5 * tint
        table[f"{s}_hand"] = skin
        table[f"{s}_thigh"] = 0.55 * trousers + 0.45 * tint
        table[f"{s}_shin"] = 0.45 * trousers + 0.55 * tint
        table[f"{s}_foot"] = colours["shoes"]
    return np.stack([table[n] for n in PART_NAMES])


def project_primitives(ends: np.ndarray, rad: np.ndarray, f, c, k, p, model: str) -> tuple:
    """Project primitive ends (N, P, 2, 3) mm with per-sample cameras (f, c (N,2), k (N,3),
    p (N,2)). Returns uv (N, P, 2, 2) px, radius px (N, P, 2), depth mm (N, P, 2)."""
    n, P = ends.shape[:2]
    uv = project(ends.reshape(n, P * 2, 3), f, c, k, p, model).reshape(n, P, 2, 2)
    z = np.maximum(ends[..., 2], 1.0)
    r_px = rad * np.mean(f, axis=-1)[:, None, None] / z
    return uv, r_px, z


def render(uv: np.ndarray, r_px: np.ndarray, depth: np.ndarray, rad_mm: np.ndarray,
           colours: np.ndarray, affine: np.ndarray, size: int,
           background: np.ndarray | None = None, chunk: int = 256,
           return_ids: bool = False):
    """Draw primitives into crops.

    uv (N, P, 2, 2) image px of the two ends; r_px (N, P, 2) image-px radii; depth (N, P, 2)
    mm; rad_mm (N, P, 2) mm; colours (N, P, 3) or (P, 3) RGB 0-1; affine (N, 2, 3) image ->
    crop px; background (N, S, S, 3) uint8 or None (black). Returns images (N, S, S, 3) uint8
    and, with `return_ids`, (N, S, S) int16 index of the visible primitive (-1: background).
    """
    n, P = uv.shape[:2]
    S = int(size)
    colours = np.broadcast_to(np.asarray(colours, np.float32), (n, P, 3))
    images = np.empty((n, S, S, 3), np.uint8)
    ids_out = np.empty((n, S, S), np.int16) if return_ids else None
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        bg = None if background is None else background[lo:hi]
        img, ids = _render_chunk(uv[lo:hi], r_px[lo:hi], depth[lo:hi], rad_mm[lo:hi],
                                 colours[lo:hi], affine[lo:hi], S, bg)
        images[lo:hi] = img
        if return_ids:
            ids_out[lo:hi] = ids
    return (images, ids_out) if return_ids else images


def _render_chunk(uv, r_px, depth, rad_mm, colours, affine, S, background):
    """`render` for one chunk of crops: every primitive z-buffered into flat (n S^2) buffers,
    then shaded."""
    n, P = uv.shape[:2]
    scale = affine[:, 0, 0]
    ab = apply_affine(affine, uv.reshape(n, P * 2, 2)).reshape(n, P, 2, 2).astype(np.float32)
    r = (r_px * scale[:, None, None]).astype(np.float32)
    npix = S * S
    zbuf = np.full(n * npix, np.inf, np.float32)
    ids = np.full(n * npix, -1, np.int16)
    ev_buf = np.zeros(n * npix, np.float32)
    ds_buf = np.zeros(n * npix, np.float32)
    r_buf = np.ones(n * npix, np.float32)
    grid = np.arange(S, dtype=np.float32)
    for q in range(P):
        hit = _covered_pixels(ab[:, q, 0], ab[:, q, 1], r[:, q, 0], r[:, q, 1], grid, S)
        if hit is None:
            continue
        target, c_sel, t_sel, r_sel, ev, ds, bulge = hit
        za, zb = depth[c_sel, q, 0], depth[c_sel, q, 1]
        ma, mb = rad_mm[c_sel, q, 0], rad_mm[c_sel, q, 1]
        z = (za + t_sel * (zb - za) - (ma + t_sel * (mb - ma)) * bulge).astype(np.float32)
        closer = z < zbuf[target]
        target = target[closer]
        zbuf[target] = z[closer]
        ids[target] = q
        ev_buf[target] = ev[closer]
        ds_buf[target] = ds[closer]
        r_buf[target] = r_sel[closer]
    return _shade(ids, ev_buf, ds_buf, r_buf, ab, colours, n, S, background), ids.reshape(n, S, S)


def _covered_pixels(a, b, ra, rb, grid, S):
    """Crop pixels inside one capsule per crop: axis ends a, b (n, 2) crop px, end radii ra,
    rb (n,) px; only the pixels of each capsule's bounding box are tested. Returns None (no
    pixel) or, per covered pixel, its flat index into the (n S^2) buffers, crop, position t
    along the axis (0..1), radius there, signed distance ev across and ds beyond the axis
    ends (px), and the bulge sqrt(1 - d^2 / r^2) (0 at the rim, 1 on the axis)."""
    npix = S * S
    d = b - a
    L = np.hypot(d[:, 0], d[:, 1]).astype(np.float32)
    ok = L > 1e-6
    u = np.where(ok[:, None], d / np.where(ok, L, 1)[:, None], np.array([1, 0], np.float32))
    inv_l = np.where(ok, 1 / np.where(ok, L, 1), 0).astype(np.float32)
    rmax = np.maximum(ra, rb)
    x0 = np.floor(np.minimum(a[:, 0], b[:, 0]) - rmax)
    x1 = np.ceil(np.maximum(a[:, 0], b[:, 0]) + rmax)
    y0 = np.floor(np.minimum(a[:, 1], b[:, 1]) - rmax)
    y1 = np.ceil(np.maximum(a[:, 1], b[:, 1]) + rmax)
    rows = (grid[None, :] >= y0[:, None]) & (grid[None, :] <= y1[:, None])
    cols = (grid[None, :] >= x0[:, None]) & (grid[None, :] <= x1[:, None])
    flat = np.flatnonzero(rows[:, :, None] & cols[:, None, :])
    if flat.size == 0:
        return None
    crop = flat // npix
    pix = flat - crop * npix
    ii = (pix // S).astype(np.float32)
    jj = (pix - (pix // S) * S).astype(np.float32)
    ux, uy = u[crop, 0], u[crop, 1]
    px = jj - a[crop, 0]
    py = ii - a[crop, 1]
    sv = px * ux + py * uy
    ev = py * ux - px * uy
    sc = np.minimum(np.maximum(sv, 0), L[crop])
    ds = sv - sc
    d2 = ev * ev + ds * ds
    tt = sc * inv_l[crop]
    rr = ra[crop] + tt * (rb - ra)[crop]
    inside = d2 < rr * rr
    if not inside.any():
        return None
    sel = np.flatnonzero(inside)
    r_sel = rr[sel]
    bulge = np.sqrt(np.maximum(1 - d2[sel] / (r_sel * r_sel), 0))
    return flat[sel], crop[sel], tt[sel], r_sel, ev[sel], ds[sel], bulge


def _shade(ids, ev, ds, r, ab, colours, n, S, background):
    """Lambert shading of the visible primitive at every pixel, over the background."""
    npix = S * S
    fg = np.flatnonzero(ids >= 0)
    crop = fg // npix
    q = ids[fg].astype(np.int64)
    d = ab[crop, q, 1] - ab[crop, q, 0]
    L = np.hypot(d[:, 0], d[:, 1])
    ok = L > 1e-6
    u = np.where(ok[:, None], d / np.where(ok, L, 1)[:, None], np.array([1.0, 0.0], np.float32))
    e, s, rr = ev[fg], ds[fg], r[fg]
    # in-plane unit normal = (e * n_perp + s * u) / r with n_perp = (-uy, ux)
    nx = (-e * u[:, 1] + s * u[:, 0]) / rr
    ny = (e * u[:, 0] + s * u[:, 1]) / rr
    nz = -np.sqrt(np.maximum(1 - nx * nx - ny * ny, 0))
    lam = np.maximum(nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2], 0)
    shade = (AMBIENT + DIFFUSE * lam).astype(np.float32)
    rgb = np.clip(colours[crop, q] * shade[:, None] * 255.0, 0, 255).astype(np.uint8)
    if background is None:
        out = np.zeros((n * npix, 3), np.uint8)
    else:
        out = np.ascontiguousarray(background, dtype=np.uint8).reshape(n * npix, 3).copy()
    out[fg] = rgb
    return out.reshape(n, S, S, 3)


# ---------------------------------------------------------------- backgrounds and occluders
def texture_bank(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """(count, size, size, 3) uint8 random textures: smooth colour noise + gratings + a floor
    gradient (a stand-in for varied room backgrounds)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        coarse = rng.uniform(0, 1, size=(6, 6, 3)).astype(np.float32)
        idx = np.minimum((yy * 5).astype(int), 4), np.minimum((xx * 5).astype(int), 4)
        fy, fx = (yy * 5 - idx[0])[..., None], (xx * 5 - idx[1])[..., None]
        smooth = (coarse[idx[0], idx[1]] * (1 - fy) * (1 - fx)
                  + coarse[idx[0] + 1, idx[1]] * fy * (1 - fx)
                  + coarse[idx[0], idx[1] + 1] * (1 - fy) * fx
                  + coarse[idx[0] + 1, idx[1] + 1] * fy * fx)
        freq = rng.uniform(3, 25)
        ang = rng.uniform(0, np.pi)
        grating = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (xx * np.cos(ang) + yy * np.sin(ang)))
        base = rng.uniform(0.2, 0.8, size=3).astype(np.float32)
        floor = np.clip((yy - rng.uniform(0.5, 0.8)) * 3, 0, 1)[..., None]
        img = (0.45 * base + 0.35 * smooth + 0.2 * rng.uniform(0, 1) * grating[..., None]
               - 0.25 * floor + rng.normal(0, 0.03, size=(size, size, 1)))
        out[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return out


def sample_backgrounds(bank: np.ndarray, n: int, size: int, rng: np.random.Generator):
    """(n, size, size, 3) uint8 random windows (with random flips) of a texture bank."""
    K, B = bank.shape[:2]
    k = rng.integers(0, K, n)
    oy = rng.integers(0, B - size + 1, n)
    ox = rng.integers(0, B - size + 1, n)
    flip = rng.random(n) < 0.5
    g = np.arange(size)
    cols = np.where(flip[:, None], size - 1 - g[None, :], g[None, :]) + ox[:, None]
    rows = g[None, :] + oy[:, None]
    return bank[k[:, None, None], rows[:, :, None], cols[:, None, :]]


def add_occluders(images: np.ndarray, probability: float, rng: np.random.Generator) -> None:
    """In place: with `probability` per crop, paint a random flat-coloured box covering
    15-40 % of the side (an object between camera and person)."""
    n, S = images.shape[:2]
    hit = rng.random(n) < probability
    w = (rng.uniform(0.15, 0.4, n) * S).astype(int)
    h = (rng.uniform(0.15, 0.4, n) * S).astype(int)
    x = rng.integers(0, S, n)
    y = rng.integers(0, S, n)
    colour = rng.integers(0, 256, (n, 3)).astype(np.uint8)
    g = np.arange(S)
    mask = (hit[:, None, None]
            & ((g[None, :] >= y[:, None]) & (g[None, :] < (y + h)[:, None]))[:, :, None]
            & ((g[None, :] >= x[:, None]) & (g[None, :] < (x + w)[:, None]))[:, None, :])
    images[mask] = np.broadcast_to(colour[:, None, None, :], images.shape)[mask]
