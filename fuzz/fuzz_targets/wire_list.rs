//! List pages as the client reads them: the fast reader (`scim::wire`, straight from the body)
//! against the general path (`Value` -> `ListResponse` -> each resource), for users, user
//! summaries and groups.
//!
//! Invariants: no panic; whenever the fast reader accepts a body it gives exactly what the
//! general path gives (total and every resource), and whenever the general path refuses one, the
//! client's reading (`read_list`) refuses it too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::wire::{UserSummary, general_list, read_list};
use scim::{Group, User};

fuzz_target!(|data: &[u8]| {
    let (fast, general) = (read_list::<User>(data), general_list::<User>(data));
    match (&fast, &general) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "users read differently"),
        (Err(_), Err(_)) => {}
        _ => panic!("users: fast {:?} vs general {:?}", fast.as_ref().map(|l| l.1.len()), general.as_ref().map(|l| l.1.len())),
    }
    // a summary is what `UserSummary::of` takes from the user the general path reads
    let fast = read_list::<UserSummary>(data);
    match (&fast, &general) {
        (Ok((n, s)), Ok((m, users))) => {
            assert_eq!(n, m, "summaries' total");
            let of: Vec<UserSummary> = users.iter().map(UserSummary::of).collect();
            assert_eq!(s, &of, "summaries read differently");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("summaries: fast {:?} vs general {:?}", fast.as_ref().map(|l| l.1.len()), general.as_ref().map(|l| l.1.len())),
    }
    let (fast, general) = (read_list::<Group>(data), general_list::<Group>(data));
    match (&fast, &general) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "groups read differently"),
        (Err(_), Err(_)) => {}
        _ => panic!("groups: fast {:?} vs general {:?}", fast.as_ref().map(|l| l.1.len()), general.as_ref().map(|l| l.1.len())),
    }
});
