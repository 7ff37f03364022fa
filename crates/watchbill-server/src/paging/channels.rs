//! Delivery channels: email over SMTP, signed JSON webhooks, Slack-compatible incoming
//! webhooks, and SMS and voice through a Twilio-compatible HTTP API.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use watchbill_store::notices::NoticeInput;

use super::links::LinkSigner;

/// Where email goes out: an SMTP relay such as `smtp://127.0.0.1:25`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub from: String,
}

impl SmtpSettings {
    /// Reads `smtp://host:port`.
    pub fn parse(url: &str, from: &str) -> Result<SmtpSettings, String> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| format!("`{url}` is not an smtp:// URL"))?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .map_err(|_| format!("`{port}` is not a port"))?,
            ),
            None => (rest.trim_end_matches('/'), 25),
        };
        if host.is_empty() {
            return Err(format!("`{url}` names no host"));
        }
        Ok(SmtpSettings {
            host: host.to_owned(),
            port,
            from: from.to_owned(),
        })
    }
}

/// A Twilio-compatible SMS and voice provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSettings {
    /// e.g. `https://api.twilio.com`.
    pub base_url: String,
    pub account: String,
    pub token: String,
    pub from: String,
}

/// What a page says, in every channel's form.
#[derive(Debug, Clone)]
pub struct Page {
    pub idempotency_key: String,
    pub incident_number: String,
    pub title: String,
    pub service: String,
    pub status: String,
    pub urgency: String,
    pub person: String,
    pub ack_url: String,
    pub resolve_url: String,
    pub incident_url: String,
    /// Past post-mortems that match the incident, best first.
    pub seen_before: Vec<SeenBeforeLink>,
}

/// A "seen before" hint with where to read it.
#[derive(Debug, Clone)]
pub struct SeenBeforeLink {
    pub hint: crate::post_mortems::seen_before::SeenBefore,
    pub url: String,
}

impl Page {
    fn subject(&self) -> String {
        format!(
            "[watchbill] {} {}: {}",
            self.incident_number, self.status, self.title
        )
    }

    fn text(&self) -> String {
        let mut text = format!(
            "{person}, you are paged.\n\n{number} on {service} ({urgency} urgency):\n{title}\n\nAcknowledge: {ack}\nResolve: {resolve}\nDetails: {details}\n",
            person = self.person,
            number = self.incident_number,
            service = self.service,
            urgency = self.urgency,
            title = self.title,
            ack = self.ack_url,
            resolve = self.resolve_url,
            details = self.incident_url,
        );
        if !self.seen_before.is_empty() {
            text.push_str("\nSeen before:\n");
            for seen in &self.seen_before {
                text.push_str(&format!("- {}\n  {}\n", seen.hint.line(), seen.url));
            }
        }
        text
    }

    fn short(&self) -> String {
        let mut text = format!(
            "{} {}: {} Ack: {}",
            self.incident_number, self.service, self.title, self.ack_url
        );
        if text.chars().count() > 300 {
            text = text.chars().take(300).collect();
        }
        text
    }
}

/// The channels, configured.
#[derive(Debug, Clone)]
pub struct Channels {
    http: reqwest::Client,
    smtp: Option<SmtpSettings>,
    sms: Option<SmsSettings>,
    signer: LinkSigner,
}

impl Channels {
    pub fn new(
        smtp: Option<SmtpSettings>,
        sms: Option<SmsSettings>,
        signer: LinkSigner,
    ) -> Channels {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("watchbill/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Channels {
            http,
            smtp,
            sms,
            signer,
        }
    }

    /// Sends one page; returns a short description of the delivery or why it failed.
    pub async fn send(&self, kind: &str, address: &str, page: &Page) -> Result<String, String> {
        match kind {
            "email" => self.email(address, page).await,
            "webhook" => self.webhook(address, page).await,
            "slack" => self.slack(address, page).await,
            "sms" => self.sms(address, page, false).await,
            "voice" => self.sms(address, page, true).await,
            other => Err(format!("unknown contact method kind `{other}`")),
        }
    }

    async fn email(&self, address: &str, page: &Page) -> Result<String, String> {
        self.mail(
            address,
            &page.subject(),
            (page.text(), None),
            &page.idempotency_key,
            None,
        )
        .await
    }

    /// Mails `body` (text, and HTML as its alternative when given) to `address`; the
    /// Message-ID comes from the idempotency key, so a message sent twice after a crash is
    /// recognisably the same message.
    async fn mail(
        &self,
        address: &str,
        subject: &str,
        (text, html): (String, Option<String>),
        idempotency_key: &str,
        thread: Option<&str>,
    ) -> Result<String, String> {
        let smtp = self
            .smtp
            .as_ref()
            .ok_or("no SMTP relay is configured (smtp_url)")?;
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| format!("the sender address is invalid: {e}"))?;
        let to: Mailbox = address
            .parse()
            .map_err(|e| format!("`{address}` is not an email address: {e}"))?;
        let mut builder = Message::builder();
        if let Some(thread) = thread {
            builder = builder
                .in_reply_to(thread.to_owned())
                .references(thread.to_owned());
        }
        // Replies come back to the sender address, which mail intake takes for replies.
        let message = builder
            .reply_to(from.clone())
            .from(from)
            .to(to)
            .subject(subject)
            .message_id(Some(format!(
                "<{}@watchbill>",
                idempotency_key.replace([':', ' '], ".")
            )));
        let message = match html {
            Some(html) => message.multipart(MultiPart::alternative_plain_html(text, html)),
            None => message.header(ContentType::TEXT_PLAIN).body(text),
        }
        .map_err(|e| format!("cannot build the message: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .timeout(Some(Duration::from_secs(15)))
            .build();
        transport
            .send(message)
            .await
            .map(|_| format!("email to {address}"))
            .map_err(|e| format!("SMTP to {}:{} failed: {e}", smtp.host, smtp.port))
    }

    /// Sends a notice (a reminder or a report, never a page) by email, webhook or Slack.
    pub async fn send_notice(&self, notice: &NoticeInput) -> Result<String, String> {
        match notice.kind.as_str() {
            "email" => {
                let body = format!("{}\n\n{}\n", notice.body, notice.link);
                self.mail(
                    &notice.address,
                    &notice.subject,
                    (body, notice.html.clone()),
                    &notice.idempotency_key,
                    notice.thread.as_deref(),
                )
                .await
            }
            "webhook" => {
                let body = json!({
                    "event": "notice",
                    "idempotency_key": notice.idempotency_key,
                    "subject": notice.subject,
                    "body": notice.body,
                    "url": notice.link,
                })
                .to_string();
                self.post_signed(&notice.address, &notice.idempotency_key, body)
                    .await
            }
            "slack" => {
                let text = format!(
                    "*{}*\n{}\n<{}|Open in watchbill>",
                    notice.subject, notice.body, notice.link
                );
                self.post_slack(&notice.address, &text).await
            }
            other => Err(format!("notices do not go by {other}")),
        }
    }

    async fn webhook(&self, url: &str, page: &Page) -> Result<String, String> {
        let body = json!({
            "event": "incident.page",
            "idempotency_key": page.idempotency_key,
            "incident": {
                "number": page.incident_number,
                "title": page.title,
                "service": page.service,
                "status": page.status,
                "urgency": page.urgency,
                "url": page.incident_url,
            },
            "paged": page.person,
            "acknowledge_url": page.ack_url,
            "resolve_url": page.resolve_url,
            "seen_before": page.seen_before.iter().map(|seen| json!({
                "number": seen.hint.number,
                "title": seen.hint.title,
                "how_to_tackle": seen.hint.tackle,
                "url": seen.url,
            })).collect::<Vec<_>>(),
        })
        .to_string();
        self.post_signed(url, &page.idempotency_key, body).await
    }

    /// Posts a JSON body signed with the server's signing key.
    async fn post_signed(
        &self,
        url: &str,
        idempotency_key: &str,
        body: String,
    ) -> Result<String, String> {
        let signature = format!("sha256={}", self.signer.sign_hex(body.as_bytes()));
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-watchbill-signature", signature)
            .header("idempotency-key", idempotency_key)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("webhook {url} failed: {e}"))?;
        if response.status().is_success() {
            Ok(format!("webhook {url}"))
        } else {
            Err(format!("webhook {url} answered {}", response.status()))
        }
    }

    async fn slack(&self, url: &str, page: &Page) -> Result<String, String> {
        let text = format!(
            ":rotating_light: *{}* on {}: {}\n<{}|Acknowledge> · <{}|Resolve>",
            page.incident_number, page.service, page.title, page.ack_url, page.resolve_url
        );
        let mut text = text;
        for seen in &page.seen_before {
            text.push_str(&format!(
                "\nSeen before: <{}|{}> {}",
                seen.url, seen.hint.number, seen.hint.title
            ));
        }
        self.post_slack(url, &text).await
    }

    /// Posts a message to a Slack incoming webhook.
    async fn post_slack(&self, url: &str, text: &str) -> Result<String, String> {
        let response = self
            .http
            .post(url)
            .json(&json!({ "text": text }))
            .send()
            .await
            .map_err(|e| format!("Slack webhook failed: {e}"))?;
        if response.status().is_success() {
            Ok("Slack".to_owned())
        } else {
            Err(format!("Slack webhook answered {}", response.status()))
        }
    }

    async fn sms(&self, number: &str, page: &Page, voice: bool) -> Result<String, String> {
        let sms = self
            .sms
            .as_ref()
            .ok_or("no SMS and voice provider is configured (sms_url)")?;
        let (resource, body) = if voice {
            let say = format!(
                "<Response><Say>watchbill page. {} on {}. {}</Say></Response>",
                page.incident_number,
                xml_escape(&page.service),
                xml_escape(&page.title)
            );
            (
                "Calls.json",
                vec![
                    ("To", number.to_owned()),
                    ("From", sms.from.clone()),
                    ("Twiml", say),
                ],
            )
        } else {
            (
                "Messages.json",
                vec![
                    ("To", number.to_owned()),
                    ("From", sms.from.clone()),
                    ("Body", page.short()),
                ],
            )
        };
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}",
            sms.base_url.trim_end_matches('/'),
            sms.account
        );
        let response = self
            .http
            .post(&url)
            .basic_auth(&sms.account, Some(&sms.token))
            .form(&body)
            .send()
            .await
            .map_err(|e| format!("the SMS provider failed: {e}"))?;
        if response.status().is_success() {
            Ok(format!(
                "{} to {number}",
                if voice { "call" } else { "SMS" }
            ))
        } else {
            Err(format!("the SMS provider answered {}", response.status()))
        }
    }
}

impl Channels {
    /// Posts a webhook delivery, signed with its subscription's secret.
    pub async fn deliver_webhook(
        &self,
        subscription: &watchbill_store::paging::WebhookSubscription,
        delivery: &watchbill_store::paging::WebhookDelivery,
    ) -> Result<(), String> {
        let signature = LinkSigner::new(&subscription.secret).sign_hex(delivery.payload.as_bytes());
        let response = self
            .http
            .post(&subscription.url)
            .header("content-type", "application/json")
            .header("x-watchbill-event", &delivery.event)
            .header("x-watchbill-delivery", delivery.id.to_string())
            .header("x-watchbill-signature", format!("sha256={signature}"))
            .header("idempotency-key", &delivery.idempotency_key)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| format!("POST {} failed: {e}", subscription.url))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "POST {} answered {}",
                subscription.url,
                response.status()
            ))
        }
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn smtp_urls_parse() {
        let smtp = SmtpSettings::parse("smtp://127.0.0.1:2526", "w@x.test").unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("127.0.0.1", 2526));
        assert_eq!(
            SmtpSettings::parse("smtp://mail.example.com", "w@x.test")
                .unwrap()
                .port,
            25
        );
        assert!(SmtpSettings::parse("http://x", "w@x.test").is_err());
    }
}
