"""The words of every notification, in Vietnamese, in one place: what each kind of incident is
called, the heading of each severity, and how a message, a burst and a digest are laid out.

A message names the site, says what happened to what and when, in the site's local time:
``[Xã Thiệu Long] CẢNH BÁO: Thiết bị relay-1 mất kết nối lúc 19:32``. The SMS channel sends
Vietnamese as UCS-2, so there is no ASCII fallback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from controller.notify.incidents import Incident

# What happened, by kind (controller.notify.incidents lists where each is raised). A kind not
# here (an input named in the config, say) is worded by its name.
PHRASES: dict[str, str] = {
    "device_offline": "mất kết nối",
    "device_error": "trả lời sai",
    "relay_not_following": "rơ-le không theo lệnh",
    "relay_drift": "rơ-le bị đổi trạng thái ngoài lệnh",
    "lamp_failure": "hỏng đèn (bật nhưng không có dòng điện)",
    "day_burner": "đèn sáng ban ngày (tắt nhưng vẫn có dòng điện)",
    "breaker-tripped": "nhảy áp-tô-mát",
    "breaker_tripped": "nhảy áp-tô-mát",
    "cabinet-door": "cửa tủ mở",
    "cabinet_door": "cửa tủ mở",
    "clock_implausible": "giờ hệ thống không hợp lý",
    "clock_unsynchronised": "giờ hệ thống chưa đồng bộ (NTP)",
    "clock_step": "giờ hệ thống bị nhảy",
    "broadcast_failed": "phát thanh thất bại",
    "broadcast_missed": "bản tin bị lỡ, không phát",
    "zone_switch_failed": "không bật được vùng loa",
    "node_offline": "mất kết nối",
    "node_no_ack": "không xác nhận lệnh",
    "firmware_rollout_failed": "cập nhật phần mềm nút thất bại",
}

# What the target is, by kind: a device, a circuit, the clock, a broadcast, a field node.
_NOUNS: dict[str, str] = {
    "device_offline": "Thiết bị", "device_error": "Thiết bị",
    "relay_not_following": "Mạch", "relay_drift": "Mạch", "lamp_failure": "Mạch",
    "day_burner": "Mạch", "broadcast_failed": "Bản tin", "broadcast_missed": "Bản tin",
    "zone_switch_failed": "Thiết bị", "node_offline": "Nút loa", "node_no_ack": "Nút loa",
    "firmware_rollout_failed": "Đợt cập nhật",
}

HEADINGS = {"alarm": "CẢNH BÁO", "warning": "CHÚ Ý", "info": "THÔNG BÁO"}
RECOVERED = "ĐÃ KHÔI PHỤC"
TEST = "THỬ"


def phrase(kind: str) -> str:
    return PHRASES.get(kind, kind.replace("_", " ").replace("-", " "))


def heading(incident: Incident) -> str:
    return RECOVERED if incident.state == "cleared" else HEADINGS.get(incident.severity,
                                                                       HEADINGS["alarm"])


def local_hm(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def what(incident: Incident, names: dict[str, str] | None = None) -> str:
    """``Thiết bị relay-1 mất kết nối``; a circuit with a name: ``Mạch Đường Lê Lợi (road-5)
    hỏng đèn``; the clock: ``Đồng hồ: giờ hệ thống chưa đồng bộ``."""
    if incident.target == "clock":
        return f"Đồng hồ: {phrase(incident.kind)}"
    name = (names or {}).get(incident.target)
    target = f"{name} ({incident.target})" if name else incident.target
    # A kind not listed is a digital input named in the config ("door" on relay-1): the
    # cabinet's.
    noun = _NOUNS.get(incident.kind, "Tủ")
    return f"{noun} {target} {phrase(incident.kind)}"


def line(incident: Incident, tz: ZoneInfo, names: dict[str, str] | None = None) -> str:
    return f"{heading(incident)}: {what(incident, names)} lúc {local_hm(incident.at, tz)}"


def site_prefix(site_name: str) -> str:
    return f"[{site_name}]"


def incidents_text(site_name: str, incidents: Sequence[Incident], tz: ZoneInfo,
                   names: dict[str, str] | None = None) -> str:
    """One incident: one line. A burst: a count, then one line each, oldest first."""
    if len(incidents) == 1:
        return f"{site_prefix(site_name)} {line(incidents[0], tz, names)}"
    lines = [f"- {line(i, tz, names)}" for i in incidents]
    return f"{site_prefix(site_name)} {len(incidents)} sự việc:\n" + "\n".join(lines)


def incidents_subject(site_name: str, incidents: Sequence[Incident],
                      names: dict[str, str] | None = None) -> str:
    if len(incidents) == 1:
        return f"{site_prefix(site_name)} {heading(incidents[0])}: {what(incidents[0], names)}"
    return f"{site_prefix(site_name)} {len(incidents)} sự việc"


def test_text(site_name: str, at: datetime, tz: ZoneInfo) -> str:
    return (f"{site_prefix(site_name)} {TEST}: tin nhắn thử của hệ thống điều khiển "
            f"chiếu sáng và truyền thanh lúc {local_hm(at, tz)}")


def digest_text(site_name: str, incidents: Sequence[Incident], still_open: Sequence[Incident],
                at: datetime, tz: ZoneInfo, names: dict[str, str] | None = None) -> str:
    """The day's summary: how many of each kind opened and recovered in the last 24 hours,
    and what is still open."""
    local = at.astimezone(tz)
    head = f"{site_prefix(site_name)} TỔNG HỢP 24 giờ đến {local:%H:%M} ngày {local:%d/%m}"
    if not incidents and not still_open:
        return f"{head}: không có sự việc nào."
    opened = Counter(i.kind for i in incidents if i.state != "cleared")
    cleared = sum(1 for i in incidents if i.state == "cleared")
    lines = [f"- {phrase(kind)}: {count} lần" for kind, count in sorted(opened.items())]
    if cleared:
        lines.append(f"- {RECOVERED}: {cleared}")
    if still_open:
        lines.append(f"Còn mở ({len(still_open)}):")
        lines += [f"- {what(i, names)} từ {local_hm(i.at, tz)}" for i in still_open]
    return f"{head}:\n" + "\n".join(lines)
