"""Who is asking: the viewer and operator roles, from the same tokens as ``loopline serve``.

``LOOPLINE_TOKEN`` lets a viewer read (when it is unset, reading is open);
``LOOPLINE_ADMIN_TOKEN`` makes an operator, who may also approve, reject, promote and roll
back (when it is unset, those actions are off). A token arrives as ``Authorization: Bearer``
or, for a browser, in the cookie ``/login`` sets (HttpOnly, SameSite=Strict, so another site
cannot make the browser send it with a form). Tokens are compared as bytes in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from ..errors import LooplineError

Role = Literal["viewer", "operator"]
COOKIE = "loopline_ui_token"


class AuthError(LooplineError):
    """A request lacked the token (401) or the role (403) a page or action needs."""

    def __init__(self, message: str, *, status: int = 401, hint: str | None = None) -> None:
        super().__init__(
            message, hint=hint or "Sign in at /login, or send 'Authorization: Bearer <token>'."
        )
        self.status = status


@dataclass(frozen=True)
class UIOptions:
    """How the UI authenticates.

    Attributes:
        token: The viewers' token (None: anyone may read).
        admin_token: The operators' token (None: no one may act).
    """

    token: str | None = None
    admin_token: str | None = None


def same(given: str, expected: str) -> bool:
    """Whether two tokens are equal, compared as UTF-8 bytes in constant time."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def role_of(given: str | None, options: UIOptions) -> Role | None:
    """The role a token grants, or None when it grants none."""
    if given and options.admin_token and same(given, options.admin_token):
        return "operator"
    if options.token is None:
        return "viewer"
    if given and same(given, options.token):
        return "viewer"
    return None


def bearer(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_operator(role: Role | None, options: UIOptions) -> None:
    """Raise unless ``role`` may act.

    Raises:
        AuthError: 403 when actions are off or the viewer is not an operator; 401 when
            nobody signed in.
    """
    if options.admin_token is None:
        raise AuthError(
            "Actions are off: the UI was started without LOOPLINE_ADMIN_TOKEN.",
            status=403,
            hint="Restart 'loopline ui' with LOOPLINE_ADMIN_TOKEN set, or use the CLI "
            "(loopline models approve | reject | promote | rollback).",
        )
    if role != "operator":
        raise AuthError(
            "This action needs the operator token (LOOPLINE_ADMIN_TOKEN).",
            status=403 if role else 401,
        )
