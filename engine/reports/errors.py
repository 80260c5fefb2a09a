"""The one error a report raises: its inputs cannot give a true report, and the message says
why (a ledger that does not verify or does not add up, documents it was not made from, an
agreement that is not there, a missing optional library)."""


class ReportError(ValueError):
    """A report cannot be made from these inputs; the message says why and what to do."""
