"""Motion-capture importers on the shared CMU clips, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posebench.errors import InputError
from posebench.skeletons import get_skeleton
from posebench.synth import mocap
from posebench.synth.body import body_frame, bone_lengths

H36M = get_skeleton("h36m17")


def _check_clip(J, min_bone=40.0):
    """Bones constant within the clip (< 1 mm) and left/right the right way round.

    pelvis -> spine spans the mocap's lower-back joint (two source bones), so it may flex by a
    few mm; every other Human3.6M bone is one rigid source bone (or a fixed offset)."""
    bl = bone_lengths(J, H36M.parents)
    spine = 6                                                      # bone of child joint 7
    rigid = np.delete(np.ptp(bl, axis=0), spine)
    assert rigid.max() < 1.0
    assert np.ptp(bl[:, spine]) < 5.0
    assert bl.min() >= min_bone and bl.max() < 600                        # millimetres, human sized
    # left/right: left and right limbs have mirrored lengths ...
    for a, b in H36M.flip_pairs:
        pa, pb = H36M.parents[a], H36M.parents[b]
        la = np.linalg.norm(J[:, a] - J[:, pa], axis=-1).mean()
        lb = np.linalg.norm(J[:, b] - J[:, pb], axis=-1).mean()
        assert abs(la - lb) < 0.15 * max(la, lb)
    # ... and knees bend forward in the frame (l_hip - r_hip) x up: a swapped side would make
    # every bent knee point backwards
    fwd, _ = body_frame(J)
    votes = []
    for hip, knee, ankle in ((1, 2, 3), (4, 5, 6)):
        mid = 0.5 * (J[:, hip] + J[:, ankle])
        off = J[:, knee] - mid
        bent = np.linalg.norm(off, axis=-1) > 40
        votes.append(np.sum(off * fwd, -1)[bent] > 0)
    votes = np.concatenate(votes)
    assert len(votes) > 20 and votes.mean() > 0.9
    assert np.median(J[:, 10, 2] - J[:, 0, 2]) > 300                # z up: head above pelvis


def test_asf_amc_import_matches_converted_fixture(shared_fixtures):
    raw = shared_fixtures / "mocap" / "raw" / "fairmotion"
    conv = np.load(shared_fixtures / "mocap" / "converted" / "cmu_samples.npz")
    for k, (amc, asf) in enumerate((("01_01.amc", "01.asf"), ("11_01.amc", "11.asf"))):
        clip = mocap.read_amc(raw / amc, raw / asf)
        _check_clip(clip.joints)
        s, n = conv["clip_start"][k], conv["clip_len"][k]
        # the fixture is the same clip resampled 120 -> 30 fps
        np.testing.assert_allclose(clip.joints[::4][:n], conv["joints3d"][s:s + n], atol=0.05)


def test_bvh_import_of_cmu_clips(shared_fixtures):
    raw = shared_fixtures / "mocap" / "raw"
    conv = np.load(shared_fixtures / "mocap" / "converted" / "cmu_samples.npz")
    for k, name in enumerate(("131_01", "131_02", "131_03")):
        clip = mocap.read_bvh(raw / "bvh11" / f"{name}.bvh")
        assert abs(clip.fps - 120) < 0.1
        _check_clip(clip.joints)
        s, n = conv["clip_start"][2 + k], conv["clip_len"][2 + k]
        np.testing.assert_allclose(clip.joints[::4][:n], conv["joints3d"][s:s + n], atol=0.05)
    clip = mocap.read_bvh(raw / "fairmotion" / "01_01.bvh")      # CMU naming (Neck, Neck1)
    # this BVH conversion omits CMU's thorax bone: spine and thorax coincide (0 mm link)
    _check_clip(clip.joints[1:], min_bone=0.0)
    stature = np.median(clip.joints[:, 10, 2] - clip.joints[:, 3, 2])
    assert 1300 < stature < 1900                                   # CMU units detected


def test_corrupt_and_unsupported_files_give_input_errors(tmp_path, shared_fixtures):
    raw = shared_fixtures / "mocap" / "raw"
    cut = tmp_path / "cut.bvh"
    cut.write_text((raw / "bvh11" / "131_01.bvh").read_text()[:3000])
    bad = tmp_path / "bad.bvh"
    bad.write_bytes(b"\x00\xff\x10 not a bvh")
    noj = tmp_path / "quad.bvh"
    noj.write_text("HIERARCHY\nROOT Base\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition "
                   "Zposition\n}\nMOTION\nFrames: 1\nFrame Time: 0.01\n0 0 0\n")
    for path in (cut, bad, noj):
        with pytest.raises(InputError) as e:
            mocap.read_bvh(path)
        assert str(path.name) in str(e.value) and "expected" in str(e.value)
    asf = tmp_path / "x.asf"
    asf.write_text(":units\n  length 0.45\n:bonedata\n  begin\n  name foo\n  end\n")
    with pytest.raises(InputError, match="CMU bones"):
        mocap.read_asf(asf)
    amc = tmp_path / "x_01.amc"
    amc.write_text(":FULLY-SPECIFIED\n1\nroot 1 2 oops\n")
    with pytest.raises(InputError):
        mocap.read_amc(amc, raw / "fairmotion" / "01.asf")
    with pytest.raises(InputError, match="expected procedural"):
        mocap.load_clips("fbx:/tmp/x.fbx")
    with pytest.raises(InputError, match="does not exist"):
        mocap.load_clips(f"bvh:{tmp_path / 'missing.bvh'}")


def test_npz_clips_split_across_subjects(shared_fixtures, tmp_path):
    from posebench.data.dataset import read_split
    from posebench.synth.build import SynthOptions, build

    path = shared_fixtures / "mocap" / "converted" / "cmu_samples.npz"
    clips = mocap.read_npz_clips(path)
    assert len(clips) == 5 and clips[0].joints.shape[1:] == (17, 3)
    build(tmp_path / "cmu", SynthOptions(poses=f"npz:{path}", subjects=2, frames_per_action=8,
                                         train2d_subjects=1, train2d_frames_per_action=2,
                                         images=False))
    train, test = read_split(tmp_path / "cmu", "train"), read_split(tmp_path / "cmu", "test")
    assert set(train.keys.subject) == {"S1"} and set(test.keys.subject) == {"S5"}
    assert len(set(train.keys.action)) == 3 and len(set(test.keys.action)) == 2
    bl = bone_lengths(train.poses_3d, H36M.parents)
    assert np.ptp(bl[train.keys.action == train.keys.action[0]], 0).max() < 1.0


def test_deepmimic_reader_rest_pose_and_missing_pybullet(tmp_path, monkeypatch):
    frame = [1 / 30, 0.0, 0.85, 0.0, 1, 0, 0, 0] + [1, 0, 0, 0] * 2
    for _ in "rl":
        frame += [1, 0, 0, 0, 0.0, 1, 0, 0, 0, 1, 0, 0, 0, 0.0]
    motions = tmp_path / "motions"
    motions.mkdir()
    (motions / "humanoid3d_stand.txt").write_text(json.dumps({"Loop": "wrap",
                                                              "Frames": [frame, frame]}))
    (clip,) = mocap.read_pybullet_clips(motions)
    J = clip.joints[0]
    assert clip.fps == pytest.approx(30) and clip.action == "stand"
    assert J[0, 2] == pytest.approx(850)                         # pelvis height, z up, mm
    assert np.linalg.norm(J[2] - J[1]) == pytest.approx(421.546)  # thigh of the humanoid
    assert J[4, 1] > J[1, 1]                   # DeepMimic +z is the right side -> our -y
    with pytest.raises(InputError):
        (motions / "humanoid3d_bad.txt").write_text("{\"Frames\": [[1, 2, 3]]}")
        mocap.read_pybullet_clips(motions)
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"pip install posebench3d\[mocap\]"):
        mocap.load_clips("pybullet")
