"""``hotline offices import [FILE]`` and ``hotline offices list``, through the ``hotline`` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.cli import main
from tests.labour_offices.conftest import csv_lines


@pytest.fixture
def hotline_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    return tmp_path


def test_the_sample_is_imported_once_and_listed(
    hotline_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["offices", "import", "--if-empty"]) == 0
    assert "added 50, updated 0, unchanged 0, marked inactive 0, refused 0" in capsys.readouterr().out
    assert main(["offices", "import", "--if-empty"]) == 0
    assert "the directory is not empty, nothing imported" in capsys.readouterr().out
    assert main(["offices", "import"]) == 0
    assert "added 0, updated 0, unchanged 50" in capsys.readouterr().out

    assert main(["offices", "list", "--voivodeship", "Podlaskie"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("20 podlaskie: 4 offices\n")
    assert "PUP-2001   Powiatowy Urząd Pracy w Augustowie — Augustów, tel. 87 000 00 28 (placeholder" in out
    assert "powiats: 2061 m. Białystok, 2002 białostocki" in out
    assert "mazowieckie" not in out
    assert out.endswith("4 active offices shown; 50 in the directory, inactive ones included\n")

    assert main(["offices", "list", "--voivodeship", "33"]) == 2
    assert "unknown voivodeship '33'" in capsys.readouterr().err


def test_refused_rows_are_printed_by_line_and_the_status_says_so(
    hotline_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "PUP-2001,20,,2001 augustowski,Powiatowy Urząd Pracy w Augustowie,Augustów,87 000 00 28,no,"
    bad = "PUP-2062,20,,2062 m. Łomża,Powiatowy Urząd Pracy w Łomży,Łomża,not a number,no,"
    path = hotline_env / "offices.csv"
    path.write_text("\n".join(csv_lines(good, bad)) + "\n", encoding="utf-8")
    assert main(["offices", "import", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"{path}: line 3: bad phone 'not a number' for the office\n"
    assert "added 1, updated 0, unchanged 0, marked inactive 0, refused 1" in captured.out

    spreadsheet = hotline_env / "cp1250.csv"
    spreadsheet.write_bytes("\n".join(csv_lines(good)).encode("cp1250"))
    assert main(["offices", "import", str(spreadsheet)]) == 2
    assert "nothing imported" in (err := capsys.readouterr().err) and "not UTF-8 text" in err

    huge = hotline_env / "huge.csv"
    with huge.open("wb") as out:
        out.truncate(6_000_000)
    assert main(["offices", "import", str(huge)]) == 2
    assert "larger than 5 MB" in capsys.readouterr().err

    assert main(["offices", "import", str(hotline_env / "missing.csv")]) == 2
    assert "No such file" in capsys.readouterr().err
