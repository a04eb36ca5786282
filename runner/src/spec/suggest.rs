//! "Did you mean" suggestions for misspelled keys, enum values and names.

/// Finds the candidate closest to `input` by Jaro-Winkler similarity, if any is close enough
/// (similarity at least 0.8) to be a plausible typo.
pub fn nearest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(input, candidate);
        if score >= 0.8 && best.is_none_or(|(_, best_score)| score > best_score) {
            best = Some((candidate, score));
        }
    }
    best.map(|(candidate, _)| candidate)
}

/// Builds a help line for an unknown name: the nearest candidate, or the list of valid ones.
pub fn help_for(input: &str, candidates: &[&str]) -> Option<String> {
    if let Some(near) = nearest(input, candidates.iter().copied()) {
        return Some(format!("did you mean `{near}`?"));
    }
    if candidates.is_empty() {
        return None;
    }
    let mut list: Vec<String> = Vec::new();
    for candidate in candidates {
        let quoted = format!("`{candidate}`");
        if !list.contains(&quoted) {
            list.push(quoted);
        }
    }
    Some(format!("expected one of {}", list.join(", ")))
}

/// Message and help for an unknown name, e.g. ``unknown field `group_sise`, did you
/// mean `group_size`?``; `what` is the kind of name ("field", "stage kind", ...).
pub fn unknown_name(what: &str, input: &str, candidates: &[&str]) -> (String, Option<String>) {
    match nearest(input, candidates.iter().copied()) {
        Some(near) => (format!("unknown {what} `{input}`, did you mean `{near}`?"), None),
        None => (format!("unknown {what} `{input}`"), help_for(input, candidates)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_one_letter_typo() {
        assert_eq!(nearest("group_sise", ["group_size", "kl_coef", "name"]), Some("group_size"));
    }

    #[test]
    fn nearest_rejects_unrelated_names() {
        assert_eq!(nearest("zzz", ["group_size", "kl_coef"]), None);
    }

    #[test]
    fn help_lists_candidates_when_none_is_near() {
        assert_eq!(help_for("zzz", &["a1", "b2"]).as_deref(), Some("expected one of `a1`, `b2`"));
    }
}
