"""Shared fixtures: the reference scenario, small seeded runs, and a writer of scenario files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from sim.execution.runner import run_scenario
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "scenarios" / "li2021_reference.yaml"


@pytest.fixture(scope="session")
def reference_path() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def reference():
    return load_scenario(REFERENCE)


@pytest.fixture(scope="session")
def small_run():
    """A seeded 600-patient run of the reference scenario, analysed."""
    scenario = load_scenario(REFERENCE, {"run.patients": 600, "run.seed": 7})
    result = run_scenario(scenario)
    patients, summary = analyse(result)
    return result, patients, summary


@pytest.fixture
def write_scenario(tmp_path):
    """Write a YAML scenario extending the reference (or anything) into tmp_path."""

    def write(data: dict | str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser). Outside CI
    a missing Chromium skips the test; with CRCSIM_REQUIRE_BROWSER it fails it."""
    if CHROMIUM is None:
        if os.environ.get("CRCSIM_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (CRCSIM_REQUIRE_BROWSER) but is not installed")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def scroll_to_plot():
    """Scroll a dashboard page to a plot as a reader would. Playwright's own scrolling first
    waits for the element to stop moving, which a page of plots drawn lazily above it may not
    do for a while; the tests wait for the plot to be drawn instead."""

    def scroll(page, pid: str) -> None:
        page.evaluate("(pid) => document.getElementById('plot-' + pid)"
                      ".scrollIntoView({block: 'center'})", pid)

    return scroll
