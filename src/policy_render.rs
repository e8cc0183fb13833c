//! Showing a plan: a readable diff (`OutputFormat::Table`), one JSON document, or CSV with one row
//! per change (`kind,target,attribute,old,new,reason`). Text from the source or the server passes
//! through `sanitize::clean` in the diff.

use std::io::{self, Write};

use crate::output::OutputFormat;
use crate::policy::plan::{GroupTarget, MemberRef, Plan};
use crate::sanitize::clean;

pub fn render(plan: &Plan, format: OutputFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        OutputFormat::Table => write_diff(plan, out),
        OutputFormat::Json => write_json(plan, out),
        OutputFormat::Csv => write_csv(plan, out),
    }
}

fn opt(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "(none)".to_string(), |s| format!("{:?}", clean(s)))
}

fn group_label(t: &GroupTarget, name: &str) -> String {
    match t {
        GroupTarget::Existing { id } => format!("{} ({id})", clean(name)),
        GroupTarget::Pending { key } => format!("{} (new, key {})", clean(name), clean(key)),
    }
}

fn member(m: &MemberRef) -> String {
    match m {
        MemberRef::User { id, label } => format!("{} ({id})", clean(label)),
        MemberRef::Pending { key, .. } => format!("{} (new)", clean(key)),
    }
}

/// The readable diff.
pub fn write_diff(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    for c in &plan.creates {
        writeln!(out, "+ create {} <{}> (row {})", clean(&c.label), clean(c.user.primary_email().unwrap_or("")), c.row_line)?;
    }
    for r in &plan.reactivations {
        writeln!(out, "> reactivate {} <{}> ({})", clean(&r.label), clean(&r.email), r.id)?;
    }
    for u in &plan.updates {
        writeln!(out, "~ update {} ({})", clean(&u.label), u.id)?;
        for ch in &u.changes {
            writeln!(out, "    {}: {} -> {}", ch.attr, opt(&ch.old), opt(&ch.new))?;
        }
    }
    for g in &plan.group_creates {
        writeln!(out, "+ group {} (key {}, {})", clean(&g.name), clean(&g.key), crate::words::count(g.members.len(), "member"))?;
        for m in &g.members {
            writeln!(out, "    + {}", member(m))?;
        }
    }
    for r in &plan.group_renames {
        writeln!(out, "~ rename group {:?} -> {:?} ({}, key {})", clean(&r.old), clean(&r.new), r.id, clean(&r.key))?;
    }
    for m in &plan.member_adds {
        for u in &m.members {
            writeln!(out, "+ member {} -> {}", member(u), group_label(&m.group, &m.group_name))?;
        }
    }
    for m in &plan.member_removes {
        for u in &m.members {
            writeln!(out, "- member {} <- {}", member(u), group_label(&m.group, &m.group_name))?;
        }
    }
    for d in &plan.deactivations {
        writeln!(out, "- deactivate {} <{}> ({}) ({})", clean(&d.label), clean(&d.email), d.id, d.reason.as_str())?;
    }
    for d in &plan.reported_only {
        writeln!(
            out,
            "! would deactivate {} <{}> ({}) ({}; remove_action = report)",
            clean(&d.label),
            clean(&d.email),
            d.id,
            d.reason.as_str()
        )?;
    }
    for l in &plan.manager_links {
        writeln!(
            out,
            "~ manager of {}: -> {} (new; set once created, in this run) (row {})",
            member(&l.user),
            clean(&l.manager_key),
            l.row_line
        )?;
    }
    for v in &plan.violations {
        writeln!(out, "! left out (row {}, {}): {}", v.row_line, v.rule, clean(&v.message))?;
    }
    for w in &plan.warnings {
        writeln!(out, "warning: {}", clean(w))?;
    }
    let c = plan.counts();
    if plan.is_empty() {
        writeln!(out, "No changes.")?;
    } else {
        let links = if c.manager_links > 0 { format!(", {} managers to set once created", c.manager_links) } else { String::new() };
        writeln!(
            out,
            "Plan: {} to create, {} to reactivate, {} to update ({} attributes), {} groups to create, {} to rename, {} members to add, {} to remove, {} to deactivate{links}.",
            c.creates,
            c.reactivations,
            c.updates,
            c.attribute_changes,
            c.group_creates,
            c.group_renames,
            c.member_adds,
            c.member_removes,
            c.deactivations
        )?;
    }
    if c.violations > 0 {
        writeln!(out, "Left out: {} (rows that break Slack's rules, listed above; the rest of the plan goes ahead).", c.violations)?;
    }
    Ok(())
}

/// One JSON document: `{"counts": ..., "plan": ...}`.
pub fn write_json(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let doc = serde_json::json!({ "counts": plan.counts(), "plan": plan });
    crate::sanitize::write_json_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// One CSV row per change.
pub fn write_csv(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    // Cells hold Slack's values (old titles, names): cleaned like every CSV that may land on a
    // terminal; line breaks stay (CSV quotes them).
    struct Clean<W: Write>(csv::Writer<W>);
    impl<W: Write> Clean<W> {
        fn write_record<const N: usize>(&mut self, cells: [&str; N]) -> csv::Result<()> {
            self.0.write_record(cells.iter().map(|c| crate::output::csv_cell(c)))
        }
    }
    let mut w = Clean(csv::Writer::from_writer(out));
    w.write_record(["kind", "target", "attribute", "old", "new", "reason"])?;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    for c in &plan.creates {
        w.write_record(["create", c.user.primary_email().unwrap_or(""), "", "", &c.key, &format!("row {}", c.row_line)])?;
    }
    for r in &plan.reactivations {
        w.write_record(["reactivate", &r.id, "active", "false", "true", ""])?;
    }
    for u in &plan.updates {
        for ch in &u.changes {
            w.write_record(["update", &u.id, ch.attr.name(), &s(&ch.old), &s(&ch.new), ""])?;
        }
    }
    for g in &plan.group_creates {
        w.write_record(["group_create", &g.key, "displayName", "", &g.name, ""])?;
        for m in &g.members {
            w.write_record(["member_add", &g.key, "members", "", m.target(), ""])?;
        }
    }
    for r in &plan.group_renames {
        w.write_record(["group_rename", &r.id, "displayName", &r.old, &r.new, ""])?;
    }
    let gid = |t: &GroupTarget| match t {
        GroupTarget::Existing { id } => id.clone(),
        GroupTarget::Pending { key } => key.clone(),
    };
    for m in &plan.member_adds {
        for u in &m.members {
            w.write_record(["member_add", &gid(&m.group), "members", "", u.target(), ""])?;
        }
    }
    for m in &plan.member_removes {
        for u in &m.members {
            w.write_record(["member_remove", &gid(&m.group), "members", u.target(), "", ""])?;
        }
    }
    for d in &plan.deactivations {
        w.write_record(["deactivate", &d.id, "active", "true", "false", d.reason.as_str()])?;
    }
    for d in &plan.reported_only {
        w.write_record(["report", &d.id, "active", "true", "", d.reason.as_str()])?;
    }
    for l in &plan.manager_links {
        w.write_record(["manager_link", l.user.target(), "enterprise.manager", "", &l.manager_key, &format!("row {}", l.row_line)])?;
    }
    for v in &plan.violations {
        w.write_record(["left_out", &v.key, v.rule.name(), "", "", &v.message])?;
    }
    w.0.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::config::Attr;
    use crate::policy::plan::{AttrChange, Deactivate, Reason, UpdateUser};
    use crate::scim::types::User;

    fn sample() -> Plan {
        Plan {
            updates: vec![UpdateUser {
                id: "U1".into(),
                label: "Ann\u{1b}[31m".into(),
                row_line: 2,
                changes: vec![AttrChange { attr: Attr::Title, old: Some("Dev\u{1b}]0;t\u{7}".into()), new: Some("Lead, \"Dev\"".into()) }],
                patch: User::default(),
            }],
            deactivations: vec![Deactivate {
                id: "U2".into(),
                email: "bob@x".into(),
                label: "Bob".into(),
                reason: Reason::Disabled,
                row_line: Some(3),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn diff_is_readable_and_sanitised() {
        let mut out = Vec::new();
        render(&sample(), OutputFormat::Table, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("~ update Ann (U1)\n    title: \"Dev\" -> \"Lead, \\\"Dev\\\"\"\n"), "{text}");
        assert!(text.contains("- deactivate Bob <bob@x> (U2) (disabled in source)"), "{text}");
        assert!(!text.contains('\u{1b}'));
        assert!(
            text.ends_with(
                "1 to update (1 attributes), 0 groups to create, 0 to rename, 0 members to add, 0 to remove, 1 to deactivate.\n"
            ),
            "{text}"
        );
        let mut out = Vec::new();
        render(&Plan::default(), OutputFormat::Table, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "No changes.\n");
    }

    #[test]
    fn json_and_csv() {
        let mut out = Vec::new();
        render(&sample(), OutputFormat::Json, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["counts"]["deactivations"], 1);
        assert_eq!(v["plan"]["updates"][0]["changes"][0]["attr"], "title");
        assert_eq!(v["plan"]["updates"][0]["changes"][0]["old"], "Dev\u{1b}]0;t\u{7}", "JSON keeps the text, escaped");
        assert!(!out.contains(&0x1b), "no raw ESC in JSON");
        assert_eq!(v["plan"]["deactivations"][0]["reason"], "disabled");
        let mut out = Vec::new();
        render(&sample(), OutputFormat::Csv, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "kind,target,attribute,old,new,reason\nupdate,U1,title,Dev,\"Lead, \"\"Dev\"\"\",\ndeactivate,U2,active,true,false,disabled in source\n"
        );
    }
}
