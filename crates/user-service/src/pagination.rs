//! Keyset pagination, the one way every list pages: `?limit=` (1–100, default 20) and an opaque
//! `?cursor=` from the previous page, answered as `{"data": [...], "meta": {"limit",
//! "next_cursor"}}`.
//!
//! A page is "the next `limit` rows after the cursor's `(created_at, id)` in the list's order",
//! so rows inserted between requests never shift a page (nothing repeated or skipped), and with
//! an index on the order a deep page costs what the first page costs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, SimpleExpr};
use sea_orm::{Order, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

/// Which way a list runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    NewestFirst,
    OldestFirst,
}

impl Direction {
    fn tag(self) -> char {
        match self {
            Self::NewestFirst => 'd',
            Self::OldestFirst => 'a',
        }
    }
}

/// Where a page starts: the last `(created_at, id)` of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    fn encode(self, direction: Direction) -> String {
        let raw = format!(
            "{}{}.{}",
            direction.tag(),
            self.created_at.timestamp_micros(),
            self.id.simple()
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn decode(text: &str, direction: Direction) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        let raw = std::str::from_utf8(&raw).ok()?;
        let rest = raw.strip_prefix(direction.tag())?;
        let (micros, id) = rest.split_once('.')?;
        let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        // Rows are stamped by the service; a time outside 1970–9999 is no cursor of ours (and
        // PostgreSQL would refuse some of them).
        let valid = (0..=253_402_300_799_999_999).contains(&created_at.timestamp_micros());
        valid.then_some(Self {
            created_at,
            id: Uuid::try_parse(id).ok()?,
        })
    }
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    limit: u64,
    after: Option<Cursor>,
    direction: Direction,
}

impl PageRequest {
    /// From the query's `limit` (already range-checked by validation) and `cursor`.
    pub fn new(
        limit: Option<u64>,
        cursor: Option<&str>,
        direction: Direction,
    ) -> Result<Self, ApiError> {
        let after = match cursor {
            None => None,
            Some(text) => Some(Cursor::decode(text, direction).ok_or_else(|| {
                ApiError::invalid(
                    "cursor is not a cursor of this list (take next_cursor from the previous page)",
                )
            })?),
        };
        Ok(Self {
            limit: limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
            after,
            direction,
        })
    }

    pub fn newest_first(limit: Option<u64>, cursor: Option<&str>) -> Result<Self, ApiError> {
        Self::new(limit, cursor, Direction::NewestFirst)
    }

    /// Restricts `query` to this page: after the cursor, in order, one row more than the limit
    /// (to know whether another page follows). `created_at` and `id` are the list's columns.
    pub fn apply<Q, C>(&self, query: Q, created_at: C, id: C) -> Q
    where
        Q: QueryFilter + QueryOrder + QuerySelect,
        C: IntoColumnRef + Copy,
    {
        let order = match self.direction {
            Direction::NewestFirst => Order::Desc,
            Direction::OldestFirst => Order::Asc,
        };
        let mut query = query;
        if let Some(after) = self.after {
            let columns = Expr::tuple([
                SimpleExpr::Column(created_at.into_column_ref()),
                SimpleExpr::Column(id.into_column_ref()),
            ]);
            let values = Expr::tuple([Expr::val(after.created_at), Expr::val(after.id)]);
            query = query.filter(match self.direction {
                Direction::NewestFirst => columns.lt(values),
                Direction::OldestFirst => columns.gt(values),
            });
        }
        query
            .order_by(
                SimpleExpr::Column(created_at.into_column_ref()),
                order.clone(),
            )
            .order_by(SimpleExpr::Column(id.into_column_ref()), order)
            .limit(self.limit + 1)
    }

    /// The page made of `rows` (fetched by [`PageRequest::apply`]); `key` gives a row's
    /// `(created_at, id)`.
    pub fn finish<R>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> (DateTime<Utc>, Uuid),
    ) -> Page<R> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|last| {
                let (created_at, id) = key(last);
                Cursor { created_at, id }.encode(self.direction)
            })
        } else {
            None
        };
        Page {
            data: rows,
            meta: PageMeta {
                limit: self.limit,
                next_cursor,
            },
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub meta: PageMeta,
}

impl<T> Page<T> {
    /// The same page with each row turned into its representation.
    pub fn map<U>(self, represent: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(represent).collect(),
            meta: self.meta,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PageMeta {
    /// The page size used.
    #[schema(example = 20)]
    pub limit: u64,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
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
        let text = cursor.encode(Direction::NewestFirst);
        assert_eq!(Cursor::decode(&text, Direction::NewestFirst), Some(cursor));
        assert_eq!(Cursor::decode(&text, Direction::OldestFirst), None);
        assert_eq!(Cursor::decode("not-a-cursor", Direction::NewestFirst), None);
        let ancient =
            URL_SAFE_NO_PAD.encode(format!("d-8000000000000000000.{}", cursor.id.simple()));
        assert_eq!(Cursor::decode(&ancient, Direction::NewestFirst), None);
    }
}
