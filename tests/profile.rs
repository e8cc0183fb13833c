//! Slack's whole profile (issue 24), run as the real binary against the emulator over real HTTP
//! on 127.0.0.1: each attribute set headless (`users create --from`, `users update --set`), shown
//! (`users show`), exported (`users export`) and planned from the export (`plan` with
//! `EXPORT_POLICY`: no changes), as an admin would do it; Slack's guest rules refused before any
//! write; the guests listing sorted by expiry.

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::ApiVersion;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const TOKEN: &str = "xoxp-profile-test-token-24";

async fn emulator_of(users: usize) -> Emulator {
    let cfg = EmulatorConfig { users, groups: 3, seed: 24, token: TOKEN.into(), ..Default::default() };
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(args)
        .env("SCIMITAR_URL", url)
        .env("SLACK_SCIM_TOKEN", TOKEN)
        .env("SCIMITAR_CONFIG_DIR", dir)
        .env("SCIMITAR_DATA_DIR", dir)
        .env_remove("SCIMITAR_PROFILE")
        .env_remove("SCIMITAR_API")
        .env_remove("SCIMITAR_SERVER")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Run and expect `code`; (stdout, stderr).
fn expect(dir: &Path, url: &str, code: i32, args: &[&str]) -> (String, String) {
    let o = run(dir, url, args);
    let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
    assert_eq!(o.status.code(), Some(code), "scimitar {}\nstdout: {out}\nstderr: {err}", args.join(" "));
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "the token is never printed");
    (out, err)
}

/// `users show WHO` as attribute -> value (table output; the value's first line).
fn shown(dir: &Path, url: &str, who: &str) -> Vec<(String, String)> {
    let (out, _) = expect(dir, url, 0, &["users", "show", who, "-o", "csv"]);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    // CSV output neutralises cells a spreadsheet would run (`+1 555 …`); read them back as the
    // policy reader does.
    let cell = |c: &str| scimitar::strict_csv::restore(c).to_string();
    rdr.records().map(|r| r.unwrap()).map(|r| (cell(&r[0]), cell(&r[1]))).collect()
}

fn value_of<'a>(rows: &'a [(String, String)], key: &str) -> Option<&'a str> {
    rows.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Export, then plan the export with `EXPORT_POLICY`: nothing to change.
fn export_plans_no_change(dir: &Path, url: &str, what: &str) -> String {
    let (csv, _) = expect(dir, url, 0, &["users", "export", "-o", "csv"]);
    std::fs::write(dir.join("users.csv"), &csv).unwrap();
    let policy = dir.join("hr.toml");
    std::fs::write(&policy, scimitar::policy::config::EXPORT_POLICY).unwrap();
    let (out, err) = expect(dir, url, 0, &["plan", "--policy", policy.to_str().unwrap()]);
    assert!(out.contains("No changes."), "{what}: the plan of the export has changes:\n{out}\n{err}");
    csv
}

/// The export's cell `column` of the row whose `email` is `email`.
fn exported(csv: &str, email: &str, column: &str) -> String {
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == column).unwrap_or_else(|| panic!("no column {column} in {headers:?}"));
    let row = rdr.records().map(Result::unwrap).find(|r| &r[0] == email).unwrap_or_else(|| panic!("{email} exported"));
    scimitar::strict_csv::restore(&row[col]).to_string()
}

fn in_days(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    t.date().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_attribute_round_trips_headless() {
    // Enough users for the seed's guests (about 2%, half with an expiry) to sort among.
    let emu = emulator_of(400).await;
    emu.set_photo_delay(Duration::from_millis(700));
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Created with the profile's attributes, by the names `--set` takes.
    let new = d.join("new.csv");
    std::fs::write(
        &new,
        "email,userName,given_name,family_name,startDate,photo,secondaryEmail,mobile,locality,country\n\
         pat@acme-corp.example,pat,Pat,Lee,2026-03-02,https://photos.example.com/pat.png,pat@home.example,+1 555 0142,Oslo,NO\n",
    )
    .unwrap();
    expect(d, &url, 0, &["users", "create", "--from", new.to_str().unwrap(), "--yes"]);
    tokio::time::sleep(Duration::from_millis(800)).await; // the photo shows later (as on Slack)
    let rows = shown(d, &url, "pat");
    assert_eq!(value_of(&rows, "startDate"), Some("2026-03-02T00:00:00+0000"), "{rows:?}");
    assert_eq!(value_of(&rows, "photo"), Some("https://photos.example.com/pat.png"), "{rows:?}");
    assert_eq!(value_of(&rows, "secondaryEmail"), Some("pat@home.example"), "{rows:?}");
    assert_eq!(value_of(&rows, "mobile"), Some("+1 555 0142"), "{rows:?}");
    assert_eq!((value_of(&rows, "locality"), value_of(&rows, "country")), (Some("Oslo"), Some("NO")), "{rows:?}");
    export_plans_no_change(d, &url, "after the create");

    // Each attribute: set, shown, exported, planned from the export with no change.
    let soon = in_days(10);
    let steps: Vec<(&str, String, &str, String, &str)> = vec![
        // (--set field, value, shown key, shown value, export column)
        ("startDate", "2027-01-04".into(), "startDate", "2027-01-04T00:00:00+0000".into(), "start_date"),
        ("photo", "https://photos.example.com/pat-2.png".into(), "photo", "https://photos.example.com/pat-2.png".into(), "photo"),
        ("photo", "data:image/png;base64,iVBORw0KGgo=".into(), "photo", "data:image/png;base64,iVBORw0KGgo=".into(), "photo"),
        ("secondaryEmail", "pat.other@home.example".into(), "secondaryEmail", "pat.other@home.example".into(), "secondary_email"),
        ("email", "pat.lee@acme-corp.example".into(), "email (primary)", "pat.lee@acme-corp.example".into(), "email"),
        ("phone", "+1 555 0100".into(), "phone", "+1 555 0100".into(), "phone_work"),
        ("phone", "+1 555 0101".into(), "phone", "+1 555 0101".into(), "phone_work"),
        ("streetAddress", "1 Karl Johans gate".into(), "streetAddress", "1 Karl Johans gate".into(), "street_address"),
        ("region", "Oslo".into(), "region", "Oslo".into(), "region"),
        ("postalCode", "0154".into(), "postalCode", "0154".into(), "postal_code"),
        ("guest", "multi".into(), "guest", "multi".into(), "guest"),
        ("guestExpiration", soon.clone(), "guestExpiration", format!("{soon}T23:59:59Z"), "guest_expiration"),
    ];
    let mut email = "pat@acme-corp.example".to_string();
    for (field, value, key, want, column) in &steps {
        let set = format!("{field}={value}");
        let (out, err) = expect(d, &url, 0, &["users", "update", &email, "--set", &set, "--yes"]);
        assert!(!err.contains("surprise") && !out.contains("surprise"), "{set}: verified, the photo's delay allowed for\n{out}\n{err}");
        if *field == "email" {
            email = value.clone();
        }
        let rows = shown(d, &url, &email);
        assert_eq!(value_of(&rows, key), Some(want.as_str()), "{set}: shown\n{rows:?}");
        let csv = export_plans_no_change(d, &url, &set);
        let cell = exported(&csv, &email, column);
        if *column == "start_date" || *column == "guest_expiration" {
            assert_eq!(cell, *want, "{set}: exported");
        } else {
            assert_eq!(cell, *value, "{set}: exported");
        }
        // What each change must keep: the other email, the other phone, the address's parts.
        assert_eq!(value_of(&rows, "mobile"), Some("+1 555 0142"), "{set}: the mobile phone is kept\n{rows:?}");
        assert_eq!(value_of(&rows, "locality"), Some("Oslo"), "{set}: the address's other parts are kept\n{rows:?}");
        if *field == "email" {
            assert_eq!(value_of(&rows, "secondaryEmail"), Some("pat.other@home.example"), "the secondary email is kept\n{rows:?}");
        }
    }

    // Guests with an expiry: listed soonest first, pat's within 30 days.
    let (out, err) = expect(d, &url, 0, &["users", "list", "--guests", "-o", "csv"]);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][2], "pat.lee@acme-corp.example", "soonest first:\n{out}");
    assert_eq!((&rows[0][5], &rows[0][6]), ("10 days", "yes"), "{out}");
    let expiries: Vec<&str> = rows.iter().map(|r| r.get(4).unwrap()).filter(|e| !e.is_empty()).collect();
    assert!(expiries.len() >= 3, "the seed's guests with an expiry are listed too:\n{out}");
    let mut sorted = expiries.clone();
    sorted.sort();
    assert_eq!(expiries, sorted, "sorted by expiry:\n{out}");
    let first_none = rows.iter().position(|r| r[4].is_empty()).unwrap_or(rows.len());
    assert!(rows[first_none..].iter().all(|r| r[4].is_empty()), "guests without an expiry come last:\n{out}");
    assert!(err.contains("multi-channel guest") && err.contains("expiring within 30 days"), "{err}");

    // The expiry cleared, then back to a member: each round-trips too.
    for set in ["guestExpiration=", "guest=member"] {
        expect(d, &url, 0, &["users", "update", &email, "--set", set, "--yes"]);
        export_plans_no_change(d, &url, set);
    }
    let rows = shown(d, &url, &email);
    assert_eq!((value_of(&rows, "guest"), value_of(&rows, "guestExpiration")), (None, None), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_rules_refuse_before_any_write_and_a_plan_without_guests_is_explained() {
    let emu = emulator_of(40).await;
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let owner = emu.primary_owner_id();
    let (users, _) = emu.snapshot();
    let member = users
        .iter()
        .find(|u| u.is_active() && !u.is_guest() && u.roles.is_none() && !u.primary_email().unwrap().contains("slack-bots"))
        .unwrap()
        .primary_email()
        .unwrap()
        .to_string();

    let writes = emu.stats().writes();
    let (_, err) = expect(d, &url, 64, &["users", "update", &owner, "--set", "guest=multi", "--yes"]);
    assert!(err.contains("primary_owner") && err.contains("cannot_make_user_guest") && err.contains("nothing was sent"), "{err}");
    let (_, err) = expect(d, &url, 64, &["users", "update", &member, "--set", "guestExpiration=2099-01-01", "--yes"]);
    assert!(err.contains("is a member"), "{err}");
    let (_, err) = expect(d, &url, 64, &["users", "update", &member, "--set", "startDate=04/01/2027", "--yes"]);
    assert!(err.contains("startDate") && err.contains("ISO-8601"), "{err}");
    let (_, err) = expect(d, &url, 64, &["users", "update", &member, "--set", "photo=http://intranet/me.png", "--yes"]);
    assert!(err.contains("https"), "{err}");
    assert_eq!(emu.stats().writes(), writes, "nothing was sent");

    // A plan without guests: Slack refuses the guest extension; the refusal says why.
    emu.set_guests_allowed(false);
    let (out, err) = expect(d, &url, 1, &["users", "update", &member, "--set", "guest=multi", "--yes"]);
    assert!((out.clone() + &err).contains("Enterprise plans only"), "{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_time_rules_name_each_row() {
    let emu = emulator_of(40).await;
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let owner = emu.primary_owner_id();
    let (users, _) = emu.snapshot();
    let owner_email = users.iter().find(|u| u.id() == owner).unwrap().primary_email().unwrap().to_string();
    std::fs::write(
        d.join("hr.csv"),
        format!(
            "email,user_name,start,avatar,kind,expires\n\
             a1@acme-corp.example,a1,2027-13-01,,,\n\
             a2@acme-corp.example,a2,,http://intranet/a2.png,,\n\
             a3@acme-corp.example,a3,,,single,\n\
             a4@acme-corp.example,a4,,,member,2099-01-01\n\
             a5@acme-corp.example,a5,,,multi,2001-01-01\n\
             {owner_email},owner,,,multi,\n\
             a6@acme-corp.example,a6,2027-01-04,https://photos.example.com/a6.png,multi,{}\n",
            in_days(60)
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("hr.toml"),
        "match_on = \"email\"\n[source]\npath = \"hr.csv\"\nid_column = \"email\"\n[attributes]\n\
         userName = \"user_name\"\n\"emails.work\" = \"email\"\nstartDate = \"start\"\nphoto = \"avatar\"\n\
         guest = \"kind\"\nguestExpiration = \"expires\"\n[provisioning]\nallow_deprovision = false\n",
    )
    .unwrap();
    let (out, _) = expect(d, &url, 2, &["plan", "--policy", d.join("hr.toml").to_str().unwrap()]);
    for (line, rule) in [
        (2, "invalid_date"),
        (3, "photos_invalid"),
        (4, "guest_type"),
        (5, "guest_expiration_member"),
        (6, "guest_expiration_past"),
        (7, "cannot_make_user_guest"),
    ] {
        assert!(out.contains(&format!("row {line}, {rule}")), "line {line} left out for {rule}:\n{out}");
    }
    assert!(out.contains("+ create a6"), "the good row goes ahead:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slacks_50_custom_profile_fields_are_checked_by_the_plan_and_held_by_the_emulator() {
    let emu = emulator_of(40).await;
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (users, _) = emu.snapshot();
    let made: std::collections::HashSet<&str> = users.iter().flat_map(scimitar::scim::rules::created_profile_fields).collect();
    assert!(!made.contains("City") && !made.contains("Zip Code"), "{made:?}");
    let member = users.iter().find(|u| u.is_active() && u.roles.is_none() && !u.is_guest()).unwrap().primary_email().unwrap().to_string();
    std::fs::write(d.join("hr.csv"), format!("email,city,zip\n{member},Oslo,0154\n")).unwrap();
    let policy = |extra: &str| {
        let p = d.join("hr.toml");
        std::fs::write(
            &p,
            format!(
                "[source]\npath = \"hr.csv\"\nid_column = \"email\"\n[attributes]\n\"emails.work\" = \"email\"\nlocality = \"city\"\npostalCode = \"zip\"\n\
                 [provisioning]\nallow_deprovision = false\nallow_create = false\n{extra}"
            ),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };
    // Without the org's count: the plan says which fields Slack will create.
    let (_, err) = expect(d, &url, 2, &["plan", "--policy", &policy("")]);
    assert!(err.contains("Slack will create 2 profile fields (City, Zip Code)") && err.contains("custom_profile_fields"), "{err}");
    // With it: one more fits, the row that needs a second is left out, named.
    let (out, _) = expect(d, &url, 0, &["plan", "--policy", &policy("custom_profile_fields = 49\n")]);
    assert!(out.contains("row 2, custom_field_cap") && out.contains("Zip Code"), "{out}");
    let (_, err) = expect(d, &url, 64, &["plan", "--policy", &policy("custom_profile_fields = 51\n")]);
    assert!(err.contains("custom_profile_fields") && err.contains("50"), "{err}");

    // The emulator holds the cap: with the org one field short of it, City is made, Zip Code refused.
    emu.set_custom_profile_fields(scimitar::scim::rules::CUSTOM_PROFILE_FIELDS_MAX - made.len() - 1);
    expect(d, &url, 0, &["users", "update", &member, "--set", "locality=Oslo", "--yes"]);
    let (out, err) = expect(d, &url, 1, &["users", "update", &member, "--set", "postalCode=0154", "--yes"]);
    assert!((out + &err).contains("unable_to_create_team_profile_fields"), "refused by the emulator as Slack does");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_round_trips_over_scim_v1_too() {
    // SCIM 1.1: the extensions under their v1 URNs, an element change as SCIM 1.1 sends it (the
    // new value, the old one with "operation": "delete"), a removal in `meta.attributes`.
    let emu = emulator_of(40).await;
    emu.set_photo_delay(Duration::from_millis(300));
    let url = emu.base_url(ApiVersion::V1);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("new.csv"),
        "email,userName,startDate,secondaryEmail,mobile,locality\nvi@acme-corp.example,vi,2026-05-04,vi@home.example,+1 555 0142,Oslo\n",
    )
    .unwrap();
    expect(d, &url, 0, &["users", "create", "--from", d.join("new.csv").to_str().unwrap(), "--yes"]);
    export_plans_no_change(d, &url, "v1 create");
    let expiry = in_days(40);
    let mut email = "vi@acme-corp.example".to_string();
    for (set, key, want) in [
        ("startDate=2027-01-04".to_string(), "startDate", "2027-01-04T00:00:00+0000".to_string()),
        ("email=vi.new@acme-corp.example".into(), "email (primary)", "vi.new@acme-corp.example".into()),
        ("phone=+1 555 0100".into(), "phone", "+1 555 0100".into()),
        ("photo=https://photos.example.com/vi.png".into(), "photo", "https://photos.example.com/vi.png".into()),
        ("postalCode=0154".into(), "postalCode", "0154".into()),
        ("guest=multi".into(), "guest", "multi".into()),
        (format!("guestExpiration={expiry}"), "guestExpiration", format!("{expiry}T23:59:59Z")),
    ] {
        expect(d, &url, 0, &["users", "update", &email, "--set", &set, "--yes"]);
        if set.starts_with("email=") {
            email = "vi.new@acme-corp.example".into();
        }
        let rows = shown(d, &url, &email);
        assert_eq!(value_of(&rows, key), Some(want.as_str()), "v1 {set}\n{rows:?}");
        assert_eq!(value_of(&rows, "secondaryEmail"), Some("vi@home.example"), "v1 {set}: the secondary email is kept\n{rows:?}");
        assert_eq!(value_of(&rows, "mobile"), Some("+1 555 0142"), "v1 {set}: the mobile phone is kept\n{rows:?}");
        assert_eq!(value_of(&rows, "locality"), Some("Oslo"), "v1 {set}: the address's other parts are kept\n{rows:?}");
        export_plans_no_change(d, &url, &set);
    }
    expect(d, &url, 0, &["users", "update", &email, "--set", "guest=member", "--set", "startDate=", "--yes"]);
    let rows = shown(d, &url, &email);
    assert_eq!((value_of(&rows, "guest"), value_of(&rows, "startDate")), (None, None), "{rows:?}");
    export_plans_no_change(d, &url, "v1 member again");
}
