"""Fixtures of the page's browser tests (tests/controller/http/browser.py), found by name."""

from tests.controller.http.browser import browser, microphone_wav

__all__ = ["browser", "microphone_wav"]
