"""What every service's rules share: the seeded windows, counted per resource name."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from awsmodel.model import Draws, Settings


class RuleBase:
    settings: Settings
    draws: Draws
    made: Counter[str]  # how many times a name was made: each making draws afresh

    def _draw(self, what: str, name: str, *more: object) -> float:
        bounds = getattr(self.settings, what)
        return self.draws.between(bounds, what, name, self.made[name], *more)

    def window(self, what: str, name: str, *more: object) -> float:
        """The window a resource made for the first time gets: what the benchmark's floor is
        made of (bench/aws_model.py)."""
        return self.draws.between(getattr(self.settings, what), what, name, 1, *more)

    def _made(self, name: str) -> None:
        self.made[name] += 1
