//! Password hashing, shared by the seed and the service: argon2id stored as a PHC string.
//!
//! Production always uses OWASP's recommended parameters ([`HashCost::Owasp`]: 19 MiB, 2 passes,
//! 1 lane). [`HashCost::Minimal`] exists for test suites only; nothing in the environment selects
//! it, so a deployment cannot pick it up by accident. Verification reads the parameters from the
//! stored PHC string, so a hash made at one cost verifies under any configured cost.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

    /// A hash with this cost's parameters that no known password matches: what a login without
    /// a stored hash verifies against, so that it takes as long as any other. The OWASP one is a
    /// constant (the hash of 32 random bytes, thrown away), so starting costs no hashing.
    pub fn unmatched_hash(self) -> Result<String, HashError> {
        match self {
            Self::Owasp => Ok(UNMATCHED_OWASP.to_owned()),
            Self::Minimal => {
                let secret: String = random_bytes::<32>()
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                hash(&secret, self)
            }
        }
    }
}

const UNMATCHED_OWASP: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZzDOcVU31YaIuZ/R7mG7bA$vdUCNW+K4/hS7dSbFzAAuAPlwjMvig21DslXOICRXBU";

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
    verify_with(password, phc, &mut Scratch::default())
}

/// [`verify`] in `scratch`'s memory: a thread that verifies many passwords reuses the same
/// 19 MiB instead of allocating (and faulting in) a fresh block each time.
pub fn verify_with(password: &str, phc: &str, scratch: &mut Scratch) -> bool {
    verify_in(password, phc, scratch).unwrap_or(false)
}

/// `None` when `phc` is no argon2 PHC string this crate can verify.
fn verify_in(password: &str, phc: &str, scratch: &mut Scratch) -> Option<bool> {
    let parsed = PasswordHash::new(phc).ok()?;
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(version) => Version::try_from(version).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    let mut salt_buffer = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buffer).ok()?;
    let blocks = scratch.blocks(params.block_count());
    let hasher = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        Ok(hasher.hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)?)
    })
    .ok()?;
    // `Output`'s equality is constant-time.
    Some(computed == expected)
}

/// argon2's working memory, kept between verifications by one thread.
#[derive(Default)]
pub struct Scratch {
    blocks: Vec<Block>,
}

impl Scratch {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks = vec![Block::default(); count];
        }
        &mut self.blocks[..count]
    }

    /// Gives the memory back.
    pub fn release(&mut self) {
        self.blocks = Vec::new();
    }
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
    fn one_scratch_verifies_hashes_of_any_cost_in_any_order_as_argon2_itself_does() {
        use argon2::password_hash::PasswordVerifier;
        let owasp = hash("Admin@123", HashCost::Owasp).unwrap();
        let minimal = hash("Test@1234", HashCost::Minimal).unwrap();
        let mut scratch = Scratch::default();
        for (password, phc) in [
            ("Admin@123", &owasp),
            ("Test@1234", &minimal),
            ("Test@1234", &owasp),
            ("Admin@123", &owasp),
            ("Admin@123", &minimal),
        ] {
            let parsed = PasswordHash::new(phc).unwrap();
            let by_argon2 = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            assert_eq!(verify_with(password, phc, &mut scratch), by_argon2);
            scratch.release();
            assert_eq!(verify_with(password, phc, &mut scratch), by_argon2);
        }
        assert!(verify_with("Admin@123", &owasp, &mut scratch));
    }

    #[test]
    fn the_unmatched_hashes_have_their_costs_parameters_and_match_no_password() {
        for cost in [HashCost::Owasp, HashCost::Minimal] {
            let unmatched = cost.unmatched_hash().unwrap();
            let made = hash("Admin@123", cost).unwrap();
            let parameters = |phc: &str| phc.rsplitn(3, '$').nth(2).map(str::to_owned);
            assert_eq!(parameters(&unmatched), parameters(&made), "{cost:?}");
            // Some(false): a real argon2 verification that did not match, not a string refused
            // (which would make a login without a stored hash answer fast).
            let mut scratch = Scratch::default();
            assert_eq!(verify_in("", &unmatched, &mut scratch), Some(false));
            assert_eq!(
                verify_in("Admin@123", &unmatched, &mut scratch),
                Some(false)
            );
        }
    }

    #[test]
    fn a_value_that_is_not_a_phc_string_matches_nothing() {
        assert!(!verify("", ""));
        assert!(!verify("Admin@123", "Admin@123"));
    }
}
