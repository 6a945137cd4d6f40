"""The Vietnamese normaliser against how a Vietnamese reader says things (school grammar and
printed announcements): numbers with mốt/tư/lăm/linh, times, dates, units, abbreviations."""

from __future__ import annotations

import unicodedata

import pytest

from drivers.vi_text import normalise_vietnamese, read_integer


@pytest.mark.parametrize(("number", "words"), [
    (0, "không"), (5, "năm"), (10, "mười"), (11, "mười một"), (15, "mười lăm"),
    (21, "hai mươi mốt"), (24, "hai mươi tư"), (25, "hai mươi lăm"), (101, "một trăm linh một"),
    (105, "một trăm linh năm"), (1000, "một nghìn"), (1005, "một nghìn không trăm linh năm"),
    (2026, "hai nghìn không trăm hai mươi sáu"), (1_000_000, "một triệu"),
])
def test_integers(number: int, words: str) -> None:
    assert read_integer(number) == words


def test_southern_reading_says_le() -> None:
    assert read_integer(105, southern=True) == "một trăm lẻ năm"


@pytest.mark.parametrize(("text", "spoken"), [
    ("18:30", "mười tám giờ ba mươi phút"),
    ("7h30", "bảy giờ ba mươi phút"),
    ("20/11/2026", "ngày hai mươi tháng mười một năm hai nghìn không trăm hai mươi sáu"),
    ("ngày 2/9", "ngày hai tháng chín"),
    ("tháng 4", "tháng tư"),
    ("1.500", "một nghìn năm trăm"),
    ("1,5", "một phẩy năm"),
    ("150 mm", "một trăm năm mươi mi li mét"),
    ("UBND xã", "ủy ban nhân dân xã"),
    ("SĐT 0912345678", "số điện thoại không chín một hai ba bốn năm sáu bảy tám"),
])
def test_text_is_rewritten_as_words(text: str, spoken: str) -> None:
    assert normalise_vietnamese(text) == spoken


def test_decomposed_unicode_reads_like_composed() -> None:
    text = "Thông báo họp dân"
    assert normalise_vietnamese(unicodedata.normalize("NFD", text)) == \
        normalise_vietnamese(text)
