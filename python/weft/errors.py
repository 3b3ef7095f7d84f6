"""What goes wrong, as exceptions: one base class, so a script can catch
everything Weft raises with `except weft.WeftError`."""


class WeftError(Exception):
    """Anything this client raises."""


class ApiError(WeftError):
    """The server answered with an error: the HTTP status and the API's own
    `{"error": {"code", "message"}}` (docs/api.md)."""

    def __init__(self, status, code, message, retry_after=None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        # Seconds to wait, from Retry-After (429), else None.
        self.retry_after = retry_after


class ConnectError(WeftError):
    """The server could not be reached, or did not answer in time, or
    answered something that is not the control API."""


class PinError(ConnectError):
    """The server's certificate is not the one pinned: nothing was sent."""


class LoginError(WeftError):
    """The device login failed on this side: the server could not prove it
    knows the secret, the channel binding cannot be made, or a key file is
    unusable. (A refusal by the server is an ApiError.)"""
