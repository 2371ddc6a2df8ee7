"""`pizzeria endpoints`: each endpoint (queue) with the messages it takes and sends to others
(a worker its events; the process manager, which takes events, the workers' commands), their
routing keys and handlers, and, on the broker, its consumers and depth."""

from __future__ import annotations

from typing import Any

from pizzeria import modules
from pizzeria.messaging import Event, admin


def describe(app: Any) -> list[dict[str, Any]]:
    """Every endpoint of the application, as plain data."""
    contracts = {module.name: module.contract for module in modules.declarations()}
    depths = admin.queue_depths(app.broker)
    found = []
    for name, endpoint in app.endpoints.items():
        takes_events = any(issubclass(kind, Event) for kind in endpoint.handlers)
        sends = ([kind for other, contract in contracts.items() if other != name for kind in contract.commands.values()]
                 if takes_events else [])
        sends += list(contracts[name].events.values())
        found.append({
            "endpoint": name, "queue": app.broker.topology.queues[name].name, "bindings": endpoint.routes,
            "takes": [{"type": kind.__name__, "routing_key": kind.route, "handler": _name(handler)}
                      for kind, handler in endpoint.handlers.items()],
            "sends": sorted({kind.__name__: kind.route for kind in sends}.items()),
            **depths.get(name, {}),
        })
    return found


def lines(endpoints: list[dict[str, Any]]) -> list[str]:
    """The endpoints as readable lines."""
    out = []
    for endpoint in endpoints:
        counted = "" if endpoint.get("consumers") is None else f", {endpoint['consumers']} consumers"
        on_broker = f", {endpoint['messages']} waiting{counted}" if "messages" in endpoint else ""
        out.append(f"{endpoint['endpoint']} (queue {endpoint['queue']}, bound to {', '.join(endpoint['bindings'])}{on_broker})")
        out += [f"  takes {taken['type']:<20} {taken['routing_key']:<40} {taken['handler']}" for taken in endpoint["takes"]]
        out += [f"  sends {kind:<20} {route}" for kind, route in endpoint["sends"]]
    return out


def _name(handler: Any) -> str:
    function = getattr(handler, "func", handler)  # a partial: its function
    return f"{function.__module__}.{function.__qualname__}"
