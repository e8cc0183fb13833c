//! Reading list pages fast: a page body straight into typed resources, without the JSON tree
//! (`serde_json::Value`) the general path builds first and converts afterwards.
//!
//! **Exactly as before, or not at all.** The general path (the body into a `Value`, into a
//! [`ListResponse`](crate::types::ListResponse), each resource through [`Listed::from_value`])
//! decides what a page means. The readers here accept a subset of the bodies it accepts, and
//! where they accept one they produce what it produces; anything they do not expect (a duplicate
//! extension object, a resource that is not an object, a type that does not fit, text that is
//! not UTF-8, ...) makes them give up, and the client takes the general path, whose result or
//! error stands as it always did. Values they skip are still validated as `Value` would validate
//! them ([`Skip`]: every string's escapes and UTF-8, every number's range, the nesting limit), so
//! a body the general path refuses is never accepted here. `tests::fast_and_general_agree` and
//! the proptests hold the two paths side by side.
//!
//! Two kinds of resource come out: the full [`User`] and [`Group`] (every attribute, unknown ones
//! in `extra`), and [`UserSummary`]: the dozen fields list views and row tables use, for
//! listings that need no more (`users list` as CSV or a table, the console's directory). A
//! summary reads no unknown attribute into memory at all, and borrows every string it compares
//! or chooses from (emails, roles) from the page body.

use crate::types::{
    Address, EnterpriseUser, Group, GroupRef, GuestExt, Manager, Member, Meta, MultiValue, Name, ProfileExt, Role, User, urn,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// A resource a listing can hand over: read fast from the page body ([`Listed::Wire`]), or by
/// the general path from a `Value` ([`Listed::from_value`]), with the same result.
pub trait Listed: Sized + Send + 'static {
    /// The fast reader; its `Into` is the resource.
    type Wire: for<'de> Deserialize<'de> + Into<Self>;
    /// The general path (what the client always did).
    fn from_value(v: Value) -> Result<Self, serde_json::Error>;
    /// The id a listing de-duplicates on.
    fn key(&self) -> Option<&str>;
    /// `user` or `group`, for messages.
    const WHAT: &'static str;
}

impl Listed for User {
    type Wire = WireUser;
    fn from_value(v: Value) -> Result<Self, serde_json::Error> {
        User::from_value(v)
    }
    fn key(&self) -> Option<&str> {
        self.id.as_deref()
    }
    const WHAT: &'static str = "user";
}

impl Listed for Group {
    type Wire = WireGroup;
    fn from_value(v: Value) -> Result<Self, serde_json::Error> {
        Group::from_value(v)
    }
    fn key(&self) -> Option<&str> {
        self.id.as_deref()
    }
    const WHAT: &'static str = "group";
}

/// A list body read the fast way.
pub(crate) struct FastList<T> {
    pub total_results: u64,
    pub start_index: Option<u64>,
    pub resources: Vec<T>,
}

/// The fast reading of a list body, or `None` when the general path must decide.
pub(crate) fn fast_list<T: Listed>(body: &[u8]) -> Option<FastList<T>> {
    let text = std::str::from_utf8(body).ok()?;
    let list: FastListOf<T::Wire> = serde_json::from_str(text).ok()?;
    Some(FastList {
        total_results: list.total_results,
        start_index: list.start_index,
        resources: list.resources.into_iter().map(Into::into).collect(),
    })
}

/// Read a list body as the client does: the fast reading, else the general path. For
/// benchmarks and tests: `Err` carries the general path's error text.
pub fn read_list<T: Listed>(body: &[u8]) -> Result<(u64, Vec<T>), String> {
    if let Some(l) = fast_list::<T>(body) {
        return Ok((l.total_results, l.resources));
    }
    general_list(body)
}

/// The general path alone (a `Value` first), as the client read every page before.
pub fn general_list<T: Listed>(body: &[u8]) -> Result<(u64, Vec<T>), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let list: crate::types::ListResponse =
        serde_json::from_value(v).map_err(|e| format!("the server sent a list this client cannot read: {e}"))?;
    let items = list
        .resources
        .into_iter()
        .map(T::from_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the server sent a {} this client cannot read: {e}", T::WHAT))?;
    Ok((list.total_results, items))
}

struct FastListOf<W> {
    total_results: u64,
    start_index: Option<u64>,
    resources: Vec<W>,
}

impl<'de, W: Deserialize<'de>> Deserialize<'de> for FastListOf<W> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<W>(std::marker::PhantomData<W>);
        impl<'de, W: Deserialize<'de>> Visitor<'de> for V<W> {
            type Value = FastListOf<W>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SCIM list response object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                // As `ListResponse` reads them: each field typed, missing ones defaulted; a
                // repeated key counts by its last value, as in a `Value`.
                let mut total = 0u64;
                let mut start = None;
                let mut resources = Vec::new();
                while let Some(k) = m.next_key::<Key>()? {
                    match k.0.as_ref() {
                        "schemas" => {
                            m.next_value::<StrSeq>()?;
                        }
                        "totalResults" => total = m.next_value()?,
                        "itemsPerPage" => {
                            m.next_value::<Option<u64>>()?;
                        }
                        "startIndex" => start = m.next_value()?,
                        "Resources" => resources = m.next_value()?,
                        _ => {
                            m.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(FastListOf { total_results: total, start_index: start, resources })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A map key or string: borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CowVisitor).map(Key)
    }
}

struct CowVisitor;

impl<'de> Visitor<'de> for CowVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// `null` or a string, borrowed where it can be (a `Option<String>` attribute, read without
/// allocating unless it has escapes).
#[derive(Default)]
struct OptStr<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for OptStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OptStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OptStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OptStr(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(CowVisitor).map(|s| OptStr(Some(s)))
            }
        }
        d.deserialize_option(V)
    }
}

/// A list of strings (`schemas`), checked and dropped.
struct StrSeq;

impl<'de> Deserialize<'de> for StrSeq {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrSeq;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<StrSeq, A::Error> {
                while s.next_element::<Key>()?.is_some() {}
                Ok(StrSeq)
            }
        }
        d.deserialize_seq(V)
    }
}

/// Any JSON value, validated as a `serde_json::Value` would be parsed (string escapes and UTF-8,
/// number ranges, nesting depth), and dropped without allocating.
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        Skip::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Skip, A::Error> {
        while s.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Skip, A::Error> {
        while m.next_key::<Skip>()?.is_some() {
            m.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

fn give_up<E: de::Error>(why: &str) -> E {
    E::custom(format_args!("left to the general reader: {why}"))
}

/// A value read by the fast readers and what it becomes (`Option`s and lists of them nest).
trait Wire<'de>: Deserialize<'de> {
    type Out;
    fn out(self) -> Self::Out;
}

impl<'de> Wire<'de> for String {
    type Out = String;
    fn out(self) -> String {
        self
    }
}

impl<'de> Wire<'de> for bool {
    type Out = bool;
    fn out(self) -> bool {
        self
    }
}

impl<'de, W: Wire<'de>> Wire<'de> for Option<W> {
    type Out = Option<W::Out>;
    fn out(self) -> Self::Out {
        self.map(Wire::out)
    }
}

impl<'de, W: Wire<'de>> Wire<'de> for Vec<W> {
    type Out = Vec<W::Out>;
    fn out(self) -> Self::Out {
        self.into_iter().map(Wire::out).collect()
    }
}

/// A reader for one of the small SCIM structs: its object form only (a derived struct also takes
/// a list), each known attribute typed, a repeated one left to the general path, unknown ones
/// validated ([`Skip`]) and dropped, as the derived `Deserialize` drops them.
macro_rules! wire_struct {
    ($wire:ident => $ty:ident, $what:literal { $($key:literal => $field:ident : $read:ty),* $(,)? }) => {
        struct $wire($ty);

        impl<'de> Wire<'de> for $wire {
            type Out = $ty;
            fn out(self) -> $ty {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $wire {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $wire;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    #[allow(unused_assignments)]
                    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<$wire, A::Error> {
                        let mut out = $ty::default();
                        let mut seen = 0u32;
                        while let Some(k) = m.next_key::<Key>()? {
                            let mut bit = 1u32;
                            let mut found = false;
                            $(
                                if !found && k.0 == $key {
                                    found = true;
                                    if seen & bit != 0 {
                                        return Err(give_up("a repeated attribute"));
                                    }
                                    seen |= bit;
                                    out.$field = m.next_value::<$read>()?.out();
                                }
                                bit <<= 1;
                            )*
                            if !found {
                                m.next_value::<Skip>()?;
                            }
                        }
                        Ok($wire(out))
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

wire_struct!(WName => Name, "a name object" {
    "givenName" => given_name: Option<String>,
    "familyName" => family_name: Option<String>,
    "honorificPrefix" => honorific_prefix: Option<String>,
    "formatted" => formatted: Option<String>,
});

wire_struct!(WMulti => MultiValue, "a multi-valued attribute object" {
    "value" => value: Option<String>,
    "type" => kind: Option<String>,
    "primary" => primary: Option<bool>,
    "display" => display: Option<String>,
    "operation" => operation: Option<String>,
});

wire_struct!(WAddress => Address, "an address object" {
    "streetAddress" => street_address: Option<String>,
    "locality" => locality: Option<String>,
    "region" => region: Option<String>,
    "postalCode" => postal_code: Option<String>,
    "country" => country: Option<String>,
    "primary" => primary: Option<bool>,
});

wire_struct!(WGroupRef => GroupRef, "a group reference object" {
    "value" => value: Option<String>,
    "display" => display: Option<String>,
});

wire_struct!(WManager => Manager, "a manager object" {
    "managerId" => manager_id: Option<String>,
    "value" => value: Option<String>,
    "$ref" => reference: Option<String>,
    "displayName" => display_name: Option<String>,
});

wire_struct!(WEnterprise => EnterpriseUser, "an enterprise extension object" {
    "employeeNumber" => employee_number: Option<String>,
    "costCenter" => cost_center: Option<String>,
    "organization" => organization: Option<String>,
    "division" => division: Option<String>,
    "department" => department: Option<String>,
    "manager" => manager: Option<WManager>,
});

wire_struct!(WGuest => GuestExt, "a guest extension object" {
    "type" => kind: Option<String>,
    "expiration" => expiration: Option<String>,
});

wire_struct!(WProfile => ProfileExt, "a profile extension object" {
    "startDate" => start_date: Option<String>,
});

wire_struct!(WMember => Member, "a group member object" {
    "value" => value: Option<String>,
    "display" => display: Option<String>,
    "operation" => operation: Option<String>,
});

/// A role: a bare string, or a multi-valued attribute object (`Role` is untagged).
struct WRole(Role);

impl<'de> Wire<'de> for WRole {
    type Out = Role;
    fn out(self) -> Role {
        self.0
    }
}

impl<'de> Deserialize<'de> for WRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WRole;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a role")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WRole, E> {
                Ok(WRole(Role::Text(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<WRole, E> {
                Ok(WRole(Role::Text(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<WRole, A::Error> {
                WMulti::deserialize(de::value::MapAccessDeserializer::new(m)).map(|w| WRole(Role::Object(w.0)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A whole [`User`], read straight from the body as [`User::from_value`] reads it from a
/// `Value`: every attribute typed, `schemas` dropped, the extensions under either version's key
/// into their fields, unknown attributes kept in `extra`.
pub struct WireUser(pub User);

impl From<WireUser> for User {
    fn from(w: WireUser) -> User {
        w.0
    }
}

/// Which known attributes a reader has seen (a repeated one is left to the general path).
struct Seen(u64);

impl Seen {
    fn mark<E: de::Error>(&mut self, bit: u32) -> Result<(), E> {
        let b = 1u64 << bit;
        if self.0 & b != 0 {
            return Err(give_up("a repeated attribute"));
        }
        self.0 |= b;
        Ok(())
    }
    fn has(&self, bit: u32) -> bool {
        self.0 & (1u64 << bit) != 0
    }
}

/// Bits of [`Seen`] for the extension keys (attributes use 0..=21).
const ENT2: u32 = 32;
const ENT1: u32 = 33;
const GUEST2: u32 = 34;
const GUEST1: u32 = 35;
const PROF2: u32 = 36;
const PROF1: u32 = 37;

/// With an extension under both versions' keys, `User::from_value` takes the v2 one and keeps
/// the v1 one in `extra` as it came: that is left to the general path.
fn both_versions(seen: &Seen) -> bool {
    [(ENT2, ENT1), (GUEST2, GUEST1), (PROF2, PROF1)].into_iter().any(|(a, b)| seen.has(a) && seen.has(b))
}

impl<'de> Deserialize<'de> for WireUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireUser;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SCIM user object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<WireUser, A::Error> {
                let mut u = User::default();
                let mut seen = Seen(0);
                let (mut ent, mut guest, mut prof) = (None, None, None);
                while let Some(k) = m.next_key::<Key>()? {
                    macro_rules! read {
                        ($bit:expr, $t:ty) => {{
                            seen.mark($bit)?;
                            m.next_value::<$t>()?.out()
                        }};
                    }
                    match k.0.as_ref() {
                        "id" => u.id = read!(0, Option<String>),
                        "externalId" => u.external_id = read!(1, Option<String>),
                        "meta" => {
                            seen.mark(2)?;
                            u.meta = m.next_value::<Option<WireMeta>>()?.map(|w| w.0);
                        }
                        "userName" => u.user_name = read!(3, Option<String>),
                        "nickName" => u.nick_name = read!(4, Option<String>),
                        "name" => u.name = read!(5, Option<WName>),
                        "displayName" => u.display_name = read!(6, Option<String>),
                        "profileUrl" => u.profile_url = read!(7, Option<String>),
                        "title" => u.title = read!(8, Option<String>),
                        "userType" => u.user_type = read!(9, Option<String>),
                        "preferredLanguage" => u.preferred_language = read!(10, Option<String>),
                        "locale" => u.locale = read!(11, Option<String>),
                        "timezone" => u.timezone = read!(12, Option<String>),
                        "active" => u.active = read!(13, Option<bool>),
                        "password" => u.password = read!(14, Option<String>),
                        "emails" => u.emails = read!(15, Option<Vec<WMulti>>),
                        "phoneNumbers" => u.phone_numbers = read!(16, Option<Vec<WMulti>>),
                        "photos" => u.photos = read!(17, Option<Vec<WMulti>>),
                        "addresses" => u.addresses = read!(18, Option<Vec<WAddress>>),
                        "roles" => u.roles = read!(19, Option<Vec<WRole>>),
                        "groups" => u.groups = read!(20, Option<Vec<WGroupRef>>),
                        // Dropped by `User::from_value` too (it is written back from the version).
                        "schemas" => {
                            seen.mark(21)?;
                            m.next_value::<Skip>()?;
                        }
                        urn::V2_ENTERPRISE => ent = read!(ENT2, Option<WEnterprise>),
                        urn::V1_ENTERPRISE => ent = read!(ENT1, Option<WEnterprise>),
                        urn::V2_GUEST => guest = read!(GUEST2, Option<WGuest>),
                        urn::V1_GUEST => guest = read!(GUEST1, Option<WGuest>),
                        urn::V2_PROFILE => prof = read!(PROF2, Option<WProfile>),
                        urn::V1_PROFILE => prof = read!(PROF1, Option<WProfile>),
                        other => {
                            let v: Value = m.next_value()?;
                            if u.extra.insert(other.to_string(), v).is_some() {
                                return Err(give_up("a repeated attribute"));
                            }
                        }
                    }
                }
                if both_versions(&seen) {
                    return Err(give_up("an extension under both versions' keys"));
                }
                u.enterprise = ent;
                u.guest = guest;
                u.profile = prof;
                Ok(WireUser(u))
            }
        }
        d.deserialize_map(V)
    }
}

/// [`Meta`], read without the buffering its `#[serde(flatten)]` costs.
struct WireMeta(Meta);

impl<'de> Deserialize<'de> for WireMeta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireMeta;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SCIM meta object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<WireMeta, A::Error> {
                let mut meta = Meta::default();
                let mut seen = Seen(0);
                while let Some(k) = m.next_key::<Key>()? {
                    let (bit, slot) = match k.0.as_ref() {
                        "resourceType" => (0, &mut meta.resource_type),
                        "created" => (1, &mut meta.created),
                        "lastModified" => (2, &mut meta.last_modified),
                        "location" => (3, &mut meta.location),
                        "version" => (4, &mut meta.version),
                        other => {
                            let v: Value = m.next_value()?;
                            if meta.extra.insert(other.to_string(), v).is_some() {
                                return Err(give_up("a repeated attribute"));
                            }
                            continue;
                        }
                    };
                    seen.mark(bit)?;
                    *slot = m.next_value()?;
                }
                Ok(WireMeta(meta))
            }
        }
        d.deserialize_map(V)
    }
}

/// A whole [`Group`], read straight from the body as [`Group::from_value`] reads it.
pub struct WireGroup(pub Group);

impl From<WireGroup> for Group {
    fn from(w: WireGroup) -> Group {
        w.0
    }
}

impl<'de> Deserialize<'de> for WireGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireGroup;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SCIM group object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<WireGroup, A::Error> {
                let mut g = Group::default();
                let mut seen = Seen(0);
                while let Some(k) = m.next_key::<Key>()? {
                    match k.0.as_ref() {
                        "id" => {
                            seen.mark(0)?;
                            g.id = m.next_value()?;
                        }
                        "meta" => {
                            seen.mark(1)?;
                            g.meta = m.next_value::<Option<WireMeta>>()?.map(|w| w.0);
                        }
                        "displayName" => {
                            seen.mark(2)?;
                            g.display_name = m.next_value()?;
                        }
                        "members" => {
                            seen.mark(3)?;
                            g.members = m.next_value::<Option<Vec<WMember>>>()?.out();
                        }
                        "schemas" => {
                            seen.mark(4)?;
                            m.next_value::<Skip>()?;
                        }
                        other => {
                            let v: Value = m.next_value()?;
                            if g.extra.insert(other.to_string(), v).is_some() {
                                return Err(give_up("a repeated attribute"));
                            }
                        }
                    }
                }
                Ok(WireGroup(g))
            }
        }
        d.deserialize_map(V)
    }
}

/// The fields of a listed user that list views and row tables use, as [`UserSummary::of`] takes
/// them from a [`User`]. Read from a page with [`Listed`], it costs a few strings per user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserSummary {
    pub id: Option<String>,
    pub user_name: Option<String>,
    /// [`User::label`]: displayName, else "given family", else userName.
    pub label: String,
    /// [`User::primary_email`].
    pub primary_email: Option<String>,
    pub title: Option<String>,
    /// `enterprise.department`.
    pub department: Option<String>,
    /// [`User::manager_id`].
    pub manager_id: Option<String>,
    pub active: Option<bool>,
    /// [`User::is_guest`].
    pub guest: bool,
    /// [`User::guest_expiration`].
    pub guest_expiration: Option<String>,
    /// Each role's value (`Role::Text`, or an object's `value`), as sent; roles without one are
    /// left out.
    pub roles: Vec<String>,
    /// Every email value, as sent (the bot check looks at all of them).
    pub emails: Vec<String>,
}

impl UserSummary {
    pub fn of(u: &User) -> UserSummary {
        UserSummary {
            id: u.id.clone(),
            user_name: u.user_name.clone(),
            label: u.label(),
            primary_email: u.primary_email().map(str::to_string),
            title: u.title.clone(),
            department: u.department().map(str::to_string),
            manager_id: u.manager_id().map(str::to_string),
            active: u.active,
            guest: u.is_guest(),
            guest_expiration: u.guest_expiration().map(str::to_string),
            roles: u
                .roles
                .iter()
                .flatten()
                .filter_map(|r| match r {
                    Role::Text(s) => Some(s.clone()),
                    Role::Object(mv) => mv.value.clone(),
                })
                .collect(),
            emails: u.emails.iter().flatten().filter_map(|e| e.value.clone()).collect(),
        }
    }

    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    pub fn is_active(&self) -> bool {
        self.active.unwrap_or(false)
    }
}

impl Listed for UserSummary {
    type Wire = WireSummary;
    fn from_value(v: Value) -> Result<Self, serde_json::Error> {
        User::from_value(v).map(|u| UserSummary::of(&u))
    }
    fn key(&self) -> Option<&str> {
        self.id.as_deref()
    }
    const WHAT: &'static str = "user";
}

/// The fast reader of a [`UserSummary`]. Every attribute `User` types is checked against its
/// type (so what the general path refuses is refused here too, and left to it), but only the
/// summary's fields are kept; unknown attributes are validated and dropped.
pub struct WireSummary(UserSummary);

impl From<WireSummary> for UserSummary {
    fn from(w: WireSummary) -> UserSummary {
        w.0
    }
}

/// One element of `emails` as the summary needs it.
struct EmailView<'de> {
    value: Option<Cow<'de, str>>,
    work: bool,
    primary: Option<bool>,
}

impl<'de> Deserialize<'de> for EmailView<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EmailView<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a multi-valued attribute object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut e = EmailView { value: None, work: false, primary: None };
                let mut seen = 0u8;
                while let Some(k) = m.next_key::<Key>()? {
                    // `MultiValue`'s fields; a repeated one is refused there (and so here).
                    let bit = match k.0.as_ref() {
                        "value" => {
                            e.value = m.next_value::<OptStr>()?.0;
                            1
                        }
                        "type" => {
                            e.work = m.next_value::<OptStr>()?.0.as_deref() == Some("work");
                            2
                        }
                        "primary" => {
                            e.primary = m.next_value()?;
                            4
                        }
                        "display" | "operation" => {
                            m.next_value::<OptStr>()?;
                            if k.0 == "display" { 8 } else { 16 }
                        }
                        _ => {
                            m.next_value::<Skip>()?;
                            0
                        }
                    };
                    if seen & bit != 0 {
                        return Err(give_up("a repeated attribute"));
                    }
                    seen |= bit;
                }
                Ok(e)
            }
        }
        // Only the object form (a derived struct also takes a list; the general path reads it).
        d.deserialize_map(V)
    }
}

/// A role: a string, or an object whose `value` counts.
struct RoleView<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for RoleView<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RoleView<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a role")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RoleView(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RoleView(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                let e = EmailView::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(RoleView(e.value))
            }
        }
        d.deserialize_any(V)
    }
}

/// A typed attribute of `User` the summary does not keep: checked against its type, dropped.
/// `T` is the attribute's own type; reading it allocates only for attributes a server rarely
/// sends in bulk (addresses, phone numbers, photos, groups).
fn check<'de, A: MapAccess<'de>, T: Deserialize<'de>>(m: &mut A) -> Result<(), A::Error> {
    m.next_value::<T>().map(drop)
}

/// `meta`: a map (its `#[serde(flatten)]` takes no list) of optional strings and anything else.
struct MetaCheck;

impl<'de> Deserialize<'de> for MetaCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetaCheck;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SCIM meta object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<MetaCheck, A::Error> {
                while let Some(k) = m.next_key::<Key>()? {
                    match k.0.as_ref() {
                        "resourceType" | "created" | "lastModified" | "location" | "version" => {
                            m.next_value::<OptStr>()?;
                        }
                        _ => {
                            m.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(MetaCheck)
            }
        }
        d.deserialize_map(V)
    }
}

/// The enterprise extension as the summary needs it: the department and the manager's id.
#[derive(Default)]
struct EntView<'de> {
    department: Option<Cow<'de, str>>,
    manager: Option<Cow<'de, str>>,
}

impl<'de> Deserialize<'de> for EntView<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EntView<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an enterprise extension object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut e = EntView::default();
                let mut seen = 0u8;
                while let Some(k) = m.next_key::<Key>()? {
                    let bit = match k.0.as_ref() {
                        "department" => {
                            e.department = m.next_value::<OptStr>()?.0;
                            1
                        }
                        "manager" => {
                            e.manager = m.next_value::<Option<ManagerView>>()?.and_then(|mv| mv.id());
                            2
                        }
                        "employeeNumber" | "costCenter" | "organization" | "division" => {
                            m.next_value::<OptStr>()?;
                            match k.0.as_ref() {
                                "employeeNumber" => 4,
                                "costCenter" => 8,
                                "organization" => 16,
                                _ => 32,
                            }
                        }
                        _ => {
                            m.next_value::<Skip>()?;
                            0
                        }
                    };
                    if seen & bit != 0 {
                        return Err(give_up("a repeated attribute"));
                    }
                    seen |= bit;
                }
                Ok(e)
            }
        }
        d.deserialize_map(V)
    }
}

/// `manager`: Slack's `managerId` or RFC 7643's `value` ([`crate::types::Manager::id`]).
struct ManagerView<'de> {
    manager_id: Option<Cow<'de, str>>,
    value: Option<Cow<'de, str>>,
}

impl<'de> ManagerView<'de> {
    fn id(self) -> Option<Cow<'de, str>> {
        // As `Manager::id`: managerId, else value; an empty result is none.
        self.manager_id.or(self.value).filter(|s| !s.is_empty())
    }
}

impl<'de> Deserialize<'de> for ManagerView<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ManagerView<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a manager object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut mv = ManagerView { manager_id: None, value: None };
                let mut seen = 0u8;
                while let Some(k) = m.next_key::<Key>()? {
                    let bit = match k.0.as_ref() {
                        "managerId" => {
                            mv.manager_id = m.next_value::<OptStr>()?.0;
                            1
                        }
                        "value" => {
                            mv.value = m.next_value::<OptStr>()?.0;
                            2
                        }
                        "$ref" | "displayName" => {
                            m.next_value::<OptStr>()?;
                            if k.0 == "$ref" { 4 } else { 8 }
                        }
                        _ => {
                            m.next_value::<Skip>()?;
                            0
                        }
                    };
                    if seen & bit != 0 {
                        return Err(give_up("a repeated attribute"));
                    }
                    seen |= bit;
                }
                Ok(mv)
            }
        }
        d.deserialize_map(V)
    }
}

/// The guest extension: is `type` set, and its `expiration`.
struct GuestView(bool, Option<String>);

impl<'de> Deserialize<'de> for GuestView {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GuestView;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a guest extension object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<GuestView, A::Error> {
                let mut kind = false;
                let mut expiration = None;
                let mut seen = 0u8;
                while let Some(k) = m.next_key::<Key>()? {
                    let bit = match k.0.as_ref() {
                        "type" => {
                            kind = m.next_value::<OptStr>()?.0.is_some_and(|k| !k.trim().is_empty());
                            1
                        }
                        "expiration" => {
                            expiration = m.next_value::<OptStr>()?.0.map(Cow::into_owned).filter(|e| !e.trim().is_empty());
                            2
                        }
                        _ => {
                            m.next_value::<Skip>()?;
                            0
                        }
                    };
                    if seen & bit != 0 {
                        return Err(give_up("a repeated attribute"));
                    }
                    seen |= bit;
                }
                Ok(GuestView(kind, expiration))
            }
        }
        d.deserialize_map(V)
    }
}

/// The profile extension, checked: a map whose `startDate` is a string or null.
struct ProfileCheck;

impl<'de> Deserialize<'de> for ProfileCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ProfileCheck;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a profile extension object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ProfileCheck, A::Error> {
                let mut seen = false;
                while let Some(k) = m.next_key::<Key>()? {
                    if k.0 == "startDate" {
                        if seen {
                            return Err(give_up("a repeated attribute"));
                        }
                        seen = true;
                        m.next_value::<OptStr>()?;
                    } else {
                        m.next_value::<Skip>()?;
                    }
                }
                Ok(ProfileCheck)
            }
        }
        d.deserialize_map(V)
    }
}

/// `name` as the label needs it.
#[derive(Default)]
struct NameView<'de> {
    given: Option<Cow<'de, str>>,
    family: Option<Cow<'de, str>>,
}

impl<'de> Deserialize<'de> for NameView<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NameView<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut n = NameView::default();
                let mut seen = 0u8;
                while let Some(k) = m.next_key::<Key>()? {
                    let bit = match k.0.as_ref() {
                        "givenName" => {
                            n.given = m.next_value::<OptStr>()?.0;
                            1
                        }
                        "familyName" => {
                            n.family = m.next_value::<OptStr>()?.0;
                            2
                        }
                        "honorificPrefix" | "formatted" => {
                            m.next_value::<OptStr>()?;
                            if k.0 == "formatted" { 4 } else { 8 }
                        }
                        _ => {
                            m.next_value::<Skip>()?;
                            0
                        }
                    };
                    if seen & bit != 0 {
                        return Err(give_up("a repeated attribute"));
                    }
                    seen |= bit;
                }
                Ok(n)
            }
        }
        d.deserialize_map(V)
    }
}

/// A list of optional-string objects (`photos`, `phoneNumbers`), checked as emails are.
struct MultiCheck;

impl<'de> Deserialize<'de> for MultiCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EmailView::deserialize(d).map(|_| MultiCheck)
    }
}

impl<'de> Deserialize<'de> for WireSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireSummary;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SCIM user object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<WireSummary, A::Error> {
                let mut id = OptStr::default();
                let mut user_name = OptStr::default();
                let mut display = OptStr::default();
                let mut title = OptStr::default();
                let mut active: Option<bool> = None;
                let mut name: Option<NameView> = None;
                let mut emails: Option<Vec<EmailView>> = None;
                let mut roles: Option<Vec<RoleView>> = None;
                let (mut ent2, mut ent1): (Option<Option<EntView>>, Option<Option<EntView>>) = (None, None);
                let (mut guest2, mut guest1): (Option<Option<GuestView>>, Option<Option<GuestView>>) = (None, None);
                let (mut prof2, mut prof1) = (false, false);
                while let Some(k) = m.next_key::<Key>()? {
                    // A repeated attribute counts by its last value, as in a `Value`.
                    match k.0.as_ref() {
                        "id" => id = m.next_value()?,
                        "userName" => user_name = m.next_value()?,
                        "displayName" => display = m.next_value()?,
                        "title" => title = m.next_value()?,
                        "active" => active = m.next_value()?,
                        "name" => name = m.next_value()?,
                        "emails" => emails = m.next_value()?,
                        "roles" => roles = m.next_value()?,
                        "externalId" | "nickName" | "profileUrl" | "userType" | "preferredLanguage" | "locale" | "timezone"
                        | "password" => {
                            m.next_value::<OptStr>()?;
                        }
                        "meta" => check::<_, Option<MetaCheck>>(&mut m)?,
                        "phoneNumbers" | "photos" => check::<_, Option<Vec<MultiCheck>>>(&mut m)?,
                        "addresses" => check::<_, Option<Vec<WAddress>>>(&mut m)?,
                        "groups" => check::<_, Option<Vec<WGroupRef>>>(&mut m)?,
                        "schemas" => {
                            m.next_value::<Skip>()?;
                        }
                        urn::V2_ENTERPRISE => ent2 = Some(m.next_value()?),
                        urn::V1_ENTERPRISE => ent1 = Some(m.next_value()?),
                        urn::V2_GUEST => guest2 = Some(m.next_value()?),
                        urn::V1_GUEST => guest1 = Some(m.next_value()?),
                        urn::V2_PROFILE => {
                            check::<_, Option<ProfileCheck>>(&mut m)?;
                            prof2 = true;
                        }
                        urn::V1_PROFILE => {
                            check::<_, Option<ProfileCheck>>(&mut m)?;
                            prof1 = true;
                        }
                        // Kept in `extra` as any JSON by the general path: validated, dropped.
                        _ => {
                            m.next_value::<Skip>()?;
                        }
                    }
                }
                if (ent2.is_some() && ent1.is_some()) || (guest2.is_some() && guest1.is_some()) || (prof2 && prof1) {
                    return Err(give_up("an extension under both versions' keys"));
                }
                let ent = ent2.or(ent1).flatten().unwrap_or_default();
                let guest_view = guest2.or(guest1).flatten();
                let guest = guest_view.as_ref().is_some_and(|g| g.0);
                let guest_expiration = guest_view.and_then(|g| g.1);
                let user_name = user_name.0;
                let emails = emails.unwrap_or_default();
                // `User::primary_email`: primary, else type work, else the first.
                let primary = emails
                    .iter()
                    .find(|e| e.primary == Some(true))
                    .or_else(|| emails.iter().find(|e| e.work))
                    .or_else(|| emails.first())
                    .and_then(|e| e.value.as_deref())
                    .map(str::to_string);
                // `User::label`.
                let label = match display.0.as_deref().filter(|s| !s.trim().is_empty()) {
                    Some(d) => d.to_string(),
                    None => {
                        let full = name
                            .as_ref()
                            .map(|n| [n.given.as_deref(), n.family.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "))
                            .filter(|f| !f.trim().is_empty());
                        match full {
                            Some(f) => f,
                            None => user_name.as_deref().unwrap_or("").to_string(),
                        }
                    }
                };
                Ok(WireSummary(UserSummary {
                    id: id.0.map(Cow::into_owned),
                    user_name: user_name.map(Cow::into_owned),
                    label,
                    primary_email: primary,
                    title: title.0.map(Cow::into_owned),
                    department: ent.department.map(Cow::into_owned),
                    manager_id: ent.manager.map(Cow::into_owned),
                    active,
                    guest,
                    guest_expiration,
                    roles: roles.into_iter().flatten().filter_map(|r| r.0.map(Cow::into_owned)).collect(),
                    emails: emails.into_iter().filter_map(|e| e.value.map(Cow::into_owned)).collect(),
                }))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2E: &str = urn::V2_ENTERPRISE;

    fn page(resources: &[String]) -> Vec<u8> {
        format!(
            r#"{{"schemas":["{}"],"totalResults":{},"itemsPerPage":{},"startIndex":1,"Resources":[{}]}}"#,
            urn::V2_LIST,
            resources.len(),
            resources.len(),
            resources.join(",")
        )
        .into_bytes()
    }

    /// The fast readers agree with the general path on `body`: same users and summaries when
    /// they read it, and the general path's verdict whenever they leave it (`read_list`).
    /// Returns whether the whole-user and the summary readers read it.
    fn agree(body: &[u8]) -> (bool, bool) {
        let general = general_list::<User>(body);
        let fast = fast_list::<User>(body);
        if let Some(f) = &fast {
            let (total, users) =
                general.as_ref().unwrap_or_else(|e| panic!("fast read what the general path refuses ({e}): {}", show(body)));
            assert_eq!((&f.total_results, &f.resources), (total, users), "{}", show(body));
        }
        assert_eq!(read_list::<User>(body), general, "{}", show(body));
        let summaries = general.clone().map(|(t, us)| (t, us.iter().map(UserSummary::of).collect::<Vec<_>>()));
        let fast_summary = fast_list::<UserSummary>(body);
        if let Some(f) = &fast_summary {
            let (total, s) =
                summaries.as_ref().unwrap_or_else(|e| panic!("summary read what the general path refuses ({e}): {}", show(body)));
            assert_eq!((&f.total_results, &f.resources), (total, s), "{}", show(body));
        }
        assert_eq!(read_list::<UserSummary>(body), summaries, "{}", show(body));
        (fast.is_some(), fast_summary.is_some())
    }

    fn show(body: &[u8]) -> String {
        String::from_utf8_lossy(&body[..body.len().min(600)]).into_owned()
    }

    fn emulator_user(i: u32) -> String {
        format!(
            r#"{{"active":true,"displayName":"Katherine Clark","emails":[{{"primary":true,"type":"work","value":"k{i}@acme-corp.example"}}],"externalId":"","groups":[],"id":"W{i:09}","locale":"en-US","meta":{{"created":"2021-01-04T05:50:25+00:00","location":"http://127.0.0.1:1/scim/v2/Users/W{i:09}"}},"name":{{"familyName":"Clark","givenName":"Katherine"}},"nickName":"katherine.clark","preferredLanguage":null,"profileUrl":null,"schemas":["{}","{V2E}"],"timezone":"Europe/London","title":"Financial Analyst","{V2E}":{{"costCenter":"CC-140","department":"Product","division":"R&D","employeeNumber":"E000006","manager":{{"managerId":"WR9SOCDMKQF"}},"organization":"Acme Corp"}},"userName":"katherine.clark","userType":null}}"#,
            urn::V2_USER
        )
    }

    #[test]
    fn pages_read_fast_as_the_general_path_reads_them() {
        let u = |s: &str| s.to_string();
        let fast_ones = [
            // The emulator's shape.
            vec![emulator_user(1), emulator_user(2)],
            // Unknown attributes at every level, kept in `extra` (top level, meta) or dropped.
            vec![format!(
                r#"{{"id":"W1","x-vendor":{{"deep":[1,2.5,-3,1e300,null,true,"s"]}},"meta":{{"created":"c","x-etag":"W/\"1\"","resourceType":"User"}},"name":{{"givenName":"Ann","nickname":{{"a":1}}}},"emails":[{{"value":"a@x.com","extra":[1],"primary":false}}],"{V2E}":{{"department":"R&D","manager":{{"value":"M1","$ref":"../Users/M1","displayName":"Boss","odd":0}},"zone":"eu"}}}}"#
            )],
            // Missing everything but an id; an empty object; nulls everywhere.
            vec![
                u(r#"{"id":"W2"}"#),
                u("{}"),
                u(r#"{"id":null,"userName":null,"name":null,"emails":null,"roles":null,"meta":null,"active":null,"groups":null}"#),
            ],
            // Unicode and escapes, in values and in keys (`user\u004eame` is `userName`).
            vec![u(
                r#"{"id":"W3","user\u004eame":"zo\u00eb","displayName":"Zo\u00eb \"Z\" \\ \/ \n\t\ud83d\ude00","title":"日本語 タイトル","emails":[{"value":"zoë@exämple.com","type":"work"}]}"#,
            )],
            // Label fallbacks: blank displayName, then given + family, then userName.
            vec![
                u(r#"{"id":"W4","displayName":"  ","name":{"givenName":"Ann","familyName":"Lee"}}"#),
                u(r#"{"id":"W5","displayName":"","name":{"givenName":" "},"userName":"cy"}"#),
            ],
            // Primary email rules: primary, else work, else the first.
            vec![
                u(r#"{"id":"W6","emails":[{"value":"a@x"},{"value":"b@x","type":"work"},{"value":"c@x","primary":true}]}"#),
                u(r#"{"id":"W7","emails":[{"value":"a@x"},{"value":"b@x","type":"work"}]}"#),
                u(r#"{"id":"W8","emails":[{"type":"home"},{"value":"b@x"}]}"#),
            ],
            // Roles as strings and objects; a bot; v1 keys; guest and profile extensions.
            vec![
                format!(
                    r#"{{"id":"W9","roles":["Primary_Owner",{{"value":"admin","primary":true}},{{"display":"x"}}],"emails":[{{"value":"bot@slack-bots.com"}}]}}"#
                ),
                format!(
                    r#"{{"id":"W10","{}":{{"department":"Ops","manager":{{"managerId":""}}}},"{}":{{"type":"multi","expiration":"2027"}},"{}":{{"startDate":"2020"}}}}"#,
                    urn::V1_ENTERPRISE,
                    urn::V1_GUEST,
                    urn::V1_PROFILE
                ),
                format!(r#"{{"id":"W11","{V2E}":null,"{}":{{"type":null}},"{}":null}}"#, urn::V2_GUEST, urn::V2_PROFILE),
                u(
                    r#"{"id":"W12","phoneNumbers":[{"value":"+1","type":"work"}],"photos":[],"addresses":[{"locality":"Paris","primary":true}],"groups":[{"value":"S1","display":"eng"}],"password":"pw","profileUrl":"u"}"#,
                ),
            ],
            vec![],
        ];
        for resources in &fast_ones {
            assert_eq!(agree(&page(resources)), (true, true), "read fast: {resources:?}");
        }
        // Whitespace, key order, fields the list object does not model.
        assert_eq!(agree(b" { \"Resources\" : [ {\"id\":\"W1\"} ] , \"totalResults\" : 1, \"other\": {\"a\": [null]} } \n"), (true, true));
        // A repeated top-level attribute counts by its last value: the summary reads that, the
        // whole-user reader leaves it to the general path.
        let repeated = page(&[u(r#"{"id":"W13","title":"first","emails":[{"value":"a@x"}],"title":"second","x":1,"x":2}"#)]);
        assert_eq!(agree(&repeated), (false, true));
        assert_eq!(read_list::<UserSummary>(&repeated).unwrap().1[0].title.as_deref(), Some("second"));
    }

    #[test]
    fn what_the_fast_readers_leave_gets_the_general_verdict() {
        let u = |s: &str| s.to_string();
        let left = [
            // Invalid JSON the fast readers would otherwise skip past: out-of-range numbers and
            // lone surrogates inside unknown attributes, nested or not.
            page(&[u(r#"{"id":"W1","x":1e400}"#)]),
            page(&[u(r#"{"id":"W1","name":{"givenName":"a","junk":1e400}}"#)]),
            page(&[u(r#"{"id":"W1","emails":[{"value":"a@x","junk":"\ud800"}]}"#)]),
            page(&[format!(r#"{{"id":"W1","{V2E}":{{"manager":{{"junk":[-1e999]}}}}}}"#)]),
            br#"{"Resources":[],"totalResults":0,"junk":"\udc00"}"#.to_vec(),
            // Not UTF-8; trailing garbage; not JSON at all.
            b"{\"Resources\":[{\"id\":\"W\xff\"}],\"totalResults\":1}".to_vec(),
            b"{\"Resources\":[],\"totalResults\":0} x".to_vec(),
            b"<html>".to_vec(),
            // Wrong types, anywhere.
            page(&[u(r#"{"id":"W1","userName":42,"emails":"nope","active":"yes"}"#)]),
            page(&[u(r#"{"id":"W1","name":{"givenName":5}}"#)]),
            page(&[u(r#"{"id":"W1","roles":[null]}"#)]),
            page(&[u(r#"{"id":"W1","meta":[1]}"#)]),
            page(&[u(r#"["W1"]"#)]),
            br#"{"Resources":null,"totalResults":0}"#.to_vec(),
            br#"{"Resources":[],"totalResults":"3"}"#.to_vec(),
            br#"{"Resources":[],"totalResults":-1}"#.to_vec(),
            br#"{"Resources":[],"schemas":null}"#.to_vec(),
            // Valid forms only the general path takes: structs written as lists, repeated
            // attributes inside objects, an extension under both versions' keys, a list
            // written as a list.
            page(&[u(r#"{"id":"W1","name":["Ann","Lee"]}"#)]),
            page(&[u(r#"{"id":"W1","emails":[{"value":"a@x","value":"b@x"}]}"#)]),
            page(&[format!(r#"{{"id":"W1","{V2E}":{{"department":"A"}},"{}":{{"department":"B"}}}}"#, urn::V1_ENTERPRISE)]),
            page(&[format!(r#"{{"id":"W1","{V2E}":{{"department":"A","department":"B"}}}}"#)]),
            br#"[["s"],2,2,1,[{"id":"W1"},{"id":"W2"}]]"#.to_vec(),
        ];
        for body in &left {
            assert_eq!(agree(body), (false, false), "left to the general path: {}", show(body));
        }
        // Some of those the general path reads (and so the client does, as before).
        assert_eq!(read_list::<User>(&left[17]).unwrap().1[0].name.as_ref().unwrap().family_name.as_deref(), Some("Lee"));
        assert_eq!(read_list::<User>(&left[18]).unwrap().1[0].primary_email(), Some("b@x"));
        let both = &read_list::<User>(&left[19]).unwrap().1[0];
        assert_eq!(both.department(), Some("A"));
        assert!(both.extra.contains_key(urn::V1_ENTERPRISE), "the v1 copy stays in extra");
        assert_eq!(read_list::<User>(&left[21]).unwrap().1.len(), 2);
        // And the rest it refuses, with its own messages.
        assert!(read_list::<User>(&left[0]).unwrap_err().starts_with("not JSON"));
        assert!(read_list::<User>(&left[8]).unwrap_err().contains("the server sent a user this client cannot read"));
        assert!(read_list::<User>(&left[13]).unwrap_err().contains("the server sent a list this client cannot read"));
    }

    #[test]
    fn groups_read_fast_as_the_general_path_reads_them() {
        let body = br#"{"totalResults":2,"Resources":[{"schemas":["x"],"id":"S1","displayName":"eng","members":[{"value":"W1","display":"Ann","odd":[1]}],"meta":{"created":"c"},"x-extra":{"k":null}},{"id":"S2","members":null}]}"#;
        let fast = fast_list::<Group>(body).expect("read fast");
        assert_eq!((fast.total_results, fast.resources), general_list::<Group>(body).unwrap());
        for bad in [&br#"{"Resources":[{"id":"S1","members":[{"value":1}]}]}"#[..], br#"{"Resources":[{"id":"S1","x":1e400}]}"#] {
            assert!(fast_list::<Group>(bad).is_none());
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// JSON text for one value, valid or (rarely) not: nested objects and lists, every number
    /// form, strings with escapes, out-of-range numbers, lone surrogates.
    fn json(depth: u32) -> BoxedStrategy<String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
            Just("1e400".to_string()),
            Just("-0".to_string()),
            "[a-zA-Z0-9 éü日@._-]{0,8}".prop_map(|s| format!("{s:?}")),
            Just(r#""\u00e9\"\\\/\b\f\n\r\t\ud83d\ude00""#.to_string()),
            Just(r#""\ud800""#.to_string()),
            Just(r#""work""#.to_string()),
        ];
        if depth == 0 {
            return leaf.boxed();
        }
        prop_oneof![
            4 => leaf,
            1 => proptest::collection::vec(json(depth - 1), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
            2 => proptest::collection::vec((key(), json(depth - 1)), 0..4)
                .prop_map(|kv| format!("{{{}}}", kv.iter().map(|(k, v)| format!("{k:?}:{v}")).collect::<Vec<_>>().join(","))),
        ]
        .boxed()
    }

    /// A key: one of the attributes the readers know (at any level), or another.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "id",
                "userName",
                "displayName",
                "name",
                "givenName",
                "familyName",
                "emails",
                "value",
                "type",
                "primary",
                "roles",
                "title",
                "active",
                "meta",
                "created",
                "groups",
                "display",
                "managerId",
                "manager",
                "department",
                "schemas",
                "phoneNumbers",
                "addresses",
                "locality",
                "startDate",
                "expiration",
                urn::V2_ENTERPRISE,
                urn::V1_ENTERPRISE,
                urn::V2_GUEST,
                urn::V1_GUEST,
                urn::V2_PROFILE,
                urn::V1_PROFILE,
            ])
            .prop_map(str::to_string),
            "[a-z]{1,6}",
        ]
    }

    /// A user object: known attributes with values of the right shape more often than not.
    fn user() -> impl Strategy<Value = String> {
        let s = || prop_oneof![Just("null".to_string()), "[a-zA-Z0-9 é.@]{0,8}".prop_map(|s| format!("{s:?}"))];
        let email =
            (s(), prop_oneof![Just("null"), Just("\"work\""), Just("\"home\"")], prop_oneof![Just("null"), Just("true"), Just("false")])
                .prop_map(|(v, t, p)| format!(r#"{{"value":{v},"type":{t},"primary":{p}}}"#));
        let ent = (s(), s(), s()).prop_map(|(d, m, v)| format!(r#"{{"department":{d},"manager":{{"managerId":{m},"value":{v}}}}}"#));
        let fields = proptest::collection::vec(
            prop_oneof![
                (key(), json(3)).prop_map(|(k, v)| format!("{k:?}:{v}")),
                s().prop_map(|v| format!(r#""id":{v}"#)),
                s().prop_map(|v| format!(r#""displayName":{v}"#)),
                (s(), s()).prop_map(|(g, f)| format!(r#""name":{{"givenName":{g},"familyName":{f}}}"#)),
                proptest::collection::vec(email, 0..3).prop_map(|e| format!(r#""emails":[{}]"#, e.join(","))),
                proptest::collection::vec(prop_oneof![s(), s().prop_map(|v| format!(r#"{{"value":{v}}}"#))], 0..3)
                    .prop_map(|r| format!(r#""roles":[{}]"#, r.join(","))),
                (proptest::sample::select(vec![urn::V2_ENTERPRISE, urn::V1_ENTERPRISE]), ent).prop_map(|(k, e)| format!("{k:?}:{e}")),
                (proptest::sample::select(vec![urn::V2_GUEST, urn::V1_GUEST]), s()).prop_map(|(k, t)| format!(r#"{k:?}:{{"type":{t}}}"#)),
            ],
            0..8,
        );
        fields.prop_map(|f| format!("{{{}}}", f.join(",")))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

        /// Whatever a page holds, reading it fast gives what the general path gives, or leaves
        /// it to the general path.
        #[test]
        fn fast_and_general_agree(users in proptest::collection::vec(user(), 0..4), extra in json(2)) {
            let body = format!(r#"{{"totalResults":{},"Resources":[{}],"extra":{extra}}}"#, users.len(), users.join(","));
            let body = body.as_bytes();
            let general = general_list::<User>(body);
            if let Some(f) = fast_list::<User>(body) {
                let g = general.clone().map_err(|e| TestCaseError::fail(format!("fast read what the general path refuses ({e})")))?;
                prop_assert_eq!((f.total_results, f.resources), g);
            }
            if let Some(f) = fast_list::<UserSummary>(body) {
                let g = general.clone().map_err(|e| TestCaseError::fail(format!("summary read what the general path refuses ({e})")))?;
                prop_assert_eq!((f.total_results, f.resources), (g.0, g.1.iter().map(UserSummary::of).collect::<Vec<_>>()));
            }
            prop_assert_eq!(read_list::<User>(body), general);
        }
    }
}
