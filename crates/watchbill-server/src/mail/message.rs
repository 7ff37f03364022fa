//! What watchbill reads from a received message: its Message-ID and the IDs it answers, the
//! sender, subject and readable text (an HTML-only message is turned into text), the
//! attachments, and whether it is an automatic message (an out-of-office reply, a bounce, a
//! list) that must never page anyone. MIME and header decoding (charsets, encoded words) are
//! mail-parser's.

use mail_parser::{MessageParser, MimeHeaders};

/// The longest description kept from a body; the whole message is kept for audit anyway.
const TEXT_LIMIT: usize = 50_000;

/// A received message, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// With angle brackets, `<id@host>`; generated when the message has none.
    pub message_id: Option<String>,
    /// The header From address, lower-cased, if any.
    pub from: Option<String>,
    pub subject: String,
    pub text: String,
    /// The IDs of the messages this one answers (In-Reply-To, then References), with angle
    /// brackets.
    pub answers: Vec<String>,
    pub attachments: Vec<Attachment>,
    /// Auto-Submitted, Precedence bulk/list/junk, or a bounce's content type.
    pub automatic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

fn bracketed(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}

/// Reads `raw`. Bytes that are not a message at all still give an `Inbound`: no subject,
/// the bytes as text.
pub fn read(raw: &[u8]) -> Inbound {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Inbound {
            message_id: None,
            from: None,
            subject: String::new(),
            text: truncate(String::from_utf8_lossy(raw).into_owned()),
            answers: Vec::new(),
            attachments: Vec::new(),
            automatic: false,
        };
    };
    let mut answers: Vec<String> = Vec::new();
    for value in [message.in_reply_to(), message.references()] {
        if let Some(list) = value.as_text_list() {
            for id in list {
                let id = bracketed(id);
                if !answers.contains(&id) {
                    answers.push(id);
                }
            }
        }
    }
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let auto_submitted = header("Auto-Submitted").is_some_and(|v| !v.starts_with("no"));
    let bulk = header("Precedence")
        .is_some_and(|v| matches!(v.as_str(), "bulk" | "list" | "junk" | "auto_reply"));
    let bounce = message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let autoreply = header("X-Autoreply").is_some() || header("X-Autorespond").is_some();
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let attachments = message
        .attachments()
        .filter(|part| !part.is_message())
        .map(|part| Attachment {
            filename: part
                .attachment_name()
                .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_owned())
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| "attachment".to_owned()),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{sub}", ct.ctype()),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            data: part.contents().to_vec(),
        })
        .collect();
    Inbound {
        message_id: message.message_id().map(bracketed),
        from: message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_lowercase),
        subject: message.subject().unwrap_or_default().trim().to_owned(),
        text: truncate(text.trim().to_owned()),
        answers,
        attachments,
        automatic: auto_submitted || bulk || bounce || autoreply,
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > TEXT_LIMIT {
        let mut cut = TEXT_LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n\n[The rest of the message is kept with the original.]");
    }
    text
}

/// The first word of a reply, lower-cased, skipping quoted lines: `ack` or `resolve` act on the
/// incident the reply answers.
pub fn first_word(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('>'))
        .and_then(|line| line.split_whitespace().next())
        .map(|word| {
            word.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_with_threading_headers() {
        let raw = b"From: Ops <Ops@Example.com>\r\nTo: urgent@demo.test\r\nSubject: =?UTF-8?Q?Caf=C3=A9_down?=\r\n\
            Message-ID: <m1@example.com>\r\nIn-Reply-To: <incident.4@watchbill>\r\nReferences: <ticket.UF-2@watchbill> <incident.4@watchbill>\r\n\r\nack\r\n> quoted\r\n";
        let inbound = read(raw);
        assert_eq!(inbound.subject, "Café down");
        assert_eq!(inbound.from.as_deref(), Some("ops@example.com"));
        assert_eq!(inbound.message_id.as_deref(), Some("<m1@example.com>"));
        assert_eq!(
            inbound.answers,
            ["<incident.4@watchbill>", "<ticket.UF-2@watchbill>"]
        );
        assert!(!inbound.automatic);
        assert_eq!(first_word(&inbound.text).as_deref(), Some("ack"));
    }

    #[test]
    fn html_only_becomes_text_and_latin1_decodes() {
        let raw = b"From: a@b.c\r\nSubject: x\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>Caf\xe9 <b>down</b></p><script>x</script>";
        let inbound = read(raw);
        assert!(inbound.text.contains("Café down"), "{}", inbound.text);
        assert!(!inbound.text.contains("<b>"));
    }

    #[test]
    fn automatic_messages_are_recognised() {
        for header in [
            "Auto-Submitted: auto-replied",
            "Precedence: bulk",
            "Precedence: list",
            "X-Autoreply: yes",
        ] {
            let raw = format!("From: a@b.c\r\nSubject: Out of office\r\n{header}\r\n\r\nAway.");
            assert!(read(raw.as_bytes()).automatic, "{header}");
        }
        assert!(!read(b"From: a@b.c\r\nAuto-Submitted: no\r\n\r\nhi").automatic);
    }

    #[test]
    fn garbage_still_reads() {
        let inbound = read(&[0xff, 0xfe, 0x00, b'\n']);
        assert_eq!(inbound.subject, "");
        assert_eq!(
            first_word("\n> a\n\n  Resolve, thanks").as_deref(),
            Some("resolve")
        );
    }
}
