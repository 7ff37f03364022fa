//! The error a query that does not parse produces.

use std::fmt;

/// Why a query does not parse, and where: the byte offset of the offending token in the
/// input, and the same place as a 1-based line and column (counted in characters) for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the offending token; equal to the input's length for "unexpected end".
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    /// What is wrong, without the position: "expected a value after `=`".
    pub message: String,
    /// A suggestion, if there is one: "did you mean `label`?".
    pub hint: Option<String>,
}

impl ParseError {
    /// An error at byte `offset` of `input`. An offset past the end or inside a character is
    /// moved back to the nearest character boundary, so the position always lies in the input.
    pub(crate) fn at(input: &str, offset: usize, message: impl Into<String>) -> ParseError {
        let mut offset = offset.min(input.len());
        while !input.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &input[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let column = before[line_start..].chars().count() + 1;
        ParseError {
            offset,
            line,
            column,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> ParseError {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if self.line > 1 {
            write!(f, " at line {}, column {}", self.line, self.column)?;
        } else {
            write!(f, " at column {}", self.column)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_lines() {
        let error = ParseError::at("ab\ncé d", 7, "oops");
        assert_eq!((error.line, error.column), (2, 4));
        assert_eq!(error.to_string(), "oops at line 2, column 4");
        // Inside the two-byte `é`: moved back to its start.
        let error = ParseError::at("cé", 2, "oops").with_hint("try again");
        assert_eq!((error.offset, error.column), (1, 2));
        assert_eq!(error.to_string(), "oops at column 2; try again");
        assert_eq!(ParseError::at("ab", 99, "end").offset, 2);
    }
}
