#!/usr/bin/env bash
# Builds a real SWE-bench-format instance from PyPI, with no GitHub access: a local git mirror
# of python/typing_extensions made from two releases' source distributions, and the instance
# of the one bug fixed between them.
#
# typing_extensions 4.6.3 (June 2023) fixed a regression of 4.6.0 in runtime-checkable
# protocols (backport of CPython PR 105152): `issubclass()` on a protocol with non-method
# members raised the wrong TypeError, or none, instead of "issubclass() arg 1 must be a
# class". Between 4.6.2 and 4.6.3 only that fix changed the code, so:
#
#   base_commit  the 4.6.2 sdist, committed        patch       git diff of src/typing_extensions.py
#   (4.6.3 is the second commit, as upstream)      test_patch  git diff of src/test_typing_extensions.py
#   FAIL_TO_PASS the test the fix made pass        PASS_TO_PASS tests of the fix's test class that
#                                                               pass before and after
#
# Commits use fixed names and dates, so the same sdists give the same commit ids everywhere.
#
# Usage: scripts/real-instance.sh OUT_DIR
#   OUT_DIR/repos/python/typing_extensions   the mirror (pass `--repos OUT_DIR/repos`)
#   OUT_DIR/instances.json                   the instance (pass `--tasks OUT_DIR/instances.json`)
# Env: APPRENTICE_CACHE (sdists are cached in $APPRENTICE_CACHE/sdists, default
#      ~/.cache/apprentice/sdists), PYTHON (default python3, needs pip).
set -euo pipefail
out="${1:?usage: $0 OUT_DIR}"
python="${PYTHON:-python3}"
cache="${APPRENTICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/apprentice}/sdists"
old=4.6.2
new=4.6.3
mkdir -p "$cache" "$out"
out="$(cd "$out" && pwd)"

fetch() {
    local version="$1" file="$cache/typing_extensions-$1.tar.gz"
    if [ ! -s "$file" ]; then
        "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
            --no-binary :all: "typing_extensions==$version" -d "$cache" >&2
    fi
    echo "$file"
}

repo="$out/repos/python/typing_extensions"
rm -rf "$repo"
mkdir -p "$repo"
git -C "$repo" init -q -b main
commit() {
    local version="$1" date="$2" tarball
    tarball="$(fetch "$version")"
    find "$repo" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
    tar -xzf "$tarball" -C "$repo" --strip-components=1
    # An empty index first: the releases' files keep their sdist times and sizes, which git's
    # stat check alone can take for unchanged.
    git -C "$repo" rm -rq --cached --ignore-unmatch .
    git -C "$repo" add -A
    GIT_AUTHOR_NAME=typing_extensions GIT_AUTHOR_EMAIL=release@pypi.invalid \
        GIT_COMMITTER_NAME=typing_extensions GIT_COMMITTER_EMAIL=release@pypi.invalid \
        GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
        git -C "$repo" -c commit.gpgsign=false commit -q -m "typing_extensions $version (sdist)"
    git -C "$repo" rev-parse HEAD
}
base="$(commit "$old" "2023-05-25T13:13:20Z")"
fix="$(commit "$new" "2023-06-01T23:39:19Z")"

patch="$(git -C "$repo" diff "$base" "$fix" -- src/typing_extensions.py)"
test_patch="$(git -C "$repo" diff "$base" "$fix" -- src/test_typing_extensions.py)"
t=src/test_typing_extensions.py::ProtocolTests
PATCH="$patch" TEST_PATCH="$test_patch" BASE="$base" T="$t" "$python" - >"$out/instances.json" <<'EOF'
import json, os
t = os.environ["T"]
print(json.dumps([{
    "instance_id": "python__typing_extensions-4.6.3",
    "repo": "python/typing_extensions",
    "base_commit": os.environ["BASE"],
    "environment_setup_commit": os.environ["BASE"],
    "version": "4.6",
    "created_at": "2023-06-01T23:39:19Z",
    "problem_statement": (
        "issubclass() against a runtime-checkable Protocol with non-method members does not "
        "raise `TypeError: issubclass() arg 1 must be a class` when its first argument is not "
        "a class (a regression in 4.6.0: `issubclass(C(), P)` must fail like `issubclass(1, int)`)."
    ),
    "hints_text": "",
    "patch": os.environ["PATCH"] + "\n",
    "test_patch": os.environ["TEST_PATCH"] + "\n",
    "FAIL_TO_PASS": [f"{t}::test_issubclass_fails_correctly"],
    "PASS_TO_PASS": [f"{t}::{name}" for name in [
        "test_runtime_alias",
        "test_protocols_issubclass_non_callable",
        "test_protocols_isinstance",
        "test_no_weird_caching_with_issubclass_after_isinstance",
        "test_runtime_checkable_generic",
        "test_interaction_with_isinstance_checks_on_superclasses_with_ABCMeta",
        "test_interaction_with_isinstance_checks_on_superclasses_with_ABCMeta_2",
    ]],
}], indent=1))
EOF
echo "mirror:   $repo (base $base, fix $fix)" >&2
echo "instance: $out/instances.json" >&2
