"""The recipient unsubscribe pages in a real browser: Debian's headless Chromium on a phone-sized screen.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`make install-browser`). Selenium never downloads
anything: both paths are given and SE_OFFLINE keeps Selenium Manager off the network.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = (390, 844)  # a common phone's CSS viewport
ADDRESS = "Driver@Example.com"
MASKED = "d***@example.com"


@pytest.fixture
def live_url(app):
    """The test app served over real HTTP on a free local port; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    # Stopped before `app` empties the tables, so no request of ours is still holding a session.
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def chromium():
    """chromium() -> this module's one headless Chromium, started on first use (a launch takes seconds)."""
    drivers = []

    def driver() -> webdriver.Chrome:
        if not drivers:
            drivers.append(start_phone())
        return drivers[0]

    # Selenium Manager would fetch a browser when it finds none; offline it cannot.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        yield driver
    for started in drivers:
        started.quit()


def start_phone() -> webdriver.Chrome:
    """Debian's Chromium, headless, with a phone's viewport; fails (never skips) when it is not installed."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        # Called from the test, so a missing browser is a failure: a skip would hide an untested page.
        pytest.fail(f"{' and '.join(missing)} not found: run make install-browser", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    # Headless windows are at least 500px wide, so the phone's viewport is emulated instead. Not as
    # "mobile": that widens the layout viewport to fit the content and would hide an overflow.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 3, "mobile": False})
    return driver


@contextmanager
def scripts_off(driver):
    """Pages in `driver` run no JavaScript inside the block."""
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        yield driver
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def page_link(api, live_url: str, address: str = ADDRESS) -> str:
    """The dealer's unsubscribe link for `address`, pointed at the local server instead of the public host."""
    response = api.post("/v1/unsubscribe-links", json={"recipients": [{"address": address}]})
    assert response.status_code == 200, response.json
    [link] = response.json["results"]
    return live_url + urlsplit(link["url"]).path


def decision(api, address: str = ADDRESS) -> tuple[bool, str | None, str | None]:
    """(send, reason, scope) that the dealer behind `api` gets for `address` right now."""
    response = api.post("/v1/check", json={"addresses": [address]})
    assert response.status_code == 200, response.json
    [result] = response.json["results"]
    return result["send"], result["reason"], result["scope"]


def wait_for(driver, element_id: str):
    """The element once the page that has it has loaded (a form submit returns before the next page)."""
    return WebDriverWait(driver, 10).until(expected_conditions.visibility_of_element_located((By.ID, element_id)))


def unsubscribe(driver, scope: str) -> None:
    """Pick a scope on the confirmation page and press Unsubscribe; wait for the done page."""
    driver.find_element(By.CSS_SELECTOR, f'input[name="scope"][value="{scope}"]').click()
    driver.find_element(By.ID, "unsubscribe").click()
    assert wait_for(driver, "done").text == "You are unsubscribed"


def undo(driver) -> None:
    """Press Undo on the done page; wait for the confirmation page with its notice."""
    driver.find_element(By.ID, "undo").click()
    assert wait_for(driver, "notice").text == "Done: you will get mail from Alpha Motors again."


def assert_private_and_fits(driver) -> None:
    """Only the masked address is on the page, and nothing needs sideways scrolling on a phone."""
    assert ADDRESS.lower() not in driver.page_source.lower()
    assert MASKED in driver.find_element(By.TAG_NAME, "body").text
    width, scroll_width = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert width == PHONE[0] and scroll_width <= width


def test_recipient_unsubscribes_from_all_dealers_undoes_then_leaves_one_dealer(
        live_url, chromium, dealer, make_dealer):
    """On a phone, a recipient leaves every dealer, undoes it, then leaves only the one that mailed them."""
    other = make_dealer("Bravo Cars")
    driver = chromium()
    driver.get(page_link(dealer, live_url))

    assert "Alpha Motors" in driver.find_element(By.TAG_NAME, "body").text
    assert_private_and_fits(driver)
    assert decision(dealer) == (True, None, None)  # opening the link changes nothing

    unsubscribe(driver, "all")
    assert_private_and_fits(driver)
    assert decision(dealer) == decision(other) == (False, "global_opt_out", "global")

    undo(driver)
    assert decision(dealer) == decision(other) == (True, None, None)

    unsubscribe(driver, "this")
    assert decision(dealer) == (False, "unsubscribed", "account")
    assert decision(other) == (True, None, None)
    assert driver.get_cookies() == []  # the token is the only authority: no session, no tracking


def scripts_run(driver) -> bool:
    """Does this browser run a page's scripts? (So a no-JS pass cannot pass with JS quietly on.)"""
    driver.get("data:text/html,<p id=probe>off</p><script>probe.textContent = 'on'</script>")
    return driver.find_element(By.ID, "probe").text == "on"


def test_the_form_works_with_javascript_turned_off(live_url, chromium, dealer):
    """A recipient whose browser blocks scripts can still unsubscribe: the page is a plain form."""
    with scripts_off(chromium()) as driver:
        assert not scripts_run(driver)
        driver.get(page_link(dealer, live_url))
        unsubscribe(driver, "this")
    assert decision(dealer) == (False, "unsubscribed", "account")
