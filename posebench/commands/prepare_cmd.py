"""`posebench data prepare h36m|3dhp|mpii --from LAYOUT PATH [--name NAME]`."""

from __future__ import annotations

import sys
import warnings

import click

from posebench.data.dataset import read_meta
from posebench.data.prepare import prepare as do_prepare
from posebench.errors import InputError

H36M_LAYOUTS = ("videopose3d", "mmpose", "cdf")
MPI3DHP_LAYOUTS = ("mmpose", "mat")
MPII_LAYOUTS = ("mmpose",)


@click.group("prepare")
def prepare() -> None:
    """Convert a dataset you have (one of the community layouts) into the canonical format
    under $POSEBENCH_HOME/datasets/<name>. See docs/datasets.md for each layout."""


def _run(kind: str, layout: str, path: str, name: str | None,
         options: dict | None = None) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        root = do_prepare(kind, layout, path, name=name or kind, progress=sys.stderr.isatty(),
                          options=options)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    meta = read_meta(root)
    click.echo(f"prepared {meta['name']} ({kind}, from {layout}) in {root}")
    for split, info in meta["splits"].items():
        crops = f", {info['image_size']} px crops" if info.get("has_images") else ""
        click.echo(f"  {split}: {info['num_samples']} samples{crops}, fingerprint "
                   f"{info['fingerprint'][:12]}")
    if meta.get("trimmed"):
        click.echo(f"  trimmed {len(meta['trimmed'])} trial(s) to matching mocap/video length "
                   "(listed in meta.json)")


_FROM_HELP = "Layout and path of your files."
#: one example per layout, shown in each command's --from help
_EXAMPLES = {
    "h36m": "e.g. --from videopose3d data/ (data_3d_h36m.npz [+ data_2d_h36m_gt.npz]), --from "
            "mmpose data/h36m/ (annotation_body3d/fps50/h36m_*.npz [+ cameras.pkl]), --from "
            "cdf Human3.6M/ (S*/MyPoseFeatures/D3_Positions_mono/*.cdf).",
    "3dhp": "e.g. --from mmpose data/mpi_inf_3dhp/ (mpi_inf_3dhp_{train,test_valid}.npz [+ "
            "cameras_*.pkl]), --from mat mpi_inf_3dhp_test_set/ (TS*/annot_data.mat).",
    "mpii": "e.g. --from mmpose data/mpii/ (annotations/mpii_{train,val}.json + images/).",
}


def _image_options(fn):
    fn = click.option("--frame-stride", default=None, metavar="N|SPLIT=N,...",
                      help="With --images: keep samples whose frame is a multiple of N (e.g. 5, "
                           "or train=5,test=64); default every frame.")(fn)
    fn = click.option("--image-size", default=64, show_default=True, type=int,
                      help="With --images: crop side in px; must equal the model's input size "
                           "(cpu profile 64, paper profile 256).")(fn)
    return click.option("--images", default=None, type=click.Path(exists=True, file_okay=False),
                        help="Folder with the frames (mmpose's images/: S1/S1_Directions_1."
                             "54138969/*.jpg; 3DHP: TS1/imageSequence/*.jpg) or the release "
                             "videos (S1/Videos/*.mp4): renders person-centred crops.")(fn)


def _crop_options(images: str | None, image_size: int, frame_stride: str | None) -> dict:
    if images is None:
        if frame_stride:
            raise InputError("--frame-stride was given without --images; expected it only "
                             "with --images (it selects the frames to crop); add --images PATH.")
        return {}
    stride: dict[str, int] = {}
    for part in (frame_stride or "").split(","):
        if not part.strip():
            continue
        split, eq, value = part.rpartition("=")
        try:
            stride[split.strip() if eq else "*"] = int(value)
        except ValueError:
            raise InputError(f"--frame-stride '{frame_stride}' does not parse; expected N or "
                             "SPLIT=N pairs, e.g. 5 or train=5,test=64.") from None
    return {"images": images, "image_size": image_size, "frame_stride": stride}


def _source_options(kind: str, layouts: tuple[str, ...]):
    """The --from LAYOUT PATH and --name options of `posebench data prepare KIND`."""
    def deco(fn):
        fn = click.option("--name", default=None,
                          help=f"Dataset name (default: {kind}).")(fn)
        return click.option("--from", "source", nargs=2, required=True,
                            type=(click.Choice(layouts), click.Path(exists=True)),
                            metavar="LAYOUT PATH", help=f"{_FROM_HELP} {_EXAMPLES[kind]} "
                            "LAYOUT: " + "|".join(layouts))(fn)
    return deco


@prepare.command("h36m")
@_source_options("h36m", H36M_LAYOUTS)
@_image_options
def h36m(source: tuple[str, str], name: str | None, images: str | None, image_size: int,
         frame_stride: str | None) -> None:
    """Human3.6M from VideoPose3D npz, mmpose npz or the original CDF files; with --images,
    person-centred crops are rendered from mmpose's extracted frames or the release videos."""
    _run("h36m", source[0], source[1], name, _crop_options(images, image_size, frame_stride))


@prepare.command("3dhp")
@_source_options("3dhp", MPI3DHP_LAYOUTS)
@_image_options
def mpi3dhp(source: tuple[str, str], name: str | None, images: str | None, image_size: int,
            frame_stride: str | None) -> None:
    """MPI-INF-3DHP from mmpose npz or the official test set's annot_data.mat files; with
    --images, person-centred crops are rendered from the test set's frames."""
    _run("3dhp", source[0], source[1], name, _crop_options(images, image_size, frame_stride))


@prepare.command("mpii")
@_source_options("mpii", MPII_LAYOUTS)
@click.option("--image-size", default=64, show_default=True, type=int,
              help="Crop side in px; must equal the model's input size (cpu profile 64, "
                   "paper profile 256).")
@click.option("--index-base", default=1, show_default=True, type=click.Choice(["0", "1"]),
              help="Coordinate base of the JSON: 1 for MPII's MATLAB coordinates (mmpose's "
                   "files), 0 if your files are already 0-based.")
def mpii(source: tuple[str, str], name: str | None, image_size: int, index_base: str) -> None:
    """MPII Human Pose (2D only, for 2D pre-training) from mmpose's annotations/*.json and
    images/ folder; square crops are rendered now at --image-size."""
    _run("mpii", source[0], source[1], name,
         {"image_size": image_size, "index_base": int(index_base)})
