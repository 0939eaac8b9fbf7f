"""The static site in a real headless browser (Debian's chromium + chromedriver, selenium).

`.ci/run` installs chromium/chromium-driver when missing; this test installs nothing and skips,
naming what is missing, only where no browser is available. Asserts: the page loads from
file:// with no console errors, clicking a header sorts the table, every image loads
(naturalWidth > 0), and a method page loads too. A screenshot is written to
$POSEBENCH_SITE_SCREENSHOT (when set) for a human to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers_board import install_comparison_standin, make_board

from posebench.site import build_site

CHROMIUM = [p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                        shutil.which("google-chrome")) if p]
DRIVER = shutil.which("chromedriver")


def _driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium; .ci/run installs it)")
    if not CHROMIUM or not DRIVER:
        pytest.skip("no headless browser: chromium and chromedriver not found on PATH "
                    "(apt-get install chromium chromium-driver; .ci/run installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


@pytest.fixture(scope="module")
def browser():
    d = _driver()
    yield d
    d.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:
        install_comparison_standin(mp)
        index, _notes = build_site(make_board(base / "board"), base / "site")
    return index


def _errors(browser) -> list[dict]:
    return [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def _column(browser, table_id: str, col: int) -> list[str]:
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr'))"
        ".map(r => r.cells[arguments[1]].getAttribute('data-value'));", table_id, col)


def test_site_loads_sorts_and_shows_every_image(browser, site):
    from selenium.webdriver.common.by import By

    browser.get(site.as_uri())
    assert browser.title == "posebench leaderboard"
    assert _errors(browser) == []
    # default order: by MPJPE ascending (alpha, beta, gamma, delta)
    assert _column(browser, "leaderboard", 1) == ["alpha", "beta", "gamma", "delta"]
    heads = browser.find_elements(By.CSS_SELECTOR, "#leaderboard th")
    labels = [h.text.strip() for h in heads]
    mpjpe, pss = labels.index("MPJPE"), labels.index("PSS@50")
    heads[mpjpe].click()
    first = [float(v) for v in _column(browser, "leaderboard", mpjpe)]
    heads[mpjpe].click()  # second click: descending
    second = [float(v) for v in _column(browser, "leaderboard", mpjpe)]
    assert first == sorted(first) and second == sorted(first, reverse=True)
    assert _column(browser, "leaderboard", 1) == ["delta", "gamma", "beta", "alpha"]
    heads[1].click()  # method names sort alphabetically
    assert _column(browser, "leaderboard", 1) == ["alpha", "beta", "delta", "gamma"]
    heads[pss].click()
    vals = [float(v) for v in _column(browser, "leaderboard", pss)]
    assert vals == sorted(vals) and len(set(vals)) == 4
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
        "i.naturalWidth]);")
    assert {Path(src).name for src, _c, _w in images} == {
        "scatter.svg", "actions.svg", "joints.svg", "pss_gallery.svg"}
    assert all(c and w > 0 for _src, c, w in images), images
    shot = os.environ.get("POSEBENCH_SITE_SCREENSHOT")
    if shot:
        browser.save_screenshot(shot)
    assert _errors(browser) == []


def test_method_page_loads_with_its_tables(browser, site):
    from selenium.webdriver.common.by import By

    browser.get(site.as_uri())
    browser.find_element(By.LINK_TEXT, "gamma").click()
    assert browser.title == "gamma"
    rows = browser.find_elements(By.CSS_SELECTOR, "#per-action tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == [
        "Jump", "Sit", "Walk", "Wave"]
    assert "head_top" in browser.page_source
    assert _errors(browser) == []
