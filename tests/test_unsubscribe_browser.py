"""The recipient unsubscribe pages in a real browser: Debian's headless Chromium on a phone-sized
screen (tests/browser.py)."""
from __future__ import annotations

from urllib.parse import urlsplit

from selenium.webdriver.common.by import By

from tests.browser import PHONE, scripts_off, wait_for

ADDRESS = "Driver@Example.com"
MASKED = "d***@example.com"


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


def unsubscribe(driver, scope: str) -> None:
    """Pick a scope on the confirmation page and press Unsubscribe; wait for the done page."""
    driver.find_element(By.CSS_SELECTOR, f'input[name="scope"][value="{scope}"]').click()
    driver.find_element(By.ID, "unsubscribe").click()
    assert wait_for(driver, "done").text == "You are unsubscribed"


def undo(driver, what: str) -> None:
    """Press Undo on the done page; wait for the confirmation page with its notice."""
    driver.find_element(By.ID, "undo").click()
    assert wait_for(driver, "notice").text == f"Done: you will get mail {what} again."


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

    undo(driver, "from any dealer on this platform")
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
