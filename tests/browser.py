"""Debian's headless Chromium for the browser tests (the recipient pages, the staff console).

Needs /usr/bin/chromium and /usr/bin/chromedriver (`make install-browser`). Selenium never downloads
anything: both paths are given and SE_OFFLINE (set by the `chromium` fixture) keeps Selenium
Manager off the network.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = (390, 844)  # a common phone's CSS viewport


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



def wait_for(driver, element_id: str):
    """The element once the page that has it has loaded (a form submit returns before the next page)."""
    return WebDriverWait(driver, 10).until(expected_conditions.visibility_of_element_located((By.ID, element_id)))
