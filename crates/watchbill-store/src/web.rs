//! The web half of the store: passwords, signed-in sessions, failed sign-ins (for rate
//! limiting), the wall's kiosk links, people's photos, and the activity counter the live pages
//! watch. Sessions live in the database so that any server can answer any request.

use async_trait::async_trait;
use jiff::Timestamp;
use watchbill_core::UserId;

use crate::Result;

/// A signed-in browser session. The store keeps only the hash of the cookie's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user_id: UserId,
    /// The token every form of this session must carry.
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A read-only link to the wall for a screen that nobody signs in on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WallLink {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
}

/// A person's photo, as stored (already resized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub content_type: String,
    pub data: Vec<u8>,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait WebTx: Send {
    /// Sets (or replaces) a user's password hash (a PHC string).
    async fn set_password(&mut self, user: UserId, hash: &str) -> Result<()>;
    async fn password_hash(&mut self, user: UserId) -> Result<Option<String>>;

    async fn insert_session(
        &mut self,
        secret_hash: &str,
        user: UserId,
        csrf: &str,
        expires_at: Timestamp,
    ) -> Result<()>;
    /// The session with this secret hash, if it exists and has not expired.
    async fn session(&mut self, secret_hash: &str) -> Result<Option<WebSession>>;
    async fn delete_session(&mut self, secret_hash: &str) -> Result<()>;
    /// Ends every session of a user but the one with `keep` (after a password change).
    async fn delete_other_sessions(&mut self, user: UserId, keep: &str) -> Result<u64>;

    /// Records a failed sign-in for `key` (a lower-cased email address).
    async fn record_login_failure(&mut self, key: &str) -> Result<()>;
    /// How many sign-ins for `key` failed since `since`.
    async fn login_failures(&mut self, key: &str, since: Timestamp) -> Result<i64>;
    /// Forgets the failures of `key` (after a successful sign-in).
    async fn clear_login_failures(&mut self, key: &str) -> Result<()>;

    async fn insert_wall_link(&mut self, name: &str, secret_hash: &str) -> Result<WallLink>;
    async fn wall_links(&mut self) -> Result<Vec<WallLink>>;
    async fn find_wall_link(&mut self, secret_hash: &str) -> Result<Option<WallLink>>;
    async fn delete_wall_link(&mut self, id: i64) -> Result<()>;

    /// Keeps a user's photo, replacing any earlier one, under a new secret `token`.
    async fn set_photo(
        &mut self,
        user: UserId,
        token: &str,
        content_type: &str,
        data: &[u8],
    ) -> Result<()>;
    async fn photo_by_token(&mut self, token: &str) -> Result<Option<Photo>>;

    /// A number that grows with every change the live pages show: incident timelines and the
    /// roster. Equal numbers mean nothing they show has changed.
    async fn activity_revision(&mut self) -> Result<i64>;
}
