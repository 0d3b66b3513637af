"""What one replay was asked to do: the options of ``replay``, gathered in one value and checked together.

Failure policy: options are checked when a ``ReplayOptions`` is made, in the
order the command line has always reported them: options that do not go
together raise ``OptionConflict``, a wrong value ``BadOption`` naming the
option. Nothing here prints, reads captures or touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from receiver.replay.errors import BadOption, OptionConflict
from receiver.replay.selection import Selection
from receiver.replay.send import check_url
from receiver.store.filters import Filters

DEFAULT_CONCURRENCY = 1
MAX_CONCURRENCY = 64
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_ERRORS = 20
URL_OPTION = "--to"
CREDENTIALS_OPTION = "--user/--password"


@dataclass(frozen=True)
class ReplayOptions:
    """The options of one replay; field names are the ``replay`` command's parameter names."""

    data_dir: str
    filters: Filters = field(default_factory=Filters)
    files: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # checked, de-duplicated and sorted (``selection.read_ids``)
    url: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    keep_path: bool = False
    enqueue: bool = False
    rate: float | None = None  # captures per second; None: as fast as the target answers
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    max_errors: int = DEFAULT_MAX_ERRORS  # failures in a row that stop the replay; 0: never stop
    dry_run: bool = False
    state_path: str | None = None
    quiet: bool = False
    verbose: bool = False
    as_json: bool = False
    # --user or --password typed on the command line (not taken from the environment): wrong with --enqueue
    credentials_given: bool = False

    def __post_init__(self) -> None:
        check(self)

    @property
    def selection(self) -> Selection:
        """Return the captures these options select (the window not yet resolved)."""
        return Selection(self.data_dir, self.filters, self.files, self.ids)


def check(options: ReplayOptions) -> None:
    """Raise ``OptionConflict`` or ``BadOption`` for the first thing wrong with ``options``."""
    if options.enqueue and options.credentials_given:
        raise OptionConflict("--user and --password go with --to, not --enqueue")
    if options.files and options.ids:
        raise OptionConflict("--file and --id/--ids-from cannot be combined")
    if bool(options.url) == bool(options.enqueue):
        raise OptionConflict("choose exactly one target: --to URL or --enqueue")
    if options.enqueue:
        if options.keep_path:
            raise OptionConflict("--keep-path goes with --to, not --enqueue")
        return
    check_url(options.url or "", URL_OPTION)
    if (options.user is None) != (options.password is None):
        raise BadOption(CREDENTIALS_OPTION, "give both --user and --password, or neither")
