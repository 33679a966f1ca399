"""The table reader gives back exactly the cells a spreadsheet program wrote, whatever the encoding and delimiter."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.core.tables import read_table

HEADER = ["admin1_name", "admin2_name", "population"]
# Letters field data holds (accents, cedillas), digits and the punctuation that makes quoting hard.
CP1252_TEXT = st.text(
    alphabet=st.sampled_from(
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,;\"'-./()")
        + list("éèêàâãçñüöÀÉÓíóúÔœ€’")
    ),
    max_size=20,
)
ANY_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="|\t#\ufeff\x85"
    ),
    max_size=20,
)


def cells(text_strategy, min_rows: int = 1):
    cell = text_strategy.map(str.strip)
    row = st.lists(cell, min_size=3, max_size=3).filter(lambda r: any(r))
    return st.lists(row, min_size=min_rows, max_size=30)


# Words as they appear in Mozambican and Pakistani place names, for the encoding guesser: it needs
# text shaped like language, and a handful of random accented letters is not (see the note below).
PLACE_WORDS = st.sampled_from(
    "Zambézia Moçambique Caniçado Manhiça Chókwè Gurué São Tomé Nhamatanda Cuamba Marracuene Inhassoro "
    "Lichinga Namaacha Ilha de Sede Distrito Cidade Muzaffarabad Dera Ismail Khan Bagh Kotli 12 3,5 "
    "(Sede) Pemba-Metuge N'gauma Mueda; Mocímboa da Praia Nampula Vilankulo Ribáuè".split()
)
PLACE_TEXT = st.lists(PLACE_WORDS, min_size=1, max_size=4).map(" ".join)


def round_trip(
    rows: list[list[str]], encoding: str, delimiter: str, *, tell_encoding: bool = False
) -> list[list[str]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        with path.open("w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL)
            writer.writerow(HEADER)
            writer.writerows(rows)
        table = read_table(path, header_row=1, encoding=encoding if tell_encoding else None)
        assert table.columns == HEADER
        return [[row[c] for c in HEADER] for _number, row in table]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=cells(ANY_TEXT),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
    delimiter=st.sampled_from([",", ";"]),
)
def test_utf8_cells_round_trip(rows, encoding, delimiter):
    assert round_trip(rows, encoding, delimiter) == rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=cells(PLACE_TEXT, min_rows=8), delimiter=st.sampled_from([",", ";"]))
def test_windows_1252_place_names_round_trip(rows, delimiter):
    """A cp1252 file ("CSV" from Excel on Windows) is recognised and read back letter for letter.

    At least a few rows: a file holding only "São" is too little text to tell cp1252 from cp437.
    """
    assert round_trip(rows, "cp1252", delimiter) == rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=cells(CP1252_TEXT), delimiter=st.sampled_from([",", ";"]))
def test_any_windows_1252_text_round_trips_when_the_encoding_is_known(rows, delimiter):
    # Guessing the encoding of a few random accented letters is not possible (a lone "À" is as
    # likely Mac Roman "¿"), so this checks the parsing with the encoding given.
    assert round_trip(rows, "cp1252", delimiter, tell_encoding=True) == rows
