//! Markdown for ticket descriptions and comments, rendered so that it can hold no markup of its
//! own: raw HTML in the text is shown as text, and links and images keep only web, mail and
//! relative addresses (a `javascript:` link becomes `#`).

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

/// The HTML for `text`, safe to put in a page as it is.
pub fn render(text: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(text, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// Keeps `http:`, `https:`, `mailto:` and scheme-less (relative) addresses; anything else
/// could run script or reach into the machine, and becomes `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .filter(|scheme| !scheme.contains(['/', '?', '#']));
    match scheme {
        None | Some("http") | Some("https") | Some("mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_becomes_html() {
        let html =
            render("**Steps**\n\n1. open `/courses`\n2. see [the log](https://logs.example/x)");
        assert!(html.contains("<strong>Steps</strong>"), "{html}");
        assert!(html.contains("<code>/courses</code>"), "{html}");
        assert!(
            html.contains("<a href=\"https://logs.example/x\">the log</a>"),
            "{html}"
        );
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn script_addresses_are_dropped() {
        for text in [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x]( data:text/html,<script>alert(1)</script>)",
            "![x](vbscript:msgbox)",
        ] {
            let html = render(text);
            assert!(
                html.contains("href=\"#\"") || html.contains("src=\"#\""),
                "{text}: {html}"
            );
        }
        assert!(render("[x](/tickets/UF-1)").contains("href=\"/tickets/UF-1\""));
        assert!(render("[x](mailto:ada@example.com)").contains("mailto:ada@example.com"));
    }
}
