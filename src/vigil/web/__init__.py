"""The responder's web UI: server-rendered pages (Jinja2), a little hand-written JavaScript,
live updates by Server-Sent Events."""
