"""The errors of the outside world, as the drivers and the MQTT bridge raise them.

Library errors are mapped to these at the boundary of the module that wraps the library
(``raise DeviceUnavailable(...) from exc``), so callers never catch a pymodbus, aiomqtt or
ffmpeg exception.

    DriverError
    ├── DeviceError             a field device misbehaved
    │   ├── DeviceUnavailable   no answer: timeout, connection refused, serial port gone
    │   └── DeviceProtocolError the device answered with a Modbus exception or a bad frame
    ├── BrokerError             the MQTT broker is unreachable, refused us or is not connected
    ├── NodeError               a field node did not acknowledge a command, or refused it
    └── AudioError              playback or speech synthesis failed
        ├── NotAudio            a file that ffprobe finds no audio stream in
        └── StreamFailed        a relayed stream could not be opened or broke off

``drivers`` and ``firmware_bridge`` never import ``controller``, so this tree has a root of its
own. The controller's errors (``controller.errors``) are a second tree; the CLI and the HTTP
error handler catch both, and docs/architecture.md shows them side by side.
"""

from __future__ import annotations


class DriverError(Exception):
    """Root of every error the drivers and the MQTT bridge raise on purpose."""


class DeviceError(DriverError):
    """A field device misbehaved. ``device`` names it (bus/unit or device id)."""

    def __init__(self, message: str, *, device: str = "") -> None:
        self.device = device
        super().__init__(f"{device}: {message}" if device else message)


class DeviceUnavailable(DeviceError):
    """The device did not answer (timeout, refused connection, missing serial port)."""


class DeviceProtocolError(DeviceError):
    """The device answered, but with a Modbus exception or a frame we cannot use."""


class BrokerError(DriverError):
    """The MQTT broker is unreachable, refused the connection, or we are not connected."""


class NodeError(DriverError):
    """A field node did not acknowledge a command in time, or refused it."""


class AudioError(DriverError):
    """Audio playback or speech synthesis failed."""


class NotAudio(AudioError):
    """The file holds no audio stream we can play (an upload that only pretends to be audio)."""


class UnknownDuration(NotAudio):
    """An audio stream whose container does not say how long it is: a recording streamed as it
    was made (a browser's MediaRecorder WebM/Opus) carries no duration until it is read through."""


class StreamFailed(AudioError):
    """A relayed stream could not be opened, or stopped before its duration was over."""


class ModemRejected(DeviceProtocolError):
    """The GSM modem answered, but no: ``ERROR``, ``+CMS ERROR: <code>``, ``+CME ERROR: <code>``
    or a SIM that is not ready. ``answer`` is the modem's line as it came (``+CMS ERROR: 21``,
    ``+CPIN: SIM PIN``), ``code`` its number when it has one."""

    def __init__(self, message: str, *, device: str = "", answer: str = "",
                 code: int | None = None) -> None:
        self.answer = answer
        self.code = code
        super().__init__(message, device=device)
