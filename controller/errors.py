"""The controller's error tree.

    ControllerError
    ├── ConfigError        the installation file is invalid (one line per problem)
    ├── StorageError       the data folder cannot be read or written
    ├── StartupError       the controller cannot start (port in use, the HTTP front died)
    └── RequestError       a use case refused what it was asked (a field path says where)
        ├── InvalidInput   the value is well-formed but wrong               HTTP 422
        ├── NotFound       no such circuit, programme, announcement, file   HTTP 404
        ├── Conflict       it contradicts what is stored or what is airing  HTTP 409
        └── NotAllowed     the caller's role may not do this                HTTP 403

Two more families come from below and are handled beside this one (``EXPECTED``):
``drivers.errors.DriverError`` (devices, the broker, field nodes, audio), since the drivers never
import the controller, and ``schedules.errors.ScheduleError``, the one error of programmes,
calendars and time expressions (a ``ValueError``, as astral's are).

A ``RequestError`` carries its field as parts (``("windows", 0, "on")``), never as text to be
parsed back: the HTTP handler (controller.http.errors) answers it as ``"windows.0.on"``, MQTT and
the CLI print it in front of the message.
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers.errors import DriverError
from schedules.errors import ScheduleError

FieldPath = tuple[str | int, ...]


class ControllerError(Exception):
    """Root of every error the controller raises on purpose."""


class ConfigError(ControllerError):
    """The config file is invalid. ``problems`` holds one ``dotted.path: message`` per problem."""

    def __init__(self, problems: list[str], file: str = "") -> None:
        self.problems = list(problems)
        self.file = file
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        prefix = f"{self.file}: " if self.file else ""
        return [prefix + p for p in self.problems]


class StorageError(ControllerError):
    """The data folder cannot be read or written."""


class StartupError(ControllerError):
    """The controller cannot start: its port is taken, its HTTP front does not come up."""


class RequestError(ControllerError):
    """A use case refused what it was asked. ``parts`` is the path of the input to blame."""

    def __init__(self, message: str, *, parts: Sequence[str | int] = ()) -> None:
        self.message = message
        self.parts: FieldPath = tuple(parts)
        super().__init__(f"{self.field}: {message}" if self.parts else message)

    @property
    def field(self) -> str | None:
        """The dotted path as the API shows it: ``windows.0.on``."""
        return ".".join(str(p) for p in self.parts) or None

    def within(self, *prefix: str | int) -> RequestError:
        """The same error, its field inside ``prefix`` (a nested object's error, as the
        enclosing input names it)."""
        return type(self)(self.message, parts=(*prefix, *self.parts))


class InvalidInput(RequestError):
    """The value is well-formed but not acceptable (an unknown zone, a past time)."""


class NotFound(RequestError):
    """No such thing: ``NotFound.of("circuit", "c9")`` says "no circuit 'c9'"."""

    @classmethod
    def of(cls, kind: str, identifier: str, *, parts: Sequence[str | int] = ()) -> NotFound:
        return cls(f"no {kind} {identifier!r}", parts=parts)


class Conflict(RequestError):
    """It contradicts what is stored or what is happening (a name in use, an item on air)."""


class NotAllowed(RequestError):
    """The caller's role may not do this (an announcement's level above an operator's)."""


# What a command or a request may end on without being a bug: one line, no traceback.
EXPECTED: tuple[type[Exception], ...] = (ControllerError, DriverError, ScheduleError)
