//! OAuth identities: which provider account belongs to which user, and AUTH.md's account rules
//! for signing in with one ("Accounts and identities"). Talking to the providers is
//! `auth::oauth`'s business; this module only decides what a proven [`Profile`] means.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use shared::entities::user_identity::{self, Column, Entity as Identities};
use shared::entities::{AuthProvider, Sensitive, UserRole, user};
use uuid::Uuid;

use super::access::CurrentUser;
use super::paging::{Page, PageRequest};
use super::values::Email;
use super::{Error, Result, begin_write, users};

/// The 409 of a sign-in whose email belongs to an account it may not be linked to silently; the
/// web flow's `?error=` says the same.
pub const LINK_REQUIRED: &str = "link_required";
/// The 401 of a sign-in into an inactive account; the web flow's `?error=` says the same.
pub const ACCOUNT_DISABLED: &str = "account_disabled";
pub const IDENTITY_NOT_FOUND: &str = "Identity not found";
const LAST_WAY_IN: &str = "this identity is the account's last way to sign in";

/// An OAuth provider the service can speak to, as paths and answers spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(as = OAuthProvider, rename_all = "lowercase")]
pub enum Provider {
    Google,
    Facebook,
    Tiktok,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Facebook => "facebook",
            Self::Tiktok => "tiktok",
        }
    }

    /// The provider a path segment names (lower case, as AUTH.md spells them).
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Google, Self::Facebook, Self::Tiktok]
            .into_iter()
            .find(|provider| provider.as_str() == name)
    }

    fn auth_provider(self) -> AuthProvider {
        match self {
            Self::Google => AuthProvider::Google,
            Self::Facebook => AuthProvider::Facebook,
            Self::Tiktok => AuthProvider::Tiktok,
        }
    }

    /// Whether this provider's emails can be trusted at all: Facebook does not say whether an
    /// email is verified, so its emails count as unverified (never stored, never linked).
    fn vouches_for_email(self) -> bool {
        self != Self::Facebook
    }
}

/// What a provider vouched for, after its answer was verified.
#[derive(Debug, Clone)]
pub struct Profile {
    pub provider: Provider,
    /// Google `sub`, Facebook `id`, TikTok `open_id`.
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<Email>,
    /// The provider says it verified `email` (Google's `email_verified`).
    pub email_verified: bool,
    pub avatar_url: Option<String>,
}

impl Profile {
    /// The email this provider vouches for, if any.
    fn verified_email(&self) -> Option<&Email> {
        self.email
            .as_ref()
            .filter(|_| self.email_verified && self.provider.vouches_for_email())
    }

    /// The name a new account gets: the provider's, cut to 255 characters, or else
    /// "`<provider>` user".
    fn account_name(&self) -> String {
        self.name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| name.chars().filter(|c| !c.is_control()).take(255).collect())
            .filter(|name: &String| !name.is_empty())
            .unwrap_or_else(|| format!("{} user", self.provider.as_str()))
    }

    /// An `https` avatar of at most 500 characters; anything else is dropped.
    fn avatar(&self) -> Option<String> {
        self.avatar_url
            .clone()
            .filter(|url| url.len() <= 500 && url.starts_with("https://") && url.is_ascii())
    }
}

/// The account a profile signs in.
#[derive(Debug)]
pub enum SignIn {
    Existing(user::Model),
    Created(user::Model),
}

/// AUTH.md's rules: a known identity signs its user in; an email both sides have verified links
/// the identity to that account; any other email collision is [`LINK_REQUIRED`]; otherwise a new
/// account (the provider's name and `https` avatar, the email only when verified, no password).
/// An inactive account is [`ACCOUNT_DISABLED`].
pub async fn sign_in(db: &DatabaseConnection, profile: &Profile) -> Result<SignIn> {
    match sign_in_once(db, profile).await {
        // A concurrent first sign-in of the same identity made it (or its account) meanwhile:
        // it is known now.
        Err(Error::Conflict(message)) if message != LINK_REQUIRED => {
            sign_in_once(db, profile).await
        }
        outcome => outcome,
    }
}

async fn sign_in_once(db: &DatabaseConnection, profile: &Profile) -> Result<SignIn> {
    let txn = begin_write(db).await?;
    if let Some(identity) = find(&txn, profile.provider, &profile.subject).await? {
        let user = active(&txn, identity.user_id).await?;
        touch(&txn, identity).await?;
        txn.commit().await?;
        return Ok(SignIn::Existing(user));
    }
    if let Some(email) = &profile.email
        && let Some(holder) = users::find_by_email(&txn, email).await?
    {
        let both_verified =
            profile.verified_email().is_some() && holder.email_verified_at.is_some();
        if !both_verified {
            return Err(Error::Conflict(LINK_REQUIRED.to_owned()));
        }
        let user = active(&txn, holder.id).await?;
        insert(&txn, user.id, profile).await?;
        txn.commit().await?;
        return Ok(SignIn::Existing(user));
    }
    let email = profile.verified_email().cloned();
    let verified_at = email.as_ref().map(|_| shared::entities::now());
    let user = user::ActiveModel {
        name: Set(profile.account_name()),
        email: Set(email.map(Email::into_string)),
        email_verified_at: Set(verified_at),
        phone: Set(None),
        password: Set(None),
        auth_provider: Set(profile.provider.auth_provider()),
        oauth_id: Set(None),
        role: Set(UserRole::User),
        avatar_url: Set(profile.avatar()),
        is_active: Set(true),
        ..user::ActiveModel::new()
    }
    .insert(&txn)
    .await?;
    insert(&txn, user.id, profile).await?;
    txn.commit().await?;
    Ok(SignIn::Created(user))
}

/// How linking ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Linked {
    /// The identity is the user's (now, or already).
    Yours,
    /// The identity belongs to another account.
    InUse,
}

/// Links the profile's identity to active user `user_id`.
pub async fn link(db: &DatabaseConnection, user_id: Uuid, profile: &Profile) -> Result<Linked> {
    let txn = begin_write(db).await?;
    let user = active(&txn, user_id).await?;
    match find(&txn, profile.provider, &profile.subject).await? {
        Some(identity) if identity.user_id != user.id => return Ok(Linked::InUse),
        Some(identity) => touch(&txn, identity).await?,
        None => insert(&txn, user.id, profile).await?,
    }
    txn.commit().await?;
    Ok(Linked::Yours)
}

/// One page of the caller's identities, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &CurrentUser,
    page: PageRequest,
) -> Result<Page<user_identity::Model>> {
    let query = Identities::find().filter(Column::UserId.eq(caller.id()));
    page.read(db, query, (Column::CreatedAt, Column::Id), |row| {
        (row.created_at, row.id)
    })
    .await
}

/// Removes the caller's identities of `provider`: 404 when he has none, 409 when they are his
/// last way to sign in.
pub async fn unlink(
    db: &DatabaseConnection,
    caller: &CurrentUser,
    provider: Provider,
) -> Result<()> {
    let txn = begin_write(db).await?;
    let user = users::find(&txn, caller.id())
        .await?
        .ok_or(Error::NotFound(IDENTITY_NOT_FOUND))?;
    let all = count_of(&txn, user.id).await?;
    let of_provider = Identities::delete_many()
        .filter(Column::UserId.eq(user.id))
        .filter(Column::Provider.eq(provider.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if of_provider == 0 {
        return Err(Error::NotFound(IDENTITY_NOT_FOUND));
    }
    if !has_way_in(&user, all - of_provider) {
        return Err(Error::Conflict(LAST_WAY_IN.to_owned()));
    }
    txn.commit().await?;
    Ok(())
}

/// Whether `user` can sign in with `identities` identities: any identity, a verified phone
/// (codes), or a password together with an email (a verified phone is counted already).
pub fn has_way_in(user: &user::Model, identities: u64) -> bool {
    identities > 0
        || user.phone_verified_at.is_some()
        || (user.password.is_some() && user.email.is_some())
}

/// How many identities `user_id` has.
pub async fn count_of(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64> {
    Ok(Identities::find()
        .filter(Column::UserId.eq(user_id))
        .count(db)
        .await?)
}

/// The provider of one of `user_id`'s identities, if he has any.
pub async fn any_provider_of(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Option<AuthProvider>> {
    let identity = Identities::find()
        .filter(Column::UserId.eq(user_id))
        .one(db)
        .await?;
    Ok(identity
        .and_then(|identity| Provider::parse(&identity.provider))
        .map(Provider::auth_provider))
}

async fn find(
    db: &impl ConnectionTrait,
    provider: Provider,
    subject: &str,
) -> Result<Option<user_identity::Model>> {
    Ok(Identities::find()
        .filter(Column::Provider.eq(provider.as_str()))
        .filter(Column::Subject.eq(subject))
        .one(db)
        .await?)
}

/// User `id`, active, or [`ACCOUNT_DISABLED`].
async fn active(db: &impl ConnectionTrait, id: Uuid) -> Result<user::Model> {
    users::find(db, id)
        .await?
        .filter(|user| user.is_active)
        .ok_or(Error::Unauthenticated(ACCOUNT_DISABLED))
}

async fn touch(db: &impl ConnectionTrait, identity: user_identity::Model) -> Result<()> {
    let mut identity = identity.into_active_model();
    identity.last_used_at = Set(Some(shared::entities::now()));
    identity.update(db).await?;
    Ok(())
}

async fn insert(db: &impl ConnectionTrait, user_id: Uuid, profile: &Profile) -> Result<()> {
    user_identity::ActiveModel {
        user_id: Set(user_id),
        provider: Set(profile.provider.as_str().to_owned()),
        subject: Set(Sensitive::new(profile.subject.clone())),
        email: Set(profile
            .verified_email()
            .map(|email| email.as_str().to_owned())),
        last_used_at: Set(Some(shared::entities::now())),
        ..user_identity::ActiveModel::new()
    }
    .insert(db)
    .await?;
    Ok(())
}
