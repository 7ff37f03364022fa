//! Splits query text into tokens, each with its byte span.

use super::ast::CompareOp;
use super::error::ParseError;

/// One token and where it sits in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Byte offset of the first character.
    pub start: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: letters, digits, `-`, `_`, `.` and `@`. Keywords, field names, function
    /// names and unquoted values are all words; the parser tells them apart by position.
    Word(String),
    /// A double-quoted string, unescaped. Never a keyword.
    Quoted(String),
    Operator(CompareOp),
    OpenParen,
    CloseParen,
    Comma,
    /// The end of the input, so that every error has a token to point at.
    End,
}

impl TokenKind {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Word(word) => format!("`{word}`"),
            TokenKind::Quoted(text) => format!("\"{text}\""),
            TokenKind::Operator(op) => format!("`{}`", op.symbol()),
            TokenKind::OpenParen => "`(`".to_owned(),
            TokenKind::CloseParen => "`)`".to_owned(),
            TokenKind::Comma => "`,`".to_owned(),
            TokenKind::End => "the end of the query".to_owned(),
        }
    }
}

/// Whether `c` may appear in a bare word.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')
}

/// The tokens of `input`, ending with [`TokenKind::End`].
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let kind = match c {
            c if c.is_whitespace() => continue,
            '(' => TokenKind::OpenParen,
            ')' => TokenKind::CloseParen,
            ',' => TokenKind::Comma,
            '=' => TokenKind::Operator(CompareOp::Eq),
            '~' => TokenKind::Operator(CompareOp::Contains),
            '!' => match chars.next_if(|(_, next)| *next == '=') {
                Some(_) => TokenKind::Operator(CompareOp::NotEq),
                None => {
                    return Err(ParseError::at(input, start, "expected `=` after `!`")
                        .with_hint("`!=` means \"not equal\"; use NOT to negate a condition"))
                }
            },
            '<' => match chars.next_if(|(_, next)| *next == '=') {
                Some(_) => TokenKind::Operator(CompareOp::LessOrEqual),
                None => TokenKind::Operator(CompareOp::Less),
            },
            '>' => match chars.next_if(|(_, next)| *next == '=') {
                Some(_) => TokenKind::Operator(CompareOp::GreaterOrEqual),
                None => TokenKind::Operator(CompareOp::Greater),
            },
            '"' => TokenKind::Quoted(quoted_string(input, start, &mut chars)?),
            c if is_word_char(c) => {
                let mut end = start + c.len_utf8();
                while let Some((offset, next)) = chars.next_if(|(_, next)| is_word_char(*next)) {
                    end = offset + next.len_utf8();
                }
                TokenKind::Word(input[start..end].to_owned())
            }
            other => return Err(unexpected_character(input, start, other)),
        };
        tokens.push(Token { kind, start });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        start: input.len(),
    });
    Ok(tokens)
}

/// Reads a string whose opening quote is at `start`; `\"` and `\\` are the only escapes.
fn quoted_string(
    input: &str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, ParseError> {
    let mut text = String::new();
    loop {
        match chars.next() {
            None => {
                return Err(ParseError::at(
                    input,
                    start,
                    "this string has no closing `\"`",
                ));
            }
            Some((_, '"')) => return Ok(text),
            Some((backslash, '\\')) => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => text.push(escaped),
                _ => {
                    return Err(
                        ParseError::at(input, backslash, "unknown escape in a string")
                            .with_hint("only `\\\"` and `\\\\` are escapes"),
                    );
                }
            },
            Some((_, c)) => text.push(c),
        }
    }
}

fn unexpected_character(input: &str, offset: usize, c: char) -> ParseError {
    let error = ParseError::at(input, offset, format!("unexpected character `{c}`"));
    match c {
        '+' => error.with_hint("quote relative dates, as in \"+7d\""),
        '\'' => error.with_hint("quote values with double quotes"),
        ':' => error.with_hint("quote instants, as in \"2026-12-01T09:00:00Z\""),
        _ => error.with_hint("quote values that hold it"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        tokenize(input)
            .unwrap()
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    #[test]
    fn splits_operators_words_and_strings() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"due<="+7d" AND(x!=a.b@c,"q\"\\")"#),
            vec![
                Word("due".into()),
                Operator(CompareOp::LessOrEqual),
                Quoted("+7d".into()),
                Word("AND".into()),
                OpenParen,
                Word("x".into()),
                Operator(CompareOp::NotEq),
                Word("a.b@c".into()),
                Comma,
                Quoted("q\"\\".into()),
                CloseParen,
                End,
            ]
        );
    }

    #[test]
    fn reports_bad_characters_where_they_are() {
        let error = tokenize("due < +7d").unwrap_err();
        assert_eq!(error.offset, 6);
        assert_eq!(
            error.to_string(),
            "unexpected character `+` at column 7; quote relative dates, as in \"+7d\""
        );
        assert_eq!(tokenize("title ~ \"abc").unwrap_err().offset, 8);
        assert_eq!(tokenize(r#"title ~ "a\n""#).unwrap_err().offset, 10);
        assert_eq!(tokenize("a ! b").unwrap_err().offset, 2);
    }
}
