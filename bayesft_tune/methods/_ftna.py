"""FTNA (Liu et al., DAC 2019): error-correcting output codes instead of softmax.

The network's output layer is replaced by ``l`` sigmoid outputs (code bits). Every
class owns a codeword of a codebook with minimum Hamming distance ``h``; classes
that a briefly trained ERM model confuses often get codewords far apart. Training
minimises binary cross-entropy of the bits against the class's codeword.

Decoding (documented choice: the *soft* variant): the class score is
``-Σ_b |sigmoid(z_b) - c_kb|``, minus the L1 distance of the bit probabilities to
codeword ``k``. Its argmax is the nearest codeword; on saturated outputs it equals
nearest-codeword decoding by Hamming distance of the thresholded bits
(:func:`hard_decode`), and it breaks Hamming ties by confidence.
"""

from __future__ import annotations

import itertools
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from bayesft_tune.errors import UserInputError
from bayesft_tune.methods._basic import fit_erm
from bayesft_tune.methods._registry import MethodConfig, seeded_build
from bayesft_tune.training import TrainConfig, Trainer

__all__ = ["ECOCNet", "assign_codes", "confusion_matrix", "fit_ftna", "hard_decode",
           "make_codebook", "min_distance"]


def min_distance(codes: Tensor) -> int:
    """Minimum pairwise Hamming distance of a ``K x l`` 0/1 codebook."""
    d = torch.cdist(codes.float(), codes.float(), p=1)
    return int(d[~torch.eye(len(codes), dtype=torch.bool)].min())


def make_codebook(num_classes: int, bits: int, distance: int, seed: int = 0,
                  attempts: int = 20_000) -> Tensor:
    """Random greedy search for ``num_classes`` codewords pairwise ``>= distance`` apart.

    Returns:
        ``num_classes x bits`` float tensor of 0/1.

    Raises:
        UserInputError: no such codebook found within ``attempts`` random words.
    """
    gen = torch.Generator().manual_seed(int(seed))
    codes: list[Tensor] = []
    for _ in range(attempts):
        word = torch.randint(0, 2, (bits,), generator=gen).float()
        if all(int((word != c).sum()) >= distance for c in codes):
            codes.append(word)
            if len(codes) == num_classes:
                return torch.stack(codes)
    raise UserInputError(f"found no {num_classes}-word code of length {bits} with minimum Hamming "
                         f"distance {distance} in {attempts} tries; lower ftna_distance or raise ftna_bits.")


def _greedy_assignment(weight: Tensor, dist: Tensor) -> list[int]:
    """Class -> codeword index: most-confused pairs first, each given the farthest free codes."""
    k, free, perm = len(dist), set(range(len(dist))), [-1] * len(dist)
    pairs = sorted(itertools.combinations(range(k), 2), key=lambda ij: -float(weight[ij]))
    for i, j in pairs + [(i, i) for i in range(k)]:
        if perm[i] >= 0 and perm[j] >= 0:
            continue
        if perm[i] < 0 and perm[j] < 0 and i != j:
            a, b = max(itertools.permutations(sorted(free), 2), key=lambda ab: float(dist[ab]))
            perm[i], perm[j] = a, b
        else:
            placed, todo = (i, j) if perm[i] >= 0 else (j, i)
            anchor = perm[placed] if perm[placed] >= 0 else min(free)
            perm[todo] = anchor if perm[placed] < 0 else max(sorted(free), key=lambda c: float(dist[anchor, c]))
        free -= {perm[i], perm[j]}
    return perm


def assign_codes(codebook: Tensor, confusion: Tensor) -> Tensor:
    """Permute codewords so often-confused class pairs get distant codes.

    Maximises ``Σ_{i<j} (C_ij + C_ji) · hamming(code_i, code_j)``: a greedy start (the
    most-confused pairs first get the farthest free codewords), then pairwise swaps
    until none improves (deterministic local search).

    Args:
        codebook: ``K x l`` codewords.
        confusion: ``K x K`` counts, row = true class, column = predicted.

    Returns:
        ``K x l``: row ``k`` is class ``k``'s codeword.
    """
    weight = (confusion + confusion.T).float().fill_diagonal_(0)
    dist = torch.cdist(codebook.float(), codebook.float(), p=1)
    perm = _greedy_assignment(weight, dist)
    score = lambda p: float((weight * dist[p][:, p]).sum())
    best, improved = score(perm), True
    while improved:
        improved = False
        for i, j in itertools.combinations(range(len(perm)), 2):
            perm[i], perm[j] = perm[j], perm[i]
            new = score(perm)
            if new > best + 1e-9:
                best, improved = new, True
            else:
                perm[i], perm[j] = perm[j], perm[i]
    return codebook[perm].clone()


def _replace_output_layer(model: nn.Module, bits: int) -> nn.Module:
    """Swap the last Linear layer of ``model`` for one with ``bits`` outputs."""
    name, layer = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], nn.Linear(layer.in_features, bits))
    return model


class ECOCNet(nn.Module):
    """A network with ``l`` code-bit outputs; ``forward`` returns ``N x K`` class scores.

    Args:
        body: network whose output is ``N x l`` bit logits.
        codebook: ``K x l`` 0/1 codewords (buffer: moves with the model, never drifts
            under ``params="all"`` since it is not a parameter).
    """

    def __init__(self, body: nn.Module, codebook: Tensor) -> None:
        super().__init__()
        self.body = body
        self.register_buffer("codebook", codebook.float())

    def bits(self, x: Tensor) -> Tensor:
        """``N x l`` bit logits."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """``N x K`` scores ``-‖sigmoid(bits) - code_k‖_1`` (soft nearest-codeword)."""
        return -torch.cdist(torch.sigmoid(self.bits(x)), self.codebook, p=1)


def hard_decode(bits: Tensor, codebook: Tensor) -> Tensor:
    """Nearest codeword by Hamming distance of 0/1 ``bits`` (``N x l``) -> ``N`` classes."""
    return torch.cdist(bits.float(), codebook.float(), p=1).argmin(1)


class _BCETrainer(Trainer):
    """Trainer whose loss is BCE of the code bits against the label's codeword."""

    def step(self, x: Tensor, y: Tensor) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(self.model.bits(x), self.model.codebook[y])
        loss.backward()
        self.opt.step()
        return float(loss.detach())


def confusion_matrix(model: nn.Module, data: TensorDataset, num_classes: int) -> Tensor:
    """``K x K`` counts (row true, column predicted) of ``model`` on ``data``."""
    x, y = data.tensors
    with torch.no_grad():
        pred = model.eval()(x.to(next(model.parameters()).device)).argmax(1).cpu()
    return torch.bincount(y * num_classes + pred, minlength=num_classes**2).view(num_classes, num_classes)


def fit_ftna(build: Callable[[], nn.Module], train: TensorDataset, val: TensorDataset,
             cfg: MethodConfig, seed: int = 0, device: str | torch.device = "cpu") -> nn.Module:
    """One ERM epoch for the confusion matrix (on ``val``), then ``cfg.epochs`` of ECOC training."""
    num_classes = int(train.tensors[1].max()) + 1
    probe = fit_erm(build, train, val, MethodConfig(epochs=1, batch_size=cfg.batch_size, lr=cfg.lr),
                    seed, device)
    confusion = cfg.options.get("confusion")
    confusion = torch.as_tensor(confusion) if confusion is not None else confusion_matrix(probe, val, num_classes)
    codes = assign_codes(make_codebook(num_classes, cfg.ftna_bits, cfg.ftna_distance, seed), confusion)
    model = ECOCNet(_replace_output_layer(seeded_build(build, seed), cfg.ftna_bits), codes)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr)
    trainer = _BCETrainer(model, train, tcfg, seed=seed, device=device)
    for _ in range(tcfg.epochs):
        trainer.epoch()
    return model.eval()
