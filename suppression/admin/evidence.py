"""Evidence: one stored event with its raw message as text, and the download of its bytes."""
from __future__ import annotations

import json

from flask import Response, render_template

from suppression import events
from suppression.admin import rawmail
from suppression.admin.blueprint import bp
from suppression.db import db
from suppression.models import Payload


@bp.get("/events/<int:event_id>")
def event_page(event_id: int):
    """What arrived, what the worker read in it, and what it counted."""
    event = events.get(event_id)
    raw = _raw(event)
    shown = rawmail.show(raw) if event.raw is not None else None
    payload = raw.decode("utf-8", "replace")[:rawmail.MAX_BODY_CHARS] if event.raw is None and raw else None
    return render_template("admin/event.html", event=event, shown=shown, payload=payload, size=len(raw or b""),
                           classification=_pretty(event.classification), finding=_pretty(event.finding))


def _pretty(value: dict | None) -> str | None:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) if value else None


@bp.get("/events/<int:event_id>/raw")
def event_download(event_id: int):
    """The stored bytes, as a download that no browser displays."""
    event = events.get(event_id)
    name = f"event-{event.id}.eml" if event.raw is not None else f"event-{event.id}-payload.json"
    return Response(_raw(event) or b"", mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _raw(event) -> bytes | None:
    """A message's bytes, or for a provider's event the webhook body it came in."""
    if event.raw is not None:
        return event.raw
    payload = db.session.get(Payload, event.payload_id) if event.payload_id is not None else None
    return payload.raw if payload is not None else None
