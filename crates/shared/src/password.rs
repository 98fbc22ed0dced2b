//! Password hashing, shared by the seed and the service: argon2id stored as a PHC string.
//!
//! Production always uses OWASP's recommended parameters ([`HashCost::Owasp`]: 19 MiB, 2 passes,
//! 1 lane). [`HashCost::Minimal`] exists for test suites only; nothing in the environment selects
//! it, so a deployment cannot pick it up by accident. Verification reads the parameters from the
//! stored PHC string, so a hash made at one cost verifies under any configured cost.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// How expensive a new hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashCost {
    /// OWASP's argon2id recommendation: m=19456 KiB, t=2, p=1.
    #[default]
    Owasp,
    /// The cheapest parameters argon2 accepts (m=8 KiB, t=1): for tests, set in code only.
    Minimal,
}

impl HashCost {
    fn params(self) -> Params {
        let (memory_kib, passes) = match self {
            Self::Owasp => (19 * 1024, 2),
            Self::Minimal => (Params::MIN_M_COST, Params::MIN_T_COST),
        };
        // Both sets are within argon2's bounds; fall back to the default rather than panic.
        Params::new(memory_kib, passes, 1, None).unwrap_or_default()
    }

    fn hasher(self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params())
    }
}

/// Why a hash could not be made (argon2 refused the input, e.g. a password over its length
/// limit). The message never contains the password.
#[derive(Debug, Clone, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// The argon2id PHC string of `password`. CPU-heavy: call it off the async runtime.
pub fn hash(password: &str, cost: HashCost) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    cost.hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| HashError(error.to_string()))
}

/// Whether `password` matches the PHC string `phc` (its own parameters are used). A string that
/// is not a PHC hash matches nothing. CPU-heavy: call it off the async runtime.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    HashCost::Owasp
        .hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// `N` bytes from the operating system's secure random source (for generated secrets).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use argon2::password_hash::rand_core::RngCore;
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_phc_strings_with_owasp_parameters() {
        let first = hash("Admin@123", HashCost::Owasp).unwrap();
        let second = hash("Admin@123", HashCost::Owasp).unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("Admin@123", &first));
        assert!(!verify("admin@123", &first));
    }

    #[test]
    fn a_minimal_cost_hash_verifies_with_its_own_parameters() {
        let phc = hash("Test@1234", HashCost::Minimal).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(verify("Test@1234", &phc));
        assert!(!verify("Test@12345", &phc));
    }

    #[test]
    fn a_value_that_is_not_a_phc_string_matches_nothing() {
        assert!(!verify("", ""));
        assert!(!verify("Admin@123", "Admin@123"));
    }
}
