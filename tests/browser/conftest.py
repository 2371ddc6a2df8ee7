"""Browser fixtures: Debian's chromium driven by Playwright, and the pizza house running as
separate processes (the four consumers and `pizzeria web`) on the embedded broker."""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass

import pytest
from processes import Pizzeria, environment

from pizzeria.modules import names


@pytest.fixture(scope="session")
def browser():
    """Headless chromium (the system's: `apt-get install chromium`), for the session."""
    from playwright.sync_api import sync_playwright
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the browser tests need chromium: apt-get install chromium (make servers does)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@dataclass
class House:
    """The pizza house of a browser test: its processes, and the web's base URL."""

    pizzeria: Pizzeria
    base: str

    def restart_consumers(self, **settings: str) -> None:
        """Stop every consumer, change their settings (an empty value removes one), start them again."""
        assert self.pizzeria.stop_consumers() == [0] * len(names())
        self.pizzeria.env.update(settings)
        self.pizzeria.env = {key: value for key, value in self.pizzeria.env.items() if value}
        for queue in names():
            self.pizzeria.consume(queue)


@pytest.fixture
def house(tmp_path, request):
    """The four consumers and the web process. A test marked `settings(NAME=VALUE, ...)` runs
    them with those settings."""
    marker = request.node.get_closest_marker("settings")
    pizzeria = Pizzeria(tmp_path, environment(tmp_path, **(marker.kwargs if marker else {})))
    for queue in names():
        pizzeria.consume(queue)
    web, base = pizzeria.web()
    yield House(pizzeria, base)
    web.send_signal(signal.SIGTERM)
    web.wait(timeout=30)
    pizzeria.stop_consumers()


@pytest.fixture
def page(browser, tmp_path):
    """A fresh page; its screenshot is saved in the test's directory at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    yield page
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    context.close()
