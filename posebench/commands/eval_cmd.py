"""`posebench eval`, `posebench keys`, `posebench protocols` (thin: parse, call, print)."""

from __future__ import annotations

import dataclasses
import json

import click

from posebench.errors import InputError

READER_NAMES = ("posebench", "videopose3d", "motionbert", "mmpose", "learnable-triangulation")
#: Options that belong to one reader (`reader_options` turns them into its keyword arguments).
_READER_FLAGS = (
    click.option("--viz-subject", "viz_subject", default=None,
                 help="--from videopose3d, a run.py --viz-export file: its --viz-subject."),
    click.option("--viz-action", "viz_action", default=None,
                 help="--from videopose3d, a run.py --viz-export file: its --viz-action."),
    click.option("--viz-camera", "viz_camera", default=None, type=int,
                 help="--from videopose3d, a run.py --viz-export file: its --viz-camera (0-3)."),
    click.option("--labels", "labels", type=click.Path(dir_okay=False), default=None,
                 help="--from learnable-triangulation: its label file "
                      "(human36m-multiview-labels-*.npy) that results.pkl indexes into."),
    click.option("--lt-retain-every", "lt_every", default=1, show_default=True, type=int,
                 help="--from learnable-triangulation: retain_every_n_frames_in_test used."),
    click.option("--lt-with-damaged", "lt_damaged", is_flag=True,
                 help="--from learnable-triangulation: the run kept the damaged S9 trials."),
)


def reader_flags(fn):
    """Add the reader-specific options (--viz-*, --labels, --lt-*) to a command."""
    for option in reversed(_READER_FLAGS):
        fn = option(fn)
    return fn


@click.command("eval")
@click.argument("preds", type=click.Path(dir_okay=False))
@click.option("--from", "fmt", type=click.Choice(READER_NAMES), default="posebench",
              show_default=True,
              help="Layout of PREDS: posebench's .npz or the output of that codebase, read as "
                   "it writes it (docs/predictions.md).")
@click.option("--dataset", "dataset", default="synth", show_default=True,
              help="Dataset name under $POSEBENCH_HOME/datasets, or a dataset folder.")
@click.option("--protocol", "protocol", default=None,
              help="Protocol name (default: the dataset kind's default; `posebench protocols`).")
@click.option("--split", "split", default=None,
              help="Score this split instead of the protocol's (e.g. a sample with only a "
                   "train split); recorded as a derived protocol NAME@SPLIT, not comparable.")
@click.option("--pss-model", "pss_models", multiple=True, type=click.Path(dir_okay=False),
              help="Saved PSS model(s) to use instead of the auto-fitted PSS@50/@100.")
@click.option("--pss-k", "pss_k", default="50,100", show_default=True,
              help="k values of the auto-fitted PSS models, comma-separated (small data: "
                   "fewer clusters than training poses).")
@click.option("--no-pss", is_flag=True, help="Skip the Pose Structure Score.")
@click.option("--per-action/--no-per-action", "per_action", default=None,
              help="Per-action table (default: on for Human3.6M protocols, P1 and P2 side by "
                   "side).")
@click.option("--per-joint", is_flag=True, help="Add a per-joint MPJPE table.")
@click.option("--allow-partial", is_flag=True,
              help="Score only the covered samples when some are missing (flagged loudly).")
@click.option("--select-from-superset", "superset", is_flag=True,
              help="PREDS covers more samples than the protocol (e.g. every frame under "
                   "h36m-every64): keep only the protocol's rows (needs key arrays; recorded).")
@reader_flags
@click.option("--format", "fmt_out", type=click.Choice(["table", "markdown", "csv", "json"]),
              default="table", show_default=True, help="How the result is printed.")
@click.option("--out", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON result record here (atomically); --output is an alias.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Seed of auto-fitted PSS models and of the bootstrap.")
@click.option("--n-boot", "n_boot", default=2000, show_default=True, type=click.IntRange(0),
              help="Sequence-block bootstrap replicates of the 95% intervals (0: none).")
@click.option("--pss-definition", "pss_definition", default="ensemble", show_default=True,
              type=click.Choice(["ensemble", "paper"]),
              help="PSS: mean over 20 seeded k-means models, or the paper's single model.")
@click.option("--joint-order", "joint_order", default=None, metavar="SKELETON",
              help="Skeleton whose joint order PREDS follows (h36m17, 3dhp17, mpii16, ...); "
                   "default: the file's joint_names, else the order implied by J (checked "
                   "against the ground truth).")
@click.option("--nan-policy", "nan_policy", type=click.Choice(["refuse", "miss"]),
              default="refuse", show_default=True,
              help="NaN/inf predictions: refuse the file, or score them as misses "
                   "(PCK/AUC/PSS) and leave them out of MPJPE-type means.")
@click.option("--ground-truth", "ground_truth", default=None,
              help="Score against this ground-truth array instead of the protocol's (e.g. "
                   "poses_3d); the result is named PROTOCOL+gt=ARRAY, a distinct protocol.")
def eval_cmd(preds, fmt, dataset, protocol, split, pss_models, pss_k, no_pss, per_action,
             per_joint, allow_partial, superset, viz_subject, viz_action, viz_camera, labels,
             lt_every, lt_damaged, fmt_out, output, seed, n_boot, pss_definition, joint_order,
             nan_policy, ground_truth):
    """Score a predictions file PREDS (.npz: poses_3d (N, J, 3) mm + index or key arrays, or
    another codebase's output with --from).

    Prints MPJPE, P-MPJPE, N-MPJPE, PCK@150, AUC, PSS@50 and PSS@100, each with its 95%
    sequence-block bootstrap interval. Both poses are root-centred at the protocol's root joint
    before MPJPE/PCK/AUC. --out also writes OUT-stem.samples.npz (per-sample values). Exit
    code 2 on bad input, including predictions that fit another joint order, a left/right
    swap, another unit or axis convention much better than the declared one (say the order
    with --joint-order).
    """
    from posebench import evaluation, readers, results  # lazy: fast eval --help
    from posebench.commands._common import load_pss_model  # lazy: fast eval --help
    from posebench.readers import posebench_npz  # lazy: fast eval --help

    for path in pss_models:
        load_pss_model(path)  # checked here: errors name the file given

    ks = () if no_pss else parse_ks(pss_k)
    if fmt == "posebench" and not superset:  # cheap file checks before loading the dataset
        own = posebench_npz.read(preds, None, None)
    ds, kind, p = resolve(dataset, protocol, split)
    if not pss_models:
        check_pss_size(ds, ks, dataset)
    options = reader_options(fmt, labels, lt_every, lt_damaged,
                             (viz_subject, viz_action, viz_camera))
    obj = own if fmt == "posebench" and not superset else \
        readers.read_predictions(preds, fmt, ds, p, superset=superset, options=options)
    if per_action is None:
        per_action = kind == "h36m"
    report = evaluation.evaluate(obj, dataset=ds, protocol=p, pss_models=list(pss_models) or None,
                      pss_k=ks, allow_partial=allow_partial, per_action=per_action,
                      per_joint=per_joint, seed=seed,
                      joint_order=joint_order, nan_policy=nan_policy, n_boot=n_boot,
                      pss_definition=pss_definition, ground_truth=ground_truth)
    if no_pss:
        report.summary["notes"].append("PSS skipped (--no-pss)")
    sel = report.summary["predictions"]["read_as"].get("selected")
    if sel:
        report.summary["notes"].append(
            f"read {sel['of']} predictions, kept the {sel['kept']} of protocol {p.name} "
            f"({sel['outside_protocol']} outside the protocol, {sel['not_in_dataset']} not in "
            f"the dataset; {sel['why']})")
    if output:
        # also <stem>.samples.npz: per-sample values
        evaluation.write_record(report, output,
                                results.merge_run_provenance(report.record(), preds))
    click.echo(report.render(fmt_out))
    if report.summary["coverage"]["partial"]:
        click.echo(f"warning: {report.summary['notes'][0]}", err=True)


def reader_options(fmt, labels, lt_every, lt_damaged, viz) -> dict | None:
    """Keyword arguments of the reader `fmt` from the CLI options that belong to it."""
    if fmt == "learnable-triangulation":
        return {"labels": labels, "retain_every_n": lt_every,
                "with_damaged_actions": lt_damaged}
    if fmt == "videopose3d" and any(v is not None for v in viz):
        return {"viz": viz}
    return None


def parse_ks(text: str) -> tuple[int, ...]:
    """'10,20' -> (10, 20); one sentence for anything else."""
    try:
        ks = tuple(int(x) for x in str(text).split(",") if x.strip())
    except ValueError:
        ks = ()
    if not ks or min(ks) < 2:
        raise InputError(f"--pss-k '{text}' is not a list of cluster counts; expected integers "
                         ">= 2 separated by commas, e.g. --pss-k 10,20; or pass --no-pss.")
    return ks


def check_pss_size(ds, ks, dataset) -> None:
    """Refuse PSS@k when the training split has fewer than k poses, naming the fix."""
    from posebench.data.dataset import read_meta  # lazy: fast eval --help

    root = ds.meta.get("root")
    if not ks or not root:
        return
    train = read_meta(root).get("splits", {}).get("train")
    if not train or train.get("has_3d") is False:
        return
    n = int(train.get("num_samples", 0))
    if n and max(ks) > n:
        fit = [k for k in ks if k <= n]
        hint = f"--pss-k {','.join(map(str, fit))}" if fit else f"--pss-k {max(2, n // 2)}"
        raise InputError(f"PSS@{max(ks)} needs at least {max(ks)} poses but dataset "
                         f"'{dataset}' has {n} training poses; expected k <= {n}; pass "
                         f"{hint} (fewer clusters) or --no-pss.")


def resolve(dataset, protocol, split):
    """(PoseDataset, kind, Protocol) for the CLI: the protocol's split, or with `split` a
    derived protocol NAME@SPLIT that keeps its rules but scores every subject of that split
    (recorded as such: a smoke test, not comparable with published numbers)."""
    from posebench.data.dataset import read_meta, read_split  # lazy: fast eval --help
    from posebench.data.protocols import default_protocol, get_protocol  # lazy: fast eval --help
    from posebench.data.registry import ensure_dataset  # lazy: fast eval --help
    from posebench.evaluation import check_kind  # lazy: fast eval --help

    root = ensure_dataset(str(dataset))
    meta = read_meta(root)
    kind = meta.get("kind", "*")
    p = default_protocol(kind) if protocol is None else get_protocol(str(protocol))
    check_kind(p, kind, str(dataset))
    splits = list(meta.get("splits", {}))
    if split is not None and split != p.split:
        if split not in splits:
            raise InputError(f"dataset '{dataset}' has no split '{split}'; expected one of "
                             f"{', '.join(splits)}; pass --split with one of those.")
        p = dataclasses.replace(
            p, name=f"{p.name}@{split}", split=split, subjects=None,
            description=f"{p.name} rules on split '{split}' (all its subjects): a smoke test, "
                        "not comparable with published numbers", extra=dict(p.extra))
    elif p.split not in splits:
        raise InputError(f"dataset '{dataset}' has no '{p.split}' split, which protocol {p.name} "
                         f"scores (it has: {', '.join(splits)}); expected the protocol's split; "
                         f"pass --split {splits[0]} to score that split as a smoke test "
                         "(recorded as a derived protocol).")
    return read_split(root, p.split, mmap_poses=True), kind, p  # read only: never written


@click.command("keys")
@click.option("--dataset", "dataset", default="synth", show_default=True,
              help="Dataset name or folder.")
@click.option("--protocol", "protocol", default=None, help="Protocol name (default per kind).")
@click.option("--split", "split", default=None,
              help="List this split instead of the protocol's (derived protocol NAME@SPLIT).")
@click.option("--out", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="Output .npz (written atomically); --output is an alias.")
@click.option("--ground-truth", "ground_truth", default=None,
              help="List against this ground-truth array instead of the protocol's (e.g. "
                   "poses_3d); the protocol is then named PROTOCOL+gt=ARRAY, a distinct one.")
def keys_cmd(dataset, protocol, split, out, ground_truth):
    """Write the canonical sample order a model must follow (never ground-truth 3D).

    The .npz holds index (positions to put in a predictions file), subject, action, subaction,
    camera, frame, poses_2d, per-sample intrinsics (camera_f, camera_c) and, where present,
    image_path and crop_affine, plus the joint names of the dataset and evaluation skeletons.
    """
    from posebench.evaluation import protocol_keys  # lazy: fast eval --help
    from posebench.io import savez_atomic  # lazy: fast eval --help

    ds, _, p = resolve(dataset, protocol, split)
    arrays = protocol_keys(ds, p, ground_truth)
    savez_atomic(out, **arrays)
    click.echo(f"wrote {len(arrays['index'])} samples of {arrays['dataset_name']} under protocol "
               f"{arrays['protocol_name']} to {out}")


@click.command("protocols")
@click.argument("name", required=False)
def protocols_cmd(name):
    """List evaluation protocols, or show protocol NAME in full."""
    from tabulate import tabulate  # lazy: ~0.1 s, only to print the list

    from posebench.data.protocols import get_protocol, list_protocols  # lazy: fast eval --help

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
