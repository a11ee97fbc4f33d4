"""Errors raised on bad user input."""

from __future__ import annotations

__all__ = ["UserInputError"]


class UserInputError(ValueError):
    """Raised when a user-supplied value breaks a rule.

    Every message names the rule, the value seen and how to fix it, e.g.
    ``"dropout rate must satisfy 0 <= p < 1; got p=1.2 for slot 'fc1'. Pass a rate in [0, 1)."``
    """
