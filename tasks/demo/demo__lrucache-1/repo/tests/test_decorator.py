from lru import lru_cached


def test_results_are_memoized():
    calls = []

    @lru_cached(maxsize=4)
    def square(x):
        calls.append(x)
        return x * x

    assert [square(2), square(2), square(3)] == [4, 4, 9]
    assert calls == [2, 3]
    assert square.__name__ == "square"


def test_keyword_arguments_are_part_of_the_key():
    @lru_cached()
    def power(base, exp=2):
        return base**exp

    assert power(3) == 9
    assert power(3, exp=3) == 27
    assert len(power.cache) == 2


def test_cache_clear():
    @lru_cached()
    def ident(x):
        return x

    ident(1)
    ident.cache_clear()
    assert len(ident.cache) == 0
