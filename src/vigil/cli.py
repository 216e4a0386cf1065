"""The ``vigil`` command."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from vigil import __version__
from vigil.clock import SystemClock
from vigil.config import Settings
from vigil.db import Database
from vigil.errors import VigilError
from vigil.secrets_cli import app as secrets_app

app = typer.Typer(help="Vigil: incident management, on-call and alerting.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys and integration keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
outbox_app = typer.Typer(help="Outbox events a consumer failed on: list and replay.",
                         no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(secrets_app, name="secrets")


@app.callback()
def _main(ctx: typer.Context) -> None:
    # The audit log names what a command changes "cli" (``serve`` names each request's).
    if ctx.invoked_subcommand != "serve":
        from vigil import audit_targets
        from vigil.audit.capture import CLI, reset_actor, set_actor
        audit_targets.install()
        token = set_actor(CLI)
        ctx.call_on_close(lambda: reset_actor(token))


def _db(settings: Settings) -> Database:
    return Database(settings.url, sqlite_synchronous=settings.sqlite_synchronous)


@app.command()
def version() -> None:
    """Print Vigil's version."""
    typer.echo(__version__)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from vigil import migrate as m

    settings = Settings()
    db = _db(settings)
    m.upgrade(db.engine)
    typer.echo(f"database at revision {m.current(db.engine)} ({db.dialect})")
    db.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate")] = True,
) -> None:
    """Serve the API, the pipeline and the scheduler in one process."""
    from vigil import migrate as m
    from vigil.app import create_app
    from vigil.auth.setup_token import setup_url
    from vigil.bootstrap import banner, first_run, setup_banner
    from vigil.http import server as http_server

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = _db(settings)
    if migrate_first:
        m.upgrade(db.engine)
    first = first_run(db, SystemClock())
    setup = setup_url(db, settings, now=SystemClock().now())
    db.dispose()
    if first is not None:
        typer.echo(banner(first, settings.base_url, setup))
    elif setup is not None:
        typer.echo(setup_banner(setup))
    typer.echo(f"Vigil {__version__} on {settings.base_url} (database: {settings.url})")
    http_server.run(create_app(settings), host=settings.host, port=settings.port,
                    read_timeout=settings.http_read_timeout_seconds)


@app.command("setup-token")
def setup_token() -> None:
    """Print a new one-time link to create the first administrator (replacing the link
    `vigil serve` printed); only while nobody can sign in yet."""
    from vigil.auth.setup_token import setup_url

    settings = Settings()
    db = _db(settings)
    try:
        url = setup_url(db, settings, now=SystemClock().now())
    finally:
        db.dispose()
    if url is None:
        typer.echo("error: setup is done (a user has a password, or OpenID Connect is set "
                   "up); sign in, or ask an admin to set your password", err=True)
        raise typer.Exit(1)
    typer.echo(url)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="a name to recognise the key by")],
    role: Annotated[str, typer.Option(help="API key role: viewer, responder, admin")] = "admin",
    integration: Annotated[str | None, typer.Option(
        help="create an integration key of this type instead: alertmanager, grafana, "
             "generic, pagerduty, opsgenie")] = None,
) -> None:
    """Create an API key, or with --integration an integration (ingest) key."""
    from vigil.auth.service import create_api_key
    from vigil.integrations.service import create_integration
    from vigil.tenants.models import DEFAULT_TENANT_ID

    settings = Settings()
    db = _db(settings)
    now = SystemClock().now()
    try:
        with db.write() as s:
            if integration:
                integ, raw = create_integration(s, tenant_id=DEFAULT_TENANT_ID, name=name,
                                                type=integration, now=now)
                typer.echo(f"integration {integ.id} ({integ.type}) key: {raw}")
            else:
                key, raw = create_api_key(s, tenant_id=DEFAULT_TENANT_ID, name=name, role=role,
                                          now=now)
                typer.echo(f"API key {key.id} ({key.role}): {raw}")
    except VigilError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()


@keys_app.command("list")
def keys_list() -> None:
    """List API keys and integrations."""
    from vigil.auth.service import list_api_keys
    from vigil.integrations.service import list_integrations
    from vigil.tenants.models import DEFAULT_TENANT_ID

    db = _db(Settings())
    with db.read() as s:
        typer.echo("API keys:")
        for k in list_api_keys(s, tenant_id=DEFAULT_TENANT_ID):
            state = "revoked" if k.revoked_at else "active"
            typer.echo(f"  api:{k.id}  {k.prefix}...  {k.role:<9}  {state:<7}  {k.name}")
        typer.echo("Integrations:")
        for i in list_integrations(s, tenant_id=DEFAULT_TENANT_ID):
            state = "revoked" if i.revoked_at else "active"
            typer.echo(f"  integration:{i.id}  {i.type:<12}  ...{i.key_hint}  {state:<7}  "
                       f"{i.name}")
    db.dispose()


@keys_app.command("revoke")
def keys_revoke(
    ident: Annotated[str, typer.Argument(help="api:ID or integration:ID, as `keys list` shows")],
) -> None:
    """Revoke an API key or an integration key."""
    from vigil.auth.service import revoke_api_key
    from vigil.integrations.service import revoke_integration
    from vigil.tenants.models import DEFAULT_TENANT_ID

    kind, _, num = ident.partition(":")
    if kind not in ("api", "integration") or not num.isdigit():
        typer.echo("error: give api:ID or integration:ID", err=True)
        raise typer.Exit(2)
    db = _db(Settings())
    now = SystemClock().now()
    try:
        with db.write() as s:
            if kind == "api":
                revoke_api_key(s, tenant_id=DEFAULT_TENANT_ID, key_id=int(num), now=now)
            else:
                revoke_integration(s, tenant_id=DEFAULT_TENANT_ID, integration_id=int(num),
                                   now=now)
        typer.echo(f"revoked {ident}")
    except VigilError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()


@keys_app.command("rotate")
def keys_rotate(
    ident: Annotated[str, typer.Argument(help="integration:ID, as `keys list` shows")],
    grace_seconds: Annotated[int, typer.Option(
        help="how long the old key keeps working (at most 604800, 7 days)")] = 0,
) -> None:
    """Give an integration a new key, printed once; the old one stops working at once or
    after --grace-seconds (a running node may accept it up to 10 s longer)."""
    from vigil.integrations.service import rotate_key
    from vigil.tenants.models import DEFAULT_TENANT_ID

    kind, _, num = ident.partition(":")
    if kind != "integration" or not num.isdigit():
        typer.echo("error: give integration:ID", err=True)
        raise typer.Exit(2)
    db = _db(Settings())
    try:
        with db.write() as s:
            integ, raw, _ = rotate_key(s, tenant_id=DEFAULT_TENANT_ID, integration_id=int(num),
                                       now=SystemClock().now(), grace_seconds=grace_seconds)
            until = integ.previous_key_expires_at
        typer.echo(f"integration {integ.id} ({integ.type}) new key: {raw}")
        typer.echo(f"the old key works until {until.isoformat()}" if until
                   else "the old key no longer works")
    except VigilError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()


@app.command()
def simulate(
    url: Annotated[str, typer.Option(help="Vigil's base URL")] = "http://127.0.0.1:8080",
    token: Annotated[str, typer.Option(envvar="VIGIL_INTEGRATION_KEY",
                                       help="an alertmanager integration key")] = "",
    mode: Annotated[str, typer.Option(help="latency | errors | meltdown | flapping")] = "latency",
    services: Annotated[int, typer.Option(min=1, max=500)] = 5,
    rounds: Annotated[int, typer.Option(min=1, max=1000)] = 3,
    interval: Annotated[float, typer.Option(min=0.0, help="seconds between rounds")] = 1.0,
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Send a realistic burst of Alertmanager alerts to a running Vigil."""
    from vigil.simulate import MODES, run

    if mode not in MODES:
        typer.echo(f"error: --mode must be one of {', '.join(MODES)}", err=True)
        raise typer.Exit(2)
    if not token:
        typer.echo("error: --token (or VIGIL_INTEGRATION_KEY) is required", err=True)
        raise typer.Exit(2)
    summary = asyncio.run(run(url=url, token=token, mode=mode, services=services, rounds=rounds,
                              interval=interval, seed=seed, echo=typer.echo))
    typer.echo(summary)


@app.command("apply")
def apply_config(
    file: Annotated[list[Path], typer.Option("--file", "-f",
                                             help="a YAML file or a folder of them")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only")] = False,
) -> None:
    """Apply YAML configuration (correlation rules, ...) idempotently, all or nothing."""
    from vigil import configfiles
    from vigil.tenants.models import DEFAULT_TENANT_ID

    settings = Settings()
    try:
        docs = configfiles.load(file)
    except VigilError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    if dry_run:
        typer.echo(f"{len(docs)} documents are valid")
        return
    db = _db(settings)
    try:
        with db.write() as session:
            results = configfiles.apply(session, docs, tenant_id=DEFAULT_TENANT_ID,
                                        now=SystemClock().now())
    except VigilError as exc:
        typer.echo(f"error: {exc.message} (nothing was applied)", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    for kind, name, outcome in results:
        typer.echo(f"{kind}/{name}: {outcome}")


@app.command("export")
def export_config(
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="a file to write (default: stdout)")]
    = None,
) -> None:
    """Write the configuration as YAML documents that ``vigil apply`` takes back."""
    from vigil import configfiles
    from vigil.tenants.models import DEFAULT_TENANT_ID

    db = _db(Settings())
    try:
        with db.read() as session:
            text = configfiles.export(session, tenant_id=DEFAULT_TENANT_ID)
    finally:
        db.dispose()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output}")


@app.command("oncall")
def oncall_now(at: Annotated[str | None, typer.Option(help="an ISO instant (default: now)")]
               = None) -> None:
    """Print who is on call for every schedule, and the next handoff."""
    from vigil.oncall.cli import oncall

    oncall(at)


if __name__ == "__main__":
    app()


@outbox_app.command("list")
def outbox_list(
    state: Annotated[str | None, typer.Option(help="parked or retrying (default: both)")]
    = None,
) -> None:
    """Outbox events a consumer failed on (all tenants)."""
    from vigil.outbox.consumer import failures

    if state not in (None, "parked", "retrying"):
        typer.echo("error: --state is parked or retrying", err=True)
        raise typer.Exit(2)
    db = _db(Settings())
    with db.read() as s:
        rows = failures(s, parked=None if state is None else state == "parked", limit=1000)
        if not rows:
            typer.echo("No failed outbox events.")
        for f in rows:
            what = "parked" if f.parked_at else f"retry at {f.next_attempt_at:%Y-%m-%d %H:%M:%S}"
            typer.echo(f"{f.id:>6}  {f.consumer:<12} event {f.event_id:<8} {f.topic:<24} "
                       f"{f.attempts} attempts, {what}: {f.error.splitlines()[-1][:120]}")
    db.dispose()


@outbox_app.command("replay")
def outbox_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="failure ids (default: every "
                                                        "parked event)")] = None,
) -> None:
    """Put parked events back in line: a running Vigil retries them at once."""
    from vigil.outbox.consumer import replay

    db = _db(Settings())
    with db.write() as s:
        done = replay(s, ids=ids or None, now=SystemClock().now())
    db.dispose()
    typer.echo(f"Replayed {done} parked event(s).")
