//! Policy engine against an in-memory Slack directory (the emulator-backed tests are in
//! `policy_apply.rs`). "Apply" here is `Plan::apply_in_memory`, the reference semantics of the apply order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use scimitar::policy::config::{Attr, EXPORT_POLICY, Policy};
use scimitar::policy::plan::{AttrChange, GroupTarget, MemberRef, Reason, compute};
use scimitar::policy::source::{Source, SourceFormat};
use scimitar::policy::{PriorState, export};
use scimitar::policy_render as render;
use scimitar::scim::types::{EnterpriseUser, Group, GroupRef, Manager, Member, MultiValue, Name, Role, User};

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
"enterprise.manager" = "manager_id"
[scope]
groups = ["staff"]
[provisioning]
max_deactivations = 100
[[groups]]
source = "eng"
slack_name = "engineering"
key = "grp-eng"
membership = "overwrite"
"#;

fn policy(text: &str) -> Policy {
    Policy::parse(text, Path::new("/tmp/policy.toml")).unwrap()
}

fn emp(i: usize) -> String {
    format!("E{i:04}")
}

fn uid(i: usize) -> String {
    format!("U{i:04}")
}

fn email(i: usize) -> String {
    format!("u{i}@corp.com")
}

fn slack_user(id: &str, email: &str, first: &str, last: &str, title: &str, active: bool) -> User {
    User {
        id: Some(id.into()),
        user_name: Some(email.split('@').next().unwrap().to_lowercase()),
        name: Some(Name { given_name: Some(first.into()), family_name: Some(last.into()), ..Default::default() }),
        display_name: Some(format!("{first} {last}")),
        title: Some(title.into()),
        active: Some(active),
        emails: Some(vec![MultiValue::email(email, true)]),
        ..Default::default()
    }
}

/// The 1,000-user scenario:
/// - 0..900 unchanged; even ones are in `eng`;
/// - 900..950 changed title in the source;
/// - 950..960 disabled in the source, active in Slack;
/// - 960..970 out of scope (`alumni`), active in Slack;
/// - 970 enabled and in scope, deactivated in Slack (must be reactivated);
/// - 971..975 disabled in the source and already deactivated in Slack (nothing to do);
/// - 975..980 unchanged (976 and 978 are in `eng` in the source but not yet in the Slack group);
/// - 980..1000 new (not in Slack);
/// - Slack only: 5 active `gone` users, a bot and the primary owner.
fn scenario() -> (Source, Vec<User>, Vec<Group>) {
    let mut csv = String::from("employee_id,email,first,last,title,department,manager_id,status,groups\n");
    let mut users = Vec::new();
    for i in 0..1000 {
        let status = if (950..960).contains(&i) || (971..975).contains(&i) { "terminated" } else { "Active" };
        let mut groups = if (960..970).contains(&i) { "alumni".to_string() } else { "staff".to_string() };
        if i % 2 == 0 {
            groups.push_str(";eng");
        }
        let manager = if i == 0 { String::new() } else { emp(0) };
        csv.push_str(&format!("{},{},First{i},Last{i},Engineer,Eng,{manager},{status},{groups}\n", emp(i), email(i)));
        if i >= 980 {
            continue;
        }
        let title = if (900..950).contains(&i) { "Old title" } else { "Engineer" };
        let active = !(i == 970 || (971..975).contains(&i));
        let mut u = slack_user(&uid(i), &email(i), &format!("First{i}"), &format!("Last{i}"), title, active);
        u.enterprise = Some(EnterpriseUser {
            department: Some("Eng".into()),
            manager: (i != 0).then(|| Manager { manager_id: Some(uid(0)), ..Default::default() }),
            ..Default::default()
        });
        users.push(u);
    }
    for j in 0..5 {
        users.push(slack_user(&format!("UGONE{j}"), &format!("gone{j}@corp.com"), "Gone", "User", "", true));
    }
    users.push(slack_user("B0001", "botuser-T1-A1@slack-bots.com", "Bot", "User", "", true));
    let mut owner = slack_user("UOWNER", "owner@corp.com", "Org", "Owner", "", true);
    owner.roles = Some(vec![Role::Object(MultiValue { value: Some("primary_owner".into()), primary: Some(true), ..Default::default() })]);
    users.push(owner);
    let mut members: Vec<Member> = (0..900).step_by(2).map(|i| Member::id(uid(i))).collect();
    members.push(Member::id(uid(1))); // odd: not in eng
    members.push(Member::id(uid(950))); // disabled
    let groups =
        vec![Group { id: Some("S0001".into()), display_name: Some("engineering".into()), members: Some(members), ..Default::default() }];
    let source = Source::from_reader(csv.as_bytes(), SourceFormat::Csv, "hr.csv", ";").unwrap();
    (source, users, groups)
}

#[test]
fn thousand_users_give_exactly_the_expected_plan_and_apply_empties_the_next() {
    let p = policy(POLICY);
    let (source, mut users, mut groups) = scenario();
    let plan = compute(&p, &source, &users, &groups, None).unwrap();
    let c = plan.counts();
    assert_eq!((c.creates, c.reactivations, c.updates, c.attribute_changes, c.deactivations), (20, 1, 50, 50, 25), "{:?}", plan.warnings);
    assert_eq!((c.group_creates, c.group_renames, c.member_adds, c.member_removes, c.reported_only), (0, 0, 38, 2, 0));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

    // creates: in source order, fully mapped, manager resolved to the Slack id
    let first = &plan.creates[0];
    assert_eq!((first.key.as_str(), first.row_line), ("E0980", 982));
    assert_eq!(first.user.primary_email(), Some("u980@corp.com"));
    assert_eq!(first.user.user_name.as_deref(), Some("u980"));
    assert_eq!(first.user.display_name.as_deref(), Some("First980 Last980"));
    assert_eq!(first.user.manager_id(), Some("U0000"));
    assert_eq!(first.user.active, Some(true));
    assert_eq!(plan.creates.last().unwrap().key, "E0999");

    // updates: each attribute's old and new value, and a partial user to send
    let up = &plan.updates[0];
    assert_eq!(up.id, "U0900");
    assert_eq!(up.changes, [AttrChange { attr: Attr::Title, old: Some("Old title".into()), new: Some("Engineer".into()) }]);
    assert_eq!(up.patch.title.as_deref(), Some("Engineer"));
    assert_eq!(up.patch.user_name, None);
    assert_eq!(plan.updates.last().unwrap().id, "U0949");

    assert_eq!(plan.reactivations.len(), 1);
    assert_eq!((plan.reactivations[0].id.as_str(), plan.reactivations[0].row_line), ("U0970", 972));

    // deactivations with reasons; never the bot or the owner
    let by_reason = |r: Reason| plan.deactivations.iter().filter(|d| d.reason == r).map(|d| d.id.as_str()).collect::<Vec<_>>();
    assert_eq!(by_reason(Reason::Disabled), (950..960).map(uid).collect::<Vec<_>>());
    assert_eq!(by_reason(Reason::LeftScope), (960..970).map(uid).collect::<Vec<_>>());
    assert_eq!(by_reason(Reason::Deleted), ["UGONE0", "UGONE1", "UGONE2", "UGONE3", "UGONE4"]);
    assert!(plan.deactivations.iter().all(|d| d.id != "B0001" && d.id != "UOWNER"));
    assert_eq!(plan.deactivations.iter().find(|d| d.id == "U0950").unwrap().row_line, Some(952));

    // memberships: adds (including users created in this plan, by source key), removes
    let adds = &plan.member_adds[0];
    assert_eq!(adds.group, GroupTarget::Existing { id: "S0001".into() });
    assert!(adds.members.contains(&MemberRef::User { id: uid(970), label: "First970 Last970".into() }));
    assert!(adds.members.contains(&MemberRef::Pending { key: emp(980), label: emp(980) }));
    assert!(!adds.members.iter().any(|m| m.target() == uid(981) || m.target() == emp(981)));
    let removed: Vec<&str> = plan.member_removes[0].members.iter().map(MemberRef::target).collect();
    assert_eq!(removed, ["U0001", "U0950"]);

    assert!(plan.check_ceiling(&p, 1000).is_ok());
    assert!(!plan.is_empty());

    // deterministic
    assert_eq!(compute(&p, &source, &users, &groups, None).unwrap(), plan);

    // apply, then plan again: nothing left
    plan.apply_in_memory(&mut users, &mut groups);
    let again = compute(&p, &source, &users, &groups, None).unwrap();
    assert!(again.is_empty(), "{:?}", again.counts());
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    // the created users' manager and group membership are in place
    let u999 = users.iter().find(|u| u.primary_email() == Some("u998@corp.com")).unwrap();
    assert!(groups[0].member_ids().any(|m| m == u999.id()));
    assert_eq!(u999.manager_id(), Some("U0000"));
}

#[test]
fn all_three_output_formats_render_the_plan() {
    let p = policy(POLICY);
    let (source, users, groups) = scenario();
    let plan = compute(&p, &source, &users, &groups, None).unwrap();
    let mut text = Vec::new();
    render::render(&plan, scimitar::output::OutputFormat::Table, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("+ create First980 Last980 <u980@corp.com> (row 982)\n"), "{text}");
    assert!(text.contains("~ update First900 Last900 (U0900)\n    title: \"Old title\" -> \"Engineer\"\n"));
    assert!(text.contains("- deactivate First950 Last950 <u950@corp.com> (U0950) (disabled in source)\n"));
    assert!(text.contains("- deactivate Gone User <gone0@corp.com> (UGONE0) (not in source)\n"));
    assert!(text.contains("> reactivate First970 Last970 <u970@corp.com> (U0970)\n"));
    assert!(text.contains("- member First1 Last1 (U0001) <- engineering (S0001)\n"));
    assert!(text.contains("+ member E0980 (new) -> engineering (S0001)\n"));
    let mut csv = Vec::new();
    render::render(&plan, scimitar::output::OutputFormat::Csv, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + 20 + 1 + 50 + 38 + 2 + 25);
    let mut json = Vec::new();
    render::render(&plan, scimitar::output::OutputFormat::Json, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["counts"]["creates"], 20);
    assert_eq!(v["plan"]["creates"][0]["user"]["userName"], "u980");
}

#[test]
fn allow_deprovision_false_leaves_leavers_alone() {
    let p = policy(&POLICY.replace("[provisioning]", "[provisioning]\nallow_deprovision = false"));
    let (source, users, groups) = scenario();
    let plan = compute(&p, &source, &users, &groups, None).unwrap();
    assert!(plan.deactivations.is_empty() && plan.reported_only.is_empty());
    assert_eq!(plan.counts().creates, 20);
    assert!(plan.warnings.iter().any(|w| w.contains("25 users") && w.contains("allow_deprovision = false")), "{:?}", plan.warnings);
}

#[test]
fn remove_action_report_lists_without_changing() {
    let p =
        policy(&POLICY.replace("[provisioning]", "[provisioning]\nremove_action = \"report\"\nallow_create = false\nallow_update = false"));
    let (source, users, groups) = scenario();
    let plan = compute(&p, &source, &users, &groups, None).unwrap();
    assert_eq!((plan.deactivations.len(), plan.reported_only.len()), (0, 25));
    assert_eq!((plan.creates.len(), plan.updates.len(), plan.reactivations.len()), (0, 0, 0));
}

fn tiny(membership: &str) -> (Policy, Source, Vec<User>, Vec<Group>) {
    let text = format!(
        "[source]\npath = \"s.csv\"\nid_column = \"email\"\ngroups_column = \"groups\"\n[attributes]\nuserName = \"{{email|local}}\"\nemail = \"email\"\n[[groups]]\nsource = \"eng\"\nmembership = \"{membership}\"\n"
    );
    let p = policy(&text);
    let src = Source::from_reader("email,groups\na@x.com,eng\nb@x.com,\n".as_bytes(), SourceFormat::Csv, "s.csv", ";").unwrap();
    let bare = |id: &str, email: &str| User { name: None, display_name: None, title: None, ..slack_user(id, email, "", "", "", true) };
    let users = vec![bare("UA", "a@x.com"), bare("UB", "b@x.com")];
    let groups = vec![Group {
        id: Some("S1".into()),
        display_name: Some("eng".into()),
        members: Some(vec![Member::id("UB")]),
        ..Default::default()
    }];
    (p, src, users, groups)
}

#[test]
fn merge_never_removes_overwrite_does() {
    let (p, src, mut users, mut groups) = tiny("merge");
    let plan = compute(&p, &src, &users, &groups, None).unwrap();
    assert!(plan.member_removes.is_empty());
    assert_eq!(plan.member_adds[0].members, [MemberRef::User { id: "UA".into(), label: "a".into() }]);
    assert_eq!(plan.counts().changes(), 1, "{plan:?}");
    plan.apply_in_memory(&mut users, &mut groups);
    assert!(compute(&p, &src, &users, &groups, None).unwrap().is_empty());
    assert_eq!(groups[0].member_ids().collect::<Vec<_>>(), ["UB", "UA"]);

    let (p, src, mut users, mut groups) = tiny("overwrite");
    let plan = compute(&p, &src, &users, &groups, None).unwrap();
    assert_eq!(plan.member_removes[0].members, [MemberRef::User { id: "UB".into(), label: "b".into() }]);
    plan.apply_in_memory(&mut users, &mut groups);
    assert!(compute(&p, &src, &users, &groups, None).unwrap().is_empty());
    assert_eq!(groups[0].member_ids().collect::<Vec<_>>(), ["UA"]);
}

/// A group renamed in the directory (no row names the old one any more) does not empty the
/// Slack group an `overwrite` rule manages: the plan leaves its members and says why.
#[test]
fn overwrite_leaves_a_vanished_source_group_alone_and_says_so() {
    let (p, _, users, mut groups) = tiny("overwrite");
    groups[0].members = Some(vec![Member::id("UA"), Member::id("UB")]);
    let renamed = Source::from_reader("email,groups\na@x.com,engineering\nb@x.com,\n".as_bytes(), SourceFormat::Csv, "s.csv", ";").unwrap();
    let plan = compute(&p, &renamed, &users, &groups, None).unwrap();
    assert!(plan.member_removes.is_empty(), "{plan:?}");
    let w = plan.warnings.iter().find(|w| w.contains("\"eng\"")).expect("a warning names the group");
    assert!(w.contains("named by no row of s.csv") && w.contains("2 members") && w.contains("left alone"), "{w}");
    // One member still listed: an ordinary overwrite, the other is removed.
    let one = Source::from_reader("email,groups\na@x.com,eng\nb@x.com,\n".as_bytes(), SourceFormat::Csv, "s.csv", ";").unwrap();
    let plan = compute(&p, &one, &users, &groups, None).unwrap();
    assert_eq!(plan.member_removes[0].members, [MemberRef::User { id: "UB".into(), label: "b".into() }]);
}

#[test]
fn ceiling_stops_a_plan_deactivating_half_the_org() {
    let text = "[source]\npath = \"s.csv\"\nid_column = \"email\"\n[attributes]\nuserName = \"{email|local}\"\nemail = \"email\"\n";
    let p = policy(text); // no ceiling set: the default 10 %
    let mut csv = String::from("email\n");
    let mut users = Vec::new();
    for i in 0..100 {
        if i % 2 == 0 {
            csv.push_str(&format!("{}\n", email(i)));
        }
        let mut u = slack_user(&uid(i), &email(i), "", "", "", true);
        u.name = None;
        u.display_name = None;
        u.title = None;
        users.push(u);
    }
    let src = Source::from_reader(csv.as_bytes(), SourceFormat::Csv, "s.csv", ";").unwrap();
    let plan = compute(&p, &src, &users, &[], None).unwrap();
    assert_eq!(plan.deactivations.len(), 50);
    let e = plan.check_ceiling(&p, 100).unwrap_err();
    assert_eq!((e.would, e.limit), (50, 10));
    assert!(e.to_string().contains("50"));
    let p = policy(&format!("{text}[provisioning]\nmax_deactivations = 60\nmax_deactivation_percent = 100.0\n"));
    assert!(plan.check_ceiling(&p, 100).is_ok());
    let p = policy(&format!("{text}[provisioning]\nmax_deactivations = 49\nmax_deactivation_percent = 100.0\n"));
    assert_eq!(plan.check_ceiling(&p, 100).unwrap_err().limit, 49);
}

#[test]
fn rule_removal_deactivates_or_keeps_and_renames_follow_the_key() {
    let (source, users, mut groups) = scenario();
    // The previous run had `alumni` in scope and knew grp-eng as S0001 named differently.
    groups[0].display_name = Some("eng-old".into());
    let prior = PriorState {
        scope_groups: vec!["staff".into(), "alumni".into()],
        retired_scope_groups: vec![],
        group_ids: BTreeMap::from([("grp-eng".into(), "S0001".into())]),
        source: None,
    };
    let p = policy(POLICY);
    let plan = compute(&p, &source, &users, &groups, Some(&prior)).unwrap();
    let removed: Vec<_> = plan.deactivations.iter().filter(|d| d.reason == Reason::RuleRemoved).map(|d| d.id.clone()).collect();
    assert_eq!(removed, (960..970).map(uid).collect::<Vec<_>>());
    assert_eq!(plan.group_renames.len(), 1);
    assert_eq!((plan.group_renames[0].old.as_str(), plan.group_renames[0].new.as_str()), ("eng-old", "engineering"));

    let keep = policy(&POLICY.replace("[provisioning]", "[provisioning]\ndeprovision_on_rule_removal = \"keep\""));
    let plan = compute(&keep, &source, &users, &groups, Some(&prior)).unwrap();
    assert_eq!(plan.deactivations.len(), 15);
    assert!(plan.deactivations.iter().all(|d| d.reason != Reason::RuleRemoved && d.reason != Reason::LeftScope));
    // the next state remembers the retired rule, so they stay kept next time
    let next = PriorState::next(&keep, Some(&prior), BTreeMap::new());
    assert_eq!(next.retired_scope_groups, ["alumni"]);
    let plan = compute(&keep, &source, &users, &groups, Some(&next)).unwrap();
    assert_eq!(plan.deactivations.len(), 15);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn every_policy_error_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "hr.csv", "employee_id,email,first,last,title,department,manager_id,status,groups\n");
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (POLICY.replace("[scope]", "colour = \"blue\"\n[scope]"), 17, "attributes.colour", "unknown Slack attribute"),
        (
            POLICY.replace("max_deactivations = 100", "max_deactivations = 100\nmax_deletes = 3"),
            21,
            "provisioning.max_deletes",
            "unknown field",
        ),
        (POLICY.replace("\"{first} {last}\"", "\"{first} {last\""), 13, "attributes.displayName", "unclosed"),
        (POLICY.replace("title = \"title\"", "title = \"job_title\""), 14, "attributes.title", "unknown column `job_title`"),
        (POLICY.replace("\"{first} {last}\"", "\"{first} {surname}\""), 13, "attributes.displayName", "unknown column `surname`"),
        (POLICY.replace("status_column = \"status\"", "status_column = \"state\""), 6, "source.status_column", "unknown column `state`"),
        (POLICY.replace("max_deactivations = 100", "remove_action = \"delete\""), 20, "provisioning.remove_action", "unknown variant"),
        (format!("{POLICY}[[groups]]\nsource = \"ops\"\nslack_name = \"Engineering\"\n"), 28, "groups[1].slack_name", "already the target"),
        (
            POLICY.replace("match_on = \"email\"", "match_on = \"userName\"").replace("userName = \"{email|local}\"\n", ""),
            2,
            "match_on",
            "no userName mapping",
        ),
        (POLICY.replace("groups = [\"staff\"]", "groups = \"staff\""), 18, "scope.groups", "invalid type"),
    ];
    for (i, (text, line, key, msg)) in cases.into_iter().enumerate() {
        let file = write(dir.path(), &format!("bad{i}.toml"), &text);
        let e = match Policy::load(&file) {
            Err(e) => e,
            Ok(p) => match p.read_source().map(|_| ()).unwrap_err() {
                scimitar::policy::config::ReadSourceError::Policy(e) => e,
                other => panic!("case {i}: {other}"),
            },
        };
        assert_eq!(e.file, file, "{e}");
        assert_eq!((e.line, e.key.as_str()), (line, key), "case {i}: {e}");
        assert!(e.message.contains(msg), "case {i}: {e}");
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("{}:{line}: `{key}`: ", file.display())), "{shown}");
    }
}

#[test]
fn the_example_policy_plans_against_a_small_directory() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policy.toml");
    let p = Policy::load(&path).unwrap();
    let source = p.read_source().unwrap();
    assert_eq!(source.rows.len(), 6);
    let mut ada = slack_user("U1", "ada@example.com", "Ada", "Lovelace", "CTO", true);
    ada.enterprise =
        Some(EnterpriseUser { department: Some("Engineering".into()), employee_number: Some("1001".into()), ..Default::default() });
    let mut ken = slack_user("U5", "ken@example.com", "Ken", "Thompson", "Engineer", true);
    ken.enterprise = Some(EnterpriseUser {
        department: Some("Engineering".into()),
        employee_number: Some("1005".into()),
        manager: Some(Manager { manager_id: Some("U1".into()), ..Default::default() }),
        ..Default::default()
    });
    let admin = slack_user("U9", "it-admin@example.com", "IT", "Admin", "", true);
    let users = vec![ada, ken, admin];
    let groups = vec![Group {
        id: Some("S1".into()),
        display_name: Some("eng".into()),
        members: Some(vec![Member::id("U1"), Member::id("U5")]),
        ..Default::default()
    }];
    let plan = compute(&p, &source, &users, &groups, None).unwrap();
    let creates: Vec<&str> = plan.creates.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(creates, ["grace@example.com", "alan@example.com", "mary@example.com"]);
    assert_eq!(plan.creates[0].user.manager_id(), Some("U1"));
    assert!(plan.updates.is_empty(), "{:?}", plan.updates);
    assert_eq!(plan.deactivations.len(), 1);
    assert_eq!((plan.deactivations[0].id.as_str(), plan.deactivations[0].reason), ("U5", Reason::Disabled));
    assert_eq!(plan.group_creates.len(), 1);
    assert_eq!(plan.group_creates[0].name, "sales-team");
    assert_eq!(plan.group_creates[0].members, [MemberRef::Pending { key: "mary@example.com".into(), label: "mary@example.com".into() }]);
    let removed: Vec<&str> = plan.member_removes.iter().flat_map(|m| m.members.iter().map(MemberRef::target)).collect();
    assert_eq!(removed, ["U5"]);
    // 20 % of 3 active users rounds down to 0; of 10, to 2
    assert_eq!(plan.check_ceiling(&p, 3).unwrap_err().limit, 0);
    assert!(plan.check_ceiling(&p, 10).is_ok());
}

#[test]
fn exporting_the_directory_then_planning_against_it_is_empty() {
    let mut users = Vec::new();
    for i in 0..50 {
        let mut u =
            slack_user(&uid(i), &email(i), &format!("Zoë{i}"), "O'Brien, Jr.", if i % 3 == 0 { "" } else { "Dev \"lead\"" }, i % 7 != 0);
        u.timezone = Some("Europe/Paris".into());
        u.phone_numbers = Some(vec![MultiValue { value: Some("+33 1".into()), kind: Some("mobile".into()), ..Default::default() }]);
        u.enterprise = Some(EnterpriseUser {
            department: Some("R&D".into()),
            cost_center: Some(format!("CC{i}")),
            manager: (i > 0).then(|| Manager { manager_id: Some(uid(0)), ..Default::default() }),
            ..Default::default()
        });
        u.groups = Some(vec![GroupRef { value: Some("S1".into()), display: Some("eng".into()) }]);
        users.push(u);
    }
    users.push(slack_user("B1", "bot-T1@slack-bots.com", "Bot", "", "", true));
    let mut out = Vec::new();
    export::users_to_source_csv(&users, &mut out).unwrap();
    let p = policy(EXPORT_POLICY);
    let src = Source::from_reader(out.as_slice(), SourceFormat::Csv, "users.csv", ";").unwrap();
    p.check_source(&src).unwrap();
    assert_eq!(src.rows.len(), 51);
    let plan = compute(&p, &src, &users, &[], None).unwrap();
    assert!(plan.is_empty(), "{:?}\n{:?}", plan.counts(), plan.updates.first());
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn match_on_user_name_links_existing_accounts_and_json_sources_work() {
    let text = "match_on = \"userName\"\n[source]\npath = \"s.jsonl\"\nid_column = \"id\"\nstatus_column = \"enabled\"\n[attributes]\nuserName = \"login\"\nemail = \"mail\"\ntitle = \"job.title\"\n";
    let p = policy(text);
    let src = Source::from_reader(
        "{\"id\": 1, \"login\": \"Jane.Doe\", \"mail\": \"new@x.com\", \"enabled\": true, \"job\": {\"title\": \"CEO\"}}\n".as_bytes(),
        SourceFormat::Jsonl,
        "s.jsonl",
        ";",
    )
    .unwrap();
    let mut u = slack_user("UJ", "old@x.com", "Jane", "Doe", "", true);
    u.user_name = Some("jane.doe".into());
    let plan = compute(&p, &src, &[u], &[], None).unwrap();
    assert!(plan.creates.is_empty());
    let attrs: Vec<Attr> = plan.updates[0].changes.iter().map(|c| c.attr).collect();
    assert_eq!(attrs, [Attr::Email, Attr::Title]);
}

#[test]
fn the_docs_policy_example_is_the_examples_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/policies.md")).unwrap();
    let block = docs.split("```toml\n").nth(1).and_then(|b| b.split("```").next()).expect("a toml block in docs/policies.md");
    let example = std::fs::read_to_string(root.join("examples/policy.toml")).unwrap();
    assert_eq!(block, example, "docs/policies.md shows examples/policy.toml word for word");
    let p = Policy::parse(block, &root.join("examples/policy.toml")).unwrap();
    let source = p.read_source().unwrap();
    let plan = compute(&p, &source, &[], &[], None).unwrap();
    assert_eq!(plan.creates.len(), 4, "{:?}", plan.warnings);
}

#[test]
fn the_readme_policy_example_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("[source]"))
        .expect("a policy toml block in README");
    let p = Policy::parse(block, &root.join("examples/README-policy.toml")).unwrap();
    let source = p.read_source().unwrap();
    let plan = compute(&p, &source, &[], &[], None).unwrap();
    assert_eq!(plan.creates.len(), 4, "{:?}", plan.warnings);
}
