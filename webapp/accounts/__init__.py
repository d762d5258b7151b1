"""Accounts: users and their passwords, API tokens, and the throttling of failed sign-ins and tokens."""
from .throttle import (
    check_settings,
    record_sign_in_failure,
    record_token_failure,
    sign_in_retry_after,
    sign_in_wait_message,
    token_retry_after,
)
from .tokens import LAST_USE_RESOLUTION, TokenNotFound, issue_token, revoke_token, user_for_token, user_tokens
from .users import (
    MIN_PASSWORD_LENGTH,
    SignInThrottled,
    authenticate,
    change_own_password,
    change_password,
    check_new_password,
    clean_email,
    create_user,
    end_sessions,
)

__all__ = [
    "authenticate",
    "change_own_password",
    "change_password",
    "check_new_password",
    "check_settings",
    "clean_email",
    "create_user",
    "end_sessions",
    "issue_token",
    "LAST_USE_RESOLUTION",
    "MIN_PASSWORD_LENGTH",
    "record_sign_in_failure",
    "record_token_failure",
    "revoke_token",
    "sign_in_retry_after",
    "sign_in_wait_message",
    "SignInThrottled",
    "token_retry_after",
    "TokenNotFound",
    "user_for_token",
    "user_tokens",
]
