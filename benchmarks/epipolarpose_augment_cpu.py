"""Augmentation on vs off on the cpu profile (synth, 64 px): fully-supervised and ss-known.

One 2D pre-training (no augmentation) is shared; each 3D variant is then trained twice from it,
with the profile's [augment] table disabled and enabled (the paper's values), and scored on the
profile's test protocol. Nothing is tuned: the profile's settings are used as they are.

    python benchmarks/epipolarpose_augment_cpu.py --out /tmp/aug-cpu [--profile cpu]

Writes OUT/augment_table.json and prints a table (MPJPE, P-MPJPE, PSS@50 per variant and arm).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

PAPER_AUGMENT = {"enabled": True, "scale_factor": 0.25, "rot_factor": 30.0, "rot_prob": 0.6,
                 "flip_prob": 0.0, "color_factor": 0.2}


def main(argv=None) -> int:
    from posebench.data.protocols import default_protocol
    from reference_models.epipolarpose.evaluate import predict
    from reference_models.epipolarpose.pipeline import (
        VARIANTS,
        evaluate_variant,
        load_profile,
        prepare_data,
        pretrain_split_name,
        run_config,
    )
    from reference_models.epipolarpose.trainer import train

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--variants", default="fully-supervised,ss-known")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (default: the profile's); 1 avoids oversubscription "
                         "on a loaded machine (both arms use the same)")
    ap.add_argument("--steps-fraction", type=float, default=1.0,
                    help="scale every stage's max_steps and step milestones (a shorter run on a "
                         "loaded machine; the same for both arms)")
    ap.add_argument("--arms", default="off,on",
                    help="augmentation arms to train (e.g. 'on' in one process and 'off' in "
                         "another, each with its own --out holding a copy of pretrain-2d)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prof = load_profile(args.profile)
    if args.threads:
        prof["threads"] = args.threads
    for stage in ("pretrain", "train3d"):
        o = prof[stage]["optim"]
        o["max_steps"] = max(1, round(o["max_steps"] * args.steps_fraction))
        o["lr_milestone_steps"] = [round(m * args.steps_fraction)
                                   for m in o.get("lr_milestone_steps", [])]
    dataset = prof["data"]["dataset"]
    t0 = time.perf_counter()
    data_ref, splits = prepare_data(prof, dataset, out, print)
    kind = next(iter(splits.values())).meta.get("kind", dataset)
    protocol = default_protocol(kind)
    test_all = splits[protocol.split]
    test = test_all.take(protocol.select(test_all))
    trainset = splits[prof["data"]["train_split"]]
    notes: list = []
    pre = run_config(prof, "pretrain-2d", prof["pretrain"]["optim"], None, "", data_ref, "cpu")
    pre["data"]["pretrain_split"] = pretrain_split_name(splits, prof, notes, dataset)
    pre["augment"] = {"enabled": False}
    print(f"[{time.perf_counter() - t0:7.1f}s] 2D pre-training (shared, no augmentation)")
    pre_dir = train(pre, out / "pretrain-2d", resume=True, datasets=dict(splits))
    rows = []
    for variant in args.variants.split(","):  # both arms of a variant back to back
        for arm in args.arms.split(","):
            mode, pmode = VARIANTS[variant]
            if pmode == "2dgt":
                pmode = prof.get("pseudo", {}).get("mode_2dgt", "known")
            cfg = run_config(prof, mode, prof["train3d"]["optim"], pmode,
                             str(pre_dir / "checkpoint.pt"), data_ref, "cpu")
            cfg["augment"] = copy.deepcopy(PAPER_AUGMENT) if arm == "on" else {"enabled": False}
            t1 = time.perf_counter()
            print(f"[{t1 - t0:7.1f}s] {variant}, augmentation {arm}")
            run = train(cfg, out / f"{variant}-aug-{arm}", resume=True, datasets=dict(splits))
            rep = evaluate_variant(predict(run, test), test, trainset, protocol)
            m = rep.record()["metrics"]
            rows.append({"variant": variant, "augmentation": arm, "MPJPE": m["mpjpe"],
                         "P-MPJPE": m["p_mpjpe"], "PSS@50": m["pss@50"],
                         "train_s": time.perf_counter() - t1})
            print(rows[-1], flush=True)
    result = {"profile": args.profile, "dataset": dataset, "augment": PAPER_AUGMENT,
              "threads": prof.get("threads"), "steps_fraction": args.steps_fraction,
              "steps": {s: prof[s]["optim"]["max_steps"] for s in ("pretrain", "train3d")},
              "rows": rows, "total_s": time.perf_counter() - t0}
    (out / "augment_table.json").write_text(json.dumps(result, indent=2))
    print("| variant | augmentation | MPJPE | P-MPJPE | PSS@50 |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['augmentation']} | {r['MPJPE']:.1f} | {r['P-MPJPE']:.1f} "
              f"| {r['PSS@50']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
