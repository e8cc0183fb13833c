//! One error type for Slack's two error body shapes (reference §7) and RFC 7644's (§3.12).
//!
//! v1: `{"Errors":{"description":"<code>[ (context)]","code":<int>}}`
//! v2: `{"schemas":[…Error],"detail":"<code>","status":400}` (status a number, sometimes a string)
//! RFC 7644 §3.12: `{"schemas":[…Error],"status":"400","scimType":"invalidPath","detail":"<text>"}`
//! v2 endpoints can still answer with the v1 shape, so both are parsed on both versions.
//!
//! The error code, in this order: Slack's code when the first word of `detail`/`description` is
//! one ([`is_slack_code`]), else the RFC `scimType`, else the HTTP status class
//! ([`status_code_name`]). The message always keeps the server's own text.

use serde_json::Value;
use std::time::Duration;

/// What went wrong talking to Slack's SCIM API.
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// Slack answered with an error status and (usually) an error body.
    #[error("{}", .0)]
    Api(ApiError),
    /// The server could not be reached or the connection broke.
    #[error("could not reach {url}: {reason}")]
    Transport { url: String, reason: String, connect: bool },
    /// The server answered something that is not SCIM JSON (an HTML page, a proxy error).
    #[error("{url} answered HTTP {status} with {what} instead of SCIM JSON; is this a Slack SCIM URL? (starts: {snippet:?})")]
    NotScim { url: String, status: u16, what: String, snippet: String },
    /// The request was refused before it was sent.
    #[error("{0}")]
    Invalid(String),
    /// The server answered, but not as a SCIM server may: a resource this client cannot read, a
    /// body over the size limit, paging that never ends. Not retried.
    #[error("{url}: {message}")]
    Protocol { url: String, message: String },
    /// The server answered with a redirect (3xx). A SCIM client never follows one: the request
    /// (its token, a PATCH's body) would go to wherever the answer points, possibly another
    /// host or plain http. `location` is the `Location` header as the server sent it, sanitised
    /// and without its query (it may carry anything), or `(none)`.
    #[error(
        "{url} answered HTTP {status}, redirecting to {location}; scimitar never follows a SCIM server's redirects (the token and the request would go along): nothing was sent there. If that address is right, give it with --url (or the profile's url)"
    )]
    Redirect { url: String, status: u16, location: String },
    /// A write was stopped before it left ([`crate::client::WRITES`]: the caller cancelled while it
    /// waited for its turn under the rate limit); nothing was sent.
    #[error("cancelled before it was sent: {what}")]
    Cancelled { what: String },
    /// An operation (one call with its retries) or a whole command ran out of time.
    #[error("{what}: gave up after {}s ({limit}): {reason}", .after.as_secs_f64().round())]
    Deadline {
        what: String,
        after: Duration,
        /// Which limit, e.g. `--op-deadline`.
        limit: String,
        reason: String,
    },
}

/// The longest server error text kept (the rest is cut, with a note).
pub const MAX_DETAIL_CHARS: usize = 500;

/// Where an [`ApiError`]'s code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeSource {
    /// Slack's code, the first word of `detail` (v2) or `description` (v1).
    Slack,
    /// The RFC 7644 `scimType` (`invalidFilter`, `uniqueness`, `invalidPath`, ...).
    ScimType,
    /// Neither: named after the HTTP status (`not_found`, `conflict`, `server_error`, ...).
    Status,
}

/// An error answered by the SCIM API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// The error code (see the module docs): `email_taken`, `invalidPath`, `not_found`.
    pub code: String,
    pub source: CodeSource,
    /// The RFC 7644 `scimType`, when the server sent one.
    pub scim_type: Option<String>,
    /// The body had Slack's v1 shape (`{"Errors":{…}}`), which only Slack sends (reference §7).
    pub v1_body: bool,
    /// The server's full text, e.g. `long_username (user=jane)` or `User 'x' not found`.
    pub detail: String,
    /// `Retry-After` from 429 answers, capped at [`crate::client::MAX_RETRY_AFTER`].
    pub retry_after: Option<Duration>,
    /// The server asked for more than the cap (its value is in `retry_after_asked`).
    pub retry_after_capped: bool,
    /// The header as the server sent it, when it was out of range (cut to 40 characters).
    pub retry_after_asked: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source {
            CodeSource::Slack => write!(f, "{} (HTTP {}, Slack error {})", self.human(), self.status, self.code)?,
            CodeSource::ScimType => write!(f, "{} (HTTP {}, scimType {})", self.human(), self.status, self.code)?,
            CodeSource::Status => write!(f, "{} (HTTP {})", self.human(), self.status)?,
        }
        if self.detail != self.code && !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if let (true, Some(asked)) = (self.retry_after_capped, &self.retry_after_asked) {
            let cap = self.retry_after.unwrap_or_default().as_secs();
            write!(f, " (it asked to wait Retry-After: {asked} seconds; this client waits at most {cap} s)")?;
        }
        Ok(())
    }
}

/// Is this word one of Slack's error codes? Every code Slack documents (reference §7's list, and
/// the variants seen in the field such as `long_username`) is lower snake_case with at least one
/// underscore; the reference says to keep codes not in the list, so the shape decides, not a list.
/// An RFC server's `detail` is a sentence ("User 'x' not found", "invalid syntax at column 18").
pub fn is_slack_code(word: &str) -> bool {
    let mut parts = word.split('_');
    let first = parts.next().unwrap_or("");
    let ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    word.len() <= 64 && first.bytes().next().is_some_and(|b| b.is_ascii_lowercase()) && ok(first) && {
        let rest: Vec<&str> = parts.collect();
        !rest.is_empty() && rest.iter().all(|p| ok(p))
    }
}

/// The code of an error that carries neither a Slack code nor a `scimType`: its HTTP status class.
pub fn status_code_name(status: u16) -> String {
    match status {
        400 => "bad_request".into(),
        401 => "unauthorized".into(),
        403 => "forbidden".into(),
        404 => "not_found".into(),
        409 => "conflict".into(),
        412 => "precondition_failed".into(),
        413 => "payload_too_large".into(),
        429 => "too_many_requests".into(),
        500..=599 => "server_error".into(),
        s => format!("http_{s}"),
    }
}

impl ApiError {
    /// An error without a usable body: its code is its status class.
    pub fn from_status(status: u16, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: status_code_name(status),
            source: CodeSource::Status,
            scim_type: None,
            v1_body: false,
            detail: detail.into(),
            retry_after: None,
            retry_after_capped: false,
            retry_after_asked: None,
        }
    }

    /// Parse an error body in any of the three shapes; `None` when the body is none of them.
    pub fn from_body(status: u16, body: &[u8]) -> Option<ApiError> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let v1_body = v.get("Errors").is_some();
        let (detail, st) = if let Some(errs) = v.get("Errors") {
            // v1: an object, or (seen in some clients) an array of objects.
            let e = if errs.is_array() { errs.get(0)? } else { errs };
            (e.get("description")?.as_str()?.to_string(), e.get("code"))
        } else if v.get("detail").is_some() || v.get("scimType").is_some() {
            (v.get("detail").and_then(Value::as_str).unwrap_or_default().to_string(), v.get("status"))
        } else {
            return None;
        };
        let body_status = st.and_then(|s| s.as_u64().or_else(|| s.as_str().and_then(|s| s.trim().parse().ok())));
        let status = if status >= 400 {
            status
        } else {
            // A status claimed by the body is kept only when it is an HTTP error status.
            body_status.filter(|s| (400..600).contains(s)).map_or(status, |s| s as u16)
        };
        // Server text: cleaned and cut here, once, so no error message ever carries an escape
        // sequence or a megabyte of text.
        let detail = crate::sanitize::excerpt(&detail, MAX_DETAIL_CHARS);
        let scim_type = v
            .get("scimType")
            .and_then(Value::as_str)
            .map(|t| crate::sanitize::clean(t).chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect::<String>())
            .filter(|t| !t.is_empty());
        let first: String = detail.split_whitespace().next().unwrap_or("").chars().take(65).collect();
        let (code, source) = if is_slack_code(&first) {
            (first, CodeSource::Slack)
        } else if let Some(t) = &scim_type {
            (t.clone(), CodeSource::ScimType)
        } else {
            (status_code_name(status), CodeSource::Status)
        };
        Some(ApiError {
            status,
            code,
            source,
            scim_type,
            v1_body,
            detail,
            retry_after: None,
            retry_after_capped: false,
            retry_after_asked: None,
        })
    }

    /// A sentence a person understands, for the codes an admin meets (reference §7).
    pub fn human(&self) -> String {
        let c = self.code.as_str();
        let s = match c {
            "invalid_authentication" | "missing_authentication" => {
                "the token was not accepted: check SLACK_SCIM_TOKEN, --token-file or the profile's token"
            }
            "unsupported_version" => {
                "Slack rejected the request as unsupported_version; on SCIM v2 this is what Slack answers to an invalid token, so check the token (or try --api v1)"
            }
            "permission_denied" => "the token's user may not do this (an Admin's token cannot change Owners)",
            "plus_teams_only" => "SCIM needs a Business+ or Enterprise Grid plan",
            "non_org_teams_only" => "on Enterprise Grid the token must come from an org-level install",
            "no_such_user" | "unknown_user" | "missing_user_id" | "cannot_decode_user_id" => "no such user",
            "no_such_group" | "missing_group_id" => "no such group",
            "no_such_group_members" => "one or more members do not exist",
            "email_taken" => "another user already has this email (a deactivated user keeps theirs)",
            "username_taken" => "another user or a channel already has this userName",
            "user_creation_failed" => "Slack could not create the user (it may already exist)",
            "cannot_disable_primary_owner" | "primary_owner_check_failure" => "the primary owner cannot be deactivated",
            "cannot_modify_owner" => "owners cannot be changed with this token",
            "cannot_disable_bot_user_with_scim" => "bot users cannot be deactivated through SCIM",
            "cannot_modify_gdpr" => "this user was removed under GDPR and cannot be changed",
            "cannot_make_user_guest" => "admins and owners cannot be made guests",
            "missing_schema_element" => "the request lacked its schemas list",
            "invalid_request_payload" | "invalid_attribute_format" => "the request body was not valid",
            "email_empty" | "email_invalid" | "bad_email_address" | "emails_invalid" => "the email address is not valid",
            "missing_primary_email" => "the primary email cannot be removed",
            "username_empty" | "username_required" => "userName is required",
            "username_invalid" | "username_not_allowed" | "invalid_reserved_word" => "this userName is not allowed",
            "username_too_long" | "long_username" | "long_nickname" => "userName is longer than Slack's 21 characters",
            "invalid_display_name" => "displayName cannot be changed in this org or is not valid",
            "invalid_name_maxlength" => "a name is too long",
            "invalid_name_specials" | "invalid_starts_with_at" => "a name contains characters Slack does not allow",
            "invalid_name_required" => "a given or family name is required",
            "invalid_emoji_not_allowed" => "emoji are not allowed in this field",
            "improper_enterprise_schema_format" => "the enterprise extension is malformed (manager needs managerId)",
            "password_change_not_allowed" => "passwords cannot be changed through SCIM",
            "incomplete_filter" | "invalid_filter_group" | "invalid_query" | "no_filters" | "query_building_failed" => {
                "the filter was not understood by Slack"
            }
            "database_query_failure" => "Slack failed to run the query; try again",
            "group_creation_failed" => "Slack could not create the group",
            "group_members_create_failed" => "Slack could not add the members",
            "group_member_max_exceeded" | "too_many_users" => "too many members for one group or one call",
            "unable_to_add_deleted_or_guest_to_group" => "deactivated users and guests cannot be added to this group",
            "idp_group_linked_to_channels" => "the group is linked to channels and cannot be deleted yet",
            "too_many_requests" => "rate limited by Slack",
            "resource_locked" => "another write to this object is in flight (Slack locks it)",
            "bad_endpoint" | "method_not_allowed" => "Slack does not offer this endpoint or method",
            // RFC 7644 §3.12 scimType values.
            "invalidFilter" => "the server did not accept the filter",
            "tooMany" => "the filter matched more results than the server returns",
            "uniqueness" => "another object already has one of these values (userName, email or name)",
            "mutability" => "the request changes an attribute the server does not let change",
            "invalidSyntax" => "the server could not read the request",
            "invalidPath" => "the server did not accept an attribute path of the request",
            "noTarget" => "the attribute path matched nothing",
            "invalidValue" => "a value of the request is not valid",
            "invalidVers" => "the object changed since it was read (version mismatch)",
            "sensitive" => "the request put sensitive data where the server refuses it",
            _ => match self.status {
                401 => "the token was not accepted: check SLACK_SCIM_TOKEN, --token-file or the profile's token",
                403 => "forbidden",
                404 => "not found",
                409 => "conflict with an existing object",
                412 => "the object changed since it was read",
                429 => "rate limited",
                500..=599 => "the server had an error",
                _ => "the server refused the request",
            },
        };
        s.to_string()
    }
}

impl ScimError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ScimError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Slack's error code, or a short tag for non-API failures.
    pub fn code(&self) -> &str {
        match self {
            ScimError::Api(e) => &e.code,
            ScimError::Transport { .. } => "transport",
            ScimError::NotScim { .. } => "not_scim",
            ScimError::Invalid(_) => "invalid_input",
            ScimError::Protocol { .. } => "protocol",
            ScimError::Redirect { .. } => "redirect",
            ScimError::Deadline { .. } => "deadline",
            ScimError::Cancelled { .. } => "cancelled",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ScimError::Api(e) => Some(e.status),
            ScimError::NotScim { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ScimError::Api(e) if e.status == 404 || matches!(e.code.as_str(), "no_such_user" | "unknown_user" | "cannot_decode_user_id" | "no_such_group"))
    }

    /// Did the server refuse the request's syntax (a filter, a PATCH path, a value form) rather
    /// than its content? Such a request changed nothing (RFC 7644 §3.5.2: a PATCH is atomic), so
    /// the same change may be sent again in another form.
    pub fn is_syntax_rejection(&self) -> bool {
        matches!(self, ScimError::Api(a) if a.status == 400 && (matches!(a.scim_type.as_deref(), Some("invalidPath" | "invalidSyntax" | "invalidFilter" | "invalidValue"))
            || matches!(a.code.as_str(), "invalid_path" | "invalid_filter" | "invalid_query" | "incomplete_filter" | "invalid_filter_group"
                | "no_filters" | "query_building_failed")))
    }

    /// Did Slack reject the token (rather than the request)?
    pub fn is_auth(&self) -> bool {
        matches!(self, ScimError::Api(e) if e.status == 401
            || matches!(e.code.as_str(), "invalid_authentication" | "missing_authentication" | "unsupported_version" | "not_authed"))
    }

    /// Would sending the same request again make sense (429, 5xx, broken connection)?
    pub fn is_retryable(&self) -> bool {
        match self {
            ScimError::Api(e) => e.status == 429 || e.status >= 500,
            ScimError::Transport { .. } => true,
            ScimError::NotScim { status, .. } => *status == 429 || *status >= 500,
            ScimError::Invalid(_)
            | ScimError::Protocol { .. }
            | ScimError::Redirect { .. }
            | ScimError::Deadline { .. }
            | ScimError::Cancelled { .. } => false,
        }
    }

    /// Might the server have acted on the request although we saw a failure?
    /// A 429 is a clean refusal; a 5xx or a broken connection after sending is not.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            ScimError::Api(e) => e.status >= 500,
            ScimError::Transport { connect, .. } => !connect,
            ScimError::NotScim { status, .. } => *status >= 500,
            // A deadline can cut a request the server was already acting on.
            ScimError::Deadline { .. } => true,
            // A redirect is an answer: the server did not act on the request. A cancelled write was never sent.
            ScimError::Invalid(_) | ScimError::Protocol { .. } | ScimError::Redirect { .. } | ScimError::Cancelled { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_shape() {
        let e = ApiError::from_body(400, br#"{"Errors":{"description":"long_username (user=jane.doe.with.a.very.long.name)","code":400}}"#)
            .unwrap();
        assert_eq!(e.code, "long_username");
        assert_eq!(e.status, 400);
        assert!(e.to_string().contains("21 characters"));
    }

    #[test]
    fn parses_v2_shape_number_or_string_status() {
        let e = ApiError::from_body(
            400,
            br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"missing_schema_element","status":400}"#,
        )
        .unwrap();
        assert_eq!(e.code, "missing_schema_element");
        let e = ApiError::from_body(409, br#"{"detail":"email_taken","status":"409"}"#).unwrap();
        assert_eq!((e.status, e.code.as_str()), (409, "email_taken"));
    }

    #[test]
    fn rfc_errors_take_scim_type_then_the_status_class() {
        // scim2-server's answers (RFC 7644 §3.12): a sentence in detail, a string status.
        let e = ApiError::from_body(400, br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidFilter","detail":"Field not found: email"}"#).unwrap();
        assert_eq!((e.code.as_str(), e.source), ("invalidFilter", CodeSource::ScimType));
        assert!(e.to_string().contains("Field not found: email"), "the server's text is kept: {e}");
        assert!(!e.to_string().contains("Slack error"), "{e}");
        let e = ApiError::from_body(404, br#"{"status":"404","detail":"User 'nonexist' not found"}"#).unwrap();
        assert_eq!((e.code.as_str(), e.source), ("not_found", CodeSource::Status));
        assert!(ScimError::Api(e).is_not_found());
        let e = ApiError::from_body(400, br#"{"status":"400","scimType":"invalidPath","detail":"invalid syntax at column 18"}"#).unwrap();
        assert_eq!(e.code, "invalidPath");
        assert!(ScimError::Api(e).is_syntax_rejection());
        let e = ApiError::from_body(409, br#"{"status":"409","scimType":"uniqueness","detail":"One or more of the attribute values are already in use or are reserved"}"#).unwrap();
        assert_eq!(e.code, "uniqueness");
        // Slack's code wins over a scimType when detail starts with one.
        let e = ApiError::from_body(400, br#"{"detail":"no_filters (x)","scimType":"invalidFilter","status":400}"#).unwrap();
        assert_eq!((e.code.as_str(), e.source), ("no_filters", CodeSource::Slack));
        for w in ["email_taken", "long_username", "invalid_authentication", "cannot_disable_bot_user_with_scim"] {
            assert!(is_slack_code(w), "{w}");
        }
        for w in ["User", "Field", "invalid", "Invalid_x", "a__b", "_x", "x_", "x-y_z"] {
            assert!(!is_slack_code(w), "{w}");
        }
    }

    #[test]
    fn server_text_is_cleaned_and_cut() {
        let body = format!(r#"{{"detail":"bad_value\u001b]52;c;ZXZpbA==\u0007 \u001b[2J{}","status":400}}"#, "x".repeat(100_000));
        let e = ApiError::from_body(400, body.as_bytes()).unwrap();
        assert_eq!(e.code, "bad_value");
        assert!(!e.to_string().contains('\u{1b}'));
        assert!(e.detail.len() < MAX_DETAIL_CHARS * 2 && e.detail.contains("bytes in all"), "{}", e.detail.len());
        // a body claiming a success status for an error answer keeps the HTTP status
        assert_eq!(ApiError::from_body(200, br#"{"detail":"x","status":99999}"#).unwrap().status, 200);
    }

    #[test]
    fn unknown_body_is_none() {
        assert!(ApiError::from_body(502, b"<html>Bad gateway</html>").is_none());
    }
}
