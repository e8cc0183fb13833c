//! `cargo bench --bench plan`: plan 100,000 source rows against 100,000 Slack users, in memory.
//! Prints `name: value` lines. `PLAN_BENCH_N` shrinks the size. The users reach the plan as they
//! do in `scimitar plan`: pages of full SCIM users, each projected (`PlanUsers`) and dropped;
//! `plan_build_projection_ms` is that projection, `plan_ms` the plan on it, `peak_rss_mb` the
//! whole process (source and users included).
//! Mix: 2 % new, 5 % changed, 1 % disabled, 1 % out of scope (the new ones replace Slack-only
//! users, so 2 % of Slack users are also "not in source").

use std::io::Write;
use std::time::Instant;

use scimitar::policy::PlanUsers;
use scimitar::policy::config::Policy;
use scimitar::policy::plan::compute_on;
use scimitar::policy::source::{Source, SourceFormat, SourceSpec};
use scimitar::scim::types::{EnterpriseUser, Group, Manager, Member, MultiValue, Name, User};

const POLICY: &str = r#"
match_on = "email"
[source]
path = "hr.csv"
id_column = "employee_id"
status_column = "status"
groups_column = "groups"
[attributes]
userName = "{email|local}"
"emails.work" = "email"
"name.givenName" = "first"
"name.familyName" = "last"
displayName = "{first} {last}"
title = "title"
"enterprise.department" = "department"
"enterprise.costCenter" = "cost_center"
"enterprise.employeeNumber" = "employee_id"
"enterprise.manager" = "manager_id"
[scope]
groups = ["staff"]
[provisioning]
max_deactivation_percent = 100.0
[[groups]]
source = "eng"
slack_name = "engineering"
membership = "overwrite"
"#;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n: usize = std::env::var("PLAN_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv_path = dir.path().join("hr.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
        writeln!(f, "employee_id,email,first,last,title,department,cost_center,manager_id,status,groups").unwrap();
        for i in 0..n {
            let status = if i % 100 == 1 { "terminated" } else { "active" };
            let groups = if i % 100 == 2 {
                "alumni"
            } else if i % 2 == 0 {
                "staff;eng"
            } else {
                "staff"
            };
            let manager = if i == 0 { String::new() } else { format!("E{}", i / 10) };
            writeln!(f, "E{i},user{i}@corp.example,First{i},Last{i},Engineer,Dept{},CC{},{manager},{status},{groups}", i % 50, i % 200)
                .unwrap();
        }
    }
    let policy = Policy::parse(POLICY, &dir.path().join("policy.toml")).unwrap();
    // The Slack users arrive as `scimitar plan` gets them: pages of 1,000 full SCIM users, each
    // projected onto what the plan reads (`PlanUsers`) and dropped, as `live_plan` does.
    let mut users = PlanUsers::for_policy(&policy);
    let mut project_ms = 0.0;
    let mut page = Vec::with_capacity(1000);
    for i in 0..n {
        let new = i % 50 == 3; // 2 % of rows are new: their Slack slot holds someone else
        let changed = i % 20 == 4; // 5 %
        let email = if new { format!("gone{i}@corp.example") } else { format!("user{i}@corp.example") };
        page.push(User {
            id: Some(format!("U{i:08}")),
            user_name: Some(email.split('@').next().unwrap().into()),
            name: Some(Name { given_name: Some(format!("First{i}")), family_name: Some(format!("Last{i}")), ..Default::default() }),
            display_name: Some(format!("First{i} Last{i}")),
            title: Some(if changed { "Old title".into() } else { "Engineer".into() }),
            active: Some(true),
            emails: Some(vec![MultiValue::email(email, true)]),
            enterprise: Some(EnterpriseUser {
                department: Some(format!("Dept{}", i % 50)),
                cost_center: Some(format!("CC{}", i % 200)),
                employee_number: Some(format!("E{i}")),
                manager: (i != 0).then(|| Manager { manager_id: Some(format!("U{:08}", i / 10)), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        });
        if page.len() == 1000 || i + 1 == n {
            let t = Instant::now();
            users.reserve(page.len());
            for u in page.drain(..) {
                users.push(&u);
            }
            project_ms += t.elapsed().as_secs_f64() * 1000.0;
        }
    }
    let groups = vec![Group {
        id: Some("S1".into()),
        display_name: Some("engineering".into()),
        members: Some((0..n).step_by(3).map(|i| Member::id(format!("U{i:08}"))).collect()),
        ..Default::default()
    }];
    let spec = SourceSpec { path: csv_path.clone(), format: Some(SourceFormat::Csv), array_separator: ";".into(), memberships: None };

    let t = Instant::now();
    let source = Source::read(&spec).unwrap();
    let read_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!("read_csv_rows: {}", source.rows.len());
    println!("read_csv_ms: {read_ms:.1}");

    let t = Instant::now();
    let plan = compute_on(&policy, &source, &users, &groups, None).unwrap();
    let plan_ms = t.elapsed().as_secs_f64() * 1000.0;
    let c = plan.counts();
    println!("plan_build_projection_ms: {project_ms:.1}");
    println!("plan_projection_mb: {:.1}", users.heap_bytes() as f64 / (1024.0 * 1024.0));
    println!("plan_ms: {plan_ms:.1}");
    println!("plan_changes: {}", c.changes());
    println!("plan_creates: {}", c.creates);
    println!("plan_updates: {}", c.updates);
    println!("plan_deactivations: {}", c.deactivations);
    println!("plan_member_adds: {}", c.member_adds);
    println!("plan_member_removes: {}", c.member_removes);
    println!("peak_rss_mb: {:.1}", peak_rss_mb());
}
