//! Keyset pages, the one way every list pages. A page is "the next `limit` rows after the
//! cursor's `(created_at, id)` in the list's order", so rows inserted between requests never
//! shift a page (nothing repeated or skipped), and with an index on the order a deep page costs
//! what the first page costs. How a cursor travels (an opaque string) is the HTTP layer's
//! business (`http::pagination`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, SimpleExpr};
use sea_orm::{
    ConnectionTrait, EntityTrait, FromQueryResult, Order, QueryFilter, QueryOrder, QuerySelect,
    Select, SelectTwo,
};
use uuid::Uuid;

use super::Result;
use super::values::Limit;

/// Which way a list runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    NewestFirst,
    OldestFirst,
}

/// A row's place in its list: where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page to read.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: Limit,
    pub after: Option<Cursor>,
    pub direction: Direction,
}

/// One page read: its rows, and where the next one starts (`None` on the last page).
#[derive(Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub limit: Limit,
    pub next: Option<Cursor>,
    pub direction: Direction,
}

impl<T> Page<T> {
    /// The same page with each row turned into something else.
    pub fn map<U>(self, change: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(change).collect(),
            limit: self.limit,
            next: self.next,
            direction: self.direction,
        }
    }

    /// The page without the rows `keep` refuses.
    pub fn filter_map<U>(self, keep: impl FnMut(T) -> Option<U>) -> Page<U> {
        Page {
            rows: self.rows.into_iter().filter_map(keep).collect(),
            limit: self.limit,
            next: self.next,
            direction: self.direction,
        }
    }
}

/// A query that can be read a page at a time: a select of one entity, or of two.
pub trait Pageable: QueryFilter + QueryOrder + QuerySelect + Sized {
    type Row: Send;

    fn fetch(
        self,
        db: &impl ConnectionTrait,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sea_orm::DbErr>> + Send;
}

impl<E> Pageable for Select<E>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
{
    type Row = E::Model;

    fn fetch(
        self,
        db: &impl ConnectionTrait,
    ) -> impl Future<Output = Result<Vec<E::Model>, sea_orm::DbErr>> + Send {
        self.all(db)
    }
}

impl<E, F> Pageable for SelectTwo<E, F>
where
    E: EntityTrait,
    F: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    F::Model: FromQueryResult + Send + Sync,
{
    type Row = (E::Model, Option<F::Model>);

    fn fetch(
        self,
        db: &impl ConnectionTrait,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sea_orm::DbErr>> + Send {
        self.all(db)
    }
}

impl PageRequest {
    /// Reads this page of `query`, ordered by the list's `created_at` and `id` columns; `key`
    /// gives a row's `(created_at, id)`.
    pub async fn read<Q, C>(
        &self,
        db: &impl ConnectionTrait,
        query: Q,
        (created_at, id): (C, C),
        key: impl Fn(&Q::Row) -> (DateTime<Utc>, Uuid),
    ) -> Result<Page<Q::Row>>
    where
        Q: Pageable,
        C: IntoColumnRef + Copy,
    {
        let rows = self.restrict(query, created_at, id).fetch(db).await?;
        Ok(self.cut(rows, key))
    }

    /// `query` after the cursor, in order, with one row more than the limit (to know whether
    /// another page follows).
    fn restrict<Q, C>(&self, query: Q, created_at: C, id: C) -> Q
    where
        Q: QueryFilter + QueryOrder + QuerySelect,
        C: IntoColumnRef + Copy,
    {
        let order = match self.direction {
            Direction::NewestFirst => Order::Desc,
            Direction::OldestFirst => Order::Asc,
        };
        let column = |column: C| SimpleExpr::Column(column.into_column_ref());
        let mut query = query;
        if let Some(after) = self.after {
            let columns = Expr::tuple([column(created_at), column(id)]);
            let values = Expr::tuple([Expr::val(after.created_at), Expr::val(after.id)]);
            query = query.filter(match self.direction {
                Direction::NewestFirst => columns.lt(values),
                Direction::OldestFirst => columns.gt(values),
            });
        }
        query
            .order_by(column(created_at), order.clone())
            .order_by(column(id), order)
            .limit(self.limit.get() + 1)
    }

    /// The page made of `rows` as [`PageRequest::restrict`] fetched them.
    fn cut<R>(&self, mut rows: Vec<R>, key: impl Fn(&R) -> (DateTime<Utc>, Uuid)) -> Page<R> {
        let limit = self.limit.get() as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = more
            .then(|| rows.last().map(&key))
            .flatten()
            .map(|(created_at, id)| Cursor { created_at, id });
        Page {
            rows,
            limit: self.limit,
            next,
            direction: self.direction,
        }
    }
}
