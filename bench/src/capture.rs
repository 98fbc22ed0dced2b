//! A pgbench script from the statements the service sent, as PostgreSQL logged them with
//! `log_statement = 'all'`: the same SQL text with the same bound values, so pgbench measures
//! what the database does for one request, without the service.
//!
//! Each `$n` becomes the pgbench variable `:pn`, defined with `-D pn=value` (one definition a
//! line in the defines file), so with `-M prepared` pgbench prepares the statement and binds the
//! values as the service does. A `NULL` value, or an empty string (pgbench cannot define an
//! empty variable), is written into the text. One change: an `INSERT` makes its `id` and its
//! timestamps fresh in each transaction, as the service does ([`TIME_ORDERED_ID`], a UUIDv7
//! like the service's, and `clock_timestamp()`): replaying the service's id would violate the
//! primary key from the second transaction on, and a random one would land anywhere in the
//! index where the service's land at its right edge.

use std::fmt::Write as _;

/// One statement as logged: its text and its parameters (`None` for `NULL`).
#[derive(Debug, PartialEq)]
struct Logged {
    sql: String,
    parameters: Vec<Option<String>>,
}

pub fn run(
    log: &str,
    from: u64,
    database: &str,
    script: &str,
    defines: &str,
) -> Result<(), String> {
    let bytes = std::fs::read(log).map_err(|error| format!("{log}: {error}"))?;
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    let statements = parse(&text, database);
    if statements.is_empty() {
        return Err(format!(
            "no statement of database {database} in {log} after byte {from}: is log_statement = 'all' set?"
        ));
    }
    let (script_text, defines_text) = render(&statements);
    std::fs::write(script, script_text).map_err(|error| format!("{script}: {error}"))?;
    std::fs::write(defines, defines_text).map_err(|error| format!("{defines}: {error}"))?;
    for statement in &statements {
        println!("{}", statement.sql);
    }
    Ok(())
}

/// The statements of `database` in a PostgreSQL log (Debian's prefix `%m [%p] %q%u@%d `),
/// with the parameters of the `DETAIL` line that follows each `execute`.
fn parse(text: &str, database: &str) -> Vec<Logged> {
    let marker = format!("@{database} ");
    // Join continuation lines (those not starting with a timestamp) to their entry.
    let mut entries: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts_entry = line.len() > 4 && line.as_bytes()[..4].iter().all(u8::is_ascii_digit);
        match entries.last_mut() {
            Some(last) if !starts_entry => {
                last.push('\n');
                last.push_str(line.trim_start_matches('\t'));
            }
            _ => entries.push(line.to_owned()),
        }
    }
    let mut statements: Vec<Logged> = Vec::new();
    for entry in entries {
        let Some((_, rest)) = entry.split_once(&marker) else {
            continue;
        };
        if let Some(statement) = rest.strip_prefix("LOG:  statement: ") {
            statements.push(Logged {
                sql: statement.to_owned(),
                parameters: Vec::new(),
            });
        } else if let Some(execute) = rest.strip_prefix("LOG:  execute ") {
            if let Some((_, sql)) = execute.split_once(": ") {
                statements.push(Logged {
                    sql: sql.to_owned(),
                    parameters: Vec::new(),
                });
            }
        } else if let Some(detail) = rest.strip_prefix("DETAIL:  parameters: ")
            && let Some(last) = statements.last_mut()
        {
            last.parameters = parameters(detail);
        }
    }
    statements
}

/// `$1 = 'a''b', $2 = NULL` → `[Some("a'b"), None]`.
fn parameters(detail: &str) -> Vec<Option<String>> {
    let mut values = Vec::new();
    let mut chars = detail.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '=' {
            continue;
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut value = String::new();
            while let Some(c) = chars.next() {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                        value.push('\'');
                    } else {
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            values.push(Some(value));
        } else {
            // NULL
            values.push(None);
        }
    }
    values
}

/// A UUIDv7 made by PostgreSQL 15 (which has no function for it): the milliseconds of
/// `clock_timestamp()`, the version, random bits, the variant, random bits.
const TIME_ORDERED_ID: &str = "(lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') \
     || '7' || lpad(to_hex(floor(random() * 4096)::int), 3, '0') \
     || to_hex(8 + floor(random() * 4)::int) || lpad(to_hex(floor(random() * 4096)::int), 3, '0') \
     || lpad(to_hex(floor(random() * 281474976710656)::bigint), 12, '0'))::uuid";

/// What an `INSERT` makes fresh for each row instead of the logged value, by column.
fn generated(column: &str) -> Option<&'static str> {
    match column {
        "\"id\"" => Some(TIME_ORDERED_ID),
        "\"created_at\"" | "\"updated_at\"" => Some("clock_timestamp()"),
        _ => None,
    }
}

fn render(statements: &[Logged]) -> (String, String) {
    let mut script = String::new();
    let mut defines = String::new();
    for (index, statement) in statements.iter().enumerate() {
        let fresh = inserted_columns(&statement.sql);
        let mut sql = String::new();
        let mut rest = statement.sql.as_str();
        while let Some(dollar) = rest.find('$') {
            sql.push_str(&rest[..dollar]);
            let digits: String = rest[dollar + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            rest = &rest[dollar + 1 + digits.len()..];
            let Ok(number) = digits.parse::<usize>() else {
                sql.push('$');
                continue;
            };
            if let Some(expression) = fresh
                .get(number.wrapping_sub(1))
                .and_then(|column| generated(column))
            {
                sql.push_str(expression);
                continue;
            }
            let value = number
                .checked_sub(1)
                .and_then(|at| statement.parameters.get(at).cloned().flatten());
            match value {
                // pgbench cannot define an empty variable.
                Some(value) if value.is_empty() => sql.push_str("''"),
                Some(value) => {
                    let name = format!("s{index}p{number}");
                    let _ = write!(sql, ":{name}");
                    let _ = writeln!(defines, "{name}={value}");
                }
                None => sql.push_str("NULL"),
            }
        }
        sql.push_str(rest);
        let _ = writeln!(script, "{};", sql.replace('\n', " "));
    }
    (script, defines)
}

/// For `INSERT INTO "t" ("id", ...) VALUES ($1, ...)`: the column names in order, the n-th
/// filled by parameter n (one row, as the entities insert). Empty for any other statement.
fn inserted_columns(sql: &str) -> Vec<&str> {
    let columns = || {
        let rest = sql.strip_prefix("INSERT INTO ")?;
        let columns = &rest[rest.find('(')? + 1..];
        Some(&columns[..columns.find(')')?])
    };
    columns()
        .map(|list| list.split(',').map(str::trim).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2026-11-25 17:40:01.100 UTC [11] postgres@other LOG:  execute sqlx_s_1: SELECT 2
2026-11-25 17:40:01.123 UTC [12] postgres@bench LOG:  execute sqlx_s_1: SELECT \"a\" FROM \"t\" WHERE \"id\" = $1 AND \"x\" = $2 AND \"z\" = $3 AND \"y\" = $10
2026-11-25 17:40:01.123 UTC [12] postgres@bench DETAIL:  parameters: $1 = 'it''s', $2 = NULL, $3 = '', $4 = '4', $5 = '5', $6 = '6', $7 = '7', $8 = '8', $9 = '9', $10 = 'ten'
2026-11-25 17:40:01.124 UTC [12] postgres@bench LOG:  statement: BEGIN
2026-11-25 17:40:01.125 UTC [12] postgres@bench LOG:  execute sqlx_s_2: INSERT INTO \"m\" (\"id\", \"body\", \"created_at\") VALUES ($1, $2, $3)
\tRETURNING \"id\"
2026-11-25 17:40:01.125 UTC [12] postgres@bench DETAIL:  parameters: $1 = '0193', $2 = 'hello, world', $3 = '2026-11-25 17:40:01.125+00'
";

    #[test]
    fn only_the_named_database_statements_are_parsed_with_their_parameters() {
        let statements = parse(LOG, "bench");
        assert_eq!(statements.len(), 3);
        assert_eq!(
            statements[0].parameters[..3],
            [Some("it's".to_owned()), None, Some(String::new())]
        );
        assert_eq!(statements[1].sql, "BEGIN");
        assert_eq!(
            statements[2].sql,
            "INSERT INTO \"m\" (\"id\", \"body\", \"created_at\") VALUES ($1, $2, $3)\nRETURNING \"id\""
        );
    }

    #[test]
    fn the_script_binds_variables_inlines_nulls_and_empty_strings_and_makes_inserted_ids_and_times_fresh()
     {
        let (script, defines) = render(&parse(LOG, "bench"));
        assert_eq!(
            script,
            format!(
                "SELECT \"a\" FROM \"t\" WHERE \"id\" = :s0p1 AND \"x\" = NULL AND \"z\" = '' AND \"y\" = :s0p10;\n\
             BEGIN;\n\
             INSERT INTO \"m\" (\"id\", \"body\", \"created_at\") VALUES ({TIME_ORDERED_ID}, :s2p2, clock_timestamp()) RETURNING \"id\";\n"
            )
        );
        assert_eq!(defines, "s0p1=it's\ns0p10=ten\ns2p2=hello, world\n");
    }
}
