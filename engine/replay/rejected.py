"""The one exception a rule raises: the event broke it, and nothing has changed yet."""


class Rejected(Exception):
    """An event broke a rule; the message is the reason users read."""
