//! `docs/BENCHMARKS.md` from the samples `run.sh` collected: every figure as median and spread
//! (min–max over the repetitions), and each target as a ratio measured in the same run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

struct Samples(BTreeMap<String, Vec<f64>>);

impl Samples {
    fn parse(text: &str) -> Self {
        let mut map: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            if let (Some(metric), Some(value)) = (parts.next(), parts.next())
                && let Ok(value) = value.parse::<f64>()
            {
                map.entry(metric.to_owned()).or_default().push(value);
            }
        }
        Self(map)
    }

    fn median(&self, metric: &str) -> Option<f64> {
        let mut values = self.0.get(metric)?.clone();
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        Some(if values.len() % 2 == 0 {
            (values[middle - 1] + values[middle]) / 2.0
        } else {
            values[middle]
        })
    }

    /// Responses that were not 2xx, plus socket errors, over every run of `load` (wrk's name).
    /// The sum of every sample of `metric` (0 when there is none).
    fn total(&self, metric: &str) -> f64 {
        self.0.get(metric).into_iter().flatten().sum()
    }

    fn failures(&self, load: &str) -> f64 {
        ["non2xx", "socket_errors"]
            .iter()
            .filter_map(|kind| self.0.get(&format!("{load}_{kind}")))
            .flatten()
            .sum()
    }

    fn spread(&self, metric: &str) -> String {
        match self.0.get(metric) {
            Some(values) if !values.is_empty() => {
                let min = values.iter().copied().fold(f64::INFINITY, f64::min);
                let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                format!("{} – {} (n={})", number(min), number(max), values.len())
            }
            _ => "not measured".to_owned(),
        }
    }
}

fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// One line of the targets table.
struct Target {
    what: String,
    measured: Option<f64>,
    limit: f64,
    /// true: measured must be at least `limit`; false: at most.
    at_least: bool,
    unit: &'static str,
    /// Failed requests behind the figure: a throughput with failures does not count.
    failures: f64,
}

impl Target {
    fn row(&self) -> String {
        if self.failures > 0.0 {
            return format!(
                "| {} | {} failed requests | {} | | **invalid** |",
                self.what,
                self.failures,
                self.limit_text()
            );
        }
        match self.measured {
            None => format!(
                "| {} | not measured | {} | | |",
                self.what,
                self.limit_text()
            ),
            Some(value) => {
                let (ratio, met) = if self.at_least {
                    (value / self.limit, value >= self.limit)
                } else {
                    (value / self.limit, value <= self.limit)
                };
                // A limit of zero has no ratio to it.
                let ratio = if self.limit == 0.0 {
                    "–".to_owned()
                } else {
                    format!("{ratio:.2}")
                };
                format!(
                    "| {} | {} {} | {} | {} | {} |",
                    self.what,
                    number(value),
                    self.unit,
                    self.limit_text(),
                    ratio,
                    if met { "met" } else { "**missed**" }
                )
            }
        }
    }

    fn limit_text(&self) -> String {
        format!(
            "{} {} {}",
            if self.at_least { "≥" } else { "≤" },
            number(self.limit),
            self.unit
        )
    }
}

fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> Option<f64> {
    Some(numerator? / denominator?)
}

fn difference(after: Option<f64>, before: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}

pub fn write(samples: &str, context: &str, output: &str) -> Result<(), String> {
    let samples = Samples::parse(
        &std::fs::read_to_string(samples).map_err(|error| format!("{samples}: {error}"))?,
    );
    let context =
        std::fs::read_to_string(context).map_err(|error| format!("{context}: {error}"))?;
    let mb = |metric: &str| samples.median(metric).map(|kb| kb / 1024.0);
    let mut targets = vec![
        Target {
            what: "`/health` throughput ÷ baseline (32 connections), median of the rounds".into(),
            measured: samples.median("health_ratio"),
            limit: 0.8,
            at_least: true,
            unit: "×",
            failures: samples.failures("health") + samples.failures("baseline"),
        },
        Target {
            what: "`/health/db` throughput ÷ pgbench `SELECT 1` TPS (clients = pool size), median of the rounds".into(),
            measured: samples.median("health_db_ratio"),
            limit: 0.5,
            at_least: true,
            unit: "×",
            failures: samples.failures("health_db"),
        },
        Target {
            what: "Resident memory, idle".into(),
            measured: mb("rss_idle_kb"),
            limit: 20.0,
            at_least: false,
            unit: "MB",
            failures: 0.0,
        },
        Target {
            what: "Resident memory, after the whole run".into(),
            measured: mb("rss_after_run_kb"),
            limit: 40.0,
            at_least: false,
            unit: "MB",
            failures: 0.0,
        },
        Target {
            what: "Resident memory, peak (through the login flood)".into(),
            measured: mb("rss_login_peak_kb"),
            limit: 80.0,
            at_least: false,
            unit: "MB",
            failures: 0.0,
        },
        Target {
            what: "Start-up: launch to first 200 from `/health` (PostgreSQL), median of 10".into(),
            measured: samples.median("startup_ms"),
            limit: 50.0,
            at_least: false,
            unit: "ms",
            failures: 0.0,
        },
        Target {
            what: "Delete one user (10 000 own rows): 1 M ÷ 100 k rows of other users".into(),
            measured: ratio(
                samples.median("cascade_1000000_ms"),
                samples.median("cascade_100000_ms"),
            ),
            limit: 2.0,
            at_least: false,
            unit: "×",
            failures: 0.0,
        },
        Target {
            what: "`migration up` on an empty database".into(),
            measured: samples.median("migrate_up_ms"),
            limit: 1000.0,
            at_least: false,
            unit: "ms",
            failures: 0.0,
        },
        Target {
            what: "`migration down` on an empty database".into(),
            measured: samples.median("migrate_down_ms"),
            limit: 1000.0,
            at_least: false,
            unit: "ms",
            failures: 0.0,
        },
    ];
    targets.extend(api_targets(&samples));

    let mut page = String::new();
    let _ = writeln!(
        page,
        "# Benchmarks\n\nWritten by `bench/run.sh` (rerun it to refresh this page). Load generator, service and\n\
         database share this machine's cores, so every target is a ratio measured in the same run,\n\
         or an absolute bound from the issue. Figures are medians; the spread is min – max over the\n\
         repetitions.\n\n## Machine and versions\n\n```text\n{}```\n\n## Targets\n\n\
         | Target | Measured | Limit | Ratio to limit | |\n|---|---|---|---|---|",
        context
    );
    for target in &targets {
        let _ = writeln!(page, "{}", target.row());
    }
    let _ = writeln!(
        page,
        "\n## Every figure\n\n| Metric | Median | Spread |\n|---|---|---|"
    );
    let labels = [
        ("health_ratio", "`/health` ÷ baseline, per round (A B B A)"),
        (
            "health_db_ratio",
            "`/health/db` ÷ pgbench, per round (A B B A)",
        ),
        ("baseline_rps", "baseline `/health`, requests/s"),
        ("baseline_p50_ms", "baseline `/health`, p50 latency (ms)"),
        ("baseline_p99_ms", "baseline `/health`, p99 latency (ms)"),
        ("health_rps", "service `/health`, requests/s"),
        ("health_p50_ms", "service `/health`, p50 latency (ms)"),
        ("health_p99_ms", "service `/health`, p99 latency (ms)"),
        ("health_db_rps", "service `/health/db`, requests/s"),
        ("health_db_p50_ms", "service `/health/db`, p50 latency (ms)"),
        ("health_db_p99_ms", "service `/health/db`, p99 latency (ms)"),
        (
            "health_db_round_trips_per_request",
            "PostgreSQL round trips per `/health/db` request (from `pg_stat_database`)",
        ),
        ("pgbench_tps", "pgbench `SELECT 1`, transactions/s"),
        (
            "pgbench_latency_ms",
            "pgbench `SELECT 1`, mean latency (ms)",
        ),
        ("rss_idle_kb", "resident memory idle (KiB)"),
        (
            "rss_after_load_kb",
            "resident memory after the health load (KiB)",
        ),
        (
            "rss_login_peak_kb",
            "resident memory, peak of the run (KiB)",
        ),
        (
            "rss_after_run_kb",
            "resident memory after the whole run (KiB)",
        ),
        ("startup_ms", "start-up to first 200 (ms)"),
        (
            "cascade_100000_ms",
            "delete user, 100 k rows of others (ms)",
        ),
        ("cascade_1000000_ms", "delete user, 1 M rows of others (ms)"),
        ("migrate_up_ms", "`migration up`, whole process (ms)"),
        ("migrate_down_ms", "`migration down`, whole process (ms)"),
        (
            "seed_ms",
            "`seed` on a migrated database, whole process (ms)",
        ),
    ];
    let api_labels = api_labels();
    let labels = labels
        .iter()
        .map(|(metric, label)| ((*metric).to_owned(), (*label).to_owned()))
        .chain(api_labels);
    for (metric, label) in labels {
        if let Some(median) = samples.median(&metric) {
            let _ = writeln!(
                page,
                "| {label} | {} | {} |",
                number(median),
                samples.spread(&metric)
            );
        }
    }
    std::fs::write(output, page).map_err(|error| format!("{output}: {error}"))
}

/// The endpoints measured against pgbench of the statements they send: (samples name, label).
const AGAINST_PGBENCH: [(&str, &str); 5] = [
    ("me", "`GET /auth/me`"),
    ("project", "`GET /projects/{id}`"),
    ("conversation", "`GET /conversations/{id}`"),
    ("projects", "`GET /projects`, a member of 50 projects"),
    ("post_message", "`POST /conversations/{id}/messages`"),
];

/// Loads measured without a pgbench counterpart.
const OTHER_LOADS: [(&str, &str); 10] = [
    (
        "messages_first",
        "`GET /conversations/{id}/messages`, first page",
    ),
    (
        "messages_deep",
        "`GET /conversations/{id}/messages`, the deep page",
    ),
    ("login", "`POST /auth/login`"),
    ("me_alone", "`GET /auth/me` on 4 connections"),
    (
        "me_flooded",
        "`GET /auth/me` on 4 connections, under a login flood",
    ),
    (
        "me_before",
        "`GET /auth/me` before sessions (a fresh seeded database)",
    ),
    (
        "me_after",
        "`GET /auth/me` with the session check (a fresh seeded database)",
    ),
    (
        "refresh",
        "`POST /auth/refresh`, each request spending a live token",
    ),
    (
        "phone_wrong_code",
        "`POST /auth/phone/verify`, a wrong code for one number from every connection",
    ),
    (
        "me_code_flooded",
        "`GET /auth/me` on 4 connections, beside a wrong-code flood",
    ),
];

fn api_targets(samples: &Samples) -> Vec<Target> {
    let mut targets = Vec::new();
    for (name, label) in AGAINST_PGBENCH {
        targets.push(Target {
            what: format!("{label} throughput ÷ pgbench of its statements, median of the rounds"),
            measured: samples.median(&format!("{name}_ratio")),
            limit: 0.5,
            at_least: true,
            unit: "×",
            failures: samples.failures(name),
        });
    }
    for (name, label) in &AGAINST_PGBENCH[..3] {
        targets.push(Target {
            what: format!("{label}: database round trips per request"),
            measured: samples.median(&format!("{name}_round_trips")),
            limit: 2.0,
            at_least: false,
            unit: "round trips",
            failures: 0.0,
        });
    }
    targets.extend([
        Target {
            what: "Messages: time of the deep page ÷ the first page, median of the rounds".into(),
            measured: samples.median("deep_page_ratio"),
            limit: 1.5,
            at_least: false,
            unit: "×",
            failures: samples.failures("messages_first") + samples.failures("messages_deep"),
        },
        Target {
            what:
                "`POST /auth/login` ÷ bare argon2id verifications/s (same parameters, same bound)"
                    .into(),
            measured: samples.median("login_ratio"),
            limit: 0.9,
            at_least: true,
            unit: "×",
            failures: samples.failures("login"),
        },
        Target {
            what: "`GET /auth/me` with the session check ÷ before sessions, median of the rounds"
                .into(),
            measured: samples.median("me_session_ratio"),
            limit: 0.95,
            at_least: true,
            unit: "×",
            failures: samples.failures("me_before") + samples.failures("me_after"),
        },
        Target {
            what: "`GET /auth/me`: statements with the session check − before (pg_stat_statements)"
                .into(),
            measured: difference(
                samples.median("me_statements_after"),
                samples.median("me_statements_before"),
            ),
            limit: 0.0,
            at_least: false,
            unit: "statements",
            failures: 0.0,
        },
        Target {
            what: "Wrong phone codes refused/s ÷ bare argon2id verifications/s (no argon2 on the path)"
                .into(),
            measured: samples.median("phone_code_argon2_ratio"),
            limit: 10.0,
            at_least: true,
            unit: "×",
            failures: samples.total("phone_wrong_code_accepted")
                + samples.total("phone_wrong_code_socket_errors"),
        },
        Target {
            what: "`GET /auth/me` p99 beside a wrong-code flood ÷ without it".into(),
            measured: samples.median("code_flood_p99_ratio"),
            limit: 5.0,
            at_least: false,
            unit: "×",
            failures: samples.failures("me_alone")
                + samples.failures("me_code_flooded")
                + samples.total("code_flood_socket_errors"),
        },
        Target {
            what: "`GET /auth/me` p99 under a login flood ÷ without it".into(),
            measured: samples.median("flood_p99_ratio"),
            limit: 5.0,
            at_least: false,
            unit: "×",
            failures: samples.failures("me_alone")
                + samples.failures("me_flooded")
                + samples.failures("flood_login"),
        },
    ]);
    targets
}

fn api_labels() -> Vec<(String, String)> {
    let mut labels = vec![
        (
            "dataset_build_s".to_owned(),
            "data set build (s)".to_owned(),
        ),
        (
            "member_projects".to_owned(),
            "projects the signed-in user is a member of".to_owned(),
        ),
    ];
    for (name, label) in AGAINST_PGBENCH {
        labels.extend([
            (
                format!("{name}_ratio"),
                format!("{label} ÷ pgbench, per round (A B B A)"),
            ),
            (
                format!("{name}_round_trips"),
                format!("{label}, database round trips per request"),
            ),
            (
                format!("{name}_pgbench_tps"),
                format!("pgbench, the statements of {label}, transactions/s"),
            ),
            (
                format!("{name}_pgbench_latency_ms"),
                format!("pgbench, the statements of {label}, mean latency (ms)"),
            ),
        ]);
    }
    for (name, label) in AGAINST_PGBENCH.iter().chain(&OTHER_LOADS) {
        labels.extend([
            (format!("{name}_rps"), format!("{label}, requests/s")),
            (
                format!("{name}_p50_ms"),
                format!("{label}, p50 latency (ms)"),
            ),
            (
                format!("{name}_p99_ms"),
                format!("{label}, p99 latency (ms)"),
            ),
        ]);
    }
    labels.extend([
        (
            "deep_page_ratio".to_owned(),
            "deep page time ÷ first page time, per round".to_owned(),
        ),
        (
            "argon2_verifications_per_s".to_owned(),
            "bare argon2id verifications/s (OWASP parameters, one thread a core)".to_owned(),
        ),
        (
            "login_ratio".to_owned(),
            "logins ÷ bare verifications, per round (A B B A)".to_owned(),
        ),
        (
            "phone_code_argon2_ratio".to_owned(),
            "wrong phone codes/s ÷ bare argon2id verifications/s, per round".to_owned(),
        ),
        (
            "phone_wrong_code_accepted".to_owned(),
            "wrong phone codes not refused (must be 0), per round".to_owned(),
        ),
        (
            "code_flood_p99_ratio".to_owned(),
            "`/auth/me` p99 beside wrong codes ÷ alone, per round (A B B A)".to_owned(),
        ),
        (
            "flood_p99_ratio".to_owned(),
            "`/auth/me` p99 flooded ÷ alone, per round (A B B A)".to_owned(),
        ),
        (
            "me_session_ratio".to_owned(),
            "`/auth/me` with the session check ÷ before sessions, per round (A B B A)".to_owned(),
        ),
        (
            "me_statements_before".to_owned(),
            "`/auth/me` before sessions, statements per request (pg_stat_statements)".to_owned(),
        ),
        (
            "me_statements_after".to_owned(),
            "`/auth/me` with the session check, statements per request (pg_stat_statements)"
                .to_owned(),
        ),
    ]);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread_of_repetitions() {
        let samples = Samples::parse("a 3\na 1\na 2\nb 4\nb 6\nnoise\n");
        assert_eq!(samples.median("a"), Some(2.0));
        assert_eq!(samples.median("b"), Some(5.0));
        assert_eq!(samples.spread("a"), "1.00 – 3.00 (n=3)");
        assert_eq!(samples.median("c"), None);
    }

    #[test]
    fn a_target_row_states_the_ratio_and_whether_it_was_met() {
        let row = Target {
            what: "x".into(),
            measured: Some(30.0),
            limit: 20.0,
            at_least: false,
            unit: "MB",
            failures: 0.0,
        }
        .row();
        assert_eq!(row, "| x | 30.00 MB | ≤ 20.00 MB | 1.50 | **missed** |");
    }

    #[test]
    fn a_throughput_with_failed_requests_is_invalid() {
        let samples = Samples::parse("health_non2xx 0\nhealth_non2xx 3\nhealth_socket_errors 2\n");
        assert_eq!(samples.failures("health"), 5.0);
        let row = Target {
            what: "x".into(),
            measured: Some(0.9),
            limit: 0.8,
            at_least: true,
            unit: "×",
            failures: samples.failures("health"),
        }
        .row();
        assert_eq!(row, "| x | 5 failed requests | ≥ 0.80 × | | **invalid** |");
    }
}
