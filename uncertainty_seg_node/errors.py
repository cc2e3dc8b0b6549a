"""The one exception type that reaches a user as a one-line message instead of a traceback."""


class UserError(Exception):
    """Bad input a user can fix: the message says what was wrong and what to do.

    The CLI prints `error: <message>` and exits with status 2; the node logs it and counts it.
    """
