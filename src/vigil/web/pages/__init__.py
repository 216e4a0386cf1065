"""The UI's pages, one module per area: incidents, the dashboard, alerts, silences, on-call,
configuration, integrations, the audit log, and signing in (password or OpenID Connect)."""
