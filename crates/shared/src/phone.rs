//! The one stored form of a phone number: E.164 (`+` and the country code, digits only), so
//! `+84 90 123 4567` and `+84901234567` are one number. A number is accepted only in
//! international form and only when it can exist (Google's libphonenumber metadata, through the
//! `phonenumber` crate). The service normalises what clients send with it; a migration brings
//! older rows to the same form.

/// The longest number, as written, that is read: E.164 has at most 15 digits, and the
/// separators a person types (spaces, `-`, `.`, parentheses) are allowed around them.
pub const MAX_WRITTEN_LENGTH: usize = 32;

/// What a written number may hold: a `+`, then digits and separators (the pattern the API
/// document states).
pub const WRITTEN_PATTERN: &str = r"^\+[0-9 ().-]{7,31}$";

/// `raw` in E.164 form, or `None` when it is not a `+`, digits and separators, or names no
/// number that can exist.
pub fn normalise(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix('+')?;
    let written = (7..MAX_WRITTEN_LENGTH).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'(' | b')' | b'.' | b'-'));
    if !written {
        return None;
    }
    let number = phonenumber::parse(None, raw).ok()?;
    phonenumber::is_valid(&number)
        .then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn written_forms_of_one_number_are_one_e164_number() {
        for written in [
            "+84901234567",
            "+84 90 123 4567",
            "+84 (90) 123-4567",
            "+84.90.123.4567",
        ] {
            assert_eq!(
                normalise(written).as_deref(),
                Some("+84901234567"),
                "{written}"
            );
        }
        assert_eq!(
            normalise("+1 650-253-0000").as_deref(),
            Some("+16502530000")
        );
    }

    #[test]
    fn national_forms_and_numbers_that_cannot_exist_are_refused() {
        for refused in [
            "0901234567",
            "84901234567",
            "+0000000",
            "+84 1",
            "+999 123 456 789",
            " +84901234567",
            "+84901234567x",
            "tel:+84901234567",
            "",
        ] {
            assert_eq!(normalise(refused), None, "{refused:?}");
        }
    }
}
