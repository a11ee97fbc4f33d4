"""One small registry type for every name-valued choice: drift models, models, datasets,
methods and tasks. Each package fills its registry explicitly in its ``__init__``."""

from __future__ import annotations

from typing import Generic, TypeVar

from bayesft_tune.errors import UserInputError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> items, in registration order; unknown names are a :class:`UserInputError`.

    Args:
        kind: what the items are, for messages (``"task"``, ``"method"``).
        fix: how the user passes a name, for messages (``"Pass one with --task."``).
    """

    def __init__(self, kind: str, fix: str) -> None:
        self.kind, self.fix = kind, fix
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name`` (replacing one of the same name); returns it."""
        self._items[name] = item
        return item

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def get(self, name: str) -> T:
        """The item of ``name``.

        Raises:
            UserInputError: unknown name; the message lists the valid names.
        """
        if name not in self._items:
            raise UserInputError(f"unknown {self.kind} {name!r}; valid {self.kind}s are {self.names()}. {self.fix}")
        return self._items[name]

    def values(self) -> list[T]:
        """Registered items, in registration order."""
        return list(self._items.values())
