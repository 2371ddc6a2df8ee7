"""Deterministic simulation of a whole system: every endpoint in one process, a seeded
scheduler choosing every delivery, crash and tick of a virtual clock; see `simulator`."""

from ..delivery.context import answer
from .broker import ConnectionLost, SimBroker, topic_matches
from .process import Crash
from .simulator import simulate
from .system import Check, Report, Sabotage, System
from .world import World, handled_as_sent, handled_once

__all__ = ["Check", "ConnectionLost", "Crash", "Report", "Sabotage", "SimBroker", "System", "World",
           "answer", "handled_as_sent", "handled_once", "simulate", "topic_matches"]
