//! The fake OAuth provider as a program, to try sign-in by hand:
//!
//!     cargo run -p test-support --bin fake-oauth
//!
//! It listens on 127.0.0.1:4010 (`FAKE_OAUTH_PORT` to change it), prints the settings that make
//! the user-service use it for Google, Facebook and TikTok, and runs until Ctrl-C. Everyone who
//! signs in is the same made-up person.

use test_support::oauth::FakeProvider;

#[tokio::main]
async fn main() {
    let port = match std::env::var("FAKE_OAUTH_PORT") {
        Err(_) => 4010,
        Ok(raw) => match raw.trim().parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("FAKE_OAUTH_PORT: expected a port number, got {raw:?}");
                std::process::exit(2);
            }
        },
    };
    let provider = FakeProvider::start_on(port).await;
    println!("fake OAuth provider on {}", provider.url);
    println!("start the user-service with these settings (e.g. in .env):\n");
    for (name, value) in provider.env() {
        println!("{name}={value}");
    }
    println!(
        "\nthen open http://localhost:4001/auth/oauth/google/start?redirect_uri={}",
        provider.app_url()
    );
    let _ = tokio::signal::ctrl_c().await;
}
