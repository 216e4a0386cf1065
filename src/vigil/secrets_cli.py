"""``vigil secrets``: keys for secrets at rest (docs/secrets-at-rest.md)."""

from __future__ import annotations

import typer

from vigil.config import Settings

app = typer.Typer(help="Keys that encrypt channel secrets and signing keys at rest.",
                  no_args_is_help=True)


@app.command("new-key")
def new_key() -> None:
    """Print a new key for VIGIL_SECRET_KEY (or a key file)."""
    from vigil.auth.secrets_at_rest import new_key as make

    typer.echo(make())


@app.command("rotate")
def rotate() -> None:
    """Encrypt every stored secret again with the first key, in one transaction.

    The first key of VIGIL_SECRET_KEY (or of the key file) encrypts; secrets still in
    plain text are encrypted too. Then the other keys can be removed."""
    from vigil.auth.secrets_at_rest import SecretKeyError, configure
    from vigil.db import Database
    from vigil.notify import stored_secrets

    settings = Settings()
    db = Database(settings.url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        keys = configure(settings)
        with db.write() as s:
            done = stored_secrets.rotate(s)
        ids = keys.key_ids()
    except SecretKeyError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"re-encrypted {done.values} secrets (the signing secret: {done.signing}, "
               f"{done.channels} channels) with key {ids[0]} from {keys.source}")
    if len(ids) > 1:
        typer.echo(f"the other keys ({', '.join(ids[1:])}) can now be removed from every "
                   "node")


@app.command("check")
def check() -> None:
    """Decrypt every stored secret with the keys at hand; exit 1 saying why if one fails."""
    from vigil.auth.secrets_at_rest import SecretKeyError, configure
    from vigil.db import Database
    from vigil.notify import stored_secrets

    settings = Settings()
    db = Database(settings.url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        keys = configure(settings)
        with db.read() as s:
            found = stored_secrets.verify(s, keys)
    except SecretKeyError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"{found.sealed} encrypted secrets open with {keys.source}; "
               f"{found.plain} still in plain text"
               + (" (run `vigil secrets rotate`)" if found.plain else ""))
