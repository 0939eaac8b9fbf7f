"""`posebench eval`, `posebench keys`, `posebench protocols` (thin: parse, call, print)."""

from __future__ import annotations

import click


@click.command("eval")
@click.argument("preds", type=click.Path(dir_okay=False))
@click.option("--dataset", "dataset", default="synth", show_default=True,
              help="Dataset name under $POSEBENCH_HOME/datasets, or a dataset folder.")
@click.option("--protocol", "protocol", default=None,
              help="Protocol name (default: the dataset kind's default; `posebench protocols`).")
@click.option("--pss-model", "pss_models", multiple=True, type=click.Path(dir_okay=False),
              help="Saved PSS model(s) to use instead of the auto-fitted PSS@50/@100.")
@click.option("--per-action", is_flag=True, help="Add a per-action table.")
@click.option("--per-joint", is_flag=True, help="Add a per-joint MPJPE table.")
@click.option("--allow-partial", is_flag=True,
              help="Score only the covered samples when some are missing (flagged loudly).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]),
              default="table", show_default=True)
@click.option("--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON result record here (atomically).")
@click.option("--seed", default=0, show_default=True, help="Seed of auto-fitted PSS models.")
@click.option("--ground-truth", "ground_truth", default=None,
              help="Score against this ground-truth array instead of the protocol's (e.g. "
                   "poses_3d); the result is named PROTOCOL+gt=ARRAY, a distinct protocol.")
def eval_cmd(preds, dataset, protocol, pss_models, per_action, per_joint, allow_partial, fmt,
             output, seed, ground_truth):
    """Score a predictions file PREDS (.npz: poses_3d (N, J, 3) mm + index or key arrays).

    Prints MPJPE, P-MPJPE, N-MPJPE, PCK@150, AUC, PSS@50 and PSS@100. Both poses are
    root-centred at the protocol's root joint before MPJPE/PCK/AUC. Exit code 2 on bad input.
    """
    from posebench.evaluation import evaluate
    from posebench.results import write_result

    report = evaluate(preds, dataset=dataset, protocol=protocol,
                      pss_models=list(pss_models) or None, allow_partial=allow_partial,
                      per_action=per_action, per_joint=per_joint, seed=seed,
                      ground_truth=ground_truth)
    if output:
        write_result(output, report.record())
    click.echo(report.render(fmt))
    if report.summary["coverage"]["partial"]:
        click.echo(f"warning: {report.summary['notes'][0]}", err=True)


@click.command("keys")
@click.option("--dataset", "dataset", default="synth", show_default=True,
              help="Dataset name or folder.")
@click.option("--protocol", "protocol", default=None, help="Protocol name (default per kind).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Output .npz (written atomically).")
@click.option("--ground-truth", "ground_truth", default=None,
              help="Score against this ground-truth array instead of the protocol's (e.g. "
                   "poses_3d); the result is named PROTOCOL+gt=ARRAY, a distinct protocol.")
def keys_cmd(dataset, protocol, out, ground_truth):
    """Write the canonical sample order a model must follow (never ground-truth 3D).

    The .npz holds index (positions to put in a predictions file), subject, action, subaction,
    camera, frame, poses_2d, per-sample intrinsics (camera_f, camera_c) and, where present,
    image_path and crop_affine, plus the joint names of the dataset and evaluation skeletons.
    """
    from posebench.evaluation import protocol_keys
    from posebench.io import savez_atomic

    arrays = protocol_keys(dataset, protocol, ground_truth)
    savez_atomic(out, **arrays)
    click.echo(f"wrote {len(arrays['index'])} samples of {arrays['dataset_name']} under protocol "
               f"{arrays['protocol_name']} to {out}")


@click.command("protocols")
@click.argument("name", required=False)
def protocols_cmd(name):
    """List evaluation protocols, or show protocol NAME in full."""
    import json

    from tabulate import tabulate

    from posebench.data.protocols import get_protocol, list_protocols

    if name:
        p = get_protocol(name)
        click.echo(json.dumps(p.to_dict(), indent=2, default=list))
        return
    rows = []
    for p in list_protocols():
        rows.append([p.name, p.dataset_kind, ",".join(p.subjects) if p.subjects else "all",
                     p.frame_stride, p.eval_skeleton, p.root, p.aggregation, p.description])
    click.echo(tabulate(rows, headers=["name", "kind", "subjects", "stride", "joints", "root",
                                       "aggregation", "description"], maxcolwidths=[None] * 7
                        + [60]))
