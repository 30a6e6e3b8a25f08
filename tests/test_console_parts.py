"""The console's pieces on their own: `flask staff` commands, the charts, and the raw-message
reading of the evidence viewer."""
from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from config.policy import Rate
from suppression.admin import charts, rawmail
from suppression.policy import Counts
from tests.conftest import Console

PASSWORD = "a long enough password"


# flask staff ...

def test_staff_create_prompts_for_the_password_and_the_user_can_log_in(app, runner):
    result = runner.invoke(args=["staff", "create", "Ana@Platform.example", "--role", "admin"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "created admin ana@platform.example" in result.output and PASSWORD not in result.output
    assert Console(app.test_client(), "ana@platform.example").login(PASSWORD).status_code == 302
    assert runner.invoke(args=["staff", "list"]).output.split("\t")[1:4] == ["admin", "active", "-"]


def test_staff_create_with_totp_prints_the_enrolment_uri(runner):
    result = runner.invoke(args=["staff", "create", "bo@platform.example", "--role", "analyst", "--totp",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("otpauth://totp/Suppression%20console:bo%40platform.example?")


def test_staff_create_refuses_a_short_password_a_bad_address_and_a_repeat(runner):
    def create(email, password=PASSWORD):
        return runner.invoke(args=["staff", "create", email, "--role", "admin", "--password", password])
    assert "12 to 1024 characters" in create("ana@platform.example", "short").output
    assert "is not an email address" in create("not an address").output
    assert create("ana@platform.example").exit_code == 0
    repeat = create("ANA@platform.example")
    assert repeat.exit_code == 1 and "exists already" in repeat.output


def test_set_password_replaces_it(app, runner):
    runner.invoke(args=["staff", "create", "ana@platform.example", "--role", "admin", "--password", PASSWORD])
    new = "another long password"
    assert runner.invoke(args=["staff", "set-password", "ana@platform.example", "--password", new]).exit_code == 0
    console = Console(app.test_client(), "ana@platform.example")
    assert console.login(PASSWORD).status_code == 401 and console.login(new).status_code == 302
    assert runner.invoke(args=["staff", "disable", "nobody@platform.example"]).exit_code == 1


# Charts

DAY = date(2026, 11, 1)
RULE = Rate(days=3, min_sends=100, warning=0.01, critical=0.05)


def series(*days: Counts) -> list[tuple[date, Counts]]:
    return [(DAY + timedelta(days=n), counts) for n, counts in enumerate(days)]


def test_a_rate_is_read_over_the_rules_window_and_undefined_under_its_volume():
    days = series(Counts(sends=50, complaints=1), Counts(sends=50), Counts(sends=0), Counts(sends=10, complaints=1),
                  Counts())
    points = charts.rolling_rate(days, "complaints", RULE, 3)
    assert [p.day for p in points] == [DAY + timedelta(days=n) for n in (2, 3, 4)]
    # day 2: 100 sends, 1 complaint; day 3: 60 sends (undefined); day 4: 10 sends (undefined)
    assert [p.value for p in points] == [0.01, None, None]


def test_the_rate_chart_draws_both_thresholds_and_breaks_its_line_at_gaps():
    points = [charts.Point(DAY, 0.02), charts.Point(DAY, 0.03), charts.Point(DAY, None), charts.Point(DAY, 0.01),
              charts.Point(DAY, 0.02)]
    svg = str(charts.line("Complaint <rate>", points, RULE.warning, RULE.critical))
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 4
    assert 'class="warning"' in svg and 'class="critical"' in svg and "critical 5.00 %" in svg
    assert "Complaint &lt;rate&gt;" in svg and "<rate>" not in svg


def test_the_volume_chart_has_a_bar_a_day():
    svg = str(charts.bars("Sends", charts.volume(series(*[Counts(sends=n) for n in range(40)]), 30)))
    assert svg.count('class="bar"') == 30 and "2026-12-10: 39" in svg


# The raw-message reading

def test_header_fields_are_unfolded_and_the_body_kept_as_source():
    shown = rawmail.show(b"Subject: one\r\n two\r\nX-Empty:\r\nnot a field\r\n\r\n<p>hi</p>\r\n")
    assert shown.fields == [("Subject", "one two"), ("X-Empty", ""), ("", "not a field")]
    assert shown.body == "<p>hi</p>\r\n" and not shown.cut


def test_long_parts_are_cut_and_say_so():
    shown = rawmail.show(b"X-Long: " + b"a" * 10_000 + b"\n\n" + b"b" * (rawmail.MAX_BODY_CHARS + 1))
    assert shown.cut and len(shown.fields[0][1]) == rawmail.MAX_FIELD_CHARS
    assert len(shown.body) == rawmail.MAX_BODY_CHARS


@given(st.binary(max_size=2000))
def test_any_bytes_are_shown_without_error(raw):
    shown = rawmail.show(raw)
    assert len(shown.fields) <= rawmail.MAX_FIELDS and "\x00" not in shown.body
