"""Exit statuses of every command (SPEC §8), and the failure that ends a run with status 2."""

EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2


class UsageFailure(Exception):
    """A run that cannot proceed: bad documents, unreadable input, unwritable output."""
