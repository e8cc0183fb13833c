//! Deterministic, realistic seed data for the emulator.
//!
//! `generate(users, groups, seed)` always returns the same org for the same arguments. User 0 is
//! the primary owner (role `primary_owner`); three users are bots (emails at `slack-bots.com`);
//! about 3% are deactivated and 2% are multi-channel guests. Users come in creation order.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scim::types::{EnterpriseUser, GroupRef, GuestExt, Manager, Member, Meta, MultiValue, Name, ProfileExt, Role};
use scim::{Group, User};
use std::collections::HashSet;

const FIRST: [&str; 110] = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Dorothy",
    "George",
    "Melissa",
    "Timothy",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Edward",
    "Rebecca",
    "Jason",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Anna",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Emma",
    "Scott",
    "Nicole",
    "Brandon",
    "Helen",
    "Benjamin",
    "Samantha",
    "Samuel",
    "Katherine",
    "Gregory",
    "Christine",
    "Alexander",
    "Debra",
    "Frank",
    "Rachel",
    "Raymond",
    "Carolyn",
    "Patrick",
    "Janet",
    "Jack",
    "Catherine",
    "Dennis",
    "Maria",
    "Jerry",
    "Heather",
    "Aiko",
    "Bogdan",
    "Chiara",
    "Dmitri",
    "Fatima",
    "Hiroshi",
    "Ingrid",
    "Kwame",
    "Lucia",
    "Mateo",
];

const LAST: [&str; 110] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Okafor",
    "Kowalski",
    "Rossi",
    "Ivanova",
    "Haddad",
    "Tanaka",
    "Larsen",
    "Mensah",
    "Fernandes",
    "Schmidt",
];

const TITLES: [&str; 18] = [
    "Software Engineer",
    "Senior Software Engineer",
    "Staff Engineer",
    "Engineering Manager",
    "Product Manager",
    "Designer",
    "Account Executive",
    "Sales Engineer",
    "Customer Success Manager",
    "Support Specialist",
    "Recruiter",
    "HR Business Partner",
    "Financial Analyst",
    "Controller",
    "Marketing Manager",
    "Data Scientist",
    "Site Reliability Engineer",
    "Legal Counsel",
];

/// (department, division)
const DEPARTMENTS: [(&str, &str); 16] = [
    ("Engineering", "R&D"),
    ("Platform", "R&D"),
    ("Security", "R&D"),
    ("Data", "R&D"),
    ("Product", "R&D"),
    ("Design", "R&D"),
    ("Sales", "Go To Market"),
    ("Marketing", "Go To Market"),
    ("Customer Success", "Go To Market"),
    ("Support", "Go To Market"),
    ("Finance", "G&A"),
    ("Legal", "G&A"),
    ("People", "G&A"),
    ("IT", "G&A"),
    ("Facilities", "G&A"),
    ("Operations", "G&A"),
];

const TIMEZONES: [&str; 8] = [
    "America/Los_Angeles",
    "America/New_York",
    "America/Chicago",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
];

const GROUP_NAMES: [&str; 24] = [
    "engineering",
    "eng-oncall",
    "platform-team",
    "security",
    "data-science",
    "product",
    "design",
    "sales",
    "sales-emea",
    "sales-amer",
    "marketing",
    "customer-success",
    "support-tier1",
    "support-tier2",
    "finance",
    "legal",
    "people-ops",
    "it-helpdesk",
    "facilities",
    "operations",
    "leadership",
    "managers",
    "all-hands-organizers",
    "new-hires",
];

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `prefix` + 10 uppercase alphanumerics, like Slack's `W…`/`S…` ids.
pub(crate) fn random_id(rng: &mut impl Rng, prefix: char) -> String {
    let mut s = String::with_capacity(11);
    s.push(prefix);
    for _ in 0..10 {
        s.push(ALNUM[rng.random_range(0..ALNUM.len())] as char);
    }
    s
}

/// Format a unix timestamp as RFC 3339 with an explicit offset (`+00:00`), as Slack does.
pub(crate) fn format_time(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]");
    t.format(&fmt).unwrap_or_default()
}

/// Generate `users` users and `groups` groups, deterministically for `seed`.
pub fn generate(users: usize, groups: usize, seed: u64) -> (Vec<User>, Vec<Group>) {
    let mut out: Vec<User> = Vec::with_capacity(users);
    let (gout, memberships) = generate_with(users, groups, seed, usize::MAX, &mut |batch| out.extend(batch));
    for (u, g) in memberships {
        out[u].groups.get_or_insert_with(Vec::new).push(g);
    }
    (out, gout)
}

/// [`generate`], handing the users to `emit` in batches of `batch` as they are made (a server
/// can serve the first while the rest are made), then returning the groups and each user's
/// group memberships (user index, group) to add to them. The same people as [`generate`].
pub fn generate_with(
    users: usize,
    groups: usize,
    seed: u64,
    batch: usize,
    emit: &mut dyn FnMut(Vec<User>),
) -> (Vec<Group>, Vec<(usize, GroupRef)>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let batch = batch.max(1);
    let mut out: Vec<User> = Vec::with_capacity(users.min(batch));
    // What later users and the groups need of the earlier ones.
    // (Ids inline, 11 bytes each, and names as their two static parts: no string per user.)
    let mut ids: Vec<[u8; 11]> = Vec::with_capacity(users);
    let mut displays: Vec<(&'static str, &'static str)> = Vec::with_capacity(users);
    let id_at = |ids: &[[u8; 11]], k: usize| String::from_utf8_lossy(&ids[k]).into_owned();
    let mut actives: Vec<bool> = Vec::with_capacity(users);
    // Ids and userNames taken so far, by a hash of each (a collision of two different values,
    // next to impossible, only draws another id or suffix): half the memory of the strings.
    let key = |s: &str| {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(s)
    };
    let mut id_set: HashSet<u64> = HashSet::with_capacity(users);
    // How many users have each `first.last` so far: the k-th gets `first.lastk` (`first.last`
    // for the first). Names hold no digits, so no two bases' emails meet.
    let mut bases: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut bot_emails = HashSet::new();
    let mut names: HashSet<u64> = HashSet::with_capacity(users);
    let mut by_dept: Vec<Vec<usize>> = vec![Vec::new(); DEPARTMENTS.len()];
    // Creation dates: spread from 2021-01-01 to 2026-01-01, increasing with the index.
    let (t0, t1) = (1_609_459_200i64, 1_767_225_600i64);
    let step = (t1 - t0) / users.max(1) as i64;
    let bots: Vec<usize> = if users > 8 { vec![users / 4, users / 2, 3 * users / 4] } else { (1..users.min(4)).collect() };

    for i in 0..users {
        let mut id = random_id(&mut rng, 'W');
        while !id_set.insert(key(&id)) {
            id = random_id(&mut rng, 'W');
        }
        let created = format_time(t0 + i as i64 * step + rng.random_range(0..step.max(1)));
        let is_bot = bots.contains(&i);
        let (first, last) =
            if is_bot { ("Bot", "User") } else { (FIRST[rng.random_range(0..FIRST.len())], LAST[rng.random_range(0..LAST.len())]) };
        let (email, user_name) = if is_bot {
            let app: String = (0..6).map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char).collect();
            let email = format!("botuser-T0ACME-A0{app}@slack-bots.com");
            let un = format!("bot-{}", app.to_ascii_lowercase());
            bot_emails.insert(email.clone());
            names.insert(key(&un));
            (email, un)
        } else {
            let base = format!("{}.{}", first.to_ascii_lowercase(), last.to_ascii_lowercase());
            let seen = bases.entry(base.clone()).or_insert(0);
            *seen += 1;
            let local = if *seen == 1 { base.clone() } else { format!("{base}{seen}") };
            // userName: the email's local part, cut to Slack's 21 characters, kept unique.
            let mut un: String = local.chars().take(21).collect();
            let mut k = 1;
            while !names.insert(key(&un)) {
                k += 1;
                let suffix = k.to_string();
                un = format!("{}{}", base.chars().take(21 - suffix.len()).collect::<String>(), suffix);
            }
            (format!("{local}@acme-corp.example"), un)
        };
        let dept_ix = rng.random_range(0..DEPARTMENTS.len());
        let (dept, division) = DEPARTMENTS[dept_ix];
        // Managers are earlier users, mostly of the same department.
        let manager = if i == 0 {
            None
        } else if !by_dept[dept_ix].is_empty() && rng.random_bool(0.85) {
            let d = &by_dept[dept_ix];
            Some(d[rng.random_range(0..d.len().min(50))])
        } else {
            Some(rng.random_range(0..i))
        };
        if !is_bot {
            by_dept[dept_ix].push(i);
        }
        let guest = i != 0 && !is_bot && rng.random_bool(0.02);
        let active = i == 0 || is_bot || !rng.random_bool(0.03);
        let display = format!("{first} {last}");
        ids.push(id.as_bytes().try_into().expect("an id is 11 ASCII characters"));
        displays.push((first, last));
        actives.push(active);
        let user = User {
            id: Some(id),
            meta: Some(Meta { created: Some(created), ..Default::default() }),
            user_name: Some(user_name.clone()),
            nick_name: Some(user_name),
            name: Some(Name { given_name: Some(first.into()), family_name: Some(last.into()), ..Default::default() }),
            display_name: Some(display),
            title: Some(if is_bot { "Bot".into() } else { TITLES[rng.random_range(0..TITLES.len())].into() }),
            timezone: Some(TIMEZONES[rng.random_range(0..TIMEZONES.len())].into()),
            locale: Some("en-US".into()),
            active: Some(active),
            emails: Some(vec![MultiValue::email(email, true)]),
            roles: (i == 0)
                .then(|| vec![Role::Object(MultiValue { value: Some("primary_owner".into()), primary: Some(true), ..Default::default() })]),
            groups: Some(Vec::new()),
            enterprise: (!is_bot).then(|| EnterpriseUser {
                employee_number: Some(format!("E{:06}", i + 1)),
                cost_center: Some(format!("CC-{:03}", 100 + dept_ix * 10)),
                organization: Some("Acme Corp".into()),
                division: Some(division.into()),
                department: Some(dept.into()),
                manager: manager.map(|m| Manager { manager_id: Some(id_at(&ids, m)), ..Default::default() }),
            }),
            guest: guest.then(|| GuestExt {
                kind: Some("multi".into()),
                // Spread over a year (no draw of its own: the seed's sequence stays as it was).
                expiration: rng.random_bool(0.5).then(|| format!("2027-{:02}-{:02}T23:59:59Z", 1 + i % 12, 1 + i % 28)),
            }),
            profile: rng.random_bool(0.3).then(|| ProfileExt {
                start_date: Some(format!(
                    "{}-{:02}-{:02}T00:00:00+0000",
                    2015 + rng.random_range(0..11),
                    rng.random_range(1..13),
                    rng.random_range(1..29)
                )),
            }),
            ..Default::default()
        };
        out.push(user);
        if out.len() >= batch {
            emit(std::mem::replace(&mut out, Vec::with_capacity(batch.min(users - i))));
        }
    }
    if !out.is_empty() {
        emit(out);
    }

    let active: Vec<usize> = (0..actives.len()).filter(|&i| actives[i]).collect();
    let mut gids = HashSet::new();
    let mut gout = Vec::with_capacity(groups);
    let mut memberships = Vec::new();
    for g in 0..groups {
        let mut id = random_id(&mut rng, 'S');
        while !gids.insert(id.clone()) {
            id = random_id(&mut rng, 'S');
        }
        let name = if g < GROUP_NAMES.len() {
            GROUP_NAMES[g].to_string()
        } else {
            format!("{}-{}", GROUP_NAMES[g % GROUP_NAMES.len()], g / GROUP_NAMES.len() + 1)
        };
        let want = if active.is_empty() { 0 } else { rng.random_range(3..=60).min(active.len()) };
        let mut chosen = HashSet::new();
        let mut members = Vec::with_capacity(want);
        while members.len() < want {
            let u = active[rng.random_range(0..active.len())];
            if chosen.insert(u) {
                members.push(u);
            }
        }
        for &u in &members {
            memberships.push((u, GroupRef { value: Some(id.clone()), display: Some(name.clone()) }));
        }
        gout.push(Group {
            id: Some(id),
            meta: Some(Meta { created: Some(format_time(t0 + g as i64 * 86_400)), ..Default::default() }),
            display_name: Some(name),
            members: Some(
                members
                    .iter()
                    .map(|&u| Member {
                        value: Some(id_at(&ids, u)),
                        display: Some(format!("{} {}", displays[u].0, displays[u].1)),
                        operation: None,
                    })
                    .collect(),
            ),
            extra: Default::default(),
        });
    }
    (gout, memberships)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn deterministic_and_unique() {
        let (a, ga) = generate(3000, 30, 7);
        let (b, gb) = generate(3000, 30, 7);
        assert_eq!(a, b);
        assert_eq!(ga, gb);
        let (c, _) = generate(3000, 30, 8);
        assert_ne!(a[5].id, c[5].id);
        let emails: HashSet<_> = a.iter().map(|u| u.primary_email().unwrap().to_string()).collect();
        assert_eq!(emails.len(), a.len());
        let names: HashSet<_> = a.iter().map(|u| u.user_name.clone().unwrap()).collect();
        assert_eq!(names.len(), a.len());
        assert!(a.iter().all(|u| u.user_name.as_ref().unwrap().len() <= 21));
        assert_eq!(a.iter().filter(|u| u.primary_email().unwrap().ends_with("@slack-bots.com")).count(), 3);
        let inactive = a.iter().filter(|u| u.active == Some(false)).count();
        assert!((30..200).contains(&inactive), "{inactive}");
        assert!(a.iter().filter(|u| u.is_guest()).count() > 20);
        // managers point to earlier users
        let pos: std::collections::HashMap<_, _> = a.iter().enumerate().map(|(i, u)| (u.id().to_string(), i)).collect();
        for (i, u) in a.iter().enumerate() {
            if let Some(m) = u.manager_id() {
                assert!(pos[m] < i);
            }
        }
        // groups and users agree
        for g in &ga {
            for m in g.member_ids() {
                let u = &a[pos[m]];
                assert!(u.groups.as_ref().unwrap().iter().any(|r| r.value.as_deref() == Some(g.id())));
            }
        }
    }

    #[test]
    fn generated_in_batches_the_same_people() {
        let (a, ga) = generate(2500, 20, 5);
        let mut batches = Vec::new();
        let (gb, memberships) = generate_with(2500, 20, 5, 700, &mut |b| batches.push(b));
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [700, 700, 700, 400]);
        let mut b: Vec<User> = batches.into_iter().flatten().collect();
        for (u, g) in memberships {
            b[u].groups.get_or_insert_with(Vec::new).push(g);
        }
        assert_eq!(a, b);
        assert_eq!(ga, gb);
    }

    #[test]
    fn hundred_thousand_is_fast() {
        let t = Instant::now();
        let (u, _) = generate(100_000, 50, 1);
        assert_eq!(u.len(), 100_000);
        // Release builds must take well under a second; unoptimised builds on a shared machine
        // only get a loose bound.
        let bound = if cfg!(debug_assertions) { 30.0 } else { 1.0 };
        assert!(t.elapsed().as_secs_f64() < bound, "{:?}", t.elapsed());
    }
}
