//! "Did you mean" for near-miss names: environments, services, commands, config keys.

/// The candidate closest to `typed`, if it is close enough that suggesting it helps more than
/// it confuses. Jaro-Winkler rewards a shared prefix (`prdo` → `prod`), and the edit-distance
/// bound catches transpositions in short words that Jaro-Winkler scores low.
pub fn did_you_mean<'a, I>(typed: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let typed = typed.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| !c.is_empty() && *c != typed)
        .map(|c| {
            let jw = strsim::jaro_winkler(&typed, c);
            let edits = strsim::damerau_levenshtein(&typed, c);
            let close = edits <= 1 || (edits <= 2 && c.len() > 4) || jw >= 0.88;
            (c, close, jw)
        })
        .filter(|(_, close, _)| *close)
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(c, _, _)| c)
}

/// ` — did you mean `x`?`, or nothing, ready to append to a message.
pub fn hint<'a, I>(typed: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match did_you_mean(typed, candidates) {
        Some(s) => format!(" — did you mean `{s}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_and_nothing_for_strangers() {
        let envs = ["dev", "staging", "prod"];
        assert_eq!(did_you_mean("prodd", envs), Some("prod"));
        assert_eq!(did_you_mean("prdo", envs), Some("prod"));
        assert_eq!(did_you_mean("stagign", envs), Some("staging"));
        assert_eq!(did_you_mean("STAGIGN", envs), Some("staging"));
        assert_eq!(did_you_mean("banana", envs), None);
        assert_eq!(
            did_you_mean("prod", envs),
            None,
            "an exact match needs no suggestion"
        );
        assert_eq!(
            hint("deplyo", ["deploy", "rollback"]),
            " — did you mean `deploy`?"
        );
    }
}
