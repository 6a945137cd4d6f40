"""The Vietnamese normaliser against how a Vietnamese reader says things (school grammar and
printed announcements): numbers with mốt/tư/lăm/linh, times, dates, units, abbreviations, and
every phrase of the commune-notice table (tests/drivers/vi_phrases.py) read as a listener
expects."""

from __future__ import annotations

import unicodedata

import pytest

from drivers.vi_text import normalise_vietnamese, read_integer, read_roman
from tests.drivers.vi_phrases import KINDS, PHRASES, Phrase


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


@pytest.mark.parametrize("phrase", PHRASES, ids=[f"{p.kind}-{i}" for i, p in enumerate(PHRASES)])
def test_commune_notice_phrases_read_as_a_listener_expects(phrase: Phrase) -> None:
    assert normalise_vietnamese(phrase.text) == phrase.spoken


def test_the_phrase_table_covers_every_class_of_the_notices() -> None:
    counts = {kind: sum(p.kind == kind for p in PHRASES) for kind in KINDS}
    assert len(PHRASES) >= 150
    assert min(counts.values()) >= 6, counts


@pytest.mark.parametrize(("text", "spoken"), [
    # What the issue reported, one by one.
    ("+84 912 345 678", "cộng tám bốn chín một hai ba bốn năm sáu bảy tám"),
    ("1900 1234", "một chín không không một hai ba bốn"),
    ("50.000 ₫", "năm mươi nghìn đồng"),
    ("50.000đ/tháng", "năm mươi nghìn đồng một tháng"),
    ("30-4", "ngày ba mươi tháng tư"),
    ("1/3 số hộ", "một phần ba số hộ"),
    ("Đ/c Hà", "Đồng chí Hà"),
    ("sáng CN", "sáng chủ nhật"),
    ("2tr", "hai triệu"),
    ("500k", "năm trăm nghìn"),
    ("quý II", "quý hai"),
    # Context decides: these stay what they are.
    ("Công ty CN Hà Nội", "Công ty CN Hà Nội"),
    ("phần C", "phần C"),
    ("Liên hệ ông A, năm sinh 1985",
     "Liên hệ ông A, năm sinh một nghìn chín trăm tám mươi lăm"),
    ("tỷ lệ 1/1000", "tỷ lệ một phần một nghìn"),
    ("113 hộ", "một trăm mười ba hộ"),
])
def test_the_reported_misreadings_and_their_look_alikes(text: str, spoken: str) -> None:
    assert normalise_vietnamese(text) == spoken


@pytest.mark.parametrize(("numeral", "value"), [
    ("I", 1), ("IV", 4), ("IX", 9), ("XIII", 13), ("XIV", 14), ("XXI", 21), ("XL", 40),
    ("IIII", None), ("VX", None),
])
def test_roman_numerals(numeral: str, value: int | None) -> None:
    assert read_roman(numeral) == value
