"""Reading the import file, without a database: every rule names the line that breaks it."""

from __future__ import annotations

import pytest

from hotline.labour_offices.records import ImportFileError, parse_lines
from tests.labour_offices.conftest import HEADER, csv_lines

AUGUSTOW = (
    "PUP-2001,20,podlaskie,2001 augustowski,Powiatowy Urząd Pracy w Augustowie,Augustów,87 000 00 28,yes,"
)


def test_a_good_row_becomes_an_office_in_e164() -> None:
    parsed = parse_lines(
        csv_lines(
            "pup-2061,20,Podlaskie, 2061 m. Białystok | 2002 białostocki ,Powiatowy Urząd Pracy w Białymstoku"
            ",Białystok,+48 85 000 00 29,,Łapy: 85 000 10 29|Choroszcz"
        )
    )
    assert parsed.refusals == []
    [(line, office)] = parsed.records
    assert line == 2
    assert office.code == "PUP-2061"
    assert office.phone == "+48850000029"
    assert office.phone_verified is False
    assert [(p.teryt, p.name) for p in office.powiats] == [("2061", "m. Białystok"), ("2002", "białostocki")]
    assert [(b.town, b.phone) for b in office.branches] == [("Łapy", "+48850001029"), ("Choroszcz", None)]
    assert "lapy" in office.search_terms and "bialostocki" in office.search_terms


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("PUP-3301,33,,3301 x,Urząd,Miasto,22 000 00 01,no,", "unknown voivodeship '33'"),
        ("PUP-2001,20,mazowieckie,2001 augustowski,Urząd,Augustów,87 000 00 01,no,", "is podlaskie, not"),
        ("PUP-2001,20,,2001 augustowski,Urząd,Augustów,12345,no,", "bad phone '12345' for the office"),
        ("PUP-2001,20,,2001 augustowski,Urząd,Augustów,87 000 00 01; rm -rf /,no,", "bad phone"),
        ("PUP-2001,20,,2001 augustowski,,Augustów,87 000 00 01,no,", "missing name"),
        ("PUP-2001,20,,,Urząd,,87 000 00 01,no,", "missing powiats; missing town"),
        (",20,,2001 augustowski,Urząd,Augustów,87 000 00 01,no,", "missing code"),
        ("PUP 2001,20,,2001 augustowski,Urząd,Augustów,87 000 00 01,no,", "code 'PUP 2001' is not"),
        (
            "PUP-2001,20,,1465 m.st. Warszawa,Urząd,Augustów,87 000 00 01,no,",
            "powiat 1465 is not in voivodeship",
        ),
        ("PUP-2001,20,,20 augustowski,Urząd,Augustów,87 000 00 01,no,", "TERYT code of four digits"),
        ("PUP-2001,20,,2001,Urząd,Augustów,87 000 00 01,no,", "powiat 2001 has no name"),
        ("PUP-2001,20,,2001 a|2001 a,Urząd,Augustów,87 000 00 01,no,", "powiat 2001 is listed twice"),
        ("PUP-2001,20,,2001 augustowski,Urząd,Augustów,87 000 00 01,maybe,", "phone_verified is 'maybe'"),
        (
            "PUP-2001,20,,2001 augustowski,Urząd,Augustów,87 000 00 01,no,Lipsk: 000",
            "for the branch in Lipsk",
        ),
        ("PUP-2001,20,,2001 augustowski,Urząd,Augustów,87 000 00 01,no", "8 fields, the header has 9"),
        ("PUP-2001,20,,2001 augustowski,Urz\x07ąd,Augustów,87 000 00 01,no,", "control character in name"),
        ("PUP-2001,20,,2001 augustowski,Urz\rąd,Augustów,87 000 00 01,no,", "not CSV"),
        ("PUP-2001," + "x" * 5000, "longer than 4000 characters"),
    ],
)
def test_a_bad_row_is_refused_with_its_line_and_reason(row: str, reason: str) -> None:
    parsed = parse_lines(["# a comment", "", HEADER, row, AUGUSTOW.replace("PUP-2001", "PUP-2099")])
    assert [office.code for _, office in parsed.records] == ["PUP-2099"]  # the good row after it stays
    [refusal] = parsed.refusals
    assert refusal.line == 4
    assert reason in refusal.reason, refusal.reason


def test_a_code_or_a_powiat_given_twice_refuses_the_later_row() -> None:
    parsed = parse_lines(
        csv_lines(
            AUGUSTOW,
            AUGUSTOW.replace("Augustowie", "Augustowie (2)"),
            AUGUSTOW.replace("PUP-2001", "PUP-2002"),
            AUGUSTOW.replace("PUP-2001", "PUP-2009").replace("2001 augustowski", "2009 sejneński"),
        )
    )
    assert [(line, office.code) for line, office in parsed.records] == [(2, "PUP-2001"), (5, "PUP-2009")]
    assert [str(refusal) for refusal in parsed.refusals] == [
        "line 3: code PUP-2001 appears twice (first on line 2)",
        "line 4: powiat 2001 is already served by PUP-2001 (line 2)",
    ]


def test_codes_of_refused_rows_are_known() -> None:
    parsed = parse_lines(csv_lines(AUGUSTOW.replace("87 000 00 28", "none")))
    assert parsed.records == []
    assert parsed.codes == {"PUP-2001"}


def test_columns_in_any_order_separated_by_semicolons() -> None:
    parsed = parse_lines(
        [
            "phone;name;town;code;powiats;voivodeship",
            "87 000 00 28;Powiatowy Urząd Pracy w Augustowie;Augustów;PUP-2001;2001 augustowski;20",
        ]
    )
    assert parsed.refusals == []
    assert parsed.records[0][1].town == "Augustów"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "no header line"),
        (["# only a comment"], "no header line"),
        (["code,voivodeship,powiats,name,town"], "line 1: the header lacks column(s) phone"),
        ([HEADER + ",fax"], "line 1: unknown column(s) 'fax'"),
        ([HEADER + "," * 5000], "line 1: a header longer than 4000 characters"),
        (["code,\rname"], "line 1: the header is not CSV"),
        (["code,code,voivodeship,powiats,name,town,phone"], "line 1: column(s) named twice: code"),
    ],
)
def test_a_file_without_a_usable_header_is_refused_whole(lines: list[str], message: str) -> None:
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_lines(lines)
