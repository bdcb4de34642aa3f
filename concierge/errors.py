"""The exit-code rule, and the one exception type a user can cause (one line: what is wrong and what to do).

Every `apoena` command ends with one of these codes:

- ``EXIT_OK`` (0): it did what was asked (every simulated call met its expectations).
- ``EXIT_FAILED`` (1): it ran, and what it ran failed: a simulated call missed its expectations or
  ended in an error. An unexpected bug (a traceback) is 1 too.
- ``EXIT_USAGE`` (2): a mistake the user can fix before it runs: an option, the configuration or a
  variable, an input file (directory, recording, records), something it must reach or bind (Redis,
  the Asterisk Manager, a busy port, a microphone), an unknown call id. Every `UserError` is this,
  printed as one line without a traceback.
- ``EXIT_INTERRUPTED`` (130): stopped by Ctrl-C (SIGINT) before it finished. `apoena serve`, which
  runs until it is stopped, ends 0 after SIGINT or SIGTERM once its calls are done.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake in input, configuration or environment that the user can fix.

    The CLI prints ``str(error)`` as one red line and exits with ``EXIT_USAGE``; no traceback.
    """

    exit_code: int = EXIT_USAGE


class ConfigError(UserError):
    """The configuration file, an override or a file it points to is wrong."""
