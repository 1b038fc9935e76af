"""Splitting an amount into parts without losing a cent."""
from __future__ import annotations

from typing import Sequence

from .money import Money


def allocate(total: Money, ratios: Sequence[int]) -> list[Money]:
    """Split ``total`` in proportion to integer ``ratios``.

    The parts always add up to ``total`` exactly; leftover minor units go to
    the parts with the largest remainders (earlier parts win ties).

    >>> [str(m) for m in allocate(Money("100"), [1, 1, 1])]
    ['33.34 EUR', '33.33 EUR', '33.33 EUR']
    """
    if not ratios or any(r < 0 for r in ratios) or sum(ratios) == 0:
        raise ValueError("ratios must be non-negative and not all zero")
    units = total.minor_units
    whole = sum(ratios)
    parts = [units * r // whole for r in ratios]
    remainders = [units * r % whole for r in ratios]
    leftover = units - sum(parts)
    order = sorted(range(len(ratios)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        parts[i] += 1
    return [Money.from_minor_units(p, total.currency) for p in parts]
