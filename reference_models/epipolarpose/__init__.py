"""EpipolarPose reference implementation (Kocabas, Karagoz, Akbas, CVPR 2019) in plain torch.

Public API (torch is imported only when these are used)::

    from reference_models.epipolarpose import train, predict
    run_dir = train(config, out_dir, resume=False)      # config: dict or TOML path (trainer)
    poses = predict(run_dir / "checkpoint.pt", dataset)  # (N, 17, 3) camera mm, GT root depth
    poses_rel = predict(ckpt, dataset, root_relative=True)

Modules: `resnet` (ResNet 18/34/50 with a width multiplier), `model` (3 deconvolutions ->
volumetric heatmaps -> integral soft-argmax), `data` (depth representation and targets),
`pseudo` (frozen 2D branch -> geometry core -> per-view targets), `losses`, `augment`, `trainer`
(modes pretrain-2d / fully-supervised / self-supervised / self-supervised-2dgt; resumable;
DDP), `evaluate` (inference: back-projection with GT intrinsics + root depth), `refinement`
(the refinement unit), `profiles` (profiles, variants, stage configs), `preflight` (fail-fast
data checks), `pipeline` (`posebench reproduce epipolarpose`), `methods` (the
``epipolarpose-fs``, ``epipolarpose-ss-ru`` and ``simple-baseline`` methods), `toy` (tiny
in-memory datasets for tests).
Profiles: configs/smoke.toml, configs/cpu.toml, configs/paper.toml.
"""

from __future__ import annotations

__all__ = ["train", "predict", "reproduce"]


def __getattr__(name: str):
    if name == "train":
        from reference_models.epipolarpose.trainer import train  # lazy: torch

        return train
    if name == "predict":
        from reference_models.epipolarpose.evaluate import predict  # lazy: on demand

        return predict
    if name == "reproduce":
        from reference_models.epipolarpose.pipeline import reproduce  # lazy: on demand

        return reproduce
    raise AttributeError(name)
