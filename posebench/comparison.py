"""Paired comparison of two result records: `compare_records(a.json, b.json)`.

Both records must carry their per-sample file (``per_sample``, written by `posebench eval
--output`) and be computed on the same samples (dataset fingerprint, identical key arrays),
under the same protocol (fingerprint) and with the same PSS models (fingerprints); otherwise
InputError says which differs. For every metric both records report: the two values, delta =
A - B, its 95% paired sequence-block bootstrap interval and a two-sided approximate-
randomisation p-value over blocks, (c + 1) / (n + 1) (see posebench.stats.paired).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posebench.errors import InputError
from posebench.io import load_npz, sha256_file
from posebench.results import load_result, protocol_fingerprint
from posebench.stats import block_stats, paired_block_test

_KEYS = ("subject", "action", "subaction", "camera", "frame")


def load_samples(record: dict, record_path: str | Path) -> dict[str, np.ndarray]:
    """The per-sample arrays of a record, checked against the sha256 the record holds."""
    ps = record.get("per_sample")
    if not isinstance(ps, dict) or not ps.get("file") or not ps.get("sha256"):
        raise InputError(f"{record_path} has no per-sample file (field 'per_sample'); expected "
                         "a record written by a current `posebench eval --output`; re-run the "
                         "evaluation to write it.")
    name = Path(str(ps["file"]))
    if name.is_absolute() or ".." in name.parts:
        raise InputError(f"{record_path} names per-sample file '{ps['file']}'; expected a file "
                         "name relative to the record's folder; re-write the record.")
    path = Path(record_path).parent / name
    if not path.is_file():
        raise InputError(f"per-sample file {path} of {record_path} does not exist; expected it "
                         "beside the record; copy it along or re-run `posebench eval`.")
    if sha256_file(path) != ps["sha256"]:
        raise InputError(f"per-sample file {path} does not match the sha256 in {record_path}; "
                         "expected the file written with the record; re-run `posebench eval`.")
    return load_npz(path, what="a per-sample file written by `posebench eval --output`")


def _same(what: str, a, b, fix: str) -> None:
    if a != b:
        raise InputError(f"the records differ in {what} ({str(a)[:40]} vs {str(b)[:40]}); "
                         f"expected the same for a paired comparison; {fix}.")


def _pss_fingerprints(rec: dict) -> dict:
    out = {}
    for m in rec.get("pss_models", []):
        out.setdefault(int(m.get("k", 0)), []).append(
            m.get("fingerprints") or m.get("fingerprint"))
    return out


def check_comparable(ra: dict, rb: dict, sa: dict, sb: dict) -> None:
    """InputError unless both records are on the same samples, protocol and PSS models."""
    _same("dataset fingerprint", ra.get("dataset", {}).get("fingerprint"),
          rb.get("dataset", {}).get("fingerprint"), "evaluate both on the same dataset")
    pa = ra.get("protocol_fingerprint") or protocol_fingerprint(ra["protocol"])
    pb = rb.get("protocol_fingerprint") or protocol_fingerprint(rb["protocol"])
    _same("protocol", f"{ra['protocol'].get('name')} {pa[:12]}",
          f"{rb['protocol'].get('name')} {pb[:12]}", "evaluate both under one protocol")
    _same("PSS models", _pss_fingerprints(ra), _pss_fingerprints(rb),
          "evaluate both with the same PSS models (same --seed or --pss-model)")
    for col in (*_KEYS, "block"):
        if col not in sa or col not in sb:
            raise InputError(f"a per-sample file lacks the key array '{col}'; expected the keys "
                             "written by `posebench eval --output`; re-run the evaluation.")
        if sa[col].shape != sb[col].shape or not np.array_equal(sa[col], sb[col]):
            n_a, n_b = len(sa[col]), len(sb[col])
            raise InputError(f"the records score different samples ('{col}' differs; {n_a} vs "
                             f"{n_b} samples); expected the same samples in the same order; "
                             "evaluate both on the full protocol (no --allow-partial).")


def compare_records(path_a: str | Path, path_b: str | Path, *, n_boot: int = 2000,
                    seed: int = 0) -> dict:
    """``{metric: {"a", "b", "delta", "low", "high", "p_value"}}`` for two result records
    (delta = a - b; low/high: 95% paired sequence-block bootstrap interval of delta;
    p_value: two-sided approximate randomisation over blocks). InputError when the records
    are not on the same samples, protocol and PSS models."""
    ra, rb = load_result(path_a), load_result(path_b)
    sa, sb = load_samples(ra, path_a), load_samples(rb, path_b)
    check_comparable(ra, rb, sa, sb)
    names = [m for m in ra["metrics"] if m in rb["metrics"]]
    if not names:
        raise InputError("the records share no metric; expected at least one metric reported "
                         "by both; evaluate both with the same protocol.")
    for arr, path in ((sa, path_a), (sb, path_b)):
        for m in names:
            if m not in arr:
                raise InputError(f"per-sample file of {path} lacks metric '{m}'; expected one "
                                 "array per metric; re-run `posebench eval --output`.")
    agg = ra["protocol"].get("aggregation", "frame")
    st_a = block_stats({m: sa[m] for m in names}, sa["block"], stratum_of_sample=sa["action"])
    st_b = block_stats({m: sb[m] for m in names}, sb["block"], stratum_of_sample=sb["action"])
    out = paired_block_test(st_a, st_b, agg, n_boot=n_boot, seed=seed)
    for rec, key, path in ((ra, "a", path_a), (rb, "b", path_b)):
        for m in names:
            v, r = out[m][key], rec["metrics"][m]
            if r is None or not np.isclose(v, r, rtol=1e-9, atol=1e-9):
                raise InputError(f"{path}: {m} from its per-sample file is {v} but the record "
                                 f"says {r}; expected the same number; re-run `posebench eval`.")
    return {m: out[m] for m in names}
