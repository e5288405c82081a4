"""The demo's data: loan applications and whether they defaulted, with a drift dial.

``drift`` from 0 to 1 moves the population (lower incomes, more credit lines, more
applicants from the west region) and changes the concept (in the west, and with many
credit lines, defaults become more likely than the model learned). A model trained at
``drift=0`` loses accuracy at ``drift=1``; one retrained on recent labelled data recovers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGET = "defaulted"
REGIONS = np.array(["north", "south", "east", "west"])
EMPLOYMENT = np.array(["salaried", "self-employed", "unemployed"])


def make_loans(n: int, *, drift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """``n`` loan applications with the ``defaulted`` label, at the given drift (0 to 1)."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(41, 12, n), 18, 80).round()
    income = np.round(rng.lognormal(np.log(52 * (1 - 0.35 * drift)), 0.45, n), 1)
    debt_ratio = np.round(rng.beta(2 + 1.5 * drift, 5, n), 3)
    credit_lines = rng.poisson(4 + 3 * drift, n)
    west = 0.1 + 0.4 * drift
    region = rng.choice(REGIONS, n, p=[(1 - west) / 3] * 3 + [west])
    employment = rng.choice(EMPLOYMENT, n, p=[0.7, 0.2, 0.1])
    tenure = np.round(rng.exponential(4, n), 1)
    logit = (
        -2.2
        + 4.0 * debt_ratio
        - 0.025 * (income - 50)
        + 1.4 * (employment == "unemployed")
        - 0.08 * tenure
        + drift * (2.8 * (region == "west") + 0.5 * np.maximum(credit_lines - 5, 0))
    )
    defaulted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "debt_ratio": debt_ratio,
            "credit_lines": credit_lines,
            "region": region,
            "employment": employment,
            "tenure_years": tenure,
            TARGET: defaulted,
        }
    )
