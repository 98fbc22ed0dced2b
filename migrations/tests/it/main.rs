//! The migration crate's tests, in one binary: the schema as the catalog shows it, the
//! database's behaviour, drift between entities and schema, and the CLI.

mod behaviour;
mod cli;
mod docs;
mod drift;
mod schema;

/// Runs one async check against a fresh PostgreSQL database and a fresh SQLite file.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(test_support::postgres_or_skip!()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(test_support::TestDatabase::sqlite().await).await;
                }
            )*
        }
    };
}
