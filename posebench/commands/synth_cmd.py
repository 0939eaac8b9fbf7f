"""`posebench data synth`: generate the embedded synthetic multi-view benchmark."""

from __future__ import annotations

import time

import click

from posebench.data.dataset import read_meta
from posebench.data.registry import dataset_dir
from posebench.synth.build import SynthOptions, build


@click.command("synth")
@click.option("--poses", default="procedural", show_default=True,
              help="procedural | pybullet | bvh:PATH | amc:PATH | npz:PATH")
@click.option("--subjects", default=7, show_default=True, type=int,
              help="3D subjects (5 train / 2 test for 7).")
@click.option("--frames-per-action", default=200, show_default=True, type=int,
              help="Frames (25 fps) per action and subject (clip length cap for mocap).")
@click.option("--cameras", default="h36m", show_default=True, help="h36m | ring:N | moving")
@click.option("--image-size", default=64, show_default=True, type=int,
              help="Crop side in pixels (64, 128, 256).")
@click.option("--no-images", is_flag=True, help="Write poses, 2D and cameras only.")
@click.option("--occluders", default=0.0, show_default=True,
              type=click.FloatRange(0.0, 1.0),
              help="Probability of a random occluding box per crop.")
@click.option("--trajectory", type=click.Choice(["capture", "original"]), default="capture",
              show_default=True,
              help="Imported mocap: capture keeps the person in the capture volume (root "
                   "within 1 m of the rig centre, as in Human3.6M); original keeps the clip's "
                   "own trajectory (people may leave the images or walk behind cameras).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Seed of every random choice in the generator.")
@click.option("--name", default="synth", show_default=True,
              help="Dataset name under $POSEBENCH_HOME/datasets.")
def synth(poses, subjects, frames_per_action, cameras, image_size, no_images, occluders,
          trajectory, seed, name) -> None:
    """Generate the synthetic multi-view benchmark (train / test / train2d splits)."""
    opts = SynthOptions(poses=poses, subjects=subjects, frames_per_action=frames_per_action,
                        cameras=cameras, image_size=image_size, images=not no_images,
                        seed=seed, name=name, occluder_probability=occluders,
                        trajectory=trajectory)
    root = dataset_dir(name)
    t0 = time.perf_counter()
    build(root, opts)
    meta = read_meta(root)
    for split, info in meta["splits"].items():
        click.echo(f"{split:8s} {info['num_samples']:7d} samples  fingerprint "
                   f"{info['fingerprint'][:12]}")
        for cam, nv in sorted(info.get("not_visible", {}).items()):
            click.echo(f"  camera {cam}: {nv['joints']} joints not visible (outside the image "
                       f"or behind the camera); {nv['frames_any']} of {nv['frames']} frames "
                       f"with any, {nv['frames_all']} with all joints not visible")
    click.echo(f"wrote {root} in {time.perf_counter() - t0:.1f} s")
