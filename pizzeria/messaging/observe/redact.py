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


def hide_url_passwords(urls: str) -> str:
    """A setting's URL, or several separated by `;`, each with its password (up to its last @,
    so a password with a / in it too) replaced by ***."""
    return ";".join(_hide_url_password(url) for url in urls.split(";"))


def _hide_url_password(url: str) -> str:
    start = url.find("://") + 3
    end = url.rfind("@")
    if start < 3 or end < start or ":" not in url[start:end]:
        return url
    user = url[start:end].split(":", 1)[0]
    return f"{url[:start]}{user}:***{url[end:]}"
