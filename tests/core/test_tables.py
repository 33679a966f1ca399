"""Reading what people send: short Windows 'CSV' files, huge cells."""

import pytest

from mobility.core.tables import FILE_CELL_TOO_LARGE, MAX_CELL_CHARS, TableError, read_table


@pytest.mark.parametrize(
    "text",
    [
        "nome\nSão\n",
        "n\nChiúre\n",
        "distrito,provincia\nMocímboa da Praia,Cabo Delgado\nMorrumbala,Zambézia\n",
    ],
)
def test_short_cp1252_files_keep_their_accents(tmp_path, text):
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode("cp1252"))
    table = read_table(path)
    assert table.encoding == "cp1252"
    lines = text.strip().split("\n")
    assert [list(row.values()) for _, row in table] == [line.split(",") for line in lines[1:]]


def test_a_huge_cell_is_refused_with_its_row(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n3," + "x" * (MAX_CELL_CHARS + 10) + "\n")
    with pytest.raises(TableError) as err:
        list(read_table(path))
    assert str(err.value) == FILE_CELL_TOO_LARGE.format(row=3, limit=MAX_CELL_CHARS)


def test_quotes_and_semicolons_inside_cells_do_not_fool_the_delimiter_guess(tmp_path):
    """Found by hypothesis: csv.Sniffer read this comma file as semicolon-separated."""
    path = tmp_path / "f.csv"
    path.write_text('admin1_name,admin2_name,population\n,";\'","\';"\n', encoding="cp1252")
    table = read_table(path, encoding="cp1252")
    assert table.columns == ["admin1_name", "admin2_name", "population"]
    assert [row for _, row in table] == [{"admin1_name": "", "admin2_name": ";'", "population": "';"}]
