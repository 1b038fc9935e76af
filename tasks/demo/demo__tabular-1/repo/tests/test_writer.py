from tabular import TSV, format_field, write_records, write_rows, read_records


def test_plain_fields_are_not_quoted():
    assert write_rows([["a", 1, None], ["x", 2.5, "y"]]) == "a,1,\nx,2.5,y\n"


def test_quotes_are_doubled():
    assert format_field('say "hi"') == '"say ""hi"""'


def test_newlines_and_edge_whitespace_are_quoted():
    assert format_field("two\nlines") == '"two\nlines"'
    assert format_field(" padded") == '" padded"'


def test_tsv_writer():
    assert write_rows([["a b", "c"]], TSV) == "a b\tc\n"


def test_records_round_trip():
    records = [{"sku": "MUG-1", "qty": "3"}, {"sku": "TEE-M", "qty": ""}]
    text = write_records(records)
    assert text == "sku,qty\nMUG-1,3\nTEE-M,\n"
    assert read_records(text) == records
