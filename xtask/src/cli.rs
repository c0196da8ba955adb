//! The little command-line parsing the tasks share: option values that must be whole numbers, and
//! errors for unknown options that list the valid ones.
//!
//! Each task has one or two options, so a `match` over the arguments reads better than a parser
//! library's declarations (and keeps xtask's dependencies few); what a library would add is the
//! messages, and those are here.

use anyhow::{Context, anyhow};

/// The value of option `flag` when `arg` is that option: `--flag VALUE` takes the next argument
/// from `rest`, `--flag=VALUE` its own tail. `None` when `arg` is another argument; `Some(None)`
/// when the option is there but its value is missing.
pub fn value<'a>(
    flag: &str,
    arg: &'a str,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Option<Option<&'a str>> {
    if arg == flag {
        return Some(rest.next().map(String::as_str));
    }
    arg.strip_prefix(flag)
        .and_then(|tail| tail.strip_prefix('='))
        .map(Some)
}

/// Parses the value of option `flag` as a whole number of at least 1, with a message that says
/// what was expected and what came: "--repeat takes a whole number, got 'x'".
pub fn whole_number(flag: &str, value: Option<&str>) -> anyhow::Result<u32> {
    let value = value.with_context(|| format!("{flag} takes a whole number, got nothing"))?;
    match value.parse::<u32>() {
        Ok(0) => Err(anyhow!("{flag} takes a whole number of 1 or more, got '0'")),
        Ok(n) => Ok(n),
        Err(_) => Err(anyhow!("{flag} takes a whole number, got '{value}'")),
    }
}

/// The error for an option that `cargo xtask <task>` does not have, listing the ones it has
/// (`valid`, each with its value, e.g. `--repeat N`).
pub fn unknown_option(task: &str, arg: &str, valid: &[&str]) -> anyhow::Error {
    if valid.is_empty() {
        anyhow!("`cargo xtask {task}` has no option `{arg}`: it takes no options")
    } else {
        anyhow!(
            "`cargo xtask {task}` has no option `{arg}`; its options are: {}",
            valid.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn values_come_after_the_flag_or_after_an_equals_sign() {
        let args = strings(&["7", "rest"]);
        let mut rest = args.iter();
        assert_eq!(value("--repeat", "--repeat", &mut rest), Some(Some("7")));
        assert_eq!(rest.next().map(String::as_str), Some("rest"));
        assert_eq!(value("--repeat", "--repeat", &mut rest), Some(None));
        let mut none = [].iter();
        assert_eq!(value("--repeat", "--repeat=3", &mut none), Some(Some("3")));
        assert_eq!(value("--repeat", "--repeater", &mut none), None);
        assert_eq!(value("--repeat", "2.1", &mut none), None);
    }

    #[test]
    fn whole_numbers_say_what_they_expected_and_what_came() {
        assert_eq!(whole_number("--repeat", Some("20")).unwrap(), 20);
        let message = |v| whole_number("--repeat", v).unwrap_err().to_string();
        assert_eq!(message(Some("x")), "--repeat takes a whole number, got 'x'");
        assert_eq!(message(Some("-1")), "--repeat takes a whole number, got '-1'");
        assert_eq!(
            message(Some("0")),
            "--repeat takes a whole number of 1 or more, got '0'"
        );
        assert_eq!(message(None), "--repeat takes a whole number, got nothing");
    }

    #[test]
    fn unknown_options_list_the_valid_ones() {
        assert_eq!(
            unknown_option("verify", "--fast", &["--repeat N"]).to_string(),
            "`cargo xtask verify` has no option `--fast`; its options are: --repeat N"
        );
        assert_eq!(
            unknown_option("compare", "-x", &[]).to_string(),
            "`cargo xtask compare` has no option `-x`: it takes no options"
        );
    }
}
