"""The errors of ``replay`` and ``send``: plain exceptions whose message names the option or value at fault.

Failure policy: nothing here prints or exits. The command line turns
``OptionConflict`` and ``BadOption`` into usage errors (exit 2) and every
other ``ReplayError`` (an unreachable target, a resume file that cannot be
used, samples refused) into one escaped error line (exit 1).
"""


class ReplayError(ValueError):
    """A replay, or a send of the samples, cannot be done as asked; the message says why."""


class OptionConflict(ReplayError):
    """Options that do not go together, or a choice between options left out."""


class BadOption(ReplayError):
    """One option's value is wrong; ``option`` names the option as the user writes it (``--to``, ``ID``)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


class Unreachable(ReplayError):
    """The target (an HTTP endpoint, Redis) cannot be reached."""
