"""The two upload endpoints, /v1/check/filter and /v1/suppressions/import, through real uploads:
what they accept (text/csv, text/plain, one multipart file field named `file`), what they refuse
(every other type: 415; another field: 422 naming it), and bytes that are not UTF-8, which are
never stored nor answered for as if they were an address."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from suppression import lists
from suppression.db import db
from suppression.models import Suppression

IMPORT, FILTER = "/v1/suppressions/import", "/v1/check/filter"
ACCEPTED = ["text/csv", "text/plain", "multipart/form-data"]


def stored(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Suppression.address).order_by(Suppression.id)))


def count_stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Suppression))


def error_of(response) -> dict:
    assert response.is_json, response.get_data(as_text=True)[:200]
    return response.json["error"]


def decision(dealer, address: str) -> dict:
    [result] = dealer.post("/v1/check", json={"addresses": [address]}).json["results"]
    return result


def filtered(response) -> list[str]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True).splitlines()


# -- content types ------------------------------------------------------------------------------

REFUSED_TYPES = {
    "json": ("application/json", b'{"addresses": ["a@example.com"]}'),
    "malformed-json": ("application/json", b'{"addresses": ["a@example.com"'),
    "png": ("image/png", b"\x89PNG\r\n\x1a\na@example.com\n"),
    "html": ("text/html", b"<p>a@example.com</p>\n"),
    "octet-stream": ("application/octet-stream", b"a@example.com\n"),
    "xml": ("application/xml", b"<a>a@example.com</a>"),
    "form": ("application/x-www-form-urlencoded", b"a%40example.com="),
}


@pytest.mark.parametrize("path", [IMPORT, FILTER])
@pytest.mark.parametrize("kind", REFUSED_TYPES, ids=list(REFUSED_TYPES))
def test_an_upload_of_another_type_is_415_naming_the_accepted_ones(app, dealer, path, kind):
    mimetype, body = REFUSED_TYPES[kind]
    response = dealer.post(path, data=body, content_type=mimetype)
    assert response.status_code == 415
    error = error_of(response)
    assert error["code"] == "unsupported_media_type"
    assert error["details"] == {"content_type": mimetype, "accepted": ACCEPTED}
    assert count_stored(app) == 0


@pytest.mark.parametrize("path", [IMPORT, FILTER])
def test_a_body_without_a_content_type_is_415(app, dealer, path):
    response = dealer.post(path, data=b"a@example.com\n")
    assert response.status_code == 415
    assert error_of(response)["details"] == {"content_type": None, "accepted": ACCEPTED}
    assert count_stored(app) == 0


@pytest.mark.parametrize("path", [IMPORT, FILTER])
def test_a_declared_charset_other_than_utf8_is_415(app, dealer, path):
    response = dealer.post(path, data="müller@example.de\n".encode("latin-1"),
                           content_type="text/csv; charset=iso-8859-1")
    assert response.status_code == 415
    assert error_of(response)["details"] == {"charset": "iso-8859-1", "accepted": ["utf-8"]}
    assert count_stored(app) == 0


# -- multipart ----------------------------------------------------------------------------------

def a_file(content: bytes = b"a@example.com\nb@example.com\n", name: str = "list.csv"):
    return io.BytesIO(content), name


@pytest.mark.parametrize("path", [IMPORT, FILTER])
def test_a_multipart_file_under_another_name_is_422_naming_it(app, dealer, path):
    response = dealer.post(path, data={"upload": a_file()}, content_type="multipart/form-data")
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["details"]) == ("unexpected_field", {"field": "upload"})
    assert "'file'" in error["message"]
    assert count_stored(app) == 0


@pytest.mark.parametrize("path", [IMPORT, FILTER])
def test_another_field_next_to_the_file_is_422_naming_it(app, dealer, path):
    response = dealer.post(path, data={"file": a_file(), "list": "offers"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["details"]) == ("unexpected_field", {"field": "list"})
    assert count_stored(app) == 0


@pytest.mark.parametrize("path", [IMPORT, FILTER])
def test_several_files_are_422(app, dealer, path):
    response = dealer.post(path, data={"file": [a_file(name="one.csv"), a_file(name="two.csv")]},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["details"]) == ("too_many_files", {"field": "file"})
    assert count_stored(app) == 0


@pytest.mark.parametrize("path", [IMPORT, FILTER])
def test_a_multipart_body_without_the_file_is_422(app, dealer, path):
    # A plain field named `file` (curl -F 'file=<list.csv') too: the form parser has decoded it,
    # replacing what was not UTF-8, so it is not the bytes as sent.
    for data in ({}, {"file": "a@example.com\n"}):
        response = dealer.post(path, data=data, content_type="multipart/form-data")
        assert response.status_code == 422, data
        assert (error_of(response)["code"], error_of(response)["details"]) == ("missing_file", {"field": "file"})
    assert count_stored(app) == 0


@pytest.mark.parametrize("path", [IMPORT, FILTER])
def test_a_broken_multipart_body_is_422(app, dealer, path):
    body = (b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
            b"a@example.com\r\n")  # never closed
    response = dealer.post(path, data=body, content_type="multipart/form-data; boundary=xyz")
    assert response.status_code == 422 and error_of(response)["code"] == "invalid_multipart"
    response = dealer.post(path, data=b"a@example.com\n", content_type="multipart/form-data")  # no boundary
    assert response.status_code == 422 and error_of(response)["code"] == "invalid_multipart"
    assert count_stored(app) == 0


# -- encodings ----------------------------------------------------------------------------------

NOT_UTF8 = {
    "latin-1": (b"m\xfcller@example.de", "m\\xfcller@example.de"),
    "cp1252-quote": (b"\x93ann\x94@example.com", "\\x93ann\\x94@example.com"),
    "overlong-slash": (b"a\xc0\xafb@example.com", "a\\xc0\\xafb@example.com"),
    "encoded-surrogate": (b"a\xed\xb3\xbc@example.com", "a\\xed\\xb3\\xbc@example.com"),
    "cut-multibyte": (b"caf\xc3@example.com", "caf\\xc3@example.com"),
}
BAD_LINE = 12_345
LINES = 20_000  # several import chunks before and after the bad line


def big_file(bad: bytes, header: bytes = b"") -> bytes:
    lines = [f"person{n}@example.com".encode() for n in range(1, LINES + 1)]
    lines[BAD_LINE - 1] = bad
    return header + b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("kind", NOT_UTF8, ids=list(NOT_UTF8))
def test_an_import_reports_a_line_that_is_not_utf8_and_stores_nothing_of_it(app, dealer, staff, kind):
    bad, escaped = NOT_UTF8[kind]
    response = dealer.post(IMPORT, data=big_file(bad), content_type="text/csv")
    assert response.status_code == 200, response.json
    report = response.json
    assert (report["lines"], report["added"], report["invalid"]) == (LINES, LINES - 1, 1)
    assert report["invalid_lines"] == [{"line": BAD_LINE, "value": escaped, "reason": "invalid_encoding"}]
    addresses = stored(app)
    assert len(addresses) == LINES - 1 and f"person{BAD_LINE}@example.com" not in addresses
    assert all(address.isascii() for address in addresses)  # no U+FFFD, no guess at the bad bytes
    [logged] = staff.get("/v1/audit?action=suppression.import").json["items"]
    assert (logged["details"]["added"], logged["details"]["invalid"]) == (LINES - 1, 1)


def test_a_latin1_address_is_neither_stored_garbled_nor_counted_added(app, dealer):
    response = dealer.post(IMPORT, data="müller@example.de\n".encode("latin-1"), content_type="text/csv")
    assert (response.json["added"], response.json["invalid"]) == (0, 1)
    assert stored(app) == []
    assert dealer.get("/v1/suppressions?address=m\ufffdller@example.de").json["items"] == []
    # Sent again as UTF-8, it is imported, and checked as the address it is.
    response = dealer.post(IMPORT, data="müller@example.de\n".encode(), content_type="text/csv")
    assert response.json["added"] == 1 and stored(app) == ["müller@example.de"]
    assert decision(dealer, "müller@example.de")["reason"] == "unsubscribed"


@pytest.mark.parametrize("kind", NOT_UTF8, ids=list(NOT_UTF8))
def test_the_filter_refuses_a_file_with_a_line_that_is_not_utf8(app, dealer, kind):
    bad, escaped = NOT_UTF8[kind]
    response = dealer.post(FILTER, data=big_file(bad, b"email\n"), content_type="text/csv")
    assert response.status_code == 422
    error = error_of(response)
    # The header is line 1: the bad address is on the next line.
    assert (error["code"], error["details"]) == ("invalid_encoding", {"line": BAD_LINE + 1})
    assert escaped in error["message"]


def test_the_filter_never_answers_send_for_a_garbled_address(dealer):
    body = "ok@example.com\nmüller@example.de\n".encode("latin-1")
    for upload in ({"data": body, "content_type": "text/plain"},
                   {"data": {"file": a_file(body)}, "content_type": "multipart/form-data"}):
        response = dealer.post(FILTER, **upload)
        assert response.status_code == 422 and response.mimetype == "application/json"
        assert error_of(response)["details"] == {"line": 2}


def test_a_multipart_import_reports_a_line_that_is_not_utf8(app, dealer):
    body = "a@example.com\nmüller@example.de\nb@example.com\n".encode("latin-1")
    report = dealer.post(IMPORT, data={"file": a_file(body)}, content_type="multipart/form-data").json
    assert (report["added"], report["invalid_lines"]) == (
        2, [{"line": 2, "value": "m\\xfcller@example.de", "reason": "invalid_encoding"}])
    assert stored(app) == ["a@example.com", "b@example.com"]


def test_bytes_that_are_not_utf8_in_another_column_do_not_matter(app, dealer):
    # Only the address cell is read; a name in Latin-1 next to it changes nothing.
    body = "email,name\nann@example.com,Müller\n".encode("latin-1")
    assert dealer.post(IMPORT, data=body, content_type="text/csv").json["added"] == 1
    assert stored(app) == ["ann@example.com"]
    response = dealer.post(FILTER, data=body, content_type="text/csv")
    assert filtered(response)[1:] == ["ann@example.com,false,unsubscribed"]


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("header", [b"", b"email,name\n"], ids=["no-header", "header"])
def test_a_utf8_bom_is_accepted_and_the_first_address_read_correctly(app, dealer, header):
    body = BOM + header + "Ann@Example.com,x\nmüller@example.de,y\n".encode()
    response = dealer.post(FILTER, data=body, content_type="text/csv")
    assert filtered(response)[1:] == ["Ann@Example.com,true,", "müller@example.de,true,"]
    report = dealer.post(IMPORT, data=body, content_type="text/csv").json
    assert (report["added"], report["invalid"]) == (2, 0)
    assert stored(app) == ["ann@example.com", "müller@example.de"]
    assert decision(dealer, "ann@example.com")["reason"] == "unsubscribed"


def test_a_bom_in_a_multipart_file_is_accepted(app, dealer):
    body = BOM + b"ann@example.com\n"
    report = dealer.post(IMPORT, data={"file": a_file(body)}, content_type="multipart/form-data").json
    assert report["added"] == 1 and stored(app) == ["ann@example.com"]


# -- the documented happy paths -----------------------------------------------------------------

@pytest.mark.parametrize("upload", [
    {"content_type": "text/csv"},
    {"content_type": "text/csv; charset=utf-8"},
    {"content_type": "text/plain"},
    {"content_type": "text/plain; charset=US-ASCII"},
    {"content_type": "multipart/form-data", "multipart": True},
], ids=["csv", "csv-utf8", "plain", "plain-ascii", "multipart"])
def test_the_documented_uploads_work(app, dealer, upload):
    body = "email\nAnn@Example.com\nmüller@Example.de\nnope\n".encode()
    kwargs = {"content_type": upload["content_type"]}

    def send(path):
        data = {"file": a_file(body)} if upload.get("multipart") else body
        return dealer.post(path, data=data, **kwargs)

    report = send(IMPORT + "?list=offers").json
    assert (report["lines"], report["added"], report["invalid"]) == (3, 2, 1)
    assert report["invalid_lines"] == [{"line": 4, "value": "nope", "reason": "invalid_address"}]
    assert stored(app) == ["ann@example.com", "müller@example.de"]
    assert filtered(send(FILTER + "?list=offers"))[1:] == [
        "Ann@Example.com,false,unsubscribed", "müller@Example.de,false,unsubscribed", "nope,false,invalid_address"]
    assert filtered(send(FILTER))[1:] == [
        "Ann@Example.com,true,", "müller@Example.de,true,", "nope,false,invalid_address"]


def test_an_undecodable_line_gives_no_address_to_whatever_forgets_to_check(app):
    from suppression.addresses import normalize
    assert normalize(lists.Undecodable("m\\xfcller@example.de")) is None


# -- the contract -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [IMPORT, FILTER])
def test_the_openapi_document_says_what_an_upload_accepts(client, path):
    operation = client.get("/openapi.json").json["paths"][path]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == set(ACCEPTED)
    form = content["multipart/form-data"]["schema"]
    assert (form["required"], form["additionalProperties"], form["properties"]["file"]["format"]) == (
        ["file"], False, "binary")
    assert operation["responses"]["415"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    assert "200" in operation["responses"]
