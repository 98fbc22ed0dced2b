//! Keyset pages on the wire: `?limit=` (1–100, default 20) and an opaque `?cursor=` from the
//! previous page, answered as `{"data": [...], "meta": {"limit", "next_cursor"}}`. What a page
//! is lives in `domain::paging`; this is only how it travels.

use chrono::DateTime;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, Error as _};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::domain::paging::{self, Cursor, Direction, PageRequest};
use crate::domain::values::Limit;

/// The page a list request asks for: `limit` and `cursor`, both checked when parsed.
pub fn page_request(
    limit: Option<Limit>,
    cursor: Option<PageCursor>,
    direction: Direction,
) -> PageRequest {
    PageRequest {
        limit: limit.unwrap_or_default(),
        after: cursor.map(|cursor| cursor.0),
        direction,
    }
}

/// `?cursor=`: the place after which a page starts, as `next_cursor` wrote it. Any string of
/// its form is a place in the list (a time and an id), so a page always starts somewhere; a
/// client has no reason to build one, but nothing breaks if it does.
#[derive(Debug, Clone, Copy)]
pub struct PageCursor(Cursor);

/// The form of a cursor: microseconds since 1970, a dot, the row id's 32 hex digits.
const CURSOR_PATTERN: &str = "^[0-9]{1,18}[.][0-9a-f]{32}$";

/// The last microsecond a row can carry (9999-12-31T23:59:59.999999Z); later places are
/// clamped to it (and PostgreSQL refuses times past it).
const LAST_MICROSECOND: i64 = 253_402_300_799_999_999;

fn encode(cursor: Cursor) -> String {
    format!(
        "{}.{}",
        cursor.created_at.timestamp_micros(),
        cursor.id.simple()
    )
}

fn decode(text: &str) -> Option<Cursor> {
    let (micros, id) = text.split_once('.')?;
    let digits = micros.len();
    if !(1..=18).contains(&digits) || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let micros: i64 = micros.parse().ok()?;
    Some(Cursor {
        created_at: DateTime::from_timestamp_micros(micros.min(LAST_MICROSECOND))?,
        id: Uuid::try_parse(id).ok()?,
    })
}

impl<'de> Deserialize<'de> for PageCursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode(&text).map(Self).ok_or_else(|| {
            D::Error::custom(
                "is not a cursor of this list (take next_cursor from the previous page)",
            )
        })
    }
}

impl PartialSchema for PageCursor {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(CURSOR_PATTERN))
            .description(Some("`meta.next_cursor` of the previous page."))
            .into()
    }
}

impl ToSchema for PageCursor {}

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
                next_cursor: page.next.map(encode),
            },
            data: page.rows.into_iter().map(represent).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_any_of_its_form_is_a_place() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(decode(&encode(cursor)), Some(cursor));
        assert_eq!(decode("not-a-cursor"), None);
        assert_eq!(decode(""), None);
        let far = decode("999999999999999999.0123456789abcdef0123456789abcdef");
        let far = far.map(|cursor| cursor.created_at.timestamp_micros());
        assert_eq!(
            far,
            Some(LAST_MICROSECOND),
            "clamped to the last time a row can have"
        );
    }
}
