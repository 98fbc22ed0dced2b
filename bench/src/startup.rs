//! Launch to first 200: the service must bind before it waits on anything.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn health_is_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

pub async fn run(binary: &str, runs: usize) -> Result<(), String> {
    for _ in 0..runs {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| error.to_string())?
            .port();
        let started = Instant::now();
        let mut child = Command::new(binary)
            .env("USER_SERVICE_HOST", "127.0.0.1")
            .env("USER_SERVICE_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("{binary}: {error}"))?;
        let elapsed = loop {
            if health_is_ok(port) {
                break started.elapsed();
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                return Err("the service did not answer /health within 10 s".to_owned());
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let _ = child.kill();
        let _ = child.wait();
        println!("{:.2}", elapsed.as_secs_f64() * 1000.0);
    }
    Ok(())
}
