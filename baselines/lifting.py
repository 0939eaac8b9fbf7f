"""The residual MLP of Martinez et al. 2017 ("a simple yet effective baseline"), shared by
SimpleBaseline (2D -> 3D) and the EpipolarPose refinement unit (noisy 3D -> 3D).

Block: Linear(w, w) + BatchNorm + activation + Dropout, twice, plus the identity. Training:
Adam, learning rate decayed x`lr_decay` every `decay_steps` steps (continuously, as in the
original), max-norm gradient clipping, z-scored inputs and targets. Seeded: the same seed gives
the same weights on the same machine. This module imports torch; import it lazily.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from posebench.errors import InputError


def set_threads(n: int) -> None:
    """Limit torch's intra-op threads (posebench runs on small shared machines)."""
    if n > 0:
        torch.set_num_threads(int(n))


def activation(name: str) -> nn.Module:
    """"relu" (the official code's default) or "leaky_relu" (what the paper says)."""
    if name == "relu":
        return nn.ReLU()
    if name in ("leaky_relu", "leaky"):
        return nn.LeakyReLU(0.2)
    raise InputError(f"activation '{name}' is not supported; expected relu or leaky_relu; pass "
                     "--option activation=relu.")


def dense(in_dim: int, out_dim: int, act: str, dropout: float) -> nn.Sequential:
    """Linear + BatchNorm1d + activation + Dropout."""
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.BatchNorm1d(out_dim), activation(act),
                         nn.Dropout(dropout))


class ResidualBlock(nn.Module):
    """x + (Linear-BN-act-Dropout)x2 (x): (B, width) -> (B, width)."""

    def __init__(self, width: int = 1024, act: str = "relu", dropout: float = 0.5):
        super().__init__()
        self.body = nn.Sequential(dense(width, width, act, dropout),
                                  dense(width, width, act, dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class LiftingNet(nn.Module):
    """Martinez et al.: input dense layer, `blocks` residual blocks, linear output.
    (B, in_dim) -> (B, out_dim)."""

    def __init__(self, in_dim: int, out_dim: int, width: int = 1024, blocks: int = 2,
                 act: str = "relu", dropout: float = 0.5):
        super().__init__()
        self.inp = dense(in_dim, width, act, dropout)
        self.blocks = nn.Sequential(*(ResidualBlock(width, act, dropout) for _ in range(blocks)))
        self.out = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.inp(x)))


# -------------------------------------------------------------------------- normalisation
def zscore_stats(x: np.ndarray, floor: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std of (N, D) data (std floored so constants stay finite)."""
    return x.mean(axis=0), np.maximum(x.std(axis=0), floor)


# -------------------------------------------------------------------------------- training
def train_regressor(model: nn.Module, inputs: np.ndarray, targets: np.ndarray, *,
                    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
                    epochs: int, batch_size: int = 64, lr: float = 1e-3,
                    lr_decay: float = 0.96, decay_steps: int = 100_000, clip: float = 1.0,
                    seed: int = 0, progress: bool | None = None) -> list[float]:
    """Fit `model` on float32 copies of (N, Din) `inputs` / (N, Dout) `targets` (already
    z-scored). Returns the mean loss of every epoch. Deterministic for a given seed."""
    from tqdm import tqdm  # lazy: optional progress bar

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    X = torch.as_tensor(np.asarray(inputs, np.float32))
    Y = torch.as_tensor(np.asarray(targets, np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_decay ** (step / decay_steps))
    n = len(X)
    drop_last = n > batch_size and n % batch_size == 1  # BatchNorm cannot take a batch of 1
    show = sys.stderr.isatty() if progress is None else progress
    history = []
    model.train()
    for _ in tqdm(range(epochs), desc="training", disable=not show, leave=False):
        perm = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            if len(idx) < 2 or (drop_last and len(idx) == 1):
                continue
            loss = loss_fn(model, X[idx], Y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            count += len(idx)
        history.append(total / max(count, 1))
    model.eval()
    return history


@torch.no_grad()
def predict_batched(model: nn.Module, inputs: np.ndarray, batch_size: int = 4096,
                    output: int | None = None) -> np.ndarray:
    """Eval-mode forward pass over (N, Din) -> (N, Dout) float64. If the model returns a tuple,
    `output` picks the element (default: the last)."""
    model.eval()
    X = torch.as_tensor(np.asarray(inputs, np.float32))
    outs = []
    for start in range(0, len(X), batch_size):
        y = model(X[start:start + batch_size])
        if isinstance(y, tuple | list):
            y = y[-1 if output is None else output]
        outs.append(y.numpy().astype(np.float64))
    if not outs:
        return np.zeros((0, 0))
    return np.concatenate(outs)


# --------------------------------------------------------------------------------- storage
def module_state_arrays(model: nn.Module, prefix: str = "net.") -> dict[str, np.ndarray]:
    """A module's state_dict as numpy arrays (for .npz storage, no pickle)."""
    return {prefix + k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_module_state_arrays(model: nn.Module, arrays: dict[str, np.ndarray],
                             prefix: str = "net.") -> None:
    """Inverse of `module_state_arrays` (strict: every parameter and buffer must be present)."""
    state = {k[len(prefix):]: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()
             if k.startswith(prefix)}
    model.load_state_dict(state, strict=True)
