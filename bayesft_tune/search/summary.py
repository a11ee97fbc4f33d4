"""The text a finished search prints."""

from __future__ import annotations

import pandas as pd

from bayesft_tune.argtypes import format_level
from bayesft_tune.schema import SLOT_PREFIX, width_columns

__all__ = ["outcome_text", "robustness_text"]


def robustness_text(robustness: pd.DataFrame) -> str:
    """Accuracy [95% CI] per level (rows: σ, or time since programming) and method (columns)."""
    if robustness.empty:
        return "(no robustness table)"
    unit = _first(robustness, "level_unit")
    axis = "time since programming" if _first(robustness, "level_axis") == "time" else "sigma"
    r = robustness.assign(cell=lambda d: [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in
                                          zip(d.accuracy_mean, d.accuracy_ci_low, d.accuracy_ci_high)])
    table = r.pivot(index="sigma", columns="method", values="cell")
    table.index = pd.Index([format_level(v, unit) for v in table.index], name=axis)
    return "test accuracy under drift, mean [95% CI over T draws]:\n" + table.to_string()


def _first(frame: pd.DataFrame, column: str) -> str:
    values = frame[column].dropna() if column in frame else pd.Series(dtype=object)
    return str(values.iloc[0]) if len(values) else ""


def _knobs_text(best: dict) -> str:
    rates = {k[len(SLOT_PREFIX):]: round(float(v), 3) for k, v in best.items()
             if k.startswith(SLOT_PREFIX) and pd.notna(v)}
    parts = [f"dropout {rates}"]
    widths = [int(best[c]) for c in width_columns(pd.DataFrame([best])) if pd.notna(best[c])]
    if widths:
        parts.append(f"widths {'-'.join(map(str, widths))} ({int(best['parameter_count']):,} parameters)")
    for key, label in (("noise_injection", "σ_train"), ("activation", "activation"), ("norm", "norm")):
        if pd.notna(best.get(key)) and best.get(key) not in (None, ""):
            parts.append(f"{label} {best[key]:.3f}" if isinstance(best[key], float) else f"{label} {best[key]}")
    return ", ".join(parts)


def _selection_text(selection: pd.DataFrame) -> str:
    if selection.empty or "reselected" not in selection:
        return ""
    chosen = selection[selection.chosen].iloc[0]
    note = "the best" if int(chosen.observed_rank) == 0 else f"number {int(chosen.observed_rank) + 1}"
    return (f"returned trial: {note} of the top {len(selection)} trials that meet the clean-accuracy guard, "
            f"re-scored with fresh validation draws ({chosen.reselected:.4f} ± {chosen.reselected_sem:.4f} vs "
            f"{chosen.observed:.4f} observed)")


def _ahead_text(units: tuple[int, int]) -> str:
    taken, scored = units
    if not taken + scored:
        return ""
    return f"; final job: {taken} of {taken + scored} units scored on the free core while the last trials ran"


def outcome_text(outcome) -> str:
    """Run directory, wall time, the returned trial and the test robustness table."""
    lines = [f"\nrun directory: {outcome.run_dir}",
             f"wall time: {outcome.wall_time_s:.0f} s (Ax searcher: GP total {outcome.searcher_seconds:.1f} s, "
             f"GP blocking a slot {outcome.searcher_blocking_seconds:.1f} s); "
             f"trials: {outcome.trials.status.value_counts().to_dict()}" + _ahead_text(outcome.final_units)]
    if outcome.best is None:
        lines.append("no trial completed; see the error column of trials.parquet")
        return "\n".join(lines)
    best = outcome.best
    lines.append(f"returned network: trial {best['trial_id']}: {_knobs_text(best)}; "
                 f"{best['objective_name']} {best['objective_mean']:.4f} ± {best['objective_sem']:.4f} (SEM), "
                 f"clean validation accuracy {best['clean_accuracy']:.3f}"
                 + (f" (ERM {outcome.reference_clean_accuracy:.3f})"
                    if pd.notna(outcome.reference_clean_accuracy) else ""))
    text = _selection_text(outcome.selection)
    if text:
        lines.append(text)
    if not outcome.selection.empty and "feasible" in outcome.selection and not outcome.selection.feasible.any():
        lines.append("WARNING: no trial met the clean-accuracy guard (ERM's clean validation accuracy minus "
                     "--clean-guard); the returned network is the best of the rest. Train longer (--epochs) "
                     "or run more trials.")
    lines.append(robustness_text(outcome.robustness))
    return "\n".join(lines)

