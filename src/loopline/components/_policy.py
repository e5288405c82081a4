"""The validation policy: one table that serving, ``loopline predict`` and ``validate_data`` read.

``[schema] policy`` in ``loopline.toml`` (``loopline serve --lenient/--strict`` and
``loopline predict --lenient/--strict`` override it) decides what a value or a column the
model's schema does not know means:

=====================  ===============  ===================================================
finding                ``"strict"``     ``"lenient"``
=====================  ===============  ===================================================
``unseen_category``    error            warning; the encoder treats the value as unknown
                                        (no one-hot column set, the prior mean of a target
                                        encoding)
``unknown_column``     error            warning; the column is ignored
=====================  ===============  ===================================================

Every other check (types, missing values, ranges) has the same outcome under both policies.
One exception, by design: ``validate_data`` reports a column of a *training span* that the
reference schema lacks as a warning under both policies, so a new column in the data never
stops retraining (the model does not use it until its schema has it).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from ..errors import InvalidInputError

__all__ = ["POLICIES", "Policy", "PolicyCheck", "check_policy", "policy_severity"]

Policy: TypeAlias = Literal["strict", "lenient"]
PolicyCheck: TypeAlias = Literal["unseen_category", "unknown_column"]
#: The policies, strictest first.
POLICIES: tuple[Policy, ...] = ("strict", "lenient")

_TABLE: dict[Policy, dict[PolicyCheck, Literal["error", "warning"]]] = {
    "strict": {"unseen_category": "error", "unknown_column": "error"},
    "lenient": {"unseen_category": "warning", "unknown_column": "warning"},
}


def check_policy(policy: object) -> Policy:
    """Return ``policy`` if it is a known policy.

    Raises:
        InvalidInputError: It is not ``"strict"`` or ``"lenient"``.
    """
    if policy not in POLICIES:
        raise InvalidInputError(
            f"The 'policy' argument must be 'strict' or 'lenient'. Got {policy!r} instead.",
            hint='Set [schema] policy = "strict" or "lenient" in loopline.toml.',
            value=policy,
        )
    return policy


def policy_severity(check: PolicyCheck, policy: Policy) -> Literal["error", "warning"]:
    """Whether ``check``'s finding is an error or a warning under ``policy``.

    Example:
        >>> policy_severity("unseen_category", "lenient")
        'warning'
    """
    return _TABLE[check_policy(policy)][check]
