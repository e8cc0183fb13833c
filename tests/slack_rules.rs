//! Slack's rules, checked at plan time before any write (one test per rule, each naming the
//! row), and enforced by the emulator the same way (`scim::rules`; reference sections beside each
//! `policy::plan::Rule`).

use std::path::Path;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::policy::config::{Attr, Policy};
use scimitar::policy::plan::{MemberRef, Plan, Rule, compute};
use scimitar::policy::source::{Source, SourceFormat};
use scimitar::scim::rules::GROUP_MEMBER_CAP;
use scimitar::scim::types::{EnterpriseUser, Manager, MultiValue, urn};
use scimitar::scim::{ApiVersion, Group, User};
use serde_json::{Value, json};

const POLICY: &str = r#"
match_on = "email"
[source]
path = "hr.csv"
id_column = "id"
groups_column = "groups"
[attributes]
userName = "user"
"emails.work" = "email"
displayName = "user"
"enterprise.manager" = "manager"
[provisioning]
allow_deprovision = false
[[groups]]
source = "eng"
slack_name = "engineering"
key = "g-eng"
membership = "merge"
"#;

fn policy(text: &str) -> Policy {
    Policy::parse(text, Path::new("/tmp/rules.toml")).unwrap()
}

/// Rows `id,user,email,manager,groups` (line 1 is the header, so the first row is line 2).
fn source(rows: &[[&str; 5]]) -> Source {
    let mut csv = String::from("id,user,email,manager,groups\n");
    for r in rows {
        csv.push_str(&r.join(","));
        csv.push('\n');
    }
    Source::from_reader(csv.as_bytes(), SourceFormat::Csv, "hr.csv", ";").unwrap()
}

fn slack(id: &str, user: &str, emails: &[&str], active: bool) -> User {
    User {
        id: Some(id.into()),
        user_name: Some(user.into()),
        display_name: Some(user.into()),
        active: Some(active),
        emails: Some(emails.iter().enumerate().map(|(i, e)| MultiValue::email(*e, i == 0)).collect()),
        ..Default::default()
    }
}

fn plan(text: &str, rows: &[[&str; 5]], users: &[User]) -> Plan {
    compute(&policy(text), &source(rows), users, &[], None).unwrap()
}

fn created(p: &Plan) -> Vec<&str> {
    p.creates.iter().map(|c| c.key.as_str()).collect()
}

/// The one violation of this rule, which names its row.
fn only(p: &Plan, rule: Rule) -> &scimitar::policy::plan::Violation {
    let v: Vec<_> = p.violations.iter().filter(|v| v.rule == rule).collect();
    assert_eq!(v.len(), 1, "{:#?}", p.violations);
    v[0]
}

#[test]
fn a_user_name_over_21_characters_leaves_its_row_out() {
    let p = plan(POLICY, &[["E1", "ann", "ann@x.com", "", ""], ["E2", "abcdefghijklmnopqrstuvw", "long@x.com", "", ""]], &[]);
    let v = only(&p, Rule::UserNameTooLong);
    assert_eq!((v.row_line, v.key.as_str()), (3, "E2"));
    assert!(
        v.message.starts_with("hr.csv:3: userName") && v.message.contains("23 characters") && v.message.contains("§3"),
        "{}",
        v.message
    );
    assert_eq!(created(&p), ["E1"], "only the row is left out, not the run");
    // Unchanged userNames of existing users are not re-checked (Slack already holds them).
    let p = plan(POLICY, &[["E3", "Kept.Name", "kept@x.com", "", ""]], &[slack("U3", "kept.name", &["kept@x.com"], true)]);
    assert!(p.violations.is_empty(), "{:?}", p.violations);
}

/// One rule for "the same value" (`Attr::same_value`): Slack refuses a userName over 21
/// characters rather than cutting it (reference §3), so a longer wanted name is a change Slack
/// cannot make, reported as such, not the 21 characters Slack holds.
#[test]
fn a_longer_user_name_is_not_the_21_characters_slack_holds() {
    let held = "abcdefghijklmnopqrstu";
    let wanted = "abcdefghijklmnopqrstuvw";
    let p = plan(POLICY, &[["E1", wanted, "long@x.com", "", ""]], &[slack("U1", held, &["long@x.com"], true)]);
    let v = only(&p, Rule::UserNameTooLong);
    assert_eq!((v.row_line, v.key.as_str()), (2, "E1"));
    assert!(p.updates.iter().all(|u| u.changes.iter().all(|c| c.attr != Attr::UserName)), "no userName write: {:?}", p.updates);
}

#[test]
fn a_user_name_with_characters_slack_refuses_leaves_its_row_out() {
    let p = plan(POLICY, &[["E1", "party🎉", "party@x.com", "", ""], ["E2", "bob", "bob@x.com", "", ""]], &[]);
    let v = only(&p, Rule::UserNameCharacters);
    assert_eq!(v.row_line, 2);
    assert!(v.message.contains("U+1F389") && v.message.contains("Slack refuses"), "{}", v.message);
    assert_eq!(created(&p), ["E2"]);
}

#[test]
fn a_duplicate_user_name_leaves_the_later_row_out() {
    // Within the source: the second row naming "sam" is left out, naming the first.
    let p = plan(POLICY, &[["E1", "sam", "sam1@x.com", "", ""], ["E2", "Sam", "sam2@x.com", "", ""]], &[]);
    let v = only(&p, Rule::DuplicateUserName);
    assert_eq!(v.row_line, 3);
    assert!(v.message.contains("also wanted by line 2"), "{}", v.message);
    assert_eq!(created(&p), ["E1"]);
    // Held by another Slack user (username_taken at Slack).
    let p = plan(POLICY, &[["E3", "taken", "new@x.com", "", ""]], &[slack("U9", "taken", &["other@x.com"], false)]);
    let v = only(&p, Rule::DuplicateUserName);
    assert!(v.row_line == 2 && v.message.contains("belongs to Slack user U9"), "{}", v.message);
    assert!(p.creates.is_empty());
}

#[test]
fn a_duplicate_email_leaves_the_later_row_out() {
    let p = plan(POLICY, &[["E1", "ann", "ann@x.com", "", ""], ["E2", "ann2", "ANN@x.com", "", ""]], &[]);
    let v = only(&p, Rule::DuplicateEmail);
    assert_eq!((v.row_line, v.key.as_str()), (3, "E2"));
    assert!(v.message.contains("also wanted by line 2"), "{}", v.message);
    assert_eq!(created(&p), ["E1"]);
    // A secondary email of an active Slack user that no row matches: Slack refuses the create.
    let p = plan(POLICY, &[["E4", "zoe", "zoe.alt@x.com", "", ""]], &[slack("U4", "zoe.old", &["zoe@x.com", "zoe.alt@x.com"], true)]);
    let v = only(&p, Rule::DuplicateEmail);
    assert!(v.row_line == 2 && v.message.contains("active Slack user U4"), "{}", v.message);
    assert!(p.creates.is_empty());
}

#[test]
fn an_email_held_by_a_deactivated_user_becomes_a_reactivation() {
    // Matched on userName, the new row's email is a deactivated Slack user's: Slack would refuse
    // the create (email_taken), so the plan reactivates that user and updates them.
    let by_name = POLICY.replace("match_on = \"email\"", "match_on = \"userName\"");
    let gone = slack("U7", "zed", &["zed@x.com"], false);
    let p = plan(&by_name, &[["E7", "zed2", "zed@x.com", "", ""]], std::slice::from_ref(&gone));
    assert!(p.creates.is_empty(), "{:?}", p.creates);
    assert_eq!(p.reactivations.len(), 1);
    assert_eq!(p.reactivations[0].id, "U7");
    assert_eq!(p.reactivations[0].row_line, 2);
    assert!(p.updates[0].changes.iter().any(|c| c.attr == Attr::UserName && c.new.as_deref() == Some("zed2")), "{:?}", p.updates);
    assert!(
        p.warnings.iter().any(|w| w.starts_with("hr.csv:2:") && w.contains("deactivated Slack user U7") && w.contains("§2")),
        "{:?}",
        p.warnings
    );
    assert!(p.violations.is_empty());
    // The same by a secondary email, matched on email.
    let gone = slack("U8", "yan", &["yan@x.com", "yan.alt@x.com"], false);
    let p = plan(POLICY, &[["E8", "yan", "yan.alt@x.com", "", ""]], &[gone]);
    assert_eq!((p.creates.len(), p.reactivations.len()), (0, 1));
}

#[test]
fn a_group_over_slack_s_member_cap_leaves_the_rows_beyond_it_out_of_the_group() {
    let n = GROUP_MEMBER_CAP + 2;
    let rows: Vec<[String; 5]> =
        (0..n).map(|i| [format!("E{i}"), format!("u{i}"), format!("u{i}@x.com"), String::new(), "eng".to_string()]).collect();
    let rows: Vec<[&str; 5]> = rows.iter().map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str(), r[4].as_str()]).collect();
    let p = plan(POLICY, &rows, &[]);
    assert_eq!(p.creates.len(), n, "the people are created");
    assert_eq!(p.group_creates[0].members.len(), GROUP_MEMBER_CAP);
    let over: Vec<_> = p.violations.iter().filter(|v| v.rule == Rule::GroupMemberCap).collect();
    assert_eq!(over.iter().map(|v| v.row_line).collect::<Vec<_>>(), [n, n + 1], "the last rows of the source");
    assert!(over[0].message.contains("group \"engineering\"") && over[0].message.contains("15000"), "{}", over[0].message);
    let keys: Vec<&str> = p.group_creates[0].members.iter().map(MemberRef::target).collect();
    assert!(!keys.contains(&format!("E{}", n - 1).as_str()));
    // An existing group counts its current members (merge keeps them).
    let g = Group {
        id: Some("S1".into()),
        display_name: Some("engineering".into()),
        members: Some((0..GROUP_MEMBER_CAP).map(|i| scimitar::scim::Member::id(format!("W{i}"))).collect()),
        ..Default::default()
    };
    let p = compute(&policy(POLICY), &source(&[["E1", "ann", "ann@x.com", "", "eng"]]), &[], &[g], None).unwrap();
    assert!(p.member_adds.is_empty());
    assert_eq!(only(&p, Rule::GroupMemberCap).row_line, 2);
}

#[test]
fn a_manager_that_resolves_to_nobody_leaves_its_row_out() {
    let p = plan(
        POLICY,
        &[
            ["E1", "ann", "ann@x.com", "", ""],
            ["E2", "bob", "bob@x.com", "E404", ""],
            // Managed by a row that is itself left out (its userName is too long): nobody either.
            ["E3", "abcdefghijklmnopqrstuvw", "long@x.com", "E1", ""],
            ["E4", "cyd", "cyd@x.com", "E3", ""],
        ],
        &[],
    );
    let v = p.violations.iter().find(|v| v.row_line == 3).unwrap();
    assert_eq!(v.rule, Rule::ManagerUnresolved);
    let lines: Vec<usize> = p.violations.iter().map(|v| v.row_line).collect();
    assert_eq!(lines, [3, 4, 5], "{:#?}", p.violations);
    assert!(v.message.starts_with("hr.csv:3: manager \"E404\" resolves to nobody (no row has that key)"), "{}", v.message);
    let cascade = p.violations.iter().find(|v| v.row_line == 5).unwrap();
    assert_eq!(cascade.rule, Rule::ManagerUnresolved);
    assert!(cascade.message.contains("line 4 is not provisioned"), "{}", cascade.message);
    assert_eq!(created(&p), ["E1"]);
    // An existing user's row left out is neither changed nor deprovisioned.
    let mut old = slack("U5", "dee", &["dee@x.com"], true);
    old.title = Some("x".into());
    let deprov = POLICY.replace("allow_deprovision = false", "allow_deprovision = true");
    let p = plan(&deprov, &[["E5", "dee2", "dee@x.com", "E404", ""]], &[old]);
    assert!(p.updates.is_empty() && p.deactivations.is_empty() && p.reactivations.is_empty(), "{p:#?}");
    assert_eq!(only(&p, Rule::ManagerUnresolved).row_line, 2);
}

#[test]
fn managers_created_in_the_same_run_converge_in_one_apply() {
    // B managed by new hire A (B first), and a chain C -> B2 -> A2 listed in reverse order, plus an
    // existing user whose new manager is a new hire.
    let rows = [
        ["E2", "hireb", "hireb@x.com", "E1", ""],
        ["E1", "hirea", "hirea@x.com", "", ""],
        ["C3", "chain3", "chain3@x.com", "C2", ""],
        ["C2", "chain2", "chain2@x.com", "C1", ""],
        ["C1", "chain1", "chain1@x.com", "", ""],
        ["E9", "old", "old@x.com", "E1", ""],
    ];
    let mut users = vec![slack("U9", "old", &["old@x.com"], true)];
    let mut groups = Vec::new();
    let p = plan(POLICY, &rows, &users);
    assert_eq!(p.manager_links.len(), 4, "{:#?}", p.manager_links);
    assert!(p.violations.is_empty());
    p.apply_in_memory(&mut users, &mut groups);
    let again = compute(&policy(POLICY), &source(&rows), &users, &groups, None).unwrap();
    assert!(again.is_empty(), "one apply converges: {again:#?}");
    let id = |u: &str| users.iter().find(|x| x.user_name.as_deref() == Some(u)).unwrap().id().to_string();
    let mgr = |u: &str| users.iter().find(|x| x.user_name.as_deref() == Some(u)).unwrap().manager_id().map(str::to_string);
    assert_eq!(mgr("hireb"), Some(id("hirea")));
    assert_eq!(mgr("chain3"), Some(id("chain2")));
    assert_eq!(mgr("chain2"), Some(id("chain1")));
    assert_eq!(mgr("old"), Some(id("hirea")));
}

// ---------- the emulator enforces the same rules ----------

async fn emulator() -> Emulator {
    let cfg = EmulatorConfig { users: 30, groups: 1, seed: 9, token: "xoxp-rules".into(), ..Default::default() };
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn post(emu: &Emulator, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}{path}", emu.base_url(ApiVersion::V2)))
        .bearer_auth(emu.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn user_body(name: &str, email: &str, manager: Option<&str>) -> Value {
    let mut u =
        User { user_name: Some(name.into()), emails: Some(vec![MultiValue::email(email, true)]), active: Some(true), ..Default::default() };
    if let Some(m) = manager {
        u.enterprise = Some(EnterpriseUser { manager: Some(Manager::of(m)), ..Default::default() });
    }
    u.to_value(ApiVersion::V2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_refuses_what_the_plan_leaves_out() {
    let emu = emulator().await;
    let (users, _) = emu.snapshot();
    let dead = users.iter().find(|u| !u.is_active()).expect("the seed has deactivated users");
    let live = users.iter().find(|u| u.is_active() && u.user_name.is_some()).unwrap();
    let code = |v: &Value| v["detail"].as_str().unwrap_or("").to_string();

    let (s, v) = post(&emu, "Users", user_body("abcdefghijklmnopqrstuvw", "long@rules.example", None)).await;
    assert_eq!((s, code(&v).as_str()), (400, "username_too_long"));
    let (s, v) = post(&emu, "Users", user_body("party🎉", "party@rules.example", None)).await;
    assert_eq!((s, code(&v).as_str()), (400, "invalid_emoji_not_allowed"));
    let (s, v) = post(&emu, "Users", user_body(live.user_name.as_deref().unwrap(), "dup@rules.example", None)).await;
    assert_eq!((s, code(&v).as_str()), (409, "username_taken"));
    let (s, v) = post(&emu, "Users", user_body("fresh", dead.primary_email().unwrap(), None)).await;
    assert_eq!((s, code(&v).as_str()), (409, "email_taken"), "a deactivated user keeps their email");
    let (s, v) = post(&emu, "Users", user_body("fresh", "fresh@rules.example", Some("W0NOBODY0"))).await;
    assert_eq!((s, code(&v).as_str()), (400, "invalid_attribute_format"), "a manager that names nobody");
    // A manager by id, email or userName is taken (reference §3).
    for (i, m) in [live.id(), live.primary_email().unwrap(), live.user_name.as_deref().unwrap()].into_iter().enumerate() {
        let (s, v) = post(&emu, "Users", user_body(&format!("ok{i}"), &format!("ok{i}@rules.example"), Some(m))).await;
        assert_eq!(s, 201, "{m}: {v}");
    }
    // Filters Slack does not document are refused with its error (reference §4).
    for f in [r#"userName ne "x""#, r#"userName ew "x""#, r#"not (userName eq "x")"#, r#"emails[value eq "x"]"#] {
        let mut url = url::Url::parse(&format!("{}Users", emu.base_url(ApiVersion::V2))).unwrap();
        url.query_pairs_mut().append_pair("filter", f);
        let r = reqwest::Client::builder().no_proxy().build().unwrap().get(url).bearer_auth(emu.token()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{f}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["detail"], "invalid_query", "{f}");
    }
    // The member cap: the emulator store refuses a group over it (unit-tested in the store with
    // 15,001 real members: `store::tests::a_group_over_the_cap_is_refused`).
    let (s, v) = post(&emu, "Groups", json!({"schemas": [urn::V2_GROUP], "displayName": "ok-group"})).await;
    assert_eq!(s, 201, "{v}");
}
