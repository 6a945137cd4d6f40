"""Where the monthly report's inputs come from (docs/reports.md): a running controller's
services (the API), or the data folder read as every offline command reads it (the CLI).

Both read the same files: the broadcast log and the event history under ``history/``, and the
lighting's daily usage in ``state.json``. The services add what the running controller has
counted and not yet stored (at most a quarter of an hour of on-time); the data folder alone
has only what is stored.
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from controller.config import Config
from controller.lighting.service import LightingService
from controller.lighting.usage import stored_usage
from controller.platform.history import History
from controller.platform.store import Store
from controller.radio.airlog import AirLog
from controller.radio.service import RadioService
from controller.reports.monthly import AIR_LOG_MARGIN, ALARM_LOOKBACK, Period, ReportInputs


async def from_services(config: Config, month: Period, *, radio: RadioService,
                        lighting: LightingService, events: History) -> ReportInputs:
    start, end = month.bounds(ZoneInfo(config.site.timezone))
    air = await radio.log(since=start - AIR_LOG_MARGIN, until=end + AIR_LOG_MARGIN)
    alarms = await asyncio.to_thread(events.query, since=start - ALARM_LOOKBACK, until=end,
                                     where=_is_alarm)
    usage = await asyncio.to_thread(lighting.usage, month.first_day, month.last_day)
    return ReportInputs(air=air, events=alarms, usage=usage)


def from_data_folder(config: Config, month: Period) -> ReportInputs:
    start, end = month.bounds(ZoneInfo(config.site.timezone))
    data = config.storage.path
    air = AirLog(History(data / "history", "broadcasts")).query(
        since=start - AIR_LOG_MARGIN, until=end + AIR_LOG_MARGIN)
    alarms = History(data / "history", "events").query(since=start - ALARM_LOOKBACK,
                                                       until=end, where=_is_alarm)
    usage = stored_usage(Store(data), month.first_day, month.last_day)
    return ReportInputs(air=air, events=alarms, usage=usage)


def _is_alarm(record: dict[str, object]) -> bool:
    return record.get("type") == "alarm"
