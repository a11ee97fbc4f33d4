"""Training methods compared in the paper (§IV): ERM, noise injection, AWP, FTNA, ReRAM-V.

Search-based methods (BayesFT, random search, the uniform-rate grid) run whole searches
and live with the ``compare`` command.

Select one by name with :func:`get_method`; every method's ``fit`` returns a network
whose forward gives ``N x C`` class scores, so it is scored under drift with
:func:`bayesft_tune.evaluation.evaluate_under_drift` like any other.
"""

from __future__ import annotations

from bayesft_tune.methods._awp import AWPTrainer, awp_perturbation, fit_awp
from bayesft_tune.methods._basic import fit_erm, fit_noise_injection
from bayesft_tune.methods._ftna import (ECOCNet, assign_codes, confusion_matrix, fit_ftna, hard_decode,
                                        make_codebook, min_distance)
from bayesft_tune.methods._registry import METHODS, Method, MethodConfig, get_method, method_names
from bayesft_tune.methods._reram_v import ReramVResult, fit_reram_v, reram_v_rounds

for _method in (
    Method("erm", fit_erm, "empirical risk minimisation, no dropout"),
    Method("noise_injection", fit_noise_injection, "train with weight drift (σ_train) in every forward pass"),
    Method("awp", fit_awp, "adversarial weight perturbation (layer-wise relative γ)"),
    Method("ftna", fit_ftna, "error-correcting output codes (sigmoid bits, nearest codeword)"),
    Method("reram_v", fit_reram_v,
           "variation-aware training: freeze and shrink the most harmed weights, retrain the rest"),
):
    METHODS.register(_method.name, _method)

__all__ = ["METHODS", "AWPTrainer", "ECOCNet", "Method", "MethodConfig", "ReramVResult", "assign_codes",
           "awp_perturbation", "confusion_matrix", "fit_awp", "fit_erm", "fit_ftna",
           "fit_noise_injection", "fit_reram_v", "get_method", "hard_decode",
           "make_codebook", "method_names", "min_distance", "reram_v_rounds"]
