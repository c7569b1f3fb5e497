"""Sharing: who may reach the chat, and what they may change.

Listening on loopback is private to this machine. Anywhere else the chat is reachable by
the network, and an open chat lets anyone add and delete articles, so qa refuses to start
there unless the owner chose how to share it: a password (``--auth``, Gradio's login) or a
read-only chat (``--read-only``: no upload, no remove, and the endpoints refuse too).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..errors import QAError

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


class SharingError(QAError):
    """The chat would be reachable by others in a way the owner did not choose."""


@dataclass(frozen=True)
class Sharing:
    """How the chat is shared: its logins (user, password) and whether it is read-only."""

    auth: tuple[tuple[str, str], ...] = ()
    read_only: bool = False


def parse_auth(value: str | None) -> tuple[tuple[str, str], ...]:
    """Logins from ``USER:PASSWORD`` (several separated by commas).

    >>> parse_auth("ana:s3cret, ben:pa:ss")
    (('ana', 's3cret'), ('ben', 'pa:ss'))
    >>> parse_auth("ana")
    Traceback (most recent call last):
    ...
    qa.interfaces.sharing.SharingError: --auth wants USER:PASSWORD (e.g. --auth ana:long-passphrase), not 'ana'
    """
    if not value or not value.strip():
        return ()
    logins = []
    for item in value.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise SharingError(f"--auth wants USER:PASSWORD (e.g. --auth ana:long-passphrase), not {item.strip()!r}")
        logins.append((user, password))
    return tuple(logins)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, sharing: Sharing) -> None:
    """Refuse a host other than loopback unless the chat has a login or is read-only."""
    if is_loopback(host) or sharing.auth or sharing.read_only:
        return
    raise SharingError(
        f"refusing to listen on {host}: anyone who can reach it could add and delete articles. "
        "Pass --auth USER:PASSWORD (or QA_AUTH) for a login, --read-only (or QA_READ_ONLY=1) to forbid changes, "
        "or listen on 127.0.0.1")
