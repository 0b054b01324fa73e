"""The one error root, and what each branch means to the command line.

    ShipyardError                 base; never raised directly
    ├── UsageError                bad input or usage: exit 2, one line, nothing changed
    │   └── ConfigError           a stack file is invalid (names the file and the config path)
    └── CheckFailed               a check did its job and said no: exit 1
        └── PlatformError         the platform (AWS) refused or failed a call: a rollout
                                  treats it as a failed check and rolls back

Anything else escaping a command is a bug and keeps its traceback.
"""

from __future__ import annotations


class ShipyardError(Exception):
    """Root of every error shipyard raises on purpose."""

    exit_code = 1


class UsageError(ShipyardError):
    """The input is wrong; the message says what and how to fix it."""

    exit_code = 2


class ConfigError(UsageError):
    """A stack configuration file failed to load or validate."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file = file
        self.path = path
        self.problem = problem
        where = f"{file}: {path}: " if path else f"{file}: "
        super().__init__(where + problem)


class CheckFailed(ShipyardError):
    """A check ran and said no (stale files, parity below threshold, failed smoke test)."""

    exit_code = 1


class PlatformError(CheckFailed):
    """The platform refused or failed a call after its retries; the message says which."""

    def __init__(self, message: str, action: str = "", code: str = "") -> None:
        super().__init__(message)
        self.action = action
        self.code = code
