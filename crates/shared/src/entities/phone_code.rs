//! `phone_codes`: the live one-time sign-in code of a phone number, at most one per number. The
//! code is never stored, only its keyed hash; `attempts` counts wrong tries.

use sea_orm::entity::prelude::*;

use super::Sensitive;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "phone_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// E.164.
    #[sea_orm(column_type = "String(StringLen::N(20))", unique)]
    pub phone: String,
    /// Hex HMAC-SHA-256 of the number and the code, under a key only the service holds.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub code_hash: Sensitive,
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    #[sea_orm(indexed)]
    pub expires_at: DateTimeUtc,
}

super::behavior!(created_at);
