//! The migration crate's tests, in one binary: the schema as the catalog shows it, the
//! database's behaviour, drift between entities and schema, and the CLI.

mod behaviour;
mod cli;
mod docs;
mod drift;
mod emails;
mod lock;
mod phones;
mod quoted_messages;
mod schema;
mod sessions;
mod tls;
