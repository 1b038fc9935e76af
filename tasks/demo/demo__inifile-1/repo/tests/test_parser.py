import pytest

from inifile import IniSyntaxError, load, loads

SAMPLE = """\
# service configuration
[DEFAULT]
timeout = 30
debug = no

[server]
Host = example.org
port: 8080
debug = yes

[paths]
search =
    /usr/share/app
    /opt/app
"""


def test_sections_in_order():
    ini = loads(SAMPLE)
    assert ini.sections() == ["server", "paths"]
    assert list(ini) == ["server", "paths"]


def test_keys_are_case_insensitive_and_stripped():
    ini = loads(SAMPLE)
    assert ini.get("server", "host") == "example.org"
    assert ini.get("server", "HOST") == "example.org"


def test_colon_separator_and_typed_getters():
    ini = loads(SAMPLE)
    assert ini.getint("server", "port") == 8080
    assert ini.getbool("server", "debug") is True


def test_defaults_are_inherited():
    ini = loads(SAMPLE)
    assert ini.getint("paths", "timeout") == 30
    assert ini.getbool("paths", "debug") is False


def test_continuation_lines():
    ini = loads(SAMPLE)
    assert ini.getlist("paths", "search") == ["/usr/share/app", "/opt/app"]


def test_missing_key_and_default():
    ini = loads(SAMPLE)
    with pytest.raises(KeyError):
        ini.get("server", "nope")
    assert ini.get("server", "nope", "fallback") == "fallback"


def test_syntax_errors_report_line_numbers():
    with pytest.raises(IniSyntaxError, match="line 2"):
        loads("[a]\njust some words\n")
    with pytest.raises(IniSyntaxError, match="line 1"):
        loads("key = value\n")


def test_load_from_file(tmp_path):
    path = tmp_path / "app.ini"
    path.write_text("[db]\nname = shop\n", encoding="utf-8")
    assert load(path).get("db", "name") == "shop"
