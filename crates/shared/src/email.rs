//! The one stored form of an email address: trimmed, lower-cased, and its domain in IDNA's ASCII
//! form (`jane@bücher.example` is stored as `jane@xn--bcher-kva.example`), so the Unicode and
//! the punycode spellings of one address are one account. The service normalises what clients
//! send with it; a migration brings older rows to the same form.

/// `raw` in its stored form, or `None` when its domain is not a valid internationalised domain
/// name. (Whether the rest is an email address is the caller's check.)
pub fn normalise(raw: &str) -> Option<String> {
    let lowered = raw.trim().to_lowercase();
    let Some((local, domain)) = lowered.rsplit_once('@') else {
        return Some(lowered);
    };
    if domain.is_ascii() {
        return Some(lowered);
    }
    let ascii = idna::domain_to_ascii(domain).ok()?;
    Some(format!("{local}@{ascii}"))
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn unicode_and_punycode_domains_are_one_form() {
        assert_eq!(
            normalise(" Jane@Bücher.Example "),
            Some("jane@xn--bcher-kva.example".to_owned())
        );
        assert_eq!(
            normalise("jane@xn--bcher-kva.example"),
            normalise("jane@bücher.example")
        );
        assert_eq!(
            normalise("Admin@ChatAI.com"),
            Some("admin@chatai.com".to_owned())
        );
    }
}
