"""Throttling of failed sign-ins and failed API tokens.

Failures are counted with Flask-Limiter's strategy in its storage
(RATELIMIT_STORAGE_URI: memory, or the Redis of HUEY_URL so every web process
shares the counts), in moving windows whose sizes come from the configuration:

- SIGN_IN_ACCOUNT_LIMIT (per email) and SIGN_IN_IP_LIMIT (per client address):
  once either is used up, every sign-in for that account or from that address
  is refused — the right password too — until the window moves on;
- TOKEN_FAILURE_LIMIT (per client address): once used up, requests carrying
  a token are refused without the token being looked up;
- invitations: a link that is unknown, used or expired counts against the
  client address under SIGN_IN_IP_LIMIT (its own count, so guessing links
  and guessing passwords do not share one), and INVITATION_LIMIT bounds how
  many invitations one user makes.
"""
import hashlib
import logging
import math
import time

from flask import current_app
from limits import RateLimitItem, parse

from ..extensions import limiter

LIMIT_SETTINGS = ("SIGN_IN_ACCOUNT_LIMIT", "SIGN_IN_IP_LIMIT", "TOKEN_FAILURE_LIMIT", "INVITATION_LIMIT")

log = logging.getLogger(__name__)


def check_settings(config) -> None:
    """Raise ValueError naming the setting if a configured limit cannot be read."""
    for name in LIMIT_SETTINGS:
        try:
            parse(config[name])
        except ValueError:
            raise ValueError(f"{name} must be a limit such as '10 per 15 minutes', not {config[name]!r}.") from None


def _limit(setting: str) -> RateLimitItem:
    return parse(current_app.config[setting])


def _account_key(email: str) -> str:
    # A digest keeps addresses out of the shared counter storage.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _retry_after(rules: list[tuple[RateLimitItem, str, str]]) -> int | None:
    """Seconds until every used-up rule allows again, or None when none is used up.

    When the counts cannot be read (their Redis is down), nothing is throttled
    and a warning is logged: a lost counter store must not turn every API call
    and sign-in into a server error.
    """
    if not limiter.enabled:
        return None
    waits = []
    try:
        for item, namespace, key in rules:
            if not limiter.limiter.test(item, namespace, key):
                reset_at = limiter.limiter.get_window_stats(item, namespace, key).reset_time
                waits.append(max(1, math.ceil(reset_at - time.time())))
    except Exception as error:  # the storage backend's own connection errors
        log.warning("Throttling counts cannot be read (%s); not throttling this request.", error)
        return None
    return max(waits) if waits else None


def _hit(rules: list[tuple[RateLimitItem, str, str]]) -> None:
    if not limiter.enabled:
        return
    try:
        for item, namespace, key in rules:
            limiter.limiter.hit(item, namespace, key)
    except Exception as error:  # the storage backend's own connection errors
        log.warning("A throttling count could not be recorded (%s).", error)


def _sign_in_rules(email: str, address: str):
    return [
        (_limit("SIGN_IN_ACCOUNT_LIMIT"), "sign-in-account", _account_key(email)),
        (_limit("SIGN_IN_IP_LIMIT"), "sign-in-ip", address or "-"),
    ]


def sign_in_retry_after(email: str, address: str) -> int | None:
    """Seconds this account or address must wait before any sign-in is checked, or None."""
    return _retry_after(_sign_in_rules(email, address))


def sign_in_wait_message(wait: int) -> str:
    """What a throttled sign-in (or password check) tells the user, in whole minutes."""
    minutes = max(1, round(wait / 60))
    return f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def record_sign_in_failure(email: str, address: str) -> None:
    """Count one failed sign-in against the account and the address."""
    _hit(_sign_in_rules(email, address))


def token_retry_after(address: str) -> int | None:
    """Seconds this address must wait before a token it sends is looked up, or None."""
    return _retry_after([(_limit("TOKEN_FAILURE_LIMIT"), "token-ip", address or "-")])


def record_token_failure(address: str) -> None:
    """Count one request with an unknown token against the address."""
    _hit([(_limit("TOKEN_FAILURE_LIMIT"), "token-ip", address or "-")])


def _invitation_link_rules(address: str):
    return [(_limit("SIGN_IN_IP_LIMIT"), "invitation-ip", address or "-")]


def invitation_retry_after(address: str) -> int | None:
    """Seconds this address must wait before an invitation link it opens is looked up, or None."""
    return _retry_after(_invitation_link_rules(address))


def record_invitation_failure(address: str) -> None:
    """Count one opening of an unknown, used or expired invitation link against the address."""
    _hit(_invitation_link_rules(address))


def _inviter_rules(user_id: int):
    return [(_limit("INVITATION_LIMIT"), "invitation-made", str(user_id))]


def invitations_retry_after(user_id: int) -> int | None:
    """Seconds this user must wait before making another invitation, or None."""
    return _retry_after(_inviter_rules(user_id))


def record_invitation_made(user_id: int) -> None:
    """Count one invitation made by the user."""
    _hit(_inviter_rules(user_id))
