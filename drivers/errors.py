"""The error tree of communectl.

Every error we raise on purpose derives from ``ControllerError``; library errors are mapped to
these at the boundary of the module that wraps the library (``raise DeviceUnavailable(...) from
exc``), so callers never catch a pymodbus, aiomqtt or TinyDB exception.

    ControllerError
    ├── ConfigError            the installation file is invalid (carries one line per problem)
    ├── ScheduleError          a programme, calendar or time expression is invalid
    ├── DeviceError            a field device misbehaved
    │   ├── DeviceUnavailable  no answer: timeout, connection refused, serial port gone
    │   ├── DeviceProtocolError the device answered with a Modbus exception or a malformed frame
    │   └── VerifyMismatch     the read-back after a write differs from what was written
    ├── BrokerError            the MQTT broker is unreachable or refused us
    ├── AudioError             playback or speech synthesis failed
    │   ├── NotAudio           a file that ffprobe finds no audio stream in
    │   └── StreamFailed       a relayed stream could not be opened or broke off
    └── StorageError           the data folder cannot be read or written

The tree lives in ``drivers`` because it is the lowest package that ``controller`` and
``firmware_bridge`` both import; ``schedules`` stays free of our imports and raises its own
``ValueError`` subclasses (like astral does), which ``controller`` maps to ``ScheduleError``.
"""

from __future__ import annotations


class ControllerError(Exception):
    """Root of every error communectl raises on purpose."""


class ConfigError(ControllerError):
    """The config file is invalid. ``problems`` holds one ``dotted.path: message`` per problem."""

    def __init__(self, problems: list[str], file: str = "") -> None:
        self.problems = list(problems)
        self.file = file
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        prefix = f"{self.file}: " if self.file else ""
        return [prefix + p for p in self.problems]


class ScheduleError(ControllerError):
    """A programme, calendar or time expression is invalid."""


class DeviceError(ControllerError):
    """A field device misbehaved. ``device`` names it (bus/unit or device id)."""

    def __init__(self, message: str, *, device: str = "") -> None:
        self.device = device
        super().__init__(f"{device}: {message}" if device else message)


class DeviceUnavailable(DeviceError):
    """The device did not answer (timeout, refused connection, missing serial port)."""


class DeviceProtocolError(DeviceError):
    """The device answered, but with a Modbus exception or a frame we cannot use."""


class VerifyMismatch(DeviceError):
    """Reading back after a write gave something other than what was written."""


class BrokerError(ControllerError):
    """The MQTT broker is unreachable or refused the connection."""


class AudioError(ControllerError):
    """Audio playback or speech synthesis failed."""


class NotAudio(AudioError):
    """The file holds no audio stream we can play (an upload that only pretends to be audio)."""


class StreamFailed(AudioError):
    """A relayed stream could not be opened, or stopped before its duration was over."""


class StorageError(ControllerError):
    """The data folder cannot be read or written."""
