"""Vietnamese text made speakable: what espeak-ng reads badly, rewritten as Vietnamese words.

espeak-ng's Vietnamese voice reads "18:30" as "mười tám ba mươi", "UBND" as an English word,
"20/11/2026" as three bare numbers, "kg" letter by letter, and text in decomposed Unicode
(NFD, as some phone keyboards send it) with the wrong tones. ``normalise_vietnamese`` rewrites
times, dates, numbers, units and common administrative abbreviations as words before synthesis.

Conventions followed (Vietnamese usage, as in printed announcements and school grammar):

- "." groups thousands and "," marks decimals ("1.500" is 1500, "1,5" is 1.5); "1.5" and
  English "1,500,000" are read the way a Vietnamese reader would take them (1.5 and 1500000).
- Units after ten: 1 -> "mốt", 4 -> "tư" from twenty on, 5 -> "lăm"; 0 tens after hundreds ->
  "linh" (Northern; "lẻ" with ``southern=True``); a zero hundred inside a big number is read
  ("hai nghìn không trăm hai mươi sáu").
- A month or an ordinal reads 4 as "tư" and 1 as "nhất" where Vietnamese does ("tháng tư",
  "thứ nhất").
- "Q." is left alone: it stands for quận, quyển or quốc depending on context.

Pure: no I/O. The rules run in a fixed order (see ``normalise_vietnamese``); each is one regular
expression with a callback.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ((10**9, "tỷ"), (10**6, "triệu"), (10**3, "nghìn"))

# Longer digit strings are codes (citizen ID, account numbers), read digit by digit.
MAX_NUMBER_DIGITS = 15

ABBREVIATIONS: dict[str, str] = {
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "UBMTTQ": "ủy ban mặt trận tổ quốc",
    "MTTQ": "mặt trận tổ quốc",
    "HTX": "hợp tác xã",
    "TP": "thành phố",
    "HCM": "Hồ Chí Minh",
    "BCH": "ban chỉ huy",
    "PCTT": "phòng chống thiên tai",
    "TKCN": "tìm kiếm cứu nạn",
    "PCCC": "phòng cháy chữa cháy",
    "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông",
    "SĐT": "số điện thoại",
    "ĐT": "điện thoại",
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "ATGT": "an toàn giao thông",
    "ANTT": "an ninh trật tự",
    "CSGT": "cảnh sát giao thông",
    "TTYT": "trung tâm y tế",
    "TYT": "trạm y tế",
    "NTM": "nông thôn mới",
    "KT-XH": "kinh tế xã hội",
    "KHHGĐ": "kế hoạch hóa gia đình",
    "CHXHCN": "cộng hòa xã hội chủ nghĩa",
    "XHCN": "xã hội chủ nghĩa",
    "VN": "Việt Nam",
    "QĐ": "quyết định",
    "NĐ-CP": "nghị định chính phủ",
    "NĐ": "nghị định",
    "ID": "ai đi",
}

# Unit symbols after a number. Longest first, so "km/h" wins over "km" and "mm" over "m".
UNITS: dict[str, str] = {
    "km/h": "ki lô mét trên giờ",
    "m/s": "mét trên giây",
    "kWh": "ki lô oát giờ",
    "kW": "ki lô oát",
    "°C": "độ xê",
    "km": "ki lô mét",
    "cm": "xen ti mét",
    "mm": "mi li mét",  # also rainfall: "lượng mưa 150 mm"
    "m²": "mét vuông",
    "m2": "mét vuông",
    "m³": "mét khối",
    "m3": "mét khối",
    "ml": "mi li lít",
    "kg": "ki lô gam",
    "ha": "héc ta",
    "VNĐ": "đồng",
    "VND": "đồng",
    "m": "mét",
    "g": "gam",
    "l": "lít",
    "W": "oát",
    "V": "vôn",
    "đ": "đồng",
    "%": "phần trăm",
    "°": "độ",
}


def read_integer(n: int, *, southern: bool = False) -> str:
    """Vietnamese words for a whole number: 2026 -> "hai nghìn không trăm hai mươi sáu"."""
    if n < 0:
        return "âm " + read_integer(-n, southern=southern)
    if n == 0:
        return _DIGITS[0]
    return _integer(n, inner=False, linh="lẻ" if southern else "linh")


def _integer(n: int, *, inner: bool, linh: str) -> str:
    # ``inner``: this group follows a higher one, so its zero hundreds are spoken.
    for scale, word in _SCALES:
        if n >= scale:
            high, low = divmod(n, scale)
            words = f"{_integer(high, inner=inner, linh=linh)} {word}"
            return f"{words} {_integer(low, inner=True, linh=linh)}" if low else words
    return _below_thousand(n, inner=inner, linh=linh)


def _below_thousand(n: int, *, inner: bool, linh: str) -> str:
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or inner:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append(linh)
        if units:
            words.append(_DIGITS[units])
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else _DIGITS[units])
    else:
        words += [_DIGITS[tens], "mươi"]
        if units:
            words.append({1: "mốt", 4: "tư", 5: "lăm"}.get(units, _DIGITS[units]))
    return " ".join(words)


def read_digits(digits: str) -> str:
    """Digit by digit, as phone numbers and codes are read: "113" -> "một một ba"."""
    return " ".join(_DIGITS[int(d)] for d in digits if d.isdigit())


def read_decimal(whole: str, fraction: str = "", *, southern: bool = False) -> str:
    """``whole`` and ``fraction`` are digit strings: ("12", "05") -> "mười hai phẩy không năm"."""
    if len(whole) > MAX_NUMBER_DIGITS or (len(whole) > 3 and whole.startswith("0")):
        words = read_digits(whole)
    else:
        words = read_integer(int(whole), southern=southern)
    if not fraction:
        return words
    # Leading zeros of the decimals are spoken ("0,05" -> "không phẩy không năm"); long tails
    # are read digit by digit, as people read them aloud.
    significant = fraction.lstrip("0")
    if len(fraction) > 3 or not significant:
        tail = read_digits(fraction)
    else:
        zeros = len(fraction) - len(significant)
        tail = " ".join([_DIGITS[0]] * zeros + [read_integer(int(significant), southern=southern)])
    return f"{words} phẩy {tail}"


# --- the rules, in the order they run ---------------------------------------------------------

_NOT_AFTER = r"(?<![\w.,/:])"  # a number starts here, not inside a word, a decimal or a date
_END = r"(?![\w])"

_PHONE = re.compile(_NOT_AFTER + r"(0\d{2,4}(?:[ .-]?\d{2,4}){1,3})" + _END)
_DATE = re.compile(
    _NOT_AFTER + r"(\d{1,2})/(\d{1,2})(?:/(\d{4}))?(?![\w/]|[.,]\d)"
    + r"|" + _NOT_AFTER + r"(\d{1,2})-(\d{1,2})-(\d{4})" + _END
)
_MONTH_YEAR = re.compile(_NOT_AFTER + r"(\d{1,2})/(\d{4})" + _END)
_RANGE = re.compile(r"(?<=\d)([hH](?:\d{2})?|%|°C)?\s*[–—-]\s*(?=\d)")
_NEGATIVE = re.compile(r"(?<![\w.,])-(?=\d)")
_TIME = re.compile(
    _NOT_AFTER + r"(\d{1,2})(?::(\d{2})(?::(\d{2}))?|[hH](\d{2})?(?:ph|p|')?)(?![\w:])"
)
_ORDINAL = re.compile(r"(?i)\b(tháng|thứ)\s+(\d{1,2})" + _END)
_UNIT_ALTERNATION = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_NUMBER = re.compile(
    r"(?<!\d)"  # also digits left over after letters or colons ("F0", "25:70")
    + r"(?:(?P<dots>\d{1,3}(?:\.\d{3})+)(?:,(?P<dots_frac>\d+))?"  # 1.500 / 1.500,5
    + r"|(?P<commas>\d{1,3}(?:,\d{3}){2,})(?:\.(?P<commas_frac>\d+))?"  # 1,500,000
    + r"|(?P<whole>\d+)(?:[.,](?P<frac>\d+))?)"  # 12 / 1,5 / 1.5
    + r"(?!\d)"
    + rf"(?:\s?(?P<unit>{_UNIT_ALTERNATION})(?![\w²³]))?"
)
_ABBREVIATION = re.compile(
    r"(?<![\w.-])("
    + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")(?![\w-])"
)
_TP_DOT = re.compile(r"(?<![\w.])TP\.\s*(?=[^\W\d_])")  # "TP. Thanh Hóa" -> "TP Thanh Hóa"
_SPACES = re.compile(r"\s+")

_Rule = Callable[[re.Match[str]], str]


def normalise_vietnamese(text: str, *, southern: bool = False) -> str:
    """``text`` with times, dates, numbers, units and abbreviations spelled out in words.

    "Họp lúc 18h30 ngày 20/11" -> "Họp lúc mười tám giờ ba mươi phút ngày hai mươi tháng mười
    một". Text that needs no change comes back with its whitespace collapsed.
    """
    # NFC first: espeak-ng misreads decomposed tone marks, and the TTS cache key must not
    # depend on how the keyboard encoded the same words.
    text = unicodedata.normalize("NFC", text)
    # "[[" switches espeak-ng to phoneme input; keep brackets as plain punctuation.
    text = text.replace("[", "(").replace("]", ")").replace("&", " và ")
    text = _SPACES.sub(" ", text)  # also NBSP and narrow NBSP ("30 °C")
    text = _TP_DOT.sub("TP ", text)
    text = _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m.group(1)], text)
    rules: list[tuple[re.Pattern[str], _Rule]] = [
        (_PHONE, _phone),
        (_DATE, lambda m: _date(m, southern)),
        (_MONTH_YEAR, lambda m: _month_year(m, southern)),
        (_RANGE, lambda m: f"{m.group(1) or ''} đến "),
        (_NEGATIVE, lambda m: "âm "),
        (_TIME, lambda m: _time(m, southern)),
        (_ORDINAL, lambda m: _ordinal(m, southern)),
        (_NUMBER, lambda m: _number(m, southern)),
    ]
    for pattern, rule in rules:
        text = pattern.sub(rule, text)
    return _SPACES.sub(" ", text).strip()


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(1))
    return read_digits(digits) if 9 <= len(digits) <= 11 else match.group(0)


def _preceded_by(match: re.Match[str], *words: str) -> bool:
    before = match.string[: match.start()].rstrip().lower()
    return any(before.endswith(w) and not before[: -len(w)][-1:].isalpha() for w in words)


def _month_word(month: int, southern: bool) -> str:
    return "tư" if month == 4 else read_integer(month, southern=southern)


def _date(match: re.Match[str], southern: bool) -> str:
    slash_day, slash_month, slash_year, dash_day, dash_month, dash_year = match.groups()
    day = int(slash_day or dash_day)
    month = int(slash_month or dash_month)
    year = slash_year or dash_year
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return match.group(0)
    words = [] if _preceded_by(match, "ngày", "mùng", "mồng") else ["ngày"]
    words += [read_integer(day, southern=southern), "tháng", _month_word(month, southern)]
    if year:
        words += ["năm", read_integer(int(year), southern=southern)]
    return " ".join(words)


def _month_year(match: re.Match[str], southern: bool) -> str:
    month, year = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return match.group(0)
    words = [] if _preceded_by(match, "tháng") else ["tháng"]
    words += [_month_word(month, southern), "năm", read_integer(year, southern=southern)]
    return " ".join(words)


def _time(match: re.Match[str], southern: bool) -> str:
    hour_text, colon_minutes, seconds_text, h_minutes = match.groups()
    hour, minutes = int(hour_text), int(colon_minutes or h_minutes or 0)
    seconds = int(seconds_text or 0)
    if hour > 24 or minutes > 59 or seconds > 59:
        return match.group(0)
    words = [read_integer(hour, southern=southern), "giờ"]
    if minutes:
        words += [read_integer(minutes, southern=southern), "phút"]
    if seconds:
        words += [read_integer(seconds, southern=southern), "giây"]
    return " ".join(words)


def _ordinal(match: re.Match[str], southern: bool) -> str:
    word, n = match.group(1), int(match.group(2))
    if word.lower() == "tháng":
        spoken = _month_word(n, southern) if 1 <= n <= 12 else read_integer(n, southern=southern)
    else:  # "thứ 1" is "thứ nhất", "thứ 4" (Wednesday, or fourth) is "thứ tư"
        spoken = {1: "nhất", 4: "tư"}.get(n) or read_integer(n, southern=southern)
    return f"{word} {spoken}"


def _number(match: re.Match[str], southern: bool) -> str:
    if match.group("dots"):
        whole, fraction = match.group("dots").replace(".", ""), match.group("dots_frac") or ""
    elif match.group("commas"):
        whole, fraction = match.group("commas").replace(",", ""), match.group("commas_frac") or ""
    else:
        whole, fraction = match.group("whole"), match.group("frac") or ""
    words = read_decimal(whole, fraction, southern=southern)
    unit = match.group("unit")
    if unit:
        words = f"{words} {UNITS[unit]}"
    # Keep words apart from letters they were glued to: "4G" -> "bốn G", "F0" -> "F không".
    text, start, end = match.string, match.start(), match.end()
    before = " " if start and text[start - 1].isalpha() else ""
    after = " " if end < len(text) and text[end].isalpha() else ""
    return f"{before}{words}{after}"
