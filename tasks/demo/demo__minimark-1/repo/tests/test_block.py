from minimark import render


def test_headings():
    assert render("# Title\n### Sub ###") == "<h1>Title</h1>\n<h3>Sub</h3>"


def test_paragraphs_are_joined_and_split_on_blank_lines():
    assert render("one\ntwo\n\nthree") == "<p>one two</p>\n<p>three</p>"


def test_bullet_list():
    assert render("- apples\n* **pears**") == (
        "<ul>\n<li>apples</li>\n<li><strong>pears</strong></li>\n</ul>"
    )


def test_fenced_code_block_is_verbatim():
    doc = "```\nif a < b:\n    **x**\n```"
    assert render(doc) == "<pre><code>if a &lt; b:\n    **x**</code></pre>"


def test_mixed_document():
    doc = "# Notes\n\nIntro *text*.\n- first\n- second\n\nBye"
    assert render(doc) == (
        "<h1>Notes</h1>\n<p>Intro <em>text</em>.</p>\n"
        "<ul>\n<li>first</li>\n<li>second</li>\n</ul>\n<p>Bye</p>"
    )
