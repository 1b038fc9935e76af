from minimark import escape_html, render_inline


def test_plain_text_is_escaped():
    assert render_inline('a < b & "c"') == "a &lt; b &amp; &quot;c&quot;"


def test_escape_does_not_double_escape():
    assert escape_html("<&>") == "&lt;&amp;&gt;"


def test_strong():
    assert render_inline("this is **important**") == "this is <strong>important</strong>"


def test_emphasis():
    assert render_inline("an *emphasised* word") == "an <em>emphasised</em> word"


def test_strong_and_emphasis_together():
    assert render_inline("**bold** and *soft*") == "<strong>bold</strong> and <em>soft</em>"


def test_link():
    assert (
        render_inline("see [the docs](https://example.org/a?b=1)")
        == 'see <a href="https://example.org/a?b=1">the docs</a>'
    )


def test_code_span_is_not_formatted():
    assert render_inline("use `a*b*c` here") == "use <code>a*b*c</code> here"
    assert render_inline("`<tag>`") == "<code>&lt;tag&gt;</code>"
