//! Every environment variable the programs read is declared with `shared::variables!`, so it is
//! in an `ALL` list (which the `.env.example` test and the process tests use): no code reads a
//! variable by a literal name.

use std::path::{Path, PathBuf};

/// The source files of the programs (tests and benches left out: they may read what they like).
fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = [
        "crates/shared/src",
        "crates/user-service/src",
        "migrations/src",
        "seeds/src",
    ]
    .iter()
    .map(|dir| root.join(dir))
    .collect();
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        {
            let path = entry.unwrap_or_else(|error| panic!("{error}")).path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn no_program_reads_an_environment_variable_by_a_literal_name() {
    // The ways the code reads a variable, each followed by a literal name when it bypasses the
    // declared constants.
    let patterns = [
        "env.get(\"",
        "(env, \"",
        "std::env::var(\"",
        "std::env::var_os(\"",
        "env::var(\"",
    ];
    let mut offenders = Vec::new();
    for path in sources() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        // Unit tests inside a source file build maps of names on purpose.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (number, line) in code.lines().enumerate() {
            if patterns.iter().any(|pattern| line.contains(pattern)) {
                offenders.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "read through a `variables!` constant instead:\n{}",
        offenders.join("\n")
    );
}
