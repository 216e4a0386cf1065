"""Notification text: Jinja2 templates per channel kind and event, with defaults that show
the title, severity, service, key labels and links; a user's override replaces a default.

The context (built by ``notify.delivery._context``): ``links`` are the first alert's links,
each ``href`` and ``text`` as alerts store them (``url`` and ``title`` are the same values,
for templates written against those names); ``incident.resolution`` is the resolution note
of a resolved incident; ``ack_url``/``resolve_url`` are empty once it is resolved.

Templates render in the bounded sandbox (``vigil.templating.sandbox``): an override that goes past
a bound, or tries to leave the sandbox, is a 422 when saved or previewed, and at delivery
the built-in template is used instead (a notification is never held up by its template).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from vigil.errors import InvalidInput
from vigil.templating.sandbox import BoundedEnvironment, Limits, compile_checked, render_checked

log = logging.getLogger(__name__)

EVENTS = ("triggered", "acknowledged", "escalated", "resolved", "reminder", "test")
#: What one notification's template may cost (see ``vigil.templating.sandbox``).
LIMITS = Limits(output=100_000, steps=50_000, chars=2_000_000, seconds=1.0)
_text = BoundedEnvironment(LIMITS, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_html = BoundedEnvironment(LIMITS, autoescape=True, trim_blocks=True, lstrip_blocks=True)

#: A notification's context as ``notify.delivery._context`` makes it, for trial renders
#: when a template is saved.
SAMPLE: dict[str, Any] = {
    "event": "triggered",
    "incident": {"id": 42, "number": 42, "title": "High latency on checkout",
                 "summary": "p99 latency is 2.4 s", "status": "firing",
                 "severity": "critical", "priority": "P2", "services": ["checkout"],
                 "team": "sre", "assignee": "alice", "resolution": None},
    "labels": {"alertname": "HighLatency", "service": "checkout", "env": "prod",
               "cluster": "eu-1", "severity": "critical"},
    "links": [{"href": "https://runbooks.example.com/latency", "text": "Runbook",
               "url": "https://runbooks.example.com/latency", "title": "Runbook"}],
    "url": "https://vigil.example.com/ui/incidents/42",
    "ack_url": "https://vigil.example.com/a/sample", "resolve_url":
    "https://vigil.example.com/a/sample", "recipient": "alice",
}

_TITLE = ("[{{ event | upper }}] {% if incident.number %}INC-{{ incident.number }} {% endif %}"
          "{{ incident.title }}")
_BODY = """{{ incident.title }}
Status: {{ incident.status }} | Severity: {{ incident.severity }}{% if incident.priority %} | {{ incident.priority }}{% endif %}

{% if incident.services %}Services: {{ incident.services | join(", ") }}
{% endif %}
{% if incident.summary and incident.summary != incident.title %}{{ incident.summary }}
{% endif %}
{% for k, v in labels.items() %}{{ k }}={{ v }}
{% endfor %}
{% if incident.resolution %}Resolution: {{ incident.resolution }}
{% endif %}
{% if url %}Incident: {{ url }}
{% endif %}
{% for l in links %}{{ l.text or "Link" }}: {{ l.href }}
{% endfor %}
{% if ack_url %}Acknowledge: {{ ack_url }}
{% endif %}
{% if resolve_url %}Resolve: {{ resolve_url }}
{% endif %}"""
_SMS = ("{% if incident.number %}INC-{{ incident.number }} {% endif %}{{ event | upper }} "
        "{{ incident.severity }}: {{ incident.title | truncate(100) }}"
        "{% if incident.number and event in ('triggered', 'escalated') %} Reply "
        "{{ incident.number }}a to ack, {{ incident.number }}r to resolve{% endif %}")
_EMAIL_HTML = """<h2 style="margin:0">{{ incident.title }}</h2>
<p><b>{{ event | capitalize }}</b> &middot; severity <b>{{ incident.severity }}</b>
&middot; status {{ incident.status }}</p>
{% if incident.services %}<p>Services: {{ incident.services | join(", ") }}</p>{% endif %}
{% if incident.summary and incident.summary != incident.title %}<p>{{ incident.summary }}</p>{% endif %}
{% if incident.resolution %}<p>Resolution: {{ incident.resolution }}</p>{% endif %}
{% if labels %}<table>{% for k, v in labels.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>{% endif %}
<p>{% if ack_url %}<a href="{{ ack_url }}">Acknowledge</a> &middot; {% endif %}
{% if resolve_url %}<a href="{{ resolve_url }}">Resolve</a> &middot; {% endif %}
{% if url %}<a href="{{ url }}">Open in Vigil</a>{% endif %}
{% for l in links %} &middot; <a href="{{ l.href }}">{{ l.text or "Link" }}</a>{% endfor %}</p>"""

#: Labels worth showing first, when present.
KEY_LABELS = ("alertname", "service", "env", "environment", "cluster", "namespace", "instance",
              "job", "severity")


_COMPILED: dict[tuple[bool, str], Any] = {}


def _compiled(source: str, html: bool = False) -> Any:
    """The built-in templates, compiled once."""
    key = (html, source)
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = (_html if html else _text).from_string(source)
    return found


def compile_template(source: str, field: str) -> Any:
    """A user's template, compiled and tried on :data:`SAMPLE`: a syntax error, a sandbox
    escape or a bound hit is a 422 naming ``field``."""
    found = _checked(source, field)
    if isinstance(found, InvalidInput):
        raise InvalidInput(found.message, field=found.field)
    return found


@lru_cache(maxsize=256)
def _checked(source: str, field: str) -> Any:
    """Compiled once per text, refusals too: a stored template that fails is not tried
    again for every notification."""
    try:
        return compile_checked(_text, source, field, SAMPLE)
    except InvalidInput as exc:
        return exc


def render(kind: str, event: str, ctx: dict[str, Any],
           override: tuple[str, str] | None = None, *,
           strict: bool = False) -> tuple[str, str, str]:
    """(title, text, html) of one notification. An ``override`` that fails falls back to
    the built-in templates, unless ``strict`` (a preview), where it is a 422 naming
    ``title`` or ``body``."""
    ctx = {**ctx, "event": event}
    if override is not None:
        if strict:
            title = render_checked(compile_template(override[0], "title"), ctx, "title")
            text = render_checked(compile_template(override[1], "body"), ctx, "body")
            return title.strip(), text.strip(), ""
        try:
            title = compile_template(override[0], "title").render(ctx).strip()
            text = compile_template(override[1], "body").render(ctx).strip()
            return title, text, ""
        except Exception as exc:  # never hold a notification up: use the built-in one
            log.warning("notification template for %s/%s failed (%s); using the default",
                        kind, event, exc)
    try:
        return _render_default(kind, ctx)
    except Exception as exc:  # e.g. a summary longer than the bounds allow
        log.warning("built-in notification template for %s/%s failed (%s)", kind, event,
                    exc)
        incident = ctx.get("incident") or {}
        title = f"[{event.upper()}] {incident.get('title') or 'Vigil notification'}"[:512]
        return title, f"{title}\n{ctx.get('url') or ''}".strip(), ""


def _render_default(kind: str, ctx: dict[str, Any]) -> tuple[str, str, str]:
    title = _compiled(_TITLE).render(ctx).strip()
    if kind in ("sms", "voice"):
        return title, _compiled(_SMS).render(ctx).strip(), ""
    text = _compiled(_BODY).render(ctx).strip()
    html = _compiled(_EMAIL_HTML, html=True).render(ctx) if kind == "email" else ""
    return title, text, html


def key_labels(labels: dict[str, str], limit: int = 8) -> dict[str, str]:
    first = {k: labels[k] for k in KEY_LABELS if k in labels}
    rest = {k: v for k, v in sorted(labels.items()) if k not in first}
    return dict(list({**first, **rest}.items())[:limit])


def alert_links(raw: Any) -> list[dict[str, str]]:
    """An alert's links for the templates. Alerts store ``href`` and ``text`` (every
    integration's parser does); ``url`` and ``title`` repeat them for templates written
    against those names. Only http(s) links are kept: they end up in HTML and buttons."""
    out: list[dict[str, str]] = []
    for link in raw if isinstance(raw, list) else []:
        href = link.get("href") if isinstance(link, dict) else None
        if not isinstance(href, str) or not href.startswith(("https://", "http://")):
            continue
        text = str(link.get("text") or "") or href
        out.append({"href": href, "text": text, "url": href, "title": text})
    return out
