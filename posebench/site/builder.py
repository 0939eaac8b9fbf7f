"""`build_site(folder, out)`: a self-contained static leaderboard site (works from file://).

Writes ``index.html`` (sortable table with 95% intervals, ranks, provenance; the PSS vs MPJPE
scatter, per-action bars, per-joint heat map and the PSS cluster-centre gallery), one page per
method under ``methods/`` (per-action and per-joint tables, provenance) and the figures under
``img/`` (SVG). No CDN, no server, no external resource; the folder is replaced atomically.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from posebench.io import atomic_dir
from posebench.leaderboard import ci_of, coverage_cell, provenance_cell, provenance_of, value_cell
from posebench.results import format_value, metric_label
from posebench.site import plots
from posebench.site.data import MethodData, SiteData, gather
from posebench.site.templates import CSS, PAGE, SORT_JS
from posebench.skeletons import get_skeleton

SCATTER = ("mpjpe", "pss@50")


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _page(title: str, body: str, root: str = "") -> str:
    return PAGE.format(title=_e(title), css=CSS, js=SORT_JS, root=root, body=body)


def _num(v) -> str:
    return "" if not isinstance(v, (int, float)) or v != v else repr(float(v))


def _metric_cell(rec: dict, m: str) -> str:
    v = rec["metrics"].get(m)
    if not isinstance(v, (int, float)):
        return '<td data-value="">-</td>'
    ci = ci_of(rec, m)
    ci_txt = (f'<br><span class="ci">[{format_value(m, ci[0])}, {format_value(m, ci[1])}]</span>'
              if ci else "")
    return f'<td data-value="{_num(v)}">{format_value(m, v)}{ci_txt}</td>'


def _table(items, metrics, slugs: dict[str, str]) -> str:
    heads = ["rank", "method", *(metric_label(m) for m in metrics), "n", "coverage",
             "provenance"]
    out = ['<table class="sortable" id="leaderboard"><thead><tr>']
    out += [f'<th class="sortable" scope="col">{_e(h)}</th>' for h in heads]
    out.append("</tr></thead><tbody>")
    for e in items:
        rec = e.record
        tie = f'<span class="tie">{_e(e.tie)}</span>' if e.tie else ""
        out.append("<tr>")
        out.append(f'<td data-value="{e.rank}">{e.rank}{tie}</td>')
        out.append(f'<td data-value="{_e(e.name)}"><a href="methods/{slugs[e.name]}.html">'
                   f"{_e(e.name)}</a></td>")
        out += [_metric_cell(rec, m) for m in metrics]
        out.append(f'<td data-value="{_num(rec.get("n_samples"))}">'
                   f'{_e(rec.get("n_samples", ""))}</td>')
        cov = (rec.get("coverage") or {}).get("fraction")
        out.append(f'<td data-value="{_num(cov)}">{_e(coverage_cell(rec))}</td>')
        out.append(f'<td data-value="{_e(provenance_cell(rec))}"><code>'
                   f"{_e(provenance_cell(rec))}</code></td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _scatter_points(items) -> list[dict]:
    x, y = SCATTER
    pts = []
    for e in items:
        m = e.record["metrics"]
        if isinstance(m.get(x), (int, float)) and isinstance(m.get(y), (int, float)):
            pts.append({"name": e.name, "x": m[x], "y": m[y], "x_ci": ci_of(e.record, x),
                        "y_ci": ci_of(e.record, y)})
    return pts


def _upright(centres: np.ndarray, skeleton: str) -> tuple[np.ndarray, list]:
    """Centres projected to 2D (K, J, 2) with the head up, and the skeleton's bones."""
    try:
        sk = get_skeleton(skeleton)
        bones = list(sk.bones)
        head = sk.index("head_top") if "head_top" in sk.names else sk.num_joints - 1
        feet = [sk.index(n) for n in ("l_ankle", "r_ankle") if n in sk.names] or [0]
    except Exception:  # unknown skeleton: draw joints only  # noqa: BLE001
        bones, head, feet = [], centres.shape[1] - 1, [0]
    if centres.shape[1] <= max([head, *feet, *(max(b) for b in bones)] or [0]):
        bones, head, feet = [], centres.shape[1] - 1, [0]
    up = centres[:, head].mean(0) - centres[:, feet].mean((0, 1))
    vert = int(np.argmax(np.abs(up)))
    horiz = [a for a in range(3) if a != vert][0]
    sign = -1.0 if up[vert] > 0 else 1.0  # plots invert y: draw head at the top
    xy = np.stack([centres[..., horiz], sign * centres[..., vert]], axis=-1)
    return xy, bones


def _gallery_html(site: SiteData, img: Path) -> str:
    g = site.gallery
    if g is None:
        return ""
    parts = [f"<h2>{_e(g.metric.upper())} cluster centres</h2>"]
    if g.centres is not None:
        k = len(g.centres)
        order = np.argsort(-g.share) if g.share is not None else np.arange(k)
        caps = []
        for i in order:
            cap = f"#{i}"
            if g.share is not None:
                cap += f" {100 * g.share[i]:.1f}%"
            caps.append(cap)
        xy, bones = _upright(g.centres[order], g.skeleton)
        pts = np.concatenate([xy, np.zeros(xy.shape[:2] + (1,))], axis=-1)
        plots.skeleton_gallery(pts, bones, caps, img / "pss_gallery.svg")
        parts.append('<p class="note">Each skeleton is a cluster centre of the PSS model '
                     "(root-centred, scale-normalised), largest share of test poses first; the "
                     "caption is its index and share.</p>")
        parts.append('<img src="img/pss_gallery.svg" alt="PSS cluster centres">')
    if g.share is not None and g.hit_rate:
        k = len(g.share)
        order = np.argsort(-g.share)
        head = "".join(f'<th class="sortable">#{i}</th>' for i in order[:15])
        rows = "".join(
            f'<tr><td data-value="0"></td><td data-value="{_e(n)}">{_e(n)}</td>'
            + "".join(f'<td data-value="{_num(r[i])}">{100 * r[i]:.0f}%</td>' for i in order[:15])
            + "</tr>" for n, r in g.hit_rate.items())
        share = "".join(f"<td>{100 * g.share[i]:.1f}%</td>" for i in order[:15])
        parts.append("<p>How often each method's prediction lands in the ground truth's cluster "
                     f"(the {min(15, k)} largest clusters):</p>")
        parts.append(f'<table class="sortable" id="gallery"><thead><tr><th></th><th>method'
                     f"</th>{head}</tr></thead><tbody><tr><td></td><td>share of test poses"
                     f"</td>{share}</tr>{rows}</tbody></table>")
    parts += [f'<p class="note">note: {_e(n)}</p>' for n in g.notes]
    return "".join(parts)


def _method_page(md: MethodData) -> str:
    rec = md.entry.record
    names = list(rec["metrics"])
    body = [f"<h1>{_e(md.entry.name)}</h1>",
            f"<p>rank {md.entry.rank}{_e(md.entry.tie)} on {_e(rec['dataset'].get('name'))} / "
            f"{_e(rec['protocol'].get('name'))}; record <code>{_e(md.entry.path.name)}</code>"
            "</p>", "<h2>metrics (95% sequence-block interval)</h2><table><tr>",
            *(f"<th>{_e(metric_label(m))}</th>" for m in names), "</tr><tr>",
            *(f"<td>{_e(value_cell(rec, m))}</td>" for m in names), "</tr></table>"]
    if md.per_action:
        cols = [m for m in names if any(m in r for r in md.per_action.values())]
        body.append('<h2>per action</h2><table class="sortable" id="per-action"><thead><tr>'
                    '<th class="sortable">#</th><th class="sortable">action</th>'
                    + "".join(f'<th class="sortable">{_e(metric_label(m))}</th>' for m in cols)
                    + "</tr></thead><tbody>")
        for i, (a, row) in enumerate(sorted(md.per_action.items())):
            body.append(f'<tr><td data-value="{i}">{i + 1}</td><td data-value="{_e(a)}">'
                        f"{_e(a)}</td>"
                        + "".join(f'<td data-value="{_num(row.get(m))}">'
                                  f"{'-' if row.get(m) is None else f'{row[m]:.3f}'}</td>"
                                  for m in cols) + "</tr>")
        body.append("</tbody></table>")
    if md.per_joint:
        body.append("<h2>per joint (MPJPE, mm)</h2><table><tr><th>joint</th><th>mm</th></tr>"
                    + "".join(f"<tr><td>{_e(j)}</td><td>{v:.2f}</td></tr>"
                              for j, v in md.per_joint.items()) + "</table>")
    prov = rec.get("provenance") or {}
    body.append("<h2>provenance</h2><pre>" + _e(json.dumps(
        {"compact": provenance_of(rec), "command": prov.get("command"),
         "environment": prov.get("environment"), "code": rec.get("code")}, indent=1))
        + "</pre>")
    body += [f'<p class="note">note: {_e(n)}</p>' for n in md.notes]
    return _page(md.entry.name, "".join(body), root="../")


def build_site(folder: str | Path, out: str | Path) -> tuple[Path, list[str]]:
    """Write the site for the records under `folder` into `out` (replaced atomically).
    Returns (index path, notes)."""
    site = gather(folder)
    slugs = {md.entry.name: md.slug for md in site.methods}
    out = Path(out)
    with atomic_dir(out) as tmp:
        img = tmp / "img"
        img.mkdir()
        (tmp / "methods").mkdir()
        body = ["<h1>posebench leaderboard</h1>",
                '<p class="note">Each metric: value and, below it, the 95% sequence-block '
                "bootstrap interval. Rank '=': not significantly different from the row above "
                "(paired block bootstrap on the headline metric); '?': not tested. "
                "Provenance: commit ('*' dirty), seed, CPU seconds. Click a header to sort."
                "</p>"]
        for gi, ((dname, pname), items) in enumerate(sorted(site.board.groups.items())):
            sfx = "" if gi == 0 else f"_{gi}"
            body.append(f"<h2>{_e(dname)} / {_e(pname)}</h2>")
            body.append(_table(items, site.board.metrics, slugs))
            pts = _scatter_points(items)
            if pts:
                plots.scatter(pts, metric_label(SCATTER[0]), metric_label(SCATTER[1]),
                              img / f"scatter{sfx}.svg")
                body.append(f'<img src="img/scatter{sfx}.svg" alt="PSS@50 vs MPJPE">')
            mds = [md for md in site.methods if any(md.entry is e for e in items)]
            acts = {md.entry.name: {a: r["mpjpe"] for a, r in md.per_action.items()
                                    if "mpjpe" in r} for md in mds}
            acts = {k: v for k, v in acts.items() if v}
            if acts:
                plots.action_bars(acts, "MPJPE (mm)", img / f"actions{sfx}.svg",
                                  "MPJPE per action")
                body.append(f'<img src="img/actions{sfx}.svg" alt="MPJPE per action">')
            else:
                body.append('<p class="note">note: no per-action bars: no record carries a '
                            "per-action breakdown or per-sample results (evaluate with "
                            "`posebench eval --per-action --output`)</p>")
            joints = {md.entry.name: md.per_joint for md in mds if md.per_joint}
            if joints:
                plots.joint_heatmap(joints, img / f"joints{sfx}.svg")
                body.append(f'<img src="img/joints{sfx}.svg" alt="per-joint MPJPE">')
            else:
                body.append('<p class="note">note: no per-joint heat map: no record carries '
                            "per-joint errors (evaluate with `posebench eval --per-joint`)</p>")
        body.append(_gallery_html(site, img))
        body += [f'<p class="note">note: {_e(n)}</p>' for n in site.notes]
        (tmp / "index.html").write_text(_page("posebench leaderboard", "".join(body)))
        for md in site.methods:
            (tmp / "methods" / f"{md.slug}.html").write_text(_method_page(md))
    notes = list(site.notes) + (site.gallery.notes if site.gallery else [])
    return out / "index.html", notes
