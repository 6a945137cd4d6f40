"""Vietnamese text made speakable: what espeak-ng reads badly, rewritten as Vietnamese words.

espeak-ng's Vietnamese voice reads "18:30" as "mười tám ba mươi", "UBND" as an English word,
"0912 345 678" as three large numbers, "20/11/2026" as three bare numbers, "kg" letter by
letter, stays silent on "₫" and "/", and reads text in decomposed Unicode (NFD, as some phone
keyboards send it) with the wrong tones. ``normalise_vietnamese`` rewrites what a commune notice
contains as the words a Vietnamese listener expects; docs/speech.md lists every class with
examples.

Conventions followed (Vietnamese usage, as in printed announcements and school grammar):

- "." groups thousands and "," marks decimals ("1.500" is 1500, "1,5" is 1.5); "1.5" and
  English "1,500,000" are read the way a Vietnamese reader would take them (1.5 and 1500000).
- Units after ten: 1 -> "mốt", 4 -> "tư" from twenty on, 5 -> "lăm"; 0 tens after hundreds ->
  "linh" (Northern; "lẻ" with ``southern=True``); a zero hundred inside a big number is read
  ("hai nghìn không trăm hai mươi sáu").
- A month or an ordinal reads 4 as "tư" and 1 as "nhất" where Vietnamese does ("tháng tư",
  "thứ nhất", "lần thứ tư").
- Telephone numbers (0912 345 678, +84 912 345 678, hotlines 1900/1800, 113/114/115 and short
  numbers after "gọi", "đường dây nóng", "số điện thoại"...) are read digit by digit.
- "a/b" is a date ("30/4") unless it reads as a share ("1/3 số hộ", "chiếm 2/3"); "a-b" is a
  date after "ngày", "lễ", "dịp" or when a > b ("30-4"), otherwise a range ("7-9 giờ").
- A slash before a unit of count or time means "per": "50.000đ/tháng" -> "... đồng một tháng".
- Roman numerals are read only after the words that take them ("quý II", "lần thứ III",
  "Đại hội XIII", "khóa XV"): elsewhere "V" is a volt and "X" a letter.
- "CN" is Sunday only beside a day ("sáng CN", "T2-CN", "CN, ngày 6/12"); otherwise it may be
  "cá nhân" or "chi nhánh" and is left alone. "Q." is left alone too: quận, quyển or quốc.

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
    # local government and mass organisations
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "UBMTTQVN": "ủy ban mặt trận tổ quốc Việt Nam",
    "UBMTTQ": "ủy ban mặt trận tổ quốc",
    "MTTQVN": "mặt trận tổ quốc Việt Nam",
    "MTTQ": "mặt trận tổ quốc",
    "ĐU": "đảng ủy",
    "TW": "trung ương",
    "BCH": "ban chỉ huy",
    "BCĐ": "ban chỉ đạo",
    "BQL": "ban quản lý",
    "CAX": "công an xã",
    "BCHQS": "ban chỉ huy quân sự",
    "DQTV": "dân quân tự vệ",
    "NVQS": "nghĩa vụ quân sự",
    "HND": "hội nông dân",
    "LHPN": "liên hiệp phụ nữ",
    "HLHPN": "hội liên hiệp phụ nữ",
    "CCB": "cựu chiến binh",
    "ĐTN": "đoàn thanh niên",
    "TDP": "tổ dân phố",
    "KDC": "khu dân cư",
    "NVH": "nhà văn hóa",
    "HTX": "hợp tác xã",
    "TP": "thành phố",
    "HCM": "Hồ Chí Minh",
    "TTHC": "thủ tục hành chính",
    "QĐ": "quyết định",
    "NĐ-CP": "nghị định chính phủ",
    "NĐ": "nghị định",
    # elections
    "ĐBQH": "đại biểu quốc hội",
    "UBBC": "ủy ban bầu cử",
    # disasters, fire, safety
    "PCTT&TKCN": "phòng chống thiên tai và tìm kiếm cứu nạn",
    "PCTT": "phòng chống thiên tai",
    "TKCN": "tìm kiếm cứu nạn",
    "PCCC": "phòng cháy chữa cháy",
    "ATGT": "an toàn giao thông",
    "ANTT": "an ninh trật tự",
    "CSGT": "cảnh sát giao thông",
    "ATTP": "an toàn thực phẩm",
    "VSATTP": "vệ sinh an toàn thực phẩm",
    "VSMT": "vệ sinh môi trường",
    # health
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "TTYT": "trung tâm y tế",
    "TYT": "trạm y tế",
    "TCMR": "tiêm chủng mở rộng",
    "SXH": "sốt xuất huyết",
    "COVID-19": "cô vít mười chín",
    "KHHGĐ": "kế hoạch hóa gia đình",
    # schools
    "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông",
    # papers
    "SĐT": "số điện thoại",
    "ĐT": "điện thoại",
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "GPLX": "giấy phép lái xe",
    "GCNQSDĐ": "giấy chứng nhận quyền sử dụng đất",
    "QSDĐ": "quyền sử dụng đất",
    "GCN": "giấy chứng nhận",
    # taxes and fees
    "TNCN": "thu nhập cá nhân",
    "GTGT": "giá trị gia tăng",
    "NSNN": "ngân sách nhà nước",
    "HKD": "hộ kinh doanh",
    "MST": "mã số thuế",
    "SXKD": "sản xuất kinh doanh",
    # farming
    "NN&PTNT": "nông nghiệp và phát triển nông thôn",
    "PTNT": "phát triển nông thôn",
    "BVTV": "bảo vệ thực vật",
    "LMLM": "lở mồm long móng",
    "DTLCP": "dịch tả lợn châu Phi",
    "NTM": "nông thôn mới",
    # electricity
    "TBA": "trạm biến áp",
    "ĐZ": "đường dây",
    # general
    "KT-XH": "kinh tế xã hội",
    "CHXHCN": "cộng hòa xã hội chủ nghĩa",
    "XHCN": "xã hội chủ nghĩa",
    "VN": "Việt Nam",
    "ID": "ai đi",
}

# Unit symbols after a number. Longest first, so "km/h" wins over "km" and "mm" over "m".
UNITS: dict[str, str] = {
    "km/h": "ki lô mét trên giờ",
    "m/s": "mét trên giây",
    "m³/s": "mét khối trên giây",
    "m3/s": "mét khối trên giây",
    "kWh": "ki lô oát giờ",
    "kVA": "ki lô vôn ampe",
    "kW": "ki lô oát",
    "kV": "ki lô vôn",
    "°C": "độ xê",
    "oC": "độ xê",  # typed without the degree sign
    "km²": "ki lô mét vuông",
    "km2": "ki lô mét vuông",
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
    "tr": "triệu",  # money: "2tr" is two million đồng
    "k": "nghìn",  # money: "500k" is five hundred thousand đồng
    "m": "mét",
    "g": "gam",
    "l": "lít",
    "W": "oát",
    "V": "vôn",
    "đ": "đồng",
    "₫": "đồng",
    "%": "phần trăm",
    "°": "độ",
}

# After a slash, the thing counted "per": "50.000đ/tháng" is read "... đồng một tháng".
PER_WORDS = ("tháng", "năm", "ngày", "giờ", "tuần", "quý", "vụ", "người", "hộ", "khẩu", "lượt",
             "lần", "buổi", "con", "suất", "xe", "chiếc", "sào", "mẫu", "bao", "liều", "mũi",
             "học sinh", "cháu", "em", "lít", "tấn", "tạ", "cân", "bộ", "phòng", "ki lô gam")
PER_UNITS: dict[str, str] = {"kg": "ki lô gam", "m2": "mét vuông", "m²": "mét vuông",
                             "m3": "mét khối", "m³": "mét khối", "ha": "héc ta",
                             "km": "ki lô mét", "kWh": "ki lô oát giờ", "m": "mét", "l": "lít"}

# Words after which a Roman numeral is a number ("quý II", "Đại hội XIII", "khóa XV").
ROMAN_AFTER = ("quý", "lần thứ", "kỳ họp thứ", "thứ", "đại hội", "hội nghị", "khóa", "khoá",
               "kỳ", "kì", "đợt", "giai đoạn", "phần", "chương", "mục", "thế kỷ", "thế kỉ",
               "phiên", "tập", "loại", "vòng", "cấp", "khu vực", "vùng", "báo động")


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




def read_roman(numeral: str) -> int | None:
    """The value of an upper-case Roman numeral ("XIII" -> 13); None when it is not one."""
    if not _ROMAN.fullmatch(numeral):
        return None
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for this, following in zip(numeral, numeral[1:] + " ", strict=True):
        value = values[this]
        total += -value if values.get(following, 0) > value else value
    return total


# --- the rules, in the order they run ---------------------------------------------------------

_NOT_AFTER = r"(?<![\w.,/:])"  # a number starts here, not inside a word, a decimal or a date
_END = r"(?![\w])"
_SEP = r"[ .-]?"  # how people group the digits of a phone number

_ROMAN = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_COMRADE = re.compile(r"(?<![\w/])([Đđ])/[cC](?![\w/])(\s*:)?")
# "BCH" leads a party cell, a union or an association (ban chấp hành) or a command (ban chỉ huy:
# quân sự, phòng chống thiên tai).
_BCH = re.compile(r"(?<![\w.])BCH(?![\w])(?=\s*(Đảng|Chi bộ|chi bộ|Đoàn|đoàn|Hội|hội|Công đoàn|"
                  r"công đoàn|Chi hội|chi hội)\b)?")
# "Thông báo số 45/TB-UBND": the slash of a document number is not read.
_DOCUMENT_NUMBER = re.compile(r"(?<=\d)/(?=[A-ZĐ]{2,}(?:-[A-ZĐ]+)*(?![\w/]))")
_ROUND_THE_CLOCK = re.compile(r"(?<![\d/])24/(24|7)(?![\d/])")  # "trực 24/24", "24/7"
_WEEKDAY = re.compile(r"(?<![\w/])(?:T([2-7])|(CN))(?![\w/]|[.,]\d)")
_WEEKDAY_RANGE = re.compile(r"(?i)(thứ\s+\w+|chủ nhật)\s*[–—-]\s*(?=thứ\b|chủ nhật)")
_WEEKDAY_DIGITS_RANGE = re.compile(r"(?i)\b(thứ)\s+([2-7])\s*[–—-]\s*([2-7])(?![\w:])")
_DAY_BEFORE = re.compile(
    r"(?i)(?:\b(?:sáng|chiều|tối|trưa|đêm|ngày|các|vào|hàng|đến|và)|thứ\s+\w+|T[2-7])"
    r"\s*[–—,-]?\s*$")
_DAY_AFTER = re.compile(r"(?i)^\s*[,(]?\s*(?:ngày\b|tuần\b|này\b|tới\b|\d{1,2}/\d{1,2})")
_ROAD = re.compile(r"(?<![\w.])(QL|TL)\.?\s?(?=\d)")
_PLUS_PHONE = re.compile(r"\+\s?84((?:" + _SEP + r"\d){9,10})(?!\d)")
_HOTLINE = re.compile(r"(?<![\w.,/:])(1[89]00(?:[ .]?\d){4,6})(?![\w.,]\d|\d)")
_PHONE = re.compile(_NOT_AFTER + r"(0\d{2,4}(?:" + _SEP + r"\d{2,4}){1,3})" + _END)
# A short number right after words that announce a telephone number: "gọi 113", "đường dây
# nóng 1022", "số điện thoại: 3852 123". Up to 30 other characters may come between.
_PHONE_WORDS = re.compile(
    r"(?i)(?:gọi|điện thoại|đường dây nóng|tổng đài|hotline|liên hệ|số máy|khẩn cấp)"
    r"[^\d\n]{0,30}$")
# ... unless what comes between says it is a year, a date, an amount or a room.
_NOT_PHONE_WORDS = re.compile(r"(?i)\b(?:năm|ngày|tháng|lúc|giờ|trước|sau|đồng|phòng|số tiền)\b")
_SHORT_NUMBER = re.compile(_NOT_AFTER + r"(\d{3,5}(?:[ .]\d{3,4})?)(?![\w/:]|[.,]\d)")
_EMERGENCY = re.compile(
    _NOT_AFTER + r"(11[1-5])(?=\s*(?:\(|[-–:]\s*)?\s*(?:công an|cảnh sát|cứu hỏa|cứu hộ|"
    r"cứu nạn|cấp cứu|chữa cháy|phòng cháy))"
    r"|" + _NOT_AFTER + r"(11[1-5](?:\s*(?:,|/|và|hoặc)\s*11[1-5])+)" + _END)
_DATE_RANGE = re.compile(
    _NOT_AFTER + r"(\d{1,2})\s*[–—-]\s*(\d{1,2})/(\d{1,2})(?:/(\d{4}))?(?![\w/]|[.,]\d)")
_DATE = re.compile(
    _NOT_AFTER + r"(\d{1,2})/(\d{1,2})(?:/(\d{4}))?(?![\w/]|[.,]\d)"
    + r"|" + _NOT_AFTER + r"(\d{1,2})-(\d{1,2})-(\d{4})" + _END
)
_DASH_DATE = re.compile(_NOT_AFTER + r"(\d{1,2})\s?[-–]\s?(\d{1,2})(?![\w/:%°]|[.,]\d|\s*[–—-])")
_DATE_WORDS_BEFORE = re.compile(
    r"(?i)(?:\b(?:ngày|lễ|dịp|mùng|mồng|hôm|kỷ niệm)|\d{1,2}\s?[-–]\s?\d{1,2}\s*(?:và|,))\s*$")
_NOT_A_DATE_AFTER = re.compile(
    r"(?i)^\s*(?:giờ|phút|người|hộ|ngày|tuổi|con|cm|mm|km|kg|m\b|độ|triệu|nghìn|tỷ|đồng|lần|"
    r"tấn|tạ|ha|sào|cấp|năm)")
# "1/3 số hộ", "chiếm 2/3": a share, not the first of March.
_SHARE_BEFORE = re.compile(
    r"(?i)\b(?:chiếm|khoảng|gần|hơn|trên|dưới|đạt|mất|còn|tới|bằng|được|thêm|tăng|giảm)\s*$")
_SHARE_AFTER = re.compile(
    r"(?i)^\s*(?:số|tổng|diện tích|dân số|lượng|sản lượng|kinh phí|hộ|trong|của)\b")
_MONTH_YEAR = re.compile(_NOT_AFTER + r"(\d{1,2})/(\d{4})" + _END)
_RANGE = re.compile(r"(?<=\d)([hH](?:\d{2})?|%|°C)?\s*[–—-]\s*(?=\d)")
_NEGATIVE = re.compile(r"(?<![\w.,])-(?=\d)")
_TIME = re.compile(
    _NOT_AFTER + r"(\d{1,2})(?::(\d{2})(?::(\d{2}))?|[hH](\d{2})?(?:ph|p|')?)(?![\w:])"
)
_ORDINAL = re.compile(r"(?i)\b(tháng|thứ)\s+(\d{1,2})" + _END)
_ROMAN_IN_CONTEXT = re.compile(
    r"(?i:\b(" + "|".join(re.escape(w) for w in sorted(ROMAN_AFTER, key=len, reverse=True))
    + r"))\s+([IVXL]+)(?![\w])")
_UNIT_ALTERNATION = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_NUMBER = re.compile(
    r"(?<!\d)"  # also digits left over after letters or colons ("F0", "25:70")
    + r"(?:(?P<dots>\d{1,3}(?:\.\d{3})+)(?:,(?P<dots_frac>\d+))?"  # 1.500 / 1.500,5
    + r"|(?P<commas>\d{1,3}(?:,\d{3}){2,})(?:\.(?P<commas_frac>\d+))?"  # 1,500,000
    + r"|(?P<whole>\d+)(?:[.,](?P<frac>\d+))?)"  # 12 / 1,5 / 1.5
    + r"(?!\d)"
    + rf"(?:\s?(?P<unit>{_UNIT_ALTERNATION})(?![\w²³]))?"
)
_PER_UNIT = re.compile(
    r"(?<=[^\W\d_]|[%₫²³])\s*/\s*(?:(" + "|".join(
        re.escape(u) for u in sorted(PER_UNITS, key=len, reverse=True)) + r")(?![\w²³])|(?=("
    + "|".join(re.escape(w) for w in sorted(PER_WORDS, key=len, reverse=True)) + r")(?!\w)))")
_ABBREVIATION = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")(?![\w])"
)
_TP_DOT = re.compile(r"(?<![\w.])TP\.\s*(?=[^\W\d_])")  # "TP. Thanh Hóa" -> "TP Thanh Hóa"
# espeak-ng joins "dân-ủy" into one word; between words a hyphen is only a pause.
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])\s*[-–]\s*(?=[^\W\d_])")
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
    text = text.replace("[", "(").replace("]", ")")
    text = _SPACES.sub(" ", text)  # also NBSP and narrow NBSP ("30 °C")
    south = southern
    rules: list[tuple[re.Pattern[str], _Rule]] = [
        (_COMRADE, _comrade),
        (_BCH, _bch),
        (_TP_DOT, lambda m: "TP "),
        (_ABBREVIATION, lambda m: ABBREVIATIONS[m.group(1)]),
        (_ROAD, lambda m: {"QL": "quốc lộ ", "TL": "tỉnh lộ "}[m.group(1)]),
        (_WEEKDAY_DIGITS_RANGE, lambda m: f"{m.group(1)} {m.group(2)} đến thứ {m.group(3)}"),
        (_WEEKDAY, _weekday),
        (_WEEKDAY_RANGE, lambda m: f"{m.group(1)} đến "),
        (_PLUS_PHONE, lambda m: "cộng tám bốn " + read_digits(m.group(1))),
        (_HOTLINE, lambda m: read_digits(m.group(1))),
        (_PHONE, _phone),
        (_EMERGENCY, lambda m: _digit_groups(m.group(1) or m.group(2))),
        (_SHORT_NUMBER, _short_number),
        (_DOCUMENT_NUMBER, lambda m: " "),
        (_ROUND_THE_CLOCK, _round_the_clock),
        (_DATE_RANGE, lambda m: _date_range(m, south)),
        (_DATE, lambda m: _date(m, south)),
        (_DASH_DATE, lambda m: _dash_date(m, south)),
        (_MONTH_YEAR, lambda m: _month_year(m, south)),
        (_RANGE, lambda m: f"{m.group(1) or ''} đến "),
        (_NEGATIVE, lambda m: "âm "),
        (_TIME, lambda m: _time(m, south)),
        (_ORDINAL, lambda m: _ordinal(m.group(1), int(m.group(2)), south)),
        (_ROMAN_IN_CONTEXT, lambda m: _roman(m, south)),
        # Before numbers, which would read the "3" of "đồng/m3" as a number.
        (_PER_UNIT, lambda m: " một " + (PER_UNITS[m.group(1)] if m.group(1) else "")),
        (_NUMBER, lambda m: _number(m, south)),
    ]
    for pattern, rule in rules:
        text = pattern.sub(rule, text)
    text = text.replace("&", " và ")
    text = _WORD_HYPHEN.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _before(match: re.Match[str]) -> str:
    return match.string[: match.start()]


def _after(match: re.Match[str]) -> str:
    return match.string[match.end():]


def _comrade(match: re.Match[str]) -> str:
    # "Đ/c Nguyễn Văn A" is a comrade; "đ/c: thôn 3" on a lost-papers notice is an address.
    if match.group(2):
        return " địa chỉ:"
    return "Đồng chí" if match.group(1) == "Đ" and _sentence_start(match) else "đồng chí"


def _sentence_start(match: re.Match[str]) -> bool:
    before = _before(match).rstrip()
    return not before or before[-1] in ".:!?\n"


def _bch(match: re.Match[str]) -> str:
    return "ban chấp hành" if match.group(1) else "ban chỉ huy"


def _round_the_clock(match: re.Match[str]) -> str:
    if _DATE_WORDS_BEFORE.search(_before(match)):  # "ngày 24/7" is the 24th of July
        return match.group(0)
    return "hai mươi tư trên " + read_integer(int(match.group(1)))


def _weekday(match: re.Match[str]) -> str:
    if match.group(1):
        return "thứ " + {"4": "tư"}.get(match.group(1), _DIGITS[int(match.group(1))])
    is_day = _DAY_BEFORE.search(_before(match)) or _DAY_AFTER.search(_after(match))
    return "chủ nhật" if is_day else match.group(0)


def _digit_groups(text: str) -> str:
    """Each number of "113, 114" digit by digit, the words between kept."""
    return re.sub(r"\d+", lambda m: read_digits(m.group(0)), text)


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(1))
    return read_digits(digits) if 9 <= len(digits) <= 11 else match.group(0)


def _short_number(match: re.Match[str]) -> str:
    context = _PHONE_WORDS.search(_before(match))
    if not context or _NOT_PHONE_WORDS.search(context.group(0)):
        return match.group(0)
    return read_digits(match.group(1))


def _preceded_by(match: re.Match[str], *words: str) -> bool:
    before = match.string[: match.start()].rstrip().lower()
    return any(before.endswith(w) and not before[: -len(w)][-1:].isalpha() for w in words)


def _month_word(month: int, southern: bool) -> str:
    return "tư" if month == 4 else read_integer(month, southern=southern)


def _day_month(day: int, month: int, year: str | None, southern: bool) -> list[str]:
    words = [read_integer(day, southern=southern), "tháng", _month_word(month, southern)]
    if year:
        words += ["năm", read_integer(int(year), southern=southern)]
    return words


_NO_DAY_WORD_AFTER = re.compile(
    r"(?i)(?:\b(?:ngày|mùng|mồng|lễ|dịp|kỷ niệm|hôm|quốc khánh)"
    r"|\bngày\s+(?:thứ\s+\w+|chủ nhật)\s*,?|\d{1,2}\s?[-–/]\s?\d{1,2}\s*(?:và|,))\s*$")


def _day_prefix(match: re.Match[str]) -> list[str]:
    # "ngày" is said once: not after "ngày", "mùng", "lễ" ("lễ 30-4"), "ngày CN", nor in
    # "30-4 và 1-5".
    return [] if _NO_DAY_WORD_AFTER.search(_before(match)) else ["ngày"]


def _date_range(match: re.Match[str], southern: bool) -> str:
    first, last, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3)), \
        match.group(4)
    if not (1 <= first < last <= 31 and 1 <= month <= 12):
        return match.group(0)
    words = [*_day_prefix(match), read_integer(first, southern=southern), "đến"]
    return " ".join(words + _day_month(last, month, year, southern))


def _date(match: re.Match[str], southern: bool) -> str:
    slash_day, slash_month, slash_year, dash_day, dash_month, dash_year = match.groups()
    day = int(slash_day or dash_day)
    month = int(slash_month or dash_month)
    year = slash_year or dash_year
    if slash_day and not year and _is_share(match, day, month):
        return _share(day, month, southern)
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return match.group(0)
    return " ".join(_day_prefix(match) + _day_month(day, month, year, southern))


def _share(numerator: int, denominator: int, southern: bool) -> str:
    # "một phần tư", as for the month: 4 below is "tư"
    return f"{read_integer(numerator, southern=southern)} phần {_month_word(denominator, southern)}"


def _is_share(match: re.Match[str], numerator: int, denominator: int) -> bool:
    if numerator >= denominator or denominator < 2:
        return False
    if denominator > 12:  # no month: "1/20" can only be a share
        return True
    return bool(_SHARE_BEFORE.search(_before(match)) or _SHARE_AFTER.search(_after(match)))


def _dash_date(match: re.Match[str], southern: bool) -> str:
    day, month = int(match.group(1)), int(match.group(2))
    if not (1 <= day <= 31 and 1 <= month <= 12) or _NOT_A_DATE_AFTER.search(_after(match)):
        return match.group(0)
    if not (_DATE_WORDS_BEFORE.search(_before(match)) or day > month):
        return match.group(0)  # "7-9": a range, read by the range rule
    return " ".join(_day_prefix(match) + _day_month(day, month, None, southern))


def _month_year(match: re.Match[str], southern: bool) -> str:
    month, year = int(match.group(1)), int(match.group(2))
    if not 1900 <= year <= 2100 and month < year:  # "tỷ lệ 1/1000": a share, not a year
        return _share(month, year, southern)
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


def _ordinal(word: str, n: int, southern: bool) -> str:
    lowered = word.lower()
    if lowered == "tháng":
        spoken = _month_word(n, southern) if 1 <= n <= 12 else read_integer(n, southern=southern)
    elif lowered.endswith("thứ"):  # "thứ 1" is "thứ nhất", "thứ 4" (Wednesday, fourth) "thứ tư"
        spoken = {1: "nhất", 4: "tư"}.get(n) or read_integer(n, southern=southern)
    else:
        spoken = read_integer(n, southern=southern)
    return f"{word} {spoken}"


def _roman(match: re.Match[str], southern: bool) -> str:
    value = read_roman(match.group(2))
    if not value:
        return match.group(0)
    return _ordinal(match.group(1), value, southern)


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
