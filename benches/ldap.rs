//! `cargo bench --bench ldap`: read and plan 100,000 directory entries from a real slapd (on
//! loopback, seeded with slapadd) against 100,000 Slack users, beside the same plan from a CSV
//! export of the same people, in the same run. Prints `name: value` lines. `LDAP_BENCH_N` shrinks
//! the size. Peak RSS is this process's (slapd is another process: `slapd_peak_rss_mb`); the high
//! water mark is reset between the CSV and the LDAP half (`/proc/self/clear_refs`).
//! Mix as in `benches/plan.rs`: 2 % new, 5 % changed, 1 % disabled, 1 % out of scope.

#[path = "../tests/common/slapd.rs"]
mod slapd;

use std::io::Write;
use std::time::Instant;

use scimitar::policy::config::Policy;
use scimitar::policy::plan::{Plan, compute};
use scimitar::scim::types::{EnterpriseUser, Group, Manager, Member, MultiValue, Name, User};
use slapd::{Directory, Person, Slapd};

const ATTRS_CSV: &str = r#"
[attributes]
userName = "{email|local}"
"emails.work" = "email"
"name.givenName" = "first"
"name.familyName" = "last"
displayName = "{first} {last}"
title = "title"
"enterprise.department" = "department"
"enterprise.employeeNumber" = "employee_id"
"enterprise.manager" = "manager_id"
"#;

const ATTRS_LDAP: &str = r#"
[attributes]
userName = "{mail|local}"
"emails.work" = "mail"
"name.givenName" = "givenName"
"name.familyName" = "sn"
displayName = "{givenName} {sn}"
title = "title"
"enterprise.department" = "department"
"enterprise.employeeNumber" = "employeeNumber"
"enterprise.manager" = "manager"
"#;

const REST: &str = r#"
[scope]
groups = ["staff"]
[provisioning]
max_deactivation_percent = 100.0
[[groups]]
source = "eng"
slack_name = "engineering"
membership = "overwrite"
"#;

fn peak_rss_mb(status: &str) -> f64 {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn counts(prefix: &str, plan: &Plan) {
    let c = plan.counts();
    println!("{prefix}_plan_changes: {}", c.changes());
    println!("{prefix}_plan_creates: {}", c.creates);
    println!("{prefix}_plan_updates: {}", c.updates);
    println!("{prefix}_plan_deactivations: {}", c.deactivations);
    println!("{prefix}_plan_member_adds: {}", c.member_adds);
    println!("{prefix}_plan_member_removes: {}", c.member_removes);
}

fn main() {
    let n: usize = std::env::var("LDAP_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let status = |i: usize| i % 100 == 1; // disabled
    let scope = |i: usize| -> &'static str {
        if i % 100 == 2 {
            "alumni"
        } else if i.is_multiple_of(2) {
            "staff;eng"
        } else {
            "staff"
        }
    };

    // The directory, and the same people as a CSV export.
    let csv_path = dir.path().join("hr.csv");
    let server = {
        let mut d = Directory::default();
        let (mut staff, mut eng, mut alumni) = (Vec::new(), Vec::new(), Vec::new());
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
        writeln!(f, "employee_id,email,first,last,title,department,manager_id,status,groups").unwrap();
        for i in 0..n {
            let manager = if i == 0 { String::new() } else { format!("E{}", i / 10) };
            let st = if status(i) { "terminated" } else { "active" };
            writeln!(f, "E{i},user{i}@corp.example,First{i},Last{i},Engineer,Dept{},{manager},{st},{}", i % 50, scope(i)).unwrap();
            let p = Person {
                uid: format!("user{i}"),
                given_name: format!("First{i}"),
                sn: format!("Last{i}"),
                mail: format!("user{i}@corp.example"),
                title: Some("Engineer".into()),
                department: Some(format!("Dept{}", i % 50)),
                employee_number: Some(format!("E{i}")),
                manager: (i != 0).then(|| format!("user{}", i / 10)),
                user_account_control: Some(if status(i) { 514 } else { 512 }),
                ..Default::default()
            };
            match scope(i) {
                "alumni" => alumni.push(p.dn()),
                "staff;eng" => {
                    staff.push(p.dn());
                    eng.push(p.dn());
                }
                _ => staff.push(p.dn()),
            }
            d.people.push(p);
        }
        f.flush().unwrap();
        d.group("staff", staff);
        d.group("eng", eng);
        d.group("alumni", alumni);
        Slapd::start(&d)
    };
    println!("entries: {n}");
    println!("slapadd_entries: {}", server.entries);
    println!("slapadd_seed_ms: {:.1}", server.seed_time.as_secs_f64() * 1000.0);

    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let new = i % 50 == 3;
        let changed = i % 20 == 4;
        let email = if new { format!("gone{i}@corp.example") } else { format!("user{i}@corp.example") };
        users.push(User {
            id: Some(format!("U{i:08}")),
            user_name: Some(email.split('@').next().unwrap().into()),
            name: Some(Name { given_name: Some(format!("First{i}")), family_name: Some(format!("Last{i}")), ..Default::default() }),
            display_name: Some(format!("First{i} Last{i}")),
            title: Some(if changed { "Old title".into() } else { "Engineer".into() }),
            active: Some(true),
            emails: Some(vec![MultiValue::email(email, true)]),
            enterprise: Some(EnterpriseUser {
                department: Some(format!("Dept{}", i % 50)),
                employee_number: Some(format!("E{i}")),
                manager: (i != 0).then(|| Manager { manager_id: Some(format!("U{:08}", i / 10)), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let groups = vec![Group {
        id: Some("S1".into()),
        display_name: Some("engineering".into()),
        members: Some((0..n).step_by(3).map(|i| Member::id(format!("U{i:08}"))).collect()),
        ..Default::default()
    }];
    println!("baseline_rss_mb: {:.1}", peak_rss_mb("/proc/self/status"));

    // CSV: read and plan.
    let csv_policy = format!(
        "match_on = \"email\"\n[source]\npath = \"hr.csv\"\nid_column = \"employee_id\"\nstatus_column = \"status\"\ngroups_column = \"groups\"\n{ATTRS_CSV}{REST}"
    );
    let csv_policy = Policy::parse(&csv_policy, &dir.path().join("csv.toml")).unwrap();
    reset_peak_rss();
    let t = Instant::now();
    let source = csv_policy.read_source().unwrap();
    let read_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let csv_plan = compute(&csv_policy, &source, &users, &groups, None).unwrap();
    let plan_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!("csv_rows: {}", source.rows.len());
    println!("csv_read_ms: {read_ms:.1}");
    println!("csv_plan_ms: {plan_ms:.1}");
    println!("csv_total_ms: {:.1}", read_ms + plan_ms);
    counts("csv", &csv_plan);
    println!("csv_peak_rss_mb: {:.1}", peak_rss_mb("/proc/self/status"));
    drop(source);

    // LDAP: read (paged, 500 a page) and plan.
    let pw = server.password_file(dir.path());
    let ldap_policy = format!(
        "match_on = \"email\"\n[source]\nkind = \"ldap\"\nurl = \"{}\"\nbind_dn = \"{}\"\npassword_file = \"{}\"\nbase_dn = \"{}\"\nuser_filter = \"(objectClass=inetOrgPerson)\"\nid_column = \"employeeNumber\"\ndisabled_attribute = \"userAccountControl\"\ngroup_base_dn = \"{}\"\n{ATTRS_LDAP}{REST}",
        server.url(),
        slapd::BIND_DN,
        pw.display(),
        slapd::PEOPLE,
        slapd::GROUPS
    );
    let ldap_policy = Policy::parse(&ldap_policy, &dir.path().join("ldap.toml")).unwrap();
    reset_peak_rss();
    let t = Instant::now();
    let source = ldap_policy.read_source().unwrap();
    let read_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let ldap_plan = compute(&ldap_policy, &source, &users, &groups, None).unwrap();
    let plan_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!("ldap_rows: {}", source.rows.len());
    println!("ldap_read_ms: {read_ms:.1}");
    println!("ldap_plan_ms: {plan_ms:.1}");
    println!("ldap_total_ms: {:.1}", read_ms + plan_ms);
    counts("ldap", &ldap_plan);
    println!("ldap_peak_rss_mb: {:.1}", peak_rss_mb("/proc/self/status"));
    println!("slapd_peak_rss_mb: {:.1}", peak_rss_mb(&format!("/proc/{}/status", server.pid())));
    let same = csv_plan.counts() == ldap_plan.counts() && csv_plan.warnings.len() == ldap_plan.warnings.len();
    println!("plans_agree: {same}");
}
