//! `scimitar groups ...`: list, show, create, rename, delete, members.

use crate::bulk;
use crate::command_error::Fail;
use crate::connection::Connection;
use crate::env::Environment;
use crate::exit;
use crate::flags::{RunArgs, Targets};
use crate::output::{OutputFormat, RowStream, Rows};
use crate::scim::{ApiVersion, Group};
use clap::Subcommand;
use futures::StreamExt;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum GroupsCmd {
    /// List groups with their member counts
    List {
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Show one group and its members (by name or id)
    Show {
        /// Group display name or id (S…)
        group: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Create a group, optionally with members
    Create {
        /// The new group's display name
        name: String,
        #[command(flatten)]
        members: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Rename a group (membership is kept: PATCH, never a PUT)
    Rename {
        /// Group display name or id
        group: String,
        /// The new name
        to: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Delete a group (its members stay in Slack)
    Delete {
        /// Group display name or id
        group: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Add users to a group
    Add {
        /// Group display name or id
        group: String,
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Remove users from a group (one filtered remove per member, never the whole list)
    Remove {
        /// Group display name or id
        group: String,
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
}

/// Groups per page when listing them headless: a page carries every group's members (up to
/// 15,000 each), so pages are smaller than users'.
pub const GROUP_PAGE: u32 = 100;

pub async fn run(env: &Environment, cmd: GroupsCmd, out: &mut dyn Write) -> Result<i32, Fail> {
    match cmd {
        GroupsCmd::List { output } => {
            let c = Connection::of(env)?;
            // Page by page (a page of groups carries their members; only counts are kept).
            let mut pages = std::pin::pin!(c.client.group_pages(None, GROUP_PAGE));
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
            let mut rows = RowStream::new(output, vec!["id", "displayName", "members"], &mut out);
            while let Some(page) = pages.next().await {
                for g in page?.items {
                    let j = serde_json::json!({"id": g.id, "displayName": g.display_name, "members": g.member_count()});
                    rows.push(vec![g.id().to_string(), g.name().to_string(), g.member_count().to_string()], Some(&j))?;
                }
                rows.end_page()?;
            }
            rows.finish()?;
            Ok(exit::OK)
        }
        // The write commands connect through `bulk::writer` (read-only is refused before that).
        GroupsCmd::Create { name, members, run } => bulk::group_create(env, &name, &members, &run).await,
        GroupsCmd::Rename { group, to, run } => bulk::group_rename(env, &group, &to, &run).await,
        GroupsCmd::Delete { group, run } => bulk::group_delete(env, &group, &run).await,
        GroupsCmd::Add { group, targets, run } => bulk::group_members(env, &group, &targets, true, &run).await,
        GroupsCmd::Remove { group, targets, run } => bulk::group_members(env, &group, &targets, false, &run).await,
        GroupsCmd::Show { group, output } => {
            let c = Connection::of(env)?;
            let g: Group = bulk::find_group(c.client, &group).await?;
            if output == OutputFormat::Json {
                crate::output::write_json_line(out, &g.to_value(ApiVersion::V2))?;
                return Ok(exit::OK);
            }
            if output == OutputFormat::Table {
                writeln!(
                    out,
                    "{} ({}), {}",
                    crate::sanitize::clean(g.name()),
                    crate::sanitize::clean(g.id()),
                    crate::words::count(g.member_count(), "member")
                )?;
            }
            let mut rows = Rows::new(vec!["member_id", "display"]);
            for m in g.members.iter().flatten() {
                rows.push(vec![m.value.clone().unwrap_or_default(), m.display.clone().unwrap_or_default()], None);
            }
            rows.write(output, out)?;
            Ok(exit::OK)
        }
    }
}
