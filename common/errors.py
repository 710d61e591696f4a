"""The one error type services raise: a message a clerk can read, a stable code, and details."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A refusal by the domain: `code` is stable and machine-readable, `message` is for people.

    The API's exception handler and the admin both render it; `status` is the HTTP status the
    API answers with (409 for a state conflict, 422 for invalid input, 403 for permission).
    """

    status: int = 422

    def __init__(
        self,
        message: str,
        *,
        code: str,
        details: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        self.code = code
        self.details = details or {}
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message
