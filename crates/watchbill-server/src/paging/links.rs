//! Signed, expiring acknowledge and resolve links, so a paged person can act from an email or
//! a text message without signing in.
//!
//! A link carries `incident.user.action.expiry`, signed with HMAC-SHA256 under the server's
//! signing key (shared by every node through the database). Opening it shows a confirmation
//! page; only the form's POST acts, so mail scanners that follow links change nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;
use watchbill_core::{IncidentId, UserId};

/// How long a link works.
pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(24);

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    Acknowledge,
    Resolve,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Acknowledge => "ack",
            LinkAction::Resolve => "resolve",
        }
    }
}

/// A verified link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub incident: IncidentId,
    pub user: UserId,
    pub action: LinkAction,
    pub expires: Timestamp,
}

/// Signs and checks links.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(…)")
    }
}

impl LinkSigner {
    pub fn new(key: &str) -> LinkSigner {
        LinkSigner {
            key: key.as_bytes().to_vec(),
        }
    }

    /// The HMAC-SHA256 of `data`, hex; also used to sign outgoing webhooks.
    pub fn sign_hex(&self, data: &[u8]) -> String {
        hex::encode(self.mac(data))
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    /// A token for the link.
    pub fn token(&self, link: &Link) -> String {
        let payload = format!(
            "{}.{}.{}.{}",
            link.incident,
            link.user,
            link.action.as_str(),
            link.expires.as_second()
        );
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.mac(payload.as_bytes()))
        )
    }

    /// The link a token stands for, if the signature holds and it has not expired.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Link, &'static str> {
        let (payload, signature) = token.split_once('.').ok_or("the link is malformed")?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| "the link is malformed")?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "the link is malformed")?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).map_err(|_| "the link cannot be checked")?;
        mac.update(&payload);
        mac.verify_slice(&signature)
            .map_err(|_| "the link's signature does not match")?;
        let text = String::from_utf8(payload).map_err(|_| "the link is malformed")?;
        let parts: Vec<&str> = text.split('.').collect();
        let [incident, user, action, expires] = parts.as_slice() else {
            return Err("the link is malformed");
        };
        let action = match *action {
            "ack" => LinkAction::Acknowledge,
            "resolve" => LinkAction::Resolve,
            _ => return Err("the link is malformed"),
        };
        let expires = expires
            .parse::<i64>()
            .ok()
            .and_then(|s| Timestamp::from_second(s).ok())
            .ok_or("the link is malformed")?;
        if expires <= now {
            return Err("the link has expired");
        }
        Ok(Link {
            incident: IncidentId(incident.parse().map_err(|_| "the link is malformed")?),
            user: UserId(user.parse().map_err(|_| "the link is malformed")?),
            action,
            expires,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn links_verify_until_they_expire_and_resist_tampering() {
        let signer = LinkSigner::new("secret");
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        let link = Link {
            incident: IncidentId(42),
            user: UserId(7),
            action: LinkAction::Acknowledge,
            expires: now.saturating_add(LINK_LIFETIME).unwrap(),
        };
        let token = signer.token(&link);
        assert_eq!(signer.verify(&token, now), Ok(link));
        let later = now.saturating_add(SignedDuration::from_hours(25)).unwrap();
        assert_eq!(signer.verify(&token, later), Err("the link has expired"));
        assert!(LinkSigner::new("other").verify(&token, now).is_err());
        let forged = Link {
            action: LinkAction::Resolve,
            ..link
        };
        let (_, signature) = token.split_once('.').unwrap();
        let (payload, _) = signer
            .token(&forged)
            .split_once('.')
            .map(|(p, s)| (p.to_owned(), s.to_owned()))
            .unwrap();
        assert!(signer
            .verify(&format!("{payload}.{signature}"), now)
            .is_err());
    }
}
