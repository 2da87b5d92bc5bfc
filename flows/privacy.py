"""Differential privacy: OpenDP's discrete Laplace (geometric) noise and its margin of error.

Each traveller adds at most `cap` trips to a release, each to one cell, so the
counts' L1 sensitivity is `cap` and noise of scale `cap / epsilon` makes the
release epsilon-differentially private per traveller. The sampler is OpenDP's;
this module only sets it up and post-processes (rounding is not needed: the
noise is integer; negative counts become 0, which costs no privacy).
"""

from __future__ import annotations

import math

import opendp.prelude as dp

dp.enable_features("contrib")

CONFIDENCE = 0.95


def noise_scale(epsilon: float, cap: int) -> float:
    """Return the scale of discrete Laplace noise that gives epsilon-DP at sensitivity `cap`."""
    return cap / epsilon


def add_noise(counts: list[int], epsilon: float, cap: int) -> list[int]:
    """Return the counts with discrete Laplace noise, clamped to non-negative integers."""
    if not counts:
        return []
    scale = noise_scale(epsilon, cap)
    measurement = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale
    )
    # OpenDP's own accounting: the loss at the cap must not exceed what the ledger is charged.
    if measurement.map(cap) > epsilon * (1 + 1e-9):  # type: ignore[no-untyped-call]
        raise ArithmeticError("the noise is too small for the epsilon charged")
    return [max(0, int(value)) for value in measurement(counts)]


def margin_of_error(scale: float, confidence: float = CONFIDENCE) -> int:
    """Return the smallest m with P(|noise| <= m) >= confidence for discrete Laplace(scale)."""
    alpha = math.exp(-1.0 / scale)
    # P(|X| > m) = 2 alpha^(m+1) / (1 + alpha) for the discrete Laplace distribution.
    tail = (1.0 - confidence) * (1.0 + alpha) / 2.0
    return max(0, math.ceil(math.log(tail) / math.log(alpha) - 1.0))
