//! SCIM filter expressions (RFC 7644 §3.4.2.2, the subset Slack documents).
//!
//! Filters are built as values and rendered by `Display`, which writes every string literal as a
//! JSON string: quotes and backslashes in a value are escaped, so a hostile email cannot change
//! the shape of the query. The parser is used by the emulator and to validate `--filter` text.
//!
//! Slack requires single spaces between tokens (`incomplete_filter`); `Display` writes exactly that.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Co,
    Sw,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
    fn parse(s: &str) -> Option<CompareOp> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// A literal on the right of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Bool(bool),
    Num(f64),
    Null,
}

impl From<&str> for Literal {
    fn from(s: &str) -> Self {
        Literal::Str(s.to_string())
    }
}
impl From<String> for Literal {
    fn from(s: String) -> Self {
        Literal::Str(s)
    }
}
impl From<bool> for Literal {
    fn from(b: bool) -> Self {
        Literal::Bool(b)
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // serde_json writes a valid JSON string: `"` and `\` escaped, control chars as \uXXXX.
            Literal::Str(s) => f.write_str(&serde_json::to_string(s).expect("string serialises")),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Num(n) => write!(f, "{n}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare { attr: String, op: CompareOp, value: Literal },
    Present { attr: String },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

impl Filter {
    pub fn eq(attr: &str, value: impl Into<Literal>) -> Filter {
        Filter::Compare { attr: attr.into(), op: CompareOp::Eq, value: value.into() }
    }
    pub fn co(attr: &str, value: impl Into<Literal>) -> Filter {
        Filter::Compare { attr: attr.into(), op: CompareOp::Co, value: value.into() }
    }
    pub fn sw(attr: &str, value: impl Into<Literal>) -> Filter {
        Filter::Compare { attr: attr.into(), op: CompareOp::Sw, value: value.into() }
    }
    pub fn pr(attr: &str) -> Filter {
        Filter::Present { attr: attr.into() }
    }
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }
    pub fn or(self, other: Filter) -> Filter {
        Filter::Or(Box::new(self), Box::new(other))
    }

    /// Parse filter text. Errors carry Slack's error code for the emulator's sake.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.starts_with(' ') || text.ends_with(' ') {
            return Err(FilterError::new("incomplete_filter", "filter tokens must be separated by single spaces"));
        }
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err(FilterError::new("no_filters", "empty filter"));
        }
        let mut p = Parser { tokens, pos: 0 };
        let f = p.parse_or()?;
        if p.pos != p.tokens.len() {
            return Err(FilterError::new("invalid_query", format!("unexpected {:?}", p.tokens[p.pos])));
        }
        Ok(f)
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, inner: &Filter, parent_is_and: bool) -> fmt::Result {
    // `and` binds tighter than `or`: an `or` inside an `and` needs parentheses.
    if parent_is_and && matches!(inner, Filter::Or(..)) { write!(f, "({inner})") } else { write!(f, "{inner}") }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { attr, op, value } => write!(f, "{attr} {} {value}", op.as_str()),
            Filter::Present { attr } => write!(f, "{attr} pr"),
            Filter::And(a, b) => {
                write_operand(f, a, true)?;
                f.write_str(" and ")?;
                write_operand(f, b, true)
            }
            Filter::Or(a, b) => {
                write_operand(f, a, false)?;
                f.write_str(" or ")?;
                write_operand(f, b, false)
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// Slack's error code for this kind of bad filter.
    pub code: &'static str,
    pub message: String,
}

impl FilterError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        FilterError { code, message: message.into() }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad filter ({}): {}", self.code, self.message)
    }
}
impl std::error::Error for FilterError {}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            // Two spaces between tokens (not inside a quoted value, which may hold any text).
            ' ' if chars.get(i + 1) == Some(&' ') => {
                return Err(FilterError::new("incomplete_filter", "filter tokens must be separated by single spaces"));
            }
            ' ' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(FilterError::new("invalid_query", "unterminated string literal"));
                    };
                    i += 1;
                    if c == quote {
                        break;
                    }
                    if c == '\\' {
                        let Some(&e) = chars.get(i) else {
                            return Err(FilterError::new("invalid_query", "dangling escape"));
                        };
                        i += 1;
                        match e {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            'u' => {
                                let hex: String = chars.get(i..i + 4).map(|h| h.iter().collect()).unwrap_or_default();
                                let code =
                                    u32::from_str_radix(&hex, 16).map_err(|_| FilterError::new("invalid_query", "bad \\u escape"))?;
                                s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                                i += 4;
                            }
                            other => s.push(other),
                        }
                    } else {
                        s.push(c);
                    }
                }
                out.push(Token::Str(s));
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '(' | ')' | '"') {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn parse_or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_and()?;
        while self.peek_word("or") {
            self.pos += 1;
            let right = self.parse_and()?;
            left = left.or(right);
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_atom()?;
        while self.peek_word("and") {
            self.pos += 1;
            let right = self.parse_atom()?;
            left = left.and(right);
        }
        Ok(left)
    }

    fn parse_atom(&mut self) -> Result<Filter, FilterError> {
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.parse_or()?;
                if self.tokens.get(self.pos) != Some(&Token::Close) {
                    return Err(FilterError::new("invalid_filter_group", "missing ')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Word(attr)) => {
                if attr.eq_ignore_ascii_case("not") {
                    return Err(FilterError::new("invalid_query", "'not' is not supported"));
                }
                if !attr.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')) {
                    return Err(FilterError::new("invalid_query", format!("bad attribute name {attr:?}")));
                }
                self.pos += 1;
                let op = match self.tokens.get(self.pos) {
                    Some(Token::Word(op)) => op.clone(),
                    _ => return Err(FilterError::new("no_filters", format!("no operator after {attr:?}"))),
                };
                self.pos += 1;
                if op.eq_ignore_ascii_case("pr") {
                    return Ok(Filter::Present { attr });
                }
                let op = CompareOp::parse(&op).ok_or_else(|| FilterError::new("invalid_query", format!("unsupported operator {op:?}")))?;
                let value = match self.tokens.get(self.pos).cloned() {
                    Some(Token::Str(s)) => Literal::Str(s),
                    Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                        "true" => Literal::Bool(true),
                        "false" => Literal::Bool(false),
                        "null" => Literal::Null,
                        _ => match w.parse::<f64>() {
                            Ok(n) => Literal::Num(n),
                            // Slack's own examples include unquoted words (e.g. ids); accept them as strings.
                            Err(_) => Literal::Str(w),
                        },
                    },
                    _ => return Err(FilterError::new("incomplete_filter", format!("no value after {attr} {}", op.as_str()))),
                };
                self.pos += 1;
                Ok(Filter::Compare { attr, op, value })
            }
            Some(t) => Err(FilterError::new("invalid_query", format!("unexpected {t:?}"))),
            None => Err(FilterError::new("incomplete_filter", "filter ends too early")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hostile_values() {
        let f = Filter::eq("email", r#"" or userName pr ""#);
        assert_eq!(f.to_string(), r#"email eq "\" or userName pr \"""#);
        let back = Filter::parse(&f.to_string()).unwrap();
        assert_eq!(back, f, "round trip keeps the value a single literal");
        let f = Filter::eq("email", r"a\b@x.com");
        assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
    }

    #[test]
    fn precedence_and_parentheses() {
        let f = Filter::parse(r#"userName eq "a" or userName eq "b" and active eq true"#).unwrap();
        assert!(matches!(f, Filter::Or(_, _)));
        let f = Filter::parse(r#"(userName eq "a" or userName eq "b") and active eq true"#).unwrap();
        assert!(matches!(f, Filter::And(_, _)));
        assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
    }

    #[test]
    fn slack_errors() {
        assert_eq!(Filter::parse("foo").unwrap_err().code, "no_filters");
        assert_eq!(Filter::parse("userName  eq \"a\"").unwrap_err().code, "incomplete_filter");
        assert_eq!(Filter::parse("(userName eq \"a\"").unwrap_err().code, "invalid_filter_group");
        assert_eq!(Filter::parse("userName ne \"a\"").unwrap_err().code, "invalid_query");
        assert!(Filter::parse("userName Eq \"Carly\"").is_ok());
        assert_eq!(Filter::parse("members[value eq \"x\"] pr").unwrap_err().code, "invalid_query");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn attr() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9._:-]{0,8}"
            .prop_filter("not a keyword", |a| !matches!(a.to_ascii_lowercase().as_str(), "and" | "or" | "not" | "true" | "false" | "null"))
    }

    fn literal() -> impl Strategy<Value = Literal> {
        prop_oneof![
            any::<String>().prop_map(Literal::Str),
            "[ a-z\"\\\\@.()]{0,12}".prop_map(Literal::Str),
            any::<bool>().prop_map(Literal::Bool),
            any::<f64>().prop_filter("finite", |n| n.is_finite()).prop_map(Literal::Num),
            Just(Literal::Null),
        ]
    }

    fn filter() -> impl Strategy<Value = Filter> {
        let op = prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::Co),
            Just(CompareOp::Sw),
            Just(CompareOp::Gt),
            Just(CompareOp::Ge),
            Just(CompareOp::Lt),
            Just(CompareOp::Le)
        ];
        let leaf = prop_oneof![
            (attr(), op, literal()).prop_map(|(attr, op, value)| Filter::Compare { attr, op, value }),
            attr().prop_map(|attr| Filter::Present { attr }),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![(inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)), (inner.clone(), inner).prop_map(|(a, b)| a.or(b)),]
        })
    }

    /// `and` and `or` are associative, and the parser reads chains left to right: rebuild every
    /// chain left-leaning so that equal filters compare equal.
    fn normalize(f: Filter) -> Filter {
        fn chain(f: Filter, and: bool, out: &mut Vec<Filter>) {
            match f {
                Filter::And(a, b) if and => {
                    chain(*a, and, out);
                    chain(*b, and, out);
                }
                Filter::Or(a, b) if !and => {
                    chain(*a, and, out);
                    chain(*b, and, out);
                }
                other => out.push(normalize(other)),
            }
        }
        let and = match &f {
            Filter::And(..) => true,
            Filter::Or(..) => false,
            _ => return f,
        };
        let mut parts = Vec::new();
        chain(f, and, &mut parts);
        let mut it = parts.into_iter();
        let first = it.next().unwrap();
        it.fold(first, |acc, p| if and { acc.and(p) } else { acc.or(p) })
    }

    proptest! {
        /// Filter render -> parse round trip: whatever the values hold (quotes, backslashes,
        /// control characters, double spaces, unicode), the rendered text parses back to the same
        /// filter, and rendering is a fixed point.
        #[test]
        fn render_then_parse_round_trips(f in filter()) {
            let text = f.to_string();
            let back = Filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(back.to_string(), text.clone());
            prop_assert_eq!(normalize(back), normalize(f));
        }

        #[test]
        fn parsing_never_panics(text in any::<String>()) {
            let _ = Filter::parse(&text);
        }
    }
}
