//! A recursive-descent parser from tokens to a [`Query`].
//!
//! Grammar, lowest precedence first (keywords ignore case):
//!
//! ```text
//! query     := [or] [ORDER BY item ("," item)*]
//! or        := and (OR and)*
//! and       := unary (AND unary)*
//! unary     := NOT unary | "(" or ")" | clause
//! clause    := field op value | field [NOT] IN "(" value ("," value)* ")"
//!            | field IS [NOT] (EMPTY | NULL)
//! value     := word | "quoted" | word "(" ")"
//! item      := field [ASC | DESC]
//! ```
//!
//! Every value is checked against its field here, so a query that parses can always be
//! printed, evaluated and compiled.

use super::ast::{Clause, Condition, Direction, Expr, OrderItem, Query, Value};
use super::error::ParseError;
use super::field::{join_alternatives, Field};
use super::lexer::{tokenize, Token, TokenKind};
use super::suggest::closest;
use super::values::{read_function, read_value, ValueError};

/// How deeply parentheses and `NOT`s may nest. Deep enough for any query a person writes,
/// shallow enough that no input can exhaust the stack of the recursive parser (or of the
/// recursive evaluator, printer and compiler that walk the tree afterwards).
pub const MAX_NESTING: usize = 64;

/// Words that are never field names or bare values; quote them to use them as text.
pub(crate) const KEYWORDS: [&str; 11] = [
    "AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC",
];

/// Whether `word` is a keyword, ignoring case.
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS
        .into_iter()
        .any(|keyword| keyword.eq_ignore_ascii_case(word))
}

/// Parses a query. An empty (or all-blank) input is the query that matches every ticket in
/// no particular order.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    let tokens = tokenize(input)?;
    let mut parser = Parser {
        input,
        end: Token {
            kind: TokenKind::End,
            start: input.len(),
        },
        tokens,
        position: 0,
        nesting: 0,
    };
    parser.query()
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    /// Returned by `peek` should the position ever pass the last token, so no lookup panics.
    end: Token,
    position: usize,
    nesting: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.position).unwrap_or(&self.end)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.position < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Word(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn error_at(&self, token: &Token, message: impl Into<String>) -> ParseError {
        ParseError::at(self.input, token.start, message)
    }

    /// "expected X, found Y" at the current token.
    fn expected(&self, what: &str) -> ParseError {
        let token = self.peek();
        self.error_at(
            token,
            format!("expected {what}, found {}", token.kind.describe()),
        )
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        let filter = if matches!(self.peek().kind, TokenKind::End) || self.at_keyword("ORDER") {
            None
        } else {
            Some(self.or()?)
        };
        let order_by = if self.at_keyword("ORDER") {
            self.order_by()?
        } else {
            Vec::new()
        };
        if !matches!(self.peek().kind, TokenKind::End) {
            return Err(self.expected("AND, OR, ORDER BY or the end of the query"));
        }
        Ok(Query { filter, order_by })
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut operands = vec![self.and()?];
        while self.at_keyword("OR") {
            self.advance();
            operands.push(self.and()?);
        }
        Ok(combine(operands, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut operands = vec![self.unary()?];
        while self.at_keyword("AND") {
            self.advance();
            operands.push(self.unary()?);
        }
        Ok(combine(operands, Expr::And))
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.at_keyword("NOT") {
            self.nest()?;
            self.advance();
            let operand = self.unary()?;
            self.nesting -= 1;
            return Ok(Expr::Not(Box::new(operand)));
        }
        if matches!(self.peek().kind, TokenKind::OpenParen) {
            self.nest()?;
            let open = self.advance();
            let inner = self.or()?;
            if !matches!(self.peek().kind, TokenKind::CloseParen) {
                let (line, column) = {
                    let at = ParseError::at(self.input, open.start, "");
                    (at.line, at.column)
                };
                let place = if line > 1 {
                    format!("line {line}, column {column}")
                } else {
                    format!("column {column}")
                };
                return Err(self.expected(&format!("`)` to close the `(` at {place}")));
            }
            self.advance();
            self.nesting -= 1;
            return Ok(inner);
        }
        self.clause().map(Expr::Clause)
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        if self.nesting >= MAX_NESTING {
            return Err(self.error_at(
                self.peek(),
                format!("the query nests parentheses and NOT more than {MAX_NESTING} deep"),
            ));
        }
        self.nesting += 1;
        Ok(())
    }

    /// Reads a field name: the start of a clause or of an `ORDER BY` item.
    fn field(&mut self, context: &str) -> Result<Field, ParseError> {
        let token = self.peek().clone();
        let TokenKind::Word(word) = &token.kind else {
            return Err(self.expected(context));
        };
        if is_keyword(word) {
            return Err(self.expected(context));
        }
        let Some(field) = Field::from_name(word) else {
            let error = self.error_at(&token, format!("unknown field `{word}`"));
            return Err(match closest(word, Field::ALL.map(Field::name)) {
                Some(near) => error.with_hint(format!("did you mean `{near}`?")),
                None => error.with_hint(format!(
                    "the fields are {}",
                    join_alternatives(&Field::ALL.map(Field::name))
                )),
            });
        };
        self.advance();
        Ok(field)
    }

    fn clause(&mut self) -> Result<Clause, ParseError> {
        let field = self.field("a field name, `(` or NOT")?;
        let operator = self.peek().clone();
        let condition = match &operator.kind {
            TokenKind::Operator(op) => {
                if !field.accepts(*op) {
                    return Err(self
                        .error_at(
                            &operator,
                            format!("`{}` does not apply to `{field}`", op.symbol()),
                        )
                        .with_hint(format!("use {}", field.operators_for_message())));
                }
                self.advance();
                let value = self.value(field, &format!("`{}`", op.symbol()))?;
                Condition::Compare(*op, value)
            }
            TokenKind::Word(word) if word.eq_ignore_ascii_case("IN") => {
                self.check_in(field, &operator)?;
                self.advance();
                Condition::In {
                    negated: false,
                    values: self.list(field, "IN")?,
                }
            }
            TokenKind::Word(word) if word.eq_ignore_ascii_case("NOT") => {
                self.advance();
                if !self.at_keyword("IN") {
                    return Err(self.expected("IN after NOT"));
                }
                self.check_in(field, &operator)?;
                self.advance();
                Condition::In {
                    negated: true,
                    values: self.list(field, "NOT IN")?,
                }
            }
            TokenKind::Word(word) if word.eq_ignore_ascii_case("IS") => {
                if !field.can_be_empty() {
                    let can: Vec<&str> = Field::ALL
                        .into_iter()
                        .filter(|field| field.can_be_empty())
                        .map(Field::name)
                        .collect();
                    return Err(self
                        .error_at(&operator, format!("`{field}` is never empty"))
                        .with_hint(format!("IS EMPTY applies to {}", join_alternatives(&can))));
                }
                self.advance();
                let negated = self.at_keyword("NOT");
                if negated {
                    self.advance();
                }
                if !(self.at_keyword("EMPTY") || self.at_keyword("NULL")) {
                    return Err(self.expected(if negated {
                        "EMPTY after IS NOT"
                    } else {
                        "EMPTY or NOT EMPTY after IS"
                    }));
                }
                self.advance();
                Condition::Empty { negated }
            }
            _ => {
                return Err(self
                    .expected(&format!("an operator after `{field}`"))
                    .with_hint(format!("use {}", field.operators_for_message())))
            }
        };
        Ok(Clause { field, condition })
    }

    fn check_in(&self, field: Field, operator: &Token) -> Result<(), ParseError> {
        if field.accepts_in() {
            return Ok(());
        }
        Err(self
            .error_at(operator, format!("IN does not apply to `{field}`"))
            .with_hint(format!("use {}", field.operators_for_message())))
    }

    /// Reads `( value, … )` after `IN` or `NOT IN`.
    fn list(&mut self, field: Field, after: &str) -> Result<Vec<Value>, ParseError> {
        if !matches!(self.peek().kind, TokenKind::OpenParen) {
            return Err(self.expected(&format!("`(` after {after}")));
        }
        self.advance();
        let mut values = vec![self.value(field, "`(`")?];
        loop {
            match self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                    values.push(self.value(field, "`,`")?);
                }
                TokenKind::CloseParen => {
                    self.advance();
                    return Ok(values);
                }
                _ => return Err(self.expected("`,` or `)` in the list")),
            }
        }
    }

    /// Reads one value of `field`; `after` names what precedes it, for the error message.
    fn value(&mut self, field: Field, after: &str) -> Result<Value, ParseError> {
        let token = self.peek().clone();
        let read = match &token.kind {
            TokenKind::Quoted(text) => {
                self.advance();
                read_value(field, text)
            }
            TokenKind::Word(word) if !is_keyword(word) => {
                self.advance();
                if matches!(self.peek().kind, TokenKind::OpenParen) {
                    self.advance();
                    if !matches!(self.peek().kind, TokenKind::CloseParen) {
                        return Err(self.expected(&format!("`)`: `{word}()` takes no arguments")));
                    }
                    self.advance();
                    read_function(field, word)
                } else {
                    read_value(field, word)
                }
            }
            kind => {
                let error = self.error_at(&token, format!("expected a value after {after}"));
                return Err(match kind {
                    TokenKind::Word(word) => {
                        error.with_hint(format!("quote \"{word}\" to use the keyword as a value"))
                    }
                    other => error.with_hint(format!("found {}", other.describe())),
                });
            }
        };
        read.map_err(|ValueError { message, hint }| {
            let error = self.error_at(&token, message);
            match hint {
                Some(hint) => error.with_hint(hint),
                None => error,
            }
        })
    }

    fn order_by(&mut self) -> Result<Vec<OrderItem>, ParseError> {
        self.advance();
        if !self.at_keyword("BY") {
            return Err(self.expected("BY after ORDER"));
        }
        self.advance();
        let mut items: Vec<OrderItem> = Vec::new();
        loop {
            let start = self.peek().clone();
            let field = self.field("a field name to sort by")?;
            if !field.is_sortable() {
                let sortable: Vec<&str> = Field::ALL
                    .into_iter()
                    .filter(|field| field.is_sortable())
                    .map(Field::name)
                    .collect();
                return Err(self
                    .error_at(&start, format!("cannot sort by `{field}`"))
                    .with_hint(format!("sort by {}", join_alternatives(&sortable))));
            }
            if items.iter().any(|item| item.field == field) {
                return Err(self.error_at(&start, format!("`{field}` is sorted by twice")));
            }
            let direction = if self.at_keyword("DESC") {
                self.advance();
                Direction::Descending
            } else {
                if self.at_keyword("ASC") {
                    self.advance();
                }
                Direction::Ascending
            };
            items.push(OrderItem { field, direction });
            if !matches!(self.peek().kind, TokenKind::Comma) {
                return Ok(items);
            }
            self.advance();
        }
    }
}

/// One operand stands alone; several are joined by `AND` or `OR`.
fn combine(mut operands: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if operands.len() == 1 {
        if let Some(only) = operands.pop() {
            return only;
        }
    }
    join(operands)
}
