"""Today's menu."""

from __future__ import annotations

from .messages import MenuItem

MENU = (
    MenuItem("margherita", 850),
    MenuItem("marinara", 700),
    MenuItem("diavola", 1000),
    MenuItem("capricciosa", 1050),
    MenuItem("quattro_formaggi", 1100),
)
