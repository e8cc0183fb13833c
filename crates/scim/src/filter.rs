//! SCIM filter expressions: the whole RFC 7644 §3.4.2.2 grammar.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")" / "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"          ; emails[type eq "work" and value co "@x"]
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER  ; "and" binds tighter than "or"
//! compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "lt" / "ge" / "le"
//! compValue = false / null / true / number / string
//! attrPath  = [URI ":"] ATTRNAME *1subAttr         ; urn:…:enterprise:2.0:User:department
//! ```
//!
//! Filters are built as values and rendered by `Display`, which writes every string literal as a
//! JSON string: quotes and backslashes in a value are escaped, so a hostile email cannot change
//! the shape of the query. The parser checks `--filter` text (errors say what is wrong and at
//! which character) and is used by the emulator, which then refuses, with Slack's own error, what
//! Slack does not document ([`Filter::slack_unsupported`]: `ne`, `ew`, `not`, value paths;
//! reference §4).
//!
//! Two leniencies, both Slack's: an unquoted word is read as a string (Slack's docs write
//! `members[value eq U123]`, reference §5; `Display` quotes it), and keywords and operators are
//! case-insensitive (reference §4, as RFC 7644). Slack requires single spaces between tokens
//! (`incomplete_filter`; the RFC grammar has one `SP` too); `Display` writes exactly that.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
    fn parse(s: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|o| o.as_str().eq_ignore_ascii_case(s))
    }
    /// The operators Slack documents (reference §4: `eq co sw pr gt ge lt le`).
    pub fn slack_documents(self) -> bool {
        !matches!(self, CompareOp::Ne | CompareOp::Ew)
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
    Compare {
        attr: String,
        op: CompareOp,
        value: Literal,
    },
    Present {
        attr: String,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    /// `not (…)`.
    Not(Box<Filter>),
    /// `attr[…]`: the elements of a multi-valued attribute matching the inner filter, whose
    /// attribute names are relative to `attr` (`emails[type eq "work"]`).
    ValuePath {
        attr: String,
        filter: Box<Filter>,
    },
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
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }

    /// Parse filter text (RFC 7644 §3.4.2.2). Errors carry Slack's error code for the emulator's
    /// sake and a message naming what is wrong and where.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.trim().is_empty() {
            return Err(FilterError::new("no_filters", "the filter is empty"));
        }
        if text.starts_with(' ') || text.ends_with(' ') {
            return Err(FilterError::new(
                "incomplete_filter",
                "the filter starts or ends with a space (tokens are separated by single spaces)",
            ));
        }
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, pos: 0, depth: 0, terms: 0, len: text.chars().count() };
        let f = p.parse_or()?;
        if let Some((t, at)) = p.tokens.get(p.pos) {
            return Err(FilterError::new("invalid_query", format!("unexpected {} at character {}", t.describe(), at + 1)));
        }
        Ok(f)
    }

    /// The first construct Slack does not document, if any (reference §4 lists `eq co sw pr gt
    /// ge lt le`, `and`, `or` and parentheses; `ne`, `ew`, `not` and value paths are absent). The
    /// emulator answers these with Slack's `invalid_query`; the client sends them on, since
    /// another server may support them.
    pub fn slack_unsupported(&self) -> Option<String> {
        match self {
            Filter::Compare { op, .. } if !op.slack_documents() => Some(format!("the operator {:?}", op.as_str())),
            Filter::Compare { .. } | Filter::Present { .. } => None,
            Filter::And(a, b) | Filter::Or(a, b) => a.slack_unsupported().or_else(|| b.slack_unsupported()),
            Filter::Not(_) => Some("\"not\"".into()),
            Filter::ValuePath { attr, .. } => Some(format!("the value path {attr}[…]")),
        }
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
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
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
        write!(f, "bad filter: {} ({})", self.message, self.code)
    }
}
impl std::error::Error for FilterError {}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("{:?}", crate::sanitize::excerpt(w, 40)),
            Token::Str(s) => format!("the string {}", crate::sanitize::quoted_excerpt(s, 40)),
            Token::Open => "\"(\"".into(),
            Token::Close => "\")\"".into(),
            Token::OpenBracket => "\"[\"".into(),
            Token::CloseBracket => "\"]\"".into(),
        }
    }
}

/// Tokens with the (0-based, in characters) position they start at.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, FilterError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        match c {
            // Two spaces between tokens (not inside a quoted value, which may hold any text).
            ' ' if chars.get(i + 1) == Some(&' ') => {
                return Err(FilterError::new(
                    "incomplete_filter",
                    format!("two spaces at character {} (tokens are separated by single spaces)", i + 1),
                ));
            }
            ' ' => i += 1,
            '(' | ')' | '[' | ']' => {
                out.push((
                    match c {
                        '(' => Token::Open,
                        ')' => Token::Close,
                        '[' => Token::OpenBracket,
                        _ => Token::CloseBracket,
                    },
                    at,
                ));
                i += 1;
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(FilterError::new("invalid_query", format!("the string at character {} is not closed", at + 1)));
                    };
                    i += 1;
                    if c == quote {
                        break;
                    }
                    if c == '\\' {
                        let Some(&e) = chars.get(i) else {
                            return Err(FilterError::new("invalid_query", "the filter ends inside an escape (\\)"));
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
                                let code = u32::from_str_radix(&hex, 16)
                                    .map_err(|_| FilterError::new("invalid_query", format!("a bad \\u escape at character {}", i - 1)))?;
                                s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                                i += 4;
                            }
                            other => s.push(other),
                        }
                    } else {
                        s.push(c);
                    }
                }
                out.push((Token::Str(s), at));
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '(' | ')' | '[' | ']' | '"') {
                    i += 1;
                }
                out.push((Token::Word(chars[start..i].iter().collect()), at));
            }
        }
    }
    Ok(out)
}

/// Why a filter's attribute path is refused ([`check_attr_path`]).
#[derive(Debug, thiserror::Error)]
enum AttrPathError {
    #[error("a schema URN without an attribute")]
    UrnWithoutAttribute,
    #[error("a schema URN with spaces")]
    UrnSpaces,
    #[error(
        "{} is not an attribute name (a letter, then letters, digits, - or _; one .sub-attribute)",
        crate::sanitize::quoted_excerpt(.0, 60)
    )]
    NotAName(String),
}

/// `[URI ":"] ATTRNAME *1subAttr` (RFC 7644 §3.4.2.2 / RFC 7643 §2.1): ATTRNAME is a letter then
/// letters, digits, `-`, `_` (`$ref` too, RFC 7643 §2.1's reference attribute); a schema URN
/// prefix ends at its last `:`.
fn check_attr_path(a: &str) -> Result<(), AttrPathError> {
    let name_ok = |n: &str| {
        n == "$ref"
            || (n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    };
    let rest = if a.len() > 4 && a.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        let (uri, rest) = a.rsplit_once(':').ok_or(AttrPathError::UrnWithoutAttribute)?;
        if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AttrPathError::UrnSpaces);
        }
        rest
    } else {
        a
    };
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or("");
    let sub = parts.next();
    if parts.next().is_some() || !name_ok(name) || sub.is_some_and(|s| !name_ok(s)) {
        return Err(AttrPathError::NotAName(a.to_string()));
    }
    Ok(())
}

/// The deepest nesting of `( … )`, `not ( … )` and `attr[ … ]` a filter may have.
pub const MAX_NESTING: usize = 32;
/// The most comparisons (`attr op value`, `attr pr`) one filter may hold. An `and`/`or` chain
/// becomes a tree as deep as it is long, and rendering, evaluating and dropping a tree recurse:
/// these two limits bound that depth (to about their sum), so no filter text, however long,
/// can drive a parser, the emulator's evaluation or a drop off a thread's stack. Real filters
/// (a lookup, a `--filter`) hold a handful of terms.
pub const MAX_TERMS: usize = 100;

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    /// Open groups around the current position.
    depth: usize,
    /// Comparisons read so far.
    terms: usize,
    /// Characters of the text (for "ends too early" positions).
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.len, |(_, a)| *a) + 1
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

    /// `( FILTER )`, closing with `)`.
    fn parse_group(&mut self) -> Result<Filter, FilterError> {
        let open = self.at();
        self.pos += 1;
        let inner = self.nested(open, |p| p.parse_or())?;
        if self.peek() != Some(&Token::Close) {
            return Err(FilterError::new("invalid_filter_group", format!("the \"(\" at character {open} is not closed")));
        }
        self.pos += 1;
        Ok(inner)
    }

    /// Parse inside a group opened at character `open`, refusing nesting past [`MAX_NESTING`].
    fn nested(&mut self, open: usize, f: impl FnOnce(&mut Self) -> Result<Filter, FilterError>) -> Result<Filter, FilterError> {
        if self.depth >= MAX_NESTING {
            return Err(FilterError::new(
                "invalid_filter_group",
                format!("groups are nested more than {MAX_NESTING} deep (at character {open})"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn parse_atom(&mut self) -> Result<Filter, FilterError> {
        match self.peek().cloned() {
            Some(Token::Open) => self.parse_group(),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                if self.peek() != Some(&Token::Open) {
                    return Err(FilterError::new(
                        "invalid_query",
                        format!("\"not\" must be followed by \"(\" (at character {})", self.at()),
                    ));
                }
                Ok(self.parse_group()?.not())
            }
            Some(Token::Word(attr)) => {
                let attr_at = self.at();
                if matches!(attr.to_ascii_lowercase().as_str(), "and" | "or") {
                    return Err(FilterError::new("invalid_query", format!("{attr:?} at character {attr_at} has nothing before it")));
                }
                check_attr_path(&attr).map_err(|m| FilterError::new("invalid_query", format!("{m}, at character {attr_at}")))?;
                self.terms += 1;
                if self.terms > MAX_TERMS {
                    return Err(FilterError::new(
                        "invalid_query",
                        format!("the filter has more than {MAX_TERMS} comparisons (the one at character {attr_at} is one too many)"),
                    ));
                }
                self.pos += 1;
                if self.peek() == Some(&Token::OpenBracket) {
                    let open = self.at();
                    self.pos += 1;
                    let inner = self.nested(open, |p| p.parse_or())?;
                    if self.peek() != Some(&Token::CloseBracket) {
                        return Err(FilterError::new("invalid_filter_group", format!("the \"[\" at character {open} is not closed")));
                    }
                    self.pos += 1;
                    return Ok(Filter::ValuePath { attr, filter: Box::new(inner) });
                }
                let op = match self.peek() {
                    Some(Token::Word(op)) => op.clone(),
                    _ => {
                        return Err(FilterError::new(
                            "no_filters",
                            format!(
                                "{attr:?} (character {attr_at}) needs an operator (eq ne co sw ew gt ge lt le pr) at character {}",
                                self.at()
                            ),
                        ));
                    }
                };
                let op_at = self.at();
                self.pos += 1;
                if op.eq_ignore_ascii_case("pr") {
                    return Ok(Filter::Present { attr });
                }
                let op = CompareOp::parse(&op).ok_or_else(|| {
                    FilterError::new(
                        "invalid_query",
                        format!(
                            "unknown operator {} at character {op_at} (expected eq ne co sw ew gt ge lt le pr)",
                            crate::sanitize::quoted_excerpt(&op, 20)
                        ),
                    )
                })?;
                let value = match self.peek().cloned() {
                    Some(Token::Str(s)) => Literal::Str(s),
                    Some(Token::Word(w)) if !matches!(w.to_ascii_lowercase().as_str(), "and" | "or" | "not") => {
                        match w.to_ascii_lowercase().as_str() {
                            "true" => Literal::Bool(true),
                            "false" => Literal::Bool(false),
                            "null" => Literal::Null,
                            _ => match w.parse::<f64>() {
                                Ok(n) if n.is_finite() => Literal::Num(n),
                                // Slack's own examples include unquoted words (e.g. ids); accept them as strings.
                                _ => Literal::Str(w),
                            },
                        }
                    }
                    _ => {
                        return Err(FilterError::new(
                            "incomplete_filter",
                            format!(
                                "{attr} {} needs a value (a \"string\", number, true, false or null) at character {}",
                                op.as_str(),
                                self.at()
                            ),
                        ));
                    }
                };
                self.pos += 1;
                Ok(Filter::Compare { attr, op, value })
            }
            Some(t) => Err(FilterError::new("invalid_query", format!("unexpected {} at character {}", t.describe(), self.at()))),
            None => Err(FilterError::new("incomplete_filter", "the filter ends too early")),
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
    fn the_whole_rfc_grammar_parses() {
        // RFC 7644 §3.4.2.2's own examples.
        for text in [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"title pr"#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"userName ew "son""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D""#,
        ] {
            let f = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(Filter::parse(&f.to_string()).unwrap(), f, "{text}");
        }
        let f = Filter::parse(r#"not (userName eq "a")"#).unwrap();
        assert_eq!(f, Filter::eq("userName", "a").not());
        assert_eq!(f.to_string(), r#"not (userName eq "a")"#);
        assert_eq!(Filter::parse(r#"NOT(userName Eq "a")"#).unwrap(), f);
        let f = Filter::parse(r#"emails[value eq "x@y.z"]"#).unwrap();
        assert_eq!(f, Filter::ValuePath { attr: "emails".into(), filter: Box::new(Filter::eq("value", "x@y.z")) });
        assert_eq!(f.to_string(), r#"emails[value eq "x@y.z"]"#);
        assert_eq!(f.slack_unsupported().as_deref(), Some("the value path emails[…]"));
        assert!(Filter::parse(r#"userName ne "a""#).unwrap().slack_unsupported().unwrap().contains("ne"));
        assert!(Filter::parse(r#"userName sw "a" and active eq true"#).unwrap().slack_unsupported().is_none());
    }

    #[test]
    fn deep_or_long_filters_are_refused_not_recursed_into() {
        // Found by the filter_parse fuzz target on a 256 KiB stack: nesting drove the parser,
        // and long chains drove rendering and evaluation, off the stack.
        let deep = format!("{}a pr{}", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
        let e = Filter::parse(&deep).unwrap_err();
        assert!(e.to_string().contains("nested more than 32"), "{e}");
        let ok = format!("{}a pr{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(Filter::parse(&ok).is_ok());
        let nots = format!("{}a pr{}", "not (".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
        assert!(Filter::parse(&nots).is_err());
        let brackets = format!("{}x pr{}", "a[".repeat(MAX_NESTING + 1), "]".repeat(MAX_NESTING + 1));
        assert!(Filter::parse(&brackets).is_err());
        let long = vec!["a pr"; MAX_TERMS + 1].join(" and ");
        let e = Filter::parse(&long).unwrap_err();
        assert!(e.to_string().contains("more than 100 comparisons"), "{e}");
        assert!(Filter::parse(&vec!["a pr"; MAX_TERMS].join(" or ")).is_ok());
        // A 64 KiB chain (the longest query string hyper takes) is refused at once, on a small stack.
        let huge = vec!["a pr"; 64 * 1024 / 9].join(" and ");
        let t = std::thread::Builder::new().stack_size(128 << 10).spawn(move || Filter::parse(&huge).is_err()).unwrap();
        assert!(t.join().unwrap());
    }

    #[test]
    fn syntax_errors_say_what_and_where() {
        let e = |t: &str| Filter::parse(t).unwrap_err();
        assert_eq!(e("foo").code, "no_filters");
        assert!(e("foo").message.contains("needs an operator"), "{}", e("foo"));
        assert_eq!(e("userName  eq \"a\"").code, "incomplete_filter");
        assert!(e("userName  eq \"a\"").message.contains("character 9"), "{}", e("userName  eq \"a\""));
        assert_eq!(e("(userName eq \"a\"").code, "invalid_filter_group");
        assert!(e("userName xx \"a\"").message.contains("unknown operator \"xx\" at character 10"), "{}", e("userName xx \"a\""));
        assert!(e("userName eq").message.contains("needs a value"), "{}", e("userName eq"));
        assert!(e("userName eq \"a").message.contains("not closed"), "{}", e("userName eq \"a"));
        assert!(e("emails[value eq \"a\"").message.contains("\"[\" at character 7 is not closed"), "{}", e("emails[value eq \"a\""));
        assert!(e("not userName eq \"a\"").message.contains("\"not\" must be followed by \"(\""));
        assert!(e("user$name eq \"a\"").message.contains("not an attribute name"));
        assert!(e("userName eq \"a\" and").message.contains("ends too early"));
        assert!(e("and userName eq \"a\"").message.contains("nothing before it"));
        assert!(e("userName eq \"a\" userName eq \"b\"").message.contains("unexpected \"userName\" at character 17"));
        assert!(Filter::parse("userName Eq \"Carly\"").is_ok());
        assert_eq!(Filter::parse("members[value eq U123]").unwrap().to_string(), "members[value eq \"U123\"]");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn attr() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
            "[a-zA-Z][a-zA-Z0-9_-]{0,5}\\.[a-zA-Z][a-zA-Z0-9_-]{0,5}",
            "urn:[a-z0-9:.]{1,12}:[a-zA-Z][a-zA-Z0-9]{0,5}",
        ]
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
        let op = proptest::sample::select(CompareOp::ALL.to_vec());
        let leaf = prop_oneof![
            (attr(), op, literal()).prop_map(|(attr, op, value)| Filter::Compare { attr, op, value }),
            attr().prop_map(|attr| Filter::Present { attr }),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
                inner.clone().prop_map(Filter::not),
                (attr(), inner).prop_map(|(attr, f)| Filter::ValuePath { attr, filter: Box::new(f) }),
            ]
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
        let and = match f {
            Filter::And(..) => true,
            Filter::Or(..) => false,
            Filter::Not(inner) => return normalize(*inner).not(),
            Filter::ValuePath { attr, filter } => return Filter::ValuePath { attr, filter: Box::new(normalize(*filter)) },
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
