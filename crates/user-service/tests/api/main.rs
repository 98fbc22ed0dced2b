//! The user-service over real HTTP: the real app on a random port, against a fresh PostgreSQL
//! database and against SQLite, with a TCP proxy in front of PostgreSQL to make it go down,
//! come back and hang.

mod auth;
mod binary;
mod conversations;
mod defences;
mod docs;
mod faults;
mod health;
mod helpers;
mod http;
mod migration_lock;
mod oauth;
mod phone;
mod probe;
mod projects;
mod proxy;
mod replicas;
mod repository;
mod sessions;
mod throttle;
mod users;
