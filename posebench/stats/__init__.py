"""Honest uncertainty: sequence-block bootstrap intervals and paired comparisons.

Frames of one sequence are strongly correlated, so every interval and test here resamples
whole sequences (blocks), never frames; see docs/statistics.md for the measured reason.

- `blocks`: block ids of samples (subject, action, subaction; all cameras of an instant and all
  frames of a sequence in one block) and per-block sufficient statistics (sums, counts).
- `block_bootstrap`: percentile intervals of frame-wise or action-wise means from a
  (n_boot, n_blocks) resampling-count matrix times the per-block sums.
- `paired`: the difference of two records on the same samples: paired block-bootstrap interval
  and an approximate-randomisation p-value over blocks.
"""

from posebench.stats.block_bootstrap import BootstrapResult, block_bootstrap, count_matrix
from posebench.stats.blocks import BLOCK_COLUMNS, BlockStats, block_ids, block_stats, sorted_codes
from posebench.stats.paired import paired_block_test

__all__ = ["BLOCK_COLUMNS", "BlockStats", "BootstrapResult", "block_bootstrap", "block_ids",
           "block_stats", "count_matrix", "paired_block_test", "sorted_codes"]
