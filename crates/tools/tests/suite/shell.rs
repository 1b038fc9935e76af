//! `shell_quote` checked against a real bash.

use std::process::Command;

use apprentice_tools::shell_quote;
use proptest::prelude::*;

/// What bash sees as the single argument after word splitting and quote removal.
fn bash_echo(word: &str) -> String {
    let script = format!("printf '%s' {}", shell_quote(word));
    let out = Command::new("bash")
        .args(["-c", &script])
        .output()
        .expect("bash runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tricky_strings_survive_bash() {
    for word in [
        "",
        "plain",
        "two words",
        "it's",
        "'",
        "''",
        "\"",
        "$HOME",
        "`id`",
        "$(id)",
        "a\\b",
        "\\",
        "line\nbreak",
        "*",
        "?",
        "[a]",
        "~",
        "!",
        "!!",
        "a;b",
        "a|b",
        "a&b",
        "<x>",
        "-n",
        "--",
        "#",
        "é日本",
        "\t",
        " lead",
        "trail ",
        "'\"'\"'",
        "%s",
        "a=b",
    ] {
        assert_eq!(bash_echo(word), word, "{word:?} -> {}", shell_quote(word));
    }
}

#[test]
fn plain_words_stay_readable() {
    assert_eq!(shell_quote("src/app.py"), "src/app.py");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_string_survives_bash(word in "[^\\x00]{0,24}") {
        prop_assert_eq!(bash_echo(&word), word);
    }
}
