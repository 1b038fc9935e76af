import pytest

from semver import compare, max_version, sort_versions


def test_basic_ordering():
    assert compare("1.0.0", "2.0.0") == -1
    assert compare("2.1.0", "2.0.9") == 1
    assert compare("1.2.10", "1.2.9") == 1
    assert compare("1.2.3", "1.2.3") == 0


def test_build_metadata_is_ignored():
    assert compare("1.0.0+build.1", "1.0.0+build.2") == 0


@pytest.mark.parametrize(
    "lower, higher",
    [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.1-alpha"),
    ],
)
def test_prerelease_ordering(lower, higher):
    assert compare(lower, higher) == -1
    assert compare(higher, lower) == 1


def test_sort_versions_keeps_original_objects():
    versions = ["1.10.0", "1.2.0", "1.9.3"]
    assert sort_versions(versions) == ["1.2.0", "1.9.3", "1.10.0"]
    assert sort_versions(versions, reverse=True) == ["1.10.0", "1.9.3", "1.2.0"]


def test_max_version():
    assert max_version(["0.9.0", "0.10.0", "0.9.12"]) == "0.10.0"
    assert max_version([]) is None
    assert max_version(["1.0.0-rc.1", "0.9.0"], include_prerelease=False) == "0.9.0"
