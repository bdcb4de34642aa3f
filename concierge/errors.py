"""The one exception type a user can cause: it carries a single line saying what is wrong and what to do."""


class UserError(Exception):
    """A mistake in input, configuration or environment that the user can fix.

    The CLI prints ``str(error)`` as one red line and exits with ``exit_code``; no traceback.
    """

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(UserError):
    """The configuration file, an override or a file it points to is wrong."""

    exit_code = 2
