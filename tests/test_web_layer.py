"""The web layer: each surface shows errors its own way, keys are checked before bodies, and
rate limits on several blueprints hold for each."""
from __future__ import annotations

import pytest
from flask import Blueprint

from suppression import create_app
from suppression.api import auth
from suppression.api.auth import requires
from suppression.api.blueprint import api_blueprint
from suppression.errors import Invalid
from suppression.models import Role
from suppression.web import errors, ratelimit, sessions


@pytest.fixture
def fresh_app(app):
    """An app of its own (blueprints may still be added to it), on the test database."""
    return create_app({key: app.config[key] for key in ("DATABASE_URL", "UNSUBSCRIBE_KEYS", "PUBLIC_BASE_URL")})


@pytest.mark.parametrize("body", [{"addresses": "not a list"}, {"nothing": 1}, None])
def test_a_bad_body_without_a_key_is_401_not_422(client, body):
    response = client.post("/v1/check", json=body)
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_malformed_json_without_a_key_is_401(client):
    response = client.post("/v1/suppressions", data="{oops", content_type="application/json")
    assert response.status_code == 401


def test_a_wrong_role_is_refused_before_the_body_is_read(staff):
    response = staff.post("/v1/check", data="{oops", content_type="application/json")
    assert response.status_code == 403


def test_two_limited_blueprints_are_each_limited(fresh_app):
    first = Blueprint("first", __name__, url_prefix="/first")
    second = Blueprint("second", __name__, url_prefix="/second")
    first.add_url_rule("/", "hit", lambda: "first")
    second.add_url_rule("/", "hit", lambda: "second")
    fresh_app.config.update(FIRST_LIMIT="2/minute", SECOND_LIMIT="3/minute")
    ratelimit.limit_blueprint(fresh_app, first, "FIRST_LIMIT")
    ratelimit.limit_blueprint(fresh_app, second, "SECOND_LIMIT")
    fresh_app.register_blueprint(first)
    fresh_app.register_blueprint(second)
    client = fresh_app.test_client()
    assert [client.get("/first/").status_code for _ in range(3)] == [200, 200, 429]
    assert [client.get("/second/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))  # not limited at all


def test_a_blueprint_is_limited_once(fresh_app):
    with pytest.raises(ValueError, match="limited already"):
        ratelimit.limit_blueprint(fresh_app, Blueprint("pages", __name__), "UNSUBSCRIBE_RATE_LIMIT")


def test_each_surface_renders_its_own_errors(fresh_app):
    console = Blueprint("console", __name__, url_prefix="/console")

    @console.get("/broken")
    def broken():
        raise Invalid("no such thing")

    errors.install(console, errors.plain_page)
    fresh_app.register_blueprint(console)
    client = fresh_app.test_client()
    page = client.get("/console/broken")
    assert page.status_code == 422 and page.mimetype == "text/html" and "no such thing" in page.get_data(as_text=True)
    assert client.get("/console/missing").mimetype == "text/html"  # no route: the surface mounted there answers
    assert client.get("/v1/missing").json["error"]["code"] == "not_found"
    assert client.get("/u/").mimetype == "text/html"


def test_an_unknown_url_elsewhere_follows_the_accept_header(client):
    assert client.get("/nowhere").is_json
    page = client.get("/nowhere", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_an_api_view_that_declares_no_callers_is_found_at_start_up(fresh_app):
    extra = api_blueprint("extra", __name__, "extra", url_prefix="/extra")

    @extra.get("/open")
    def undeclared():
        return {}

    @extra.get("/closed")
    @requires(Role.staff)
    def declared():
        return {}
    fresh_app.register_api(extra)
    assert auth.undeclared(fresh_app, {"extra"}) == ["extra.undeclared"]
    assert fresh_app.test_client().get("/extra/closed").status_code == 401


def test_requires_declares_the_roles_on_the_view():
    @requires(Role.staff, Role.sender)
    def view():
        return None
    assert view.required_roles == {Role.staff, Role.sender}


def test_only_the_surfaces_whose_users_log_in_get_cookie_sessions(fresh_app):
    from flask import session
    sessions.init_app(fresh_app, frozenset({"console"}))
    console, other = Blueprint("console", __name__, url_prefix="/console"), Blueprint("other", __name__,
                                                                                        url_prefix="/other")
    for bp in (console, other):
        bp.add_url_rule("/login", "login", lambda: session.update(user="ann") or "ok")
        errors.install(bp, errors.plain_page)
        fresh_app.register_blueprint(bp)
    client = fresh_app.test_client()
    assert "session=" in client.get("/console/login").headers.get("Set-Cookie", "")
    refused = client.get("/other/login")
    assert refused.status_code == 500 and "Set-Cookie" not in refused.headers  # a null session cannot be written
    assert "Set-Cookie" not in client.get("/healthz").headers
