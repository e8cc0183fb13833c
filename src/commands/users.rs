//! `scimitar users ...`: look up (find, show, list, export, guests) and write (create, update,
//! deactivate, reactivate: through `bulk`).

use crate::bulk;
use crate::command_error::Fail;
use crate::connection::Connection;
use crate::env::Environment;
use crate::exit;
use crate::flags::{RunArgs, Targets};
use crate::output::{OutputFormat, RowStream, Rows};
use crate::policy::export;
use crate::scim::client::{UserSummary, check_email};
use crate::scim::{ApiVersion, Filter, ScimError, User};
use clap::Subcommand;
use futures::StreamExt;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Find users by email (deactivated users included)
    Find {
        /// One or more email addresses
        #[arg(required = true)]
        emails: Vec<String>,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
        /// Answer from the local directory cache (the console's; as old as it says on stderr), not from Slack
        #[arg(long)]
        cached: bool,
    },
    /// Deactivate users (Slack keeps them, readable, with active=false)
    Deactivate {
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Reactivate deactivated users
    Reactivate {
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Create users from a CSV (columns: email, userName, first_name, last_name, displayName, title, department, ...)
    Create {
        /// The CSV file
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Change attributes of a user (--set FIELD=VALUE, repeatable; an empty value clears) or of the
    /// users of a CSV (--from: an id or email column, then one column per field); only changed
    /// attributes are sent; --dry-run shows the field-level diff (old -> new)
    Update {
        /// Slack user id, email or userName (not with --from)
        #[arg(required_unless_present = "from", conflicts_with = "from")]
        user: Option<String>,
        /// FIELD=VALUE: title, department, givenName, familyName, displayName, userName, email,
        /// timezone, userType, employeeNumber, costCenter, organization, division, manager, phone,
        /// mobile, locale, preferredLanguage, honorificPrefix
        #[arg(long = "set", value_name = "FIELD=VALUE", conflicts_with = "from")]
        set: Vec<String>,
        /// A CSV: header `id` or `email` (or `userName`), then the fields; an empty cell leaves
        /// that field as it is
        #[arg(long)]
        from: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Show every attribute of one user (by id, or by email)
    Show {
        /// Slack user id (W… or U…) or an email address
        id: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
        /// Answer from the local directory cache (the listed fields only), not from Slack
        #[arg(long)]
        cached: bool,
    },
    /// Write the live directory; `--output csv` is a policy source (see docs/policies.md)
    Export {
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Csv)]
        output: OutputFormat,
    },
    /// List users
    List {
        /// SCIM filter (RFC 7644 §3.4.2.2: eq ne co sw ew gt ge lt le pr, and, or, not (…), value paths
        /// such as emails[type eq "work"]), e.g. 'userName sw "jane"'; checked here for syntax, then sent on
        /// (Slack documents eq co sw pr gt ge lt le, and, or; it refuses the rest)
        #[arg(long)]
        filter: Option<String>,
        /// Only active (true) or deactivated (false) users; applied on this side because Slack
        /// does not document an `active` filter
        #[arg(long)]
        active: Option<bool>,
        /// Stop after this many users
        #[arg(long)]
        limit: Option<usize>,
        /// Only multi-channel guests, soonest expiry first (those without one last), with their
        /// expiry and whether it falls within --soon days
        #[arg(long)]
        guests: bool,
        /// With --guests: the days ahead that count as expiring soon
        #[arg(long, default_value_t = 30, requires = "guests")]
        soon: u32,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
}

pub async fn run(env: &Environment, cmd: UsersCmd, out: &mut dyn Write) -> Result<i32, Fail> {
    match cmd {
        UsersCmd::Find { emails, output, cached } => {
            // Every address is checked before any request is sent.
            let mut bad = Vec::new();
            let mut norm = Vec::new();
            for (i, e) in emails.iter().enumerate() {
                match check_email(e) {
                    Ok(n) => norm.push(n),
                    Err(err) => bad.push(format!("argument {}: {err}", i + 1)),
                }
            }
            if !bad.is_empty() {
                return Err(Fail::new(exit::USAGE, bad.join("\n")));
            }
            if cached {
                let t = read_cached(env)?;
                let found = norm.iter().map(|q| t.find_email(&q.to_lowercase()).map(|i| cached_user_row(t.get(i))));
                return write_found(&norm, found, true, output, out);
            }
            let c = Connection::of(env)?;
            let found: Vec<Result<Option<User>, ScimError>> = futures::stream::iter(norm.iter().map(|e| {
                let client = c.client.clone();
                let e = e.clone();
                async move { client.find_user_by_email(&e).await }
            }))
            .buffered(8)
            .collect()
            .await;
            let found = found.into_iter().collect::<Result<Vec<_>, _>>()?;
            let found = found.into_iter().map(|u| u.map(|u| (user_row(&u), u.to_value(ApiVersion::V2))));
            write_found(&norm, found, false, output, out)
        }
        UsersCmd::Deactivate { targets, run } => bulk::deactivate(env, &targets, &run, false).await,
        UsersCmd::Reactivate { targets, run } => bulk::deactivate(env, &targets, &run, true).await,
        UsersCmd::Create { from, run } => bulk::create_users(env, &from, &run).await,
        UsersCmd::Update { user, set, from, run } => crate::commands::edit::update(env, user.as_deref(), &set, from.as_deref(), &run).await,
        UsersCmd::Export { output } => export_users(Connection::of(env)?, output, out).await,
        UsersCmd::Show { id, output, cached: true } => {
            let t = read_cached(env)?;
            let q = id.trim().to_lowercase();
            let idx = t
                .index_of(id.trim())
                .or_else(|| t.find_email(&q))
                .or_else(|| t.iter().position(|r| r.user_name_lower() == q).map(|i| i as u32))
                .ok_or_else(|| Fail::new(exit::NOT_FOUND, format!("{id}: no such user in the directory cache")))?;
            let (_, j) = cached_user_row(t.get(idx));
            if output == OutputFormat::Json {
                crate::output::write_json_line(out, &j)?;
            } else {
                let mut rows = Rows::new(vec!["attribute", "value"]);
                if let Value::Object(m) = &j {
                    for (k, v) in m {
                        let v = match v {
                            Value::String(s) => crate::sanitize::clean(s),
                            Value::Null => continue,
                            v => v.to_string(),
                        };
                        if !v.is_empty() {
                            rows.push(vec![k.clone(), v], None);
                        }
                    }
                }
                rows.write(output, out)?;
            }
            Ok(exit::OK)
        }
        UsersCmd::Show { id, output, cached: false } => {
            let c = Connection::of(env)?;
            // An email, an id or a userName: whichever the server knows (`queue::input::lookup`).
            let user = crate::queue::input::find_user(c.client, &id).await?.map_err(|miss| Fail::new(exit::NOT_FOUND, miss))?;
            write_user_detail(&user, output, out)?;
            Ok(exit::OK)
        }
        UsersCmd::List { filter, active, limit, guests, soon, output } => {
            let filter = match filter {
                Some(text) => Some(Filter::parse(&text).map_err(|e| Fail::new(exit::USAGE, format!("--filter {text:?}: {e}")))?),
                None => None,
            };
            let c = Connection::of(env)?;
            if guests {
                return list_guests(&c, filter, active, limit, soon, output, out).await;
            }
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
            let mut rows = RowStream::new(output, USER_COLUMNS.to_vec(), &mut out);
            let limit = limit.map_or(u64::MAX, |l| l as u64);
            // JSON writes each whole user; the columns need a summary of each (a fraction of
            // the parsing and memory: `scim::wire`).
            if output == OutputFormat::Json {
                let pages = c.client.user_pages(filter, 1000);
                list_rows(
                    pages,
                    &mut rows,
                    limit,
                    |u: &User| active.is_none_or(|a| u.is_active() == a),
                    |u| {
                        let j = u.to_value(ApiVersion::V2);
                        (user_row(&u), Some(j))
                    },
                )
                .await?;
            } else {
                let pages = c.client.user_pages_of::<UserSummary>(filter, 1000);
                list_rows(pages, &mut rows, limit, |u: &UserSummary| active.is_none_or(|a| u.is_active() == a), |u| (summary_row(u), None))
                    .await?;
            }
            rows.finish()?;
            Ok(exit::OK)
        }
    }
}

pub const USER_COLUMNS: [&str; 8] = ["id", "userName", "email", "displayName", "title", "department", "active", "roles"];

pub fn user_row(u: &User) -> Vec<String> {
    vec![
        u.id().to_string(),
        u.user_name.clone().unwrap_or_default(),
        u.primary_email().unwrap_or_default().to_string(),
        u.label(),
        u.title.clone().unwrap_or_default(),
        u.department().unwrap_or_default().to_string(),
        match u.active {
            Some(true) => "true".into(),
            Some(false) => "false".into(),
            None => String::new(),
        },
        u.role_values().join(";"),
    ]
}

/// Write a listing's rows as its pages arrive (each page goes out, then is dropped: memory holds
/// a page), those `keep` keeps, at most `limit`; progress on stderr when it is a terminal.
async fn list_rows<T: crate::scim::wire::Listed>(
    pages: impl futures::Stream<Item = Result<crate::scim::Page<T>, ScimError>>,
    rows: &mut RowStream<'_>,
    limit: u64,
    keep: impl Fn(&T) -> bool,
    row: impl Fn(T) -> (Vec<String>, Option<Value>),
) -> Result<(), Fail> {
    let progress = std::io::stderr().is_terminal();
    let mut pages = std::pin::pin!(pages);
    let mut loaded = 0u64;
    'pages: while let Some(page) = pages.next().await {
        let page = page?;
        loaded += page.items.len() as u64;
        if progress {
            let p = page.progress;
            eprint!("\rloading users {loaded}/{} (page {}/{})", page.total_results, p.pages_done, p.pages_total);
        }
        for u in page.items {
            if !keep(&u) {
                continue;
            }
            if rows.rows() >= limit {
                break 'pages;
            }
            let (r, j) = row(u);
            rows.push(r, j.as_ref())?;
        }
        rows.end_page()?;
    }
    if progress {
        eprint!("\r\x1b[2K");
    }
    Ok(())
}

/// [`user_row`] of a listed user's summary (the same cells: `summary_row(UserSummary::of(u))`
/// is `user_row(u)`).
pub fn summary_row(u: UserSummary) -> Vec<String> {
    vec![
        u.id.unwrap_or_default(),
        u.user_name.unwrap_or_default(),
        u.primary_email.unwrap_or_default(),
        u.label,
        u.title.unwrap_or_default(),
        u.department.unwrap_or_default(),
        match u.active {
            Some(true) => "true".into(),
            Some(false) => "false".into(),
            None => String::new(),
        },
        u.roles.join(";"),
    ]
}

/// The columns of `users list --guests`.
pub const GUEST_COLUMNS: [&str; 7] = ["id", "userName", "email", "displayName", "guestExpiration", "expiresIn", "soon"];

/// A guest's row for `users list --guests`: their expiry, the days left (`expired`, `none`), and
/// whether that is within `soon` days.
fn guest_row(u: &UserSummary, now: i64, soon: u32) -> (Vec<String>, Value) {
    let exp = u.guest_expiration.as_deref();
    let at = exp.and_then(|e| crate::scim::rules::iso_date(e, crate::scim::rules::DateEnd::End).ok()).map(|d| d.unix);
    let (left, is_soon) = match at {
        Some(t) if t < now => ("expired".to_string(), true),
        Some(t) => {
            let days = (t - now) / 86_400;
            (crate::words::count(days as usize, "day"), days <= i64::from(soon))
        }
        None if exp.is_some() => ("unreadable date".into(), false),
        None => ("none".into(), false),
    };
    let row = vec![
        u.id.clone().unwrap_or_default(),
        u.user_name.clone().unwrap_or_default(),
        u.primary_email.clone().unwrap_or_default(),
        u.label.clone(),
        exp.unwrap_or_default().to_string(),
        left.clone(),
        if is_soon { "yes".into() } else { String::new() },
    ];
    let j = serde_json::json!({
        "id": u.id, "userName": u.user_name, "email": u.primary_email, "displayName": u.label,
        "guestExpiration": exp, "expiresIn": left, "soon": is_soon, "active": u.active,
    });
    (row, j)
}

/// `users list --guests`: every multi-channel guest (read page by page, only the guests kept),
/// soonest expiry first, guests without an expiry last; `soon` marks those expiring within
/// `soon` days (expired ones too). A count of them goes to stderr.
async fn list_guests(
    c: &Connection<'_>,
    filter: Option<Filter>,
    active: Option<bool>,
    limit: Option<usize>,
    soon: u32,
    output: OutputFormat,
    out: &mut dyn Write,
) -> Result<i32, Fail> {
    let mut pages = std::pin::pin!(c.client.user_pages_of::<UserSummary>(filter, 1000));
    let mut guests: Vec<(Option<i64>, UserSummary)> = Vec::new();
    while let Some(page) = pages.next().await {
        for u in page?.items {
            if u.guest && active.is_none_or(|a| u.is_active() == a) {
                let at = u.guest_expiration.as_deref().and_then(|e| crate::scim::rules::iso_date(e, crate::scim::rules::DateEnd::End).ok());
                guests.push((at.map(|d| d.unix), u));
            }
        }
    }
    guests.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.label.cmp(&b.1.label),
    });
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut rows = RowStream::new(output, GUEST_COLUMNS.to_vec(), out);
    let mut soon_count = 0;
    for (_, u) in guests.iter().take(limit.unwrap_or(usize::MAX)) {
        let (r, j) = guest_row(u, now, soon);
        soon_count += usize::from(j["soon"] == true);
        rows.push(r, Some(&j))?;
    }
    rows.finish()?;
    eprintln!(
        "scimitar: {}, {} expiring within {soon} days or expired",
        crate::words::count(guests.len(), "multi-channel guest"),
        soon_count
    );
    Ok(exit::OK)
}

fn write_user_detail(u: &User, output: OutputFormat, out: &mut dyn Write) -> Result<(), Fail> {
    if output == OutputFormat::Json {
        crate::output::write_json_line(out, &u.to_value(ApiVersion::V2))?;
        return Ok(());
    }
    let mut rows = Rows::new(vec!["attribute", "value"]);
    for (k, v) in crate::present::user_detail_rows(u) {
        rows.push(vec![k, v], None);
    }
    rows.write(output, out)?;
    Ok(())
}

/// The profile's directory cache, for `--cached` lookups (its age goes to stderr).
fn read_cached(env: &Environment) -> Result<crate::directory::UserTable, Fail> {
    let path = crate::directory::cache_path(&env.paths.data_dir, &env.profile_name);
    match crate::directory::UserTable::read_cache(&path) {
        Ok((t, at)) => {
            let age = crate::directory::age_text(time::OffsetDateTime::now_utc().unix_timestamp() - at);
            eprintln!(
                "scimitar: from the directory cache of profile {} ({}, {age} old)",
                env.profile_name,
                crate::words::count(t.len(), "user")
            );
            Ok(t)
        }
        Err(e) if e.is_missing() => Err(Fail::new(
            exit::NOT_FOUND,
            format!("no directory cache for profile {}: open the console once (it writes one), or leave out --cached", env.profile_name),
        )),
        Err(e) => Err(Fail::new(exit::FAILURE, e.to_string())),
    }
}

/// `users find`'s answer: a row per query (the user's `USER_COLUMNS` and JSON when found, from
/// the cache or from Slack); exit 1 when any is missing, saying how many on stderr.
fn write_found(
    queries: &[String],
    found: impl Iterator<Item = Option<(Vec<String>, Value)>>,
    cached: bool,
    output: OutputFormat,
    out: &mut dyn Write,
) -> Result<i32, Fail> {
    let mut headers = vec!["query", "found"];
    headers.extend(USER_COLUMNS);
    let mut rows = Rows::new(headers);
    let mut missing = 0;
    for (q, f) in queries.iter().zip(found) {
        match f {
            Some((r, mut j)) => {
                let mut row = vec![q.clone(), "yes".into()];
                row.extend(r);
                j["query"] = Value::from(q.as_str());
                j["found"] = Value::Bool(true);
                rows.push(row, Some(j));
            }
            None => {
                missing += 1;
                let mut row = vec![q.clone(), "no".into()];
                row.extend(std::iter::repeat_n(String::new(), USER_COLUMNS.len()));
                let j = match cached {
                    true => serde_json::json!({"query": q, "found": false, "cached": true}),
                    false => serde_json::json!({"query": q, "found": false}),
                };
                rows.push(row, Some(j));
            }
        }
    }
    rows.write(output, out)?;
    if missing > 0 {
        let whence = if cached { " in the cache" } else { "" };
        eprintln!("scimitar: {missing} of {} not found{whence}", queries.len());
        return Ok(exit::FAILURE);
    }
    Ok(exit::OK)
}

/// The `USER_COLUMNS` of a cached (compact) user, and its JSON.
fn cached_user_row(r: crate::directory::UserRef<'_>) -> (Vec<String>, Value) {
    let active = match r.active_opt() {
        Some(a) => a.to_string(),
        None => String::new(),
    };
    let row = vec![
        r.id_shown().into_owned(),
        r.user_name().into(),
        r.email().into(),
        r.name().into(),
        r.title().into(),
        r.department().into(),
        active,
        r.roles().into(),
    ];
    let j = serde_json::json!({
        "id": r.id(), "userName": r.user_name(), "email": r.email(), "displayName": r.name(), "title": r.title(),
        "department": r.department(), "manager": r.manager_id(), "roles": r.roles(), "guest": r.guest(),
        "active": r.active_opt(), "cached": true,
    });
    (row, j)
}

/// `scimitar users export`: the live directory; `csv` is in the shape a policy source reads
/// (`config::EXPORT_POLICY`).
pub async fn export_users(c: Connection<'_>, output: OutputFormat, out: &mut dyn Write) -> Result<i32, Fail> {
    // Streamed page by page: memory stays flat whatever the directory's size. The CSV needs the
    // managers' emails, which may come after their reports: it is spooled to two anonymous
    // temporary files (unlinked, 0600) and written once the listing is complete
    // (`export::SourceCsvExport`); JSON and the table go out as the pages arrive.
    let mut pages = std::pin::pin!(c.client.user_pages(None, 1000));
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let count = match output {
        OutputFormat::Csv => {
            let spool =
                || tempfile::tempfile().map_err(|e| Fail::new(exit::FAILURE, format!("cannot make a temporary file for the export: {e}")));
            let mut csv = export::SourceCsvExport::new(spool()?, spool()?)?;
            while let Some(page) = pages.next().await {
                for u in &page?.items {
                    csv.push(u)?;
                }
            }
            csv.finish(&mut out)?
        }
        OutputFormat::Json | OutputFormat::Table => {
            let mut rows = RowStream::new(output, USER_COLUMNS.to_vec(), &mut out);
            while let Some(page) = pages.next().await {
                for u in &page?.items {
                    let j = (output == OutputFormat::Json).then(|| u.to_value(ApiVersion::V2));
                    rows.push(user_row(u), j.as_ref())?;
                }
                rows.end_page()?;
            }
            let n = rows.rows();
            rows.finish()?;
            n
        }
    };
    out.flush()?;
    eprintln!("scimitar: exported {}", crate::words::count(count as usize, "user"));
    Ok(exit::OK)
}
