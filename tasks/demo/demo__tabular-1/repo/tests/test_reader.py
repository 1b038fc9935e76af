import pytest

from tabular import TSV, CsvError, read_rows


def test_simple_rows():
    assert read_rows("a,b,c\n1,2,3\n") == [["a", "b", "c"], ["1", "2", "3"]]


def test_missing_final_newline_and_empty_fields():
    assert read_rows("a,,c\n,") == [["a", "", "c"], ["", ""]]


def test_quoted_fields_with_delimiters_and_newlines():
    text = 'name,address\n"Smith, John","1 Main St\nSpringfield"\n'
    assert read_rows(text) == [["name", "address"], ["Smith, John", "1 Main St\nSpringfield"]]


def test_line_endings_and_blank_lines():
    assert read_rows("a,b\r\n\r\n1,2\r3,4") == [["a", "b"], ["1", "2"], ["3", "4"]]


def test_quoted_empty_field_is_kept():
    assert read_rows('""\n') == [[""]]


def test_unterminated_quote():
    with pytest.raises(CsvError):
        read_rows('a,"b\n')


def test_tsv_dialect():
    assert read_rows("x\ty, z\n", TSV) == [["x", "y, z"]]
