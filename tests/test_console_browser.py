"""The staff console in Debian's headless Chromium (tests/browser.py), on a phone-sized screen:
a TOTP login, the top alert and its evidence, suspension felt by the sender, reinstatement; an
analyst's view and forged POST; a hostile message in the viewer that runs and loads nothing."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyotp
import pytest
import requests
from selenium.webdriver.common.by import By

from suppression import aup, counters
from suppression.db import db, utcnow
from tests.browser import PHONE, wait_for
from tests.test_inbound import arf, ingest, post_mail  # noqa: F401 -- the fixture


@pytest.fixture
def marker():
    """A loopback HTTP server that records every request: anything a page loads from it shows."""
    hits = []

    class Record(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def hostile_complaint(account_id: int, marker_url: str) -> bytes:
    """A complaint whose returned message tries everything: scripts, handlers, remote images, javascript: links."""
    html = (f'<img src="{marker_url}/img.png"><script>document.title="pwned"</script>'
            f'<body onload="document.title=\'pwned\'"><a href="javascript:document.title=\'pwned\'" id="js">x</a>'
            f'<link rel="stylesheet" href="{marker_url}/style.css"><iframe src="{marker_url}/frame"></iframe>')
    headers = f"X-Account-ID: {account_id}\nContent-Type: text/html\n\n{html}\n"
    return arf("reader@example.com", original_headers=headers)


def log_in(driver, live_url: str, email: str, password: str, code: str = "") -> None:
    driver.get(f"{live_url}/admin/")
    wait_for(driver, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "code").send_keys(code)
    driver.find_element(By.ID, "login").click()
    wait_for(driver, "logout")


def log_out(driver) -> None:
    driver.find_element(By.ID, "logout").click()
    wait_for(driver, "login")


def fits(driver) -> bool:
    """Nothing on the page needs sideways scrolling on a phone."""
    width, scroll_width = driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
    return width == PHONE[0] and scroll_width <= width


def check_status(dealer) -> int:
    return dealer.post("/v1/check", json={"addresses": ["someone@example.com"]}).status_code


def test_staff_find_the_alert_read_its_evidence_suspend_and_reinstate(
        app, live_url, chromium, dealer, ingest, make_staff, marker):  # noqa: F811
    marker_url, hits = marker
    with app.app_context():
        counters.bump(dealer.account_id, "sends", 1000, utcnow().date())
        db.session.commit()
    assert post_mail(ingest, hostile_complaint(dealer.account_id, marker_url)).status_code == 202
    with app.app_context():  # 1 complaint in 1,000 sends: a warning, so staff decide
        aup.evaluate()
        db.session.commit()
    admin = make_staff("ana@platform.example", totp=True, login=False)
    driver = chromium()

    log_in(driver, live_url, admin.email, "correct horse battery staple", pyotp.TOTP(admin.totp_secret).now())
    driver.find_element(By.CSS_SELECTOR, "#alerts .alert-link").click()  # the top alert
    assert "Alpha Motors" in wait_for(driver, "alert-account").text and fits(driver)
    driver.find_element(By.CSS_SELECTOR, ".evidence-link").click()
    body = wait_for(driver, "body").text
    assert '<script>document.title="pwned"</script>' in body  # shown as text ...
    assert driver.title != "pwned" and driver.find_elements(By.ID, "js") == []  # ... never run
    assert hits == []  # and nothing it references was loaded
    assert fits(driver)

    driver.get(f"{live_url}/admin/accounts/{dealer.account_id}")
    wait_for(driver, "suspend")
    driver.find_element(By.CSS_SELECTOR, "form:has(#suspend) textarea").send_keys("complaints from a bought list")
    driver.find_element(By.ID, "suspend").click()
    assert wait_for(driver, "account-status").text == "suspended"
    assert check_status(dealer) == 403
    driver.find_element(By.CSS_SELECTOR, "form:has(#reinstate) textarea").send_keys("list cleaned, opt-in proven")
    driver.find_element(By.ID, "reinstate").click()
    assert wait_for(driver, "account-status").text == "active"
    assert check_status(dealer) == 200
    assert "complaints from a bought list" in driver.find_element(By.ID, "audit").text
    assert fits(driver)
    log_out(driver)


def test_an_analyst_has_no_suspend_button_and_a_forged_post_is_refused(app, live_url, chromium, dealer, make_staff):
    make_staff("ann@platform.example", role="analyst", login=False)
    driver = chromium()
    log_in(driver, live_url, "ann@platform.example", "correct horse battery staple")
    driver.get(f"{live_url}/admin/accounts/{dealer.account_id}")
    wait_for(driver, "account-status")
    assert driver.find_elements(By.ID, "suspend") == []
    # The forgery: the analyst's own session and CSRF token, posted to the admin action by hand.
    token = re.search(r'name="csrf_token" value="([^"]+)"', driver.page_source).group(1)
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    forged = requests.post(f"{live_url}/admin/accounts/{dealer.account_id}/suspend", cookies=cookies,
                           data={"csrf_token": token, "note": "I am an admin now"}, allow_redirects=False, timeout=10)
    assert forged.status_code == 403
    assert check_status(dealer) == 200
    log_out(driver)
