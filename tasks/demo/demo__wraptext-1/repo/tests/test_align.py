from wraptext import center, fill_paragraphs, justify


def test_justify_distributes_extra_space_left_first():
    assert justify("a bb c", 9) == "a   bb  c"


def test_justify_leaves_single_word_alone():
    assert justify("word", 10) == "word"


def test_center():
    assert center("ab", 7, "*") == "**ab***"
    assert center("toolong", 3) == "toolong"


def test_fill_paragraphs_keeps_paragraphs_apart():
    text = "alpha beta gamma\n\n\ndelta epsilon"
    assert fill_paragraphs(text, 11) == "alpha beta\ngamma\n\ndelta\nepsilon"
