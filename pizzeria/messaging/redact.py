"""Passwords out of anything that is shown or stored."""

from __future__ import annotations

import re

# The password runs to the last @ before the host, as URL parsers (and kombu) read it.
CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^/\s]*)@",
                         re.IGNORECASE)


def hide_password(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    if "://" not in text:  # most log lines: no need for the regular expression
        return text
    return CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
