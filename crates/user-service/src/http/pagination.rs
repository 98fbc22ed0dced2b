//! Keyset pages on the wire: `?limit=` (1–100, default 20) and an opaque `?cursor=` from the
//! previous page, answered as `{"data": [...], "meta": {"limit", "next_cursor"}}`. What a page
//! is lives in `domain::paging`; this is only how it travels.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use crate::domain::paging::{self, Cursor, Direction, PageRequest};
use crate::domain::values::Limit;

/// The page a list request asks for: `limit` (validated when parsed) and `cursor`.
pub fn page_request(
    limit: Option<Limit>,
    cursor: Option<&str>,
    direction: Direction,
) -> Result<PageRequest, ApiError> {
    let after = match cursor {
        None => None,
        Some(text) => Some(decode(text, direction).ok_or_else(|| {
            ApiError::invalid(
                "cursor is not a cursor of this list (take next_cursor from the previous page)",
            )
        })?),
    };
    Ok(PageRequest {
        limit: limit.unwrap_or_default(),
        after,
        direction,
    })
}

/// A cursor names its list's direction, so one cannot be replayed on the other.
fn tag(direction: Direction) -> char {
    match direction {
        Direction::NewestFirst => 'd',
        Direction::OldestFirst => 'a',
    }
}

fn encode(cursor: Cursor, direction: Direction) -> String {
    let raw = format!(
        "{}{}.{}",
        tag(direction),
        cursor.created_at.timestamp_micros(),
        cursor.id.simple()
    );
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode(text: &str, direction: Direction) -> Option<Cursor> {
    let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
    let raw = std::str::from_utf8(&raw).ok()?;
    let rest = raw.strip_prefix(tag(direction))?;
    let (micros, id) = rest.split_once('.')?;
    let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    // Rows are stamped by the service; a time outside 1970–9999 is no cursor of ours (and
    // PostgreSQL would refuse some of them).
    let valid = (0..=253_402_300_799_999_999).contains(&created_at.timestamp_micros());
    valid.then_some(Cursor {
        created_at,
        id: Uuid::try_parse(id).ok()?,
    })
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub meta: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PageMeta {
    /// The page size used.
    #[schema(example = 20, minimum = 1, maximum = 100)]
    pub limit: u64,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `page` with each row in its representation.
    pub fn new<R>(page: paging::Page<R>, represent: impl FnMut(R) -> T) -> Self {
        Self {
            meta: PageMeta {
                limit: page.limit.get(),
                next_cursor: page.next.map(|cursor| encode(cursor, page.direction)),
            },
            data: page.rows.into_iter().map(represent).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_belongs_to_one_direction() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        let text = encode(cursor, Direction::NewestFirst);
        assert_eq!(decode(&text, Direction::NewestFirst), Some(cursor));
        assert_eq!(decode(&text, Direction::OldestFirst), None);
        assert_eq!(decode("not-a-cursor", Direction::NewestFirst), None);
        let ancient =
            URL_SAFE_NO_PAD.encode(format!("d-8000000000000000000.{}", cursor.id.simple()));
        assert_eq!(decode(&ancient, Direction::NewestFirst), None);
    }
}
