"""``foncier token`` (API tokens) and ``foncier audit`` (the audit log's hash chain)."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.base import fail, main


def _cli_principal():
    import getpass

    from geo.access import Principal

    return Principal(name=f"cli:{getpass.getuser()}", role="admin")


@main.group()
def token() -> None:
    """API tokens (stored hashed; the secret is shown once, at creation)."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["epci_editor", "prefecture", "admin"]))
@click.option(
    "--territory",
    default=None,
    help="epci:SIREN for an EPCI editor; departement:CODE or region:CODE for a prefecture.",
)
@click.option("--name", required=True, help="Who holds it, e.g. 'SIG CA Paris-Saclay'.")
def token_create(role: str, territory: str | None, name: str) -> None:
    """Create a token and print its secret (only now: it is not stored)."""
    from app.db import get_engine
    from app.security import audit
    from app.security.tokens import create_token
    from geo.errors import DomainError

    principal = _cli_principal()
    try:
        with get_engine().begin() as conn:
            token_id, secret = create_token(
                conn, name=name, role=role, territory=territory, created_by=principal.name
            )
            after = {"name": name, "role": role, "territory": territory}
            audit.record(conn, principal, "token.create", "api_token", token_id, after=after)
    except DomainError as exc:
        fail(str(exc))
    click.echo(f"token {token_id} ({role}{' ' + territory if territory else ''}) for {name}:")
    click.echo(secret)


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token: its next request gets 401."""
    from app.db import get_engine
    from app.security import audit
    from app.security.tokens import revoke_token

    principal = _cli_principal()
    with get_engine().begin() as conn:
        if not revoke_token(conn, token_id):
            fail(f"no active token {token_id}")
        audit.record(
            conn, principal, "token.revoke", "api_token", token_id, after={"revoked": True}
        )
    click.echo(f"token {token_id} revoked")


@token.command("list")
def token_list() -> None:
    """Tokens with their role, territory and state (never their secret)."""
    from app.db import get_engine
    from app.security.tokens import list_tokens

    with get_engine().connect() as conn:
        tokens = list_tokens(conn)
    for t in tokens:
        territory = f"{t['territory_level']}:{t['territory_code']}" if t["territory_level"] else "-"
        state = f"revoked {t['revoked_at']:%Y-%m-%d}" if t["revoked_at"] else "active"
        click.echo(f"{t['id']:>4}  {t['role']:<12} {territory:<22} {state:<18} {t['name']}")


# -- audit --------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The audit log's hash chain: verify it, export its head for publication."""


@audit_group.command("verify")
@click.option(
    "--head",
    "published",
    default=None,
    metavar="HEAD",
    help="A head published earlier: the JSON `foncier audit head` printed, a file holding"
    " it, or its hash. History up to it must be unchanged.",
)
def audit_verify(published: str | None) -> None:
    """Recompute the chain; one line: intact (exit 0) or the first row changed, removed or
    reordered (exit 1)."""
    from app.db import get_engine
    from app.security.audit_chain import Head, verify

    published_head = None
    if published is not None:
        if Path(published).is_file():
            published = Path(published).read_text()
        try:
            published_head = Head.parse(published)
        except (ValueError, KeyError) as exc:
            fail(f"--head: {exc}")
    with get_engine().connect() as conn:
        verdict = verify(conn, published_head)
    if not verdict.intact:
        fail(verdict.message)
    click.echo(verdict.message)


@audit_group.command("head")
def audit_head() -> None:
    """Print the chain's head (seq, id, hash, time) as JSON, for an operator to publish."""
    import json

    from app.db import get_engine
    from app.security.audit_chain import head

    with get_engine().connect() as conn:
        click.echo(json.dumps(head(conn).as_dict()))
