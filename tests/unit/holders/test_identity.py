from datetime import date

import pytest

from healthcode.errors import InvalidIdNumber, InvalidName, InvalidPhone
from healthcode.holders.identity import (
    gb11643_check_char,
    mask_id,
    mask_name,
    mask_phone,
    normalise_name,
    normalise_phone,
    validate_id,
)


def test_check_char_of_the_standards_example():
    # GB 11643-1999 appendix example: 11010519491231002X
    assert gb11643_check_char("11010519491231002") == "X"


def test_resident_id_valid_gives_birth_date():
    doc = validate_id("resident-id", "11010519491231002x")
    assert doc.number == "11010519491231002X"
    assert doc.birth_date == date(1949, 12, 31)


@pytest.mark.parametrize(
    "number, why",
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002", "length"),
        ("11010519490231002X", "Feb 31"),
        ("99010519491231002X", "unknown province"),
        ("1101051949123100A2", "letters inside"),
        ("", "empty"),
    ],
)
def test_resident_id_invalid(number, why):
    with pytest.raises(InvalidIdNumber):
        validate_id("resident-id", number)


def test_birth_date_in_the_future_is_refused():
    # 2030-01-01 birth, check digit computed for it
    first17 = "11010520300101001"
    with pytest.raises(InvalidIdNumber):
        validate_id("resident-id", first17 + gb11643_check_char(first17), today=date(2026, 1, 1))


def test_other_document_types():
    hk = "81000019900101001"
    assert validate_id("hkmt-residence-permit", hk + gb11643_check_char(hk)).nationality == "HK"
    assert validate_id("passport", "E12345678", nationality="de").nationality == "DE"
    with pytest.raises(InvalidIdNumber):
        validate_id("passport", "E12345678")
    assert validate_id("hkm-travel-permit", "H12345678").nationality == "HK"
    assert validate_id("tw-travel-permit", "12345678").nationality == "TW"
    assert validate_id("foreign-permanent-residence", "USA110075060103").nationality == "USA"
    with pytest.raises(InvalidIdNumber):
        validate_id("no-such-type", "123")


def test_phone():
    assert normalise_phone("+86 139-1234-5678") == "13912345678"
    for bad in ("12912345678", "1391234567", "abc", ""):
        with pytest.raises(InvalidPhone):
            normalise_phone(bad)


def test_names_any_script_rare_characters_and_middle_dot():
    assert normalise_name("阿依古丽·买买提") == "阿依古丽·买买提"
    rare = "王\U00020000"  # CJK Extension B, outside the BMP
    assert normalise_name(rare) == rare
    assert mask_name(rare) == "王*"
    for bad in ("", "张3", "<script>", "·张"):
        with pytest.raises(InvalidName):
            normalise_name(bad)


def test_masks():
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("张三") == "张*"
    assert mask_id("110101199003071234") == "1101**********1234"
    assert mask_phone("13912345678") == "139****5678"


@pytest.mark.parametrize(
    "number",
    [
        "11０１０５１９４９１２３１００２X",  # full-width digits
        "11٠١٠٥١٩٤٩١٢٣١٠٠٢X",  # Arabic-Indic digits
    ],
)
def test_only_ascii_digits_count(number):
    with pytest.raises(InvalidIdNumber):
        validate_id("resident-id", number)


def test_non_ascii_digits_in_permits_and_phones_are_refused():
    with pytest.raises(InvalidIdNumber):
        validate_id("hkm-travel-permit", "H１２３４５６７８")
    with pytest.raises(InvalidPhone):
        normalise_phone("13９１２３４５６７８")
