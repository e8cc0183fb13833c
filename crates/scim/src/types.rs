//! Typed SCIM resources shared by the client and the emulator.
//!
//! One set of types serves both sides: the emulator deserialises exactly what the client
//! serialises, so a schema mistake shows up as a failing test rather than two mistakes that agree.
//!
//! Slack returns `null` for many unset attributes, so every attribute is optional. Unknown
//! attributes are kept in `extra` so schema drift does not lose data.
//!
//! The extension objects live under version-specific URN keys on the wire. `User::from_value`
//! accepts both the v1 and v2 keys; `User::to_value(version)` writes the keys of one version.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which of Slack's SCIM wire formats to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    V1,
    #[default]
    V2,
}

impl ApiVersion {
    pub fn path_segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ApiVersion::V1 => "SCIM v1.1",
            ApiVersion::V2 => "SCIM v2.0",
        }
    }
}

/// An API version that is neither v1 nor v2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown API version {0:?} (expected v1 or v2)")]
pub struct UnknownVersion(pub String);

impl std::str::FromStr for ApiVersion {
    type Err = UnknownVersion;
    fn from_str(s: &str) -> Result<Self, UnknownVersion> {
        match s.to_ascii_lowercase().as_str() {
            "v1" | "1" | "1.1" | "v1.1" => Ok(ApiVersion::V1),
            "v2" | "2" | "2.0" | "v2.0" => Ok(ApiVersion::V2),
            other => Err(UnknownVersion(other.to_string())),
        }
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path_segment())
    }
}

/// How a server spells the few things Slack and RFC 7643/7644 spell differently (the manager's
/// id, PATCH path forms). Decided per connection by the client's server profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Slack's SCIM API (reference): `managerId`, DELETE deactivates.
    #[default]
    Slack,
    /// Any other SCIM 2.0 server, as RFC 7643/7644 say: `manager.value`, DELETE removes.
    Rfc,
}

/// Schema URNs, per version (reference §3).
pub mod urn {
    pub const V1_CORE: &str = "urn:scim:schemas:core:1.0";
    pub const V1_ENTERPRISE: &str = "urn:scim:schemas:extension:enterprise:1.0";
    pub const V1_GUEST: &str = "urn:scim:schemas:extension:slack:guest:1.0";
    pub const V1_PROFILE: &str = "urn:scim:schemas:extension:slack:profile:1.0";

    pub const V2_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub const V2_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    pub const V2_ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub const V2_GUEST: &str = "urn:ietf:params:scim:schemas:extension:slack:guest:2.0:User";
    pub const V2_PROFILE: &str = "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User";
    pub const V2_LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub const V2_PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    pub const V2_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
}

impl ApiVersion {
    pub fn user_schema(self) -> &'static str {
        match self {
            ApiVersion::V1 => urn::V1_CORE,
            ApiVersion::V2 => urn::V2_USER,
        }
    }
    pub fn group_schema(self) -> &'static str {
        match self {
            ApiVersion::V1 => urn::V1_CORE,
            ApiVersion::V2 => urn::V2_GROUP,
        }
    }
    pub fn enterprise_urn(self) -> &'static str {
        match self {
            ApiVersion::V1 => urn::V1_ENTERPRISE,
            ApiVersion::V2 => urn::V2_ENTERPRISE,
        }
    }
    pub fn guest_urn(self) -> &'static str {
        match self {
            ApiVersion::V1 => urn::V1_GUEST,
            ApiVersion::V2 => urn::V2_GUEST,
        }
    }
    pub fn profile_urn(self) -> &'static str {
        match self {
            ApiVersion::V1 => urn::V1_PROFILE,
            ApiVersion::V2 => urn::V2_PROFILE,
        }
    }
}

/// A resource's `meta` (RFC 7643 §3.1). Slack sends only `created` and `location` (reference §3);
/// RFC servers also send `lastModified`, `version` (the ETag) and `resourceType`. Every attribute
/// the server sent is kept, the ones this type does not name in `extra`, so JSON output shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
}

/// A multi-valued attribute element (emails, phoneNumbers, photos, roles).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultiValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// v1 only: `"delete"` removes this element in a PATCH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

impl MultiValue {
    pub fn email(value: impl Into<String>, primary: bool) -> Self {
        MultiValue { value: Some(value.into()), kind: Some("work".into()), primary: Some(primary), ..Default::default() }
    }
}

/// Roles come back as objects or bare strings (reference §3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Role {
    Text(String),
    Object(MultiValue),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// `{value, display}` entries of a user's read-only `groups` list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// The enterprise extension's `manager`. Slack reads and writes `managerId` (a Slack id, email
/// or userName; reference §3); RFC 7643 §4.3 names the manager's id `value` (with `$ref` and
/// `displayName`). Both are kept as they came; [`Manager::id`] reads either, and the client
/// writes the one its server speaks (`scim::client`, `Dialect`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manager {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl Manager {
    /// A manager given by id (Slack's `managerId`; the RFC dialect writes it as `value`).
    pub fn of(id: impl Into<String>) -> Manager {
        Manager { manager_id: Some(id.into()), ..Default::default() }
    }

    /// The manager's id, whichever attribute carries it.
    pub fn id(&self) -> Option<&str> {
        self.manager_id.as_deref().or(self.value.as_deref()).filter(|s| !s.is_empty())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnterpriseUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager>,
}

/// Slack guest extension: `type` is always `"multi"`, `expiration` is optional ISO-8601.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestExt {
    /// `"multi"` for a multi-channel guest. Left out when unset, so an update that only moves
    /// the expiry does not send `"type": null`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

/// Slack profile extension.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileExt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
}

/// A Slack user as SCIM describes it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Write-only initial password. Never printed by `Debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<MultiValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_numbers: Option<Vec<MultiValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photos: Option<Vec<MultiValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Address>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupRef>>,
    /// Enterprise extension (under the version's URN key on the wire).
    #[serde(skip)]
    pub enterprise: Option<EnterpriseUser>,
    /// Slack guest extension (multi-channel guest).
    #[serde(skip)]
    pub guest: Option<GuestExt>,
    /// Slack profile extension.
    #[serde(skip)]
    pub profile: Option<ProfileExt>,
    /// Attributes this type does not model, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("user_name", &self.user_name)
            .field("display_name", &self.display_name)
            .field("email", &self.primary_email())
            .field("active", &self.active)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The elements of a multi-valued attribute that are values (not a v1 `"operation": "delete"`).
fn live(list: Option<&[MultiValue]>) -> impl Iterator<Item = &MultiValue> {
    list.into_iter().flatten().filter(|e| e.operation.as_deref() != Some("delete"))
}

fn take_ext<T: for<'de> Deserialize<'de>>(extra: &mut Map<String, Value>, keys: [&str; 2]) -> Result<Option<T>, serde_json::Error> {
    for key in keys {
        if let Some(v) = extra.remove(key) {
            if v.is_null() {
                return Ok(None);
            }
            return serde_json::from_value(v).map(Some);
        }
    }
    Ok(None)
}

impl User {
    /// Parse a user from either wire version.
    pub fn from_value(v: Value) -> Result<User, serde_json::Error> {
        let mut user: User = serde_json::from_value(v)?;
        user.extra.remove("schemas");
        user.enterprise = take_ext(&mut user.extra, [urn::V2_ENTERPRISE, urn::V1_ENTERPRISE])?;
        user.guest = take_ext(&mut user.extra, [urn::V2_GUEST, urn::V1_GUEST])?;
        user.profile = take_ext(&mut user.extra, [urn::V2_PROFILE, urn::V1_PROFILE])?;
        Ok(user)
    }

    /// Serialise for one wire version, with the right `schemas` list and extension keys.
    pub fn to_value(&self, version: ApiVersion) -> Value {
        let mut v = serde_json::to_value(self).expect("user serialises");
        let obj = v.as_object_mut().expect("user is an object");
        let mut schemas = vec![Value::from(version.user_schema())];
        if let Some(e) = &self.enterprise {
            schemas.push(version.enterprise_urn().into());
            obj.insert(version.enterprise_urn().into(), serde_json::to_value(e).unwrap());
        }
        if let Some(g) = &self.guest {
            schemas.push(version.guest_urn().into());
            obj.insert(version.guest_urn().into(), serde_json::to_value(g).unwrap());
        }
        if let Some(p) = &self.profile {
            schemas.push(version.profile_urn().into());
            obj.insert(version.profile_urn().into(), serde_json::to_value(p).unwrap());
        }
        obj.insert("schemas".into(), Value::Array(schemas));
        v
    }

    /// Serialise for one wire version in one server's dialect: as [`User::to_value`], with the
    /// manager's id as `managerId` for Slack (reference §3) or `value` for an RFC 7643 server
    /// (§4.3, where `managerId` is refused as an unknown attribute).
    pub fn to_wire(&self, version: ApiVersion, dialect: Dialect) -> Value {
        let mut v = self.to_value(version);
        if let Some(m) = v.get_mut(version.enterprise_urn()).and_then(|e| e.get_mut("manager")).and_then(Value::as_object_mut) {
            let (from, to) = match dialect {
                Dialect::Slack => ("value", "managerId"),
                Dialect::Rfc => ("managerId", "value"),
            };
            if let Some(id) = m.remove(from)
                && !m.contains_key(to)
            {
                m.insert(to.into(), id);
            }
        }
        v
    }

    /// The primary email: `primary: true`, else `type: work`, else the first (reference §3).
    /// Elements marked `"operation": "delete"` (an update's removals) are not emails the user has.
    pub fn primary_email(&self) -> Option<&str> {
        self.primary_email_entry().and_then(|e| e.value.as_deref())
    }

    fn primary_email_entry(&self) -> Option<&MultiValue> {
        let emails: Vec<&MultiValue> = live(self.emails.as_deref()).collect();
        emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| emails.iter().find(|e| e.kind.as_deref() == Some("work")))
            .or_else(|| emails.first())
            .copied()
    }

    /// The secondary email: Slack stores one besides the primary (reference §3 `emails`), the
    /// first other email with a value.
    pub fn secondary_email(&self) -> Option<&str> {
        let primary = self.primary_email_entry().map(|e| e as *const MultiValue);
        live(self.emails.as_deref())
            .filter(|e| Some(*e as *const MultiValue) != primary)
            .find_map(|e| e.value.as_deref().filter(|v| !v.trim().is_empty()))
    }

    /// The photo Slack shows: the `primary` one, else the first (reference §3 `photos`: one stored).
    pub fn photo(&self) -> Option<&str> {
        let photos: Vec<&MultiValue> = live(self.photos.as_deref()).collect();
        photos.iter().find(|p| p.primary == Some(true)).or_else(|| photos.first()).and_then(|p| p.value.as_deref())
    }

    /// The one address Slack stores: the `primary` one, else the first (reference §3 `addresses`).
    pub fn address(&self) -> Option<&Address> {
        let a = self.addresses.as_deref()?;
        a.iter().find(|x| x.primary == Some(true)).or_else(|| a.first())
    }

    /// The Slack profile extension's `startDate`.
    pub fn start_date(&self) -> Option<&str> {
        self.profile.as_ref()?.start_date.as_deref()
    }

    /// A multi-channel guest's expiry, when the guest extension has one.
    pub fn guest_expiration(&self) -> Option<&str> {
        self.guest.as_ref()?.expiration.as_deref().filter(|s| !s.trim().is_empty())
    }

    /// Each role's value (a bare string, or an object's `value`), as sent.
    pub fn role_values(&self) -> Vec<&str> {
        self.roles
            .iter()
            .flatten()
            .filter_map(|r| match r {
                Role::Text(s) => Some(s.as_str()),
                Role::Object(mv) => mv.value.as_deref(),
            })
            .filter(|s| !s.trim().is_empty())
            .collect()
    }

    pub fn is_active(&self) -> bool {
        self.active.unwrap_or(false)
    }

    pub fn is_guest(&self) -> bool {
        self.guest.as_ref().and_then(|g| g.kind.as_deref()).is_some_and(|k| !k.trim().is_empty())
    }

    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// A name fit for a list: displayName, else "given family", else userName.
    pub fn label(&self) -> String {
        if let Some(d) = self.display_name.as_deref().filter(|s| !s.trim().is_empty()) {
            return d.to_string();
        }
        if let Some(n) = &self.name {
            let full = [n.given_name.as_deref(), n.family_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            if !full.trim().is_empty() {
                return full;
            }
        }
        self.user_name.clone().unwrap_or_default()
    }

    pub fn department(&self) -> Option<&str> {
        self.enterprise.as_ref()?.department.as_deref()
    }

    pub fn manager_id(&self) -> Option<&str> {
        self.enterprise.as_ref()?.manager.as_ref()?.id()
    }
}

/// A member of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// v1 only: `"delete"` removes this member in a PATCH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

impl Member {
    pub fn id(id: impl Into<String>) -> Self {
        Member { value: Some(id.into()), ..Default::default() }
    }
}

/// A Slack group (a user group on Business+, an IdP group on Enterprise Grid).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Group {
    pub fn from_value(v: Value) -> Result<Group, serde_json::Error> {
        let mut g: Group = serde_json::from_value(v)?;
        g.extra.remove("schemas");
        Ok(g)
    }

    pub fn to_value(&self, version: ApiVersion) -> Value {
        let mut v = serde_json::to_value(self).expect("group serialises");
        v.as_object_mut().unwrap().insert("schemas".into(), Value::Array(vec![version.group_schema().into()]));
        v
    }

    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or("")
    }

    pub fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.members.iter().flatten().filter_map(|m| m.value.as_deref())
    }

    pub fn member_count(&self) -> usize {
        self.members.as_ref().map_or(0, Vec::len)
    }
}

/// One page of a list response. `Resources` is kept raw and parsed by the caller's type.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(default)]
    pub total_results: u64,
    #[serde(default)]
    pub items_per_page: Option<u64>,
    #[serde(default)]
    pub start_index: Option<u64>,
    #[serde(default, rename = "Resources")]
    pub resources: Vec<Value>,
}

/// One operation of a v2 PatchOp.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// The body of a v2 PATCH request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchRequest {
    pub schemas: Vec<String>,
    #[serde(rename = "Operations")]
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    pub fn new(operations: Vec<PatchOperation>) -> Self {
        PatchRequest { schemas: vec![urn::V2_PATCH.into()], operations }
    }
}

/// The longest id this client sends. Ids are opaque (RFC 7643 §3.1: "issued by the service
/// provider"): Slack's are `W…`/`U…`/`S…`, other servers use UUIDs or hex; anything is used
/// exactly as the server returned it, percent-encoded in a URL ([`encode_segment`]) and quoted in
/// a filter, so no id can change the shape of a request.
pub const MAX_ID_LEN: usize = 1024;

/// Why an id cannot be sent at all ([`check_id`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an empty id")]
    Empty,
    #[error("an id longer than {MAX_ID_LEN} bytes")]
    TooLong,
    #[error("{0:?} is not an id")]
    Dots(String),
    #[error("an id with control or invisible characters")]
    Control,
}

/// Can this id be sent at all? Refuses only what no server issues: empty text, `.` and `..`
/// (which a URL would resolve away), control characters and absurd lengths.
pub fn check_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if id == "." || id == ".." {
        return Err(IdError::Dots(id.to_string()));
    }
    if id.chars().any(|c| c.is_control() || crate::sanitize::is_bidi_control(c) || crate::sanitize::is_invisible(c)) {
        return Err(IdError::Control);
    }
    Ok(())
}

/// Percent-encode one URL path segment: everything but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`, so `/`, `?`, `#`, `%` and spaces in an id stay inside
/// its segment.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Does this look like a Slack id (`W0ABC123`, `U…`, `S…` for groups, `B…`)? Only a hint for
/// the order of lookups (an id lookup first); it never decides what an argument is.
pub fn looks_like_slack_id(s: &str) -> bool {
    (5..=32).contains(&s.len())
        && s.starts_with(['U', 'W', 'S', 'B'])
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// Does this look like an id of any common server: a Slack id, a UUID, a long hex or decimal
/// string? A hint for ordering lookups, as [`looks_like_slack_id`].
pub fn looks_like_id(s: &str) -> bool {
    let hex = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit());
    let uuid = s.len() == 36 && s.split('-').map(str::len).eq([8, 4, 4, 4, 12]) && s.split('-').all(hex);
    looks_like_slack_id(s) || uuid || (s.len() >= 16 && hex(s)) || (s.len() >= 4 && s.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_slack_v1_payload_with_nulls_and_extensions() {
        let v = serde_json::json!({
            "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
            "id": "W0ABCDEF1", "externalId": "", "userName": "jane.doe", "nickName": "jane.doe",
            "name": {"givenName": "Jane", "familyName": "Doe"}, "displayName": "Jane",
            "userType": null, "title": "", "active": true,
            "emails": [{"value": "jane@example.com", "primary": true}],
            "roles": ["admin", {"value": "member", "primary": false}],
            "urn:scim:schemas:extension:enterprise:1.0": {"department": "R&D", "manager": {"managerId": null}},
            "somethingNew": 5
        });
        let u = User::from_value(v).unwrap();
        assert_eq!(u.primary_email(), Some("jane@example.com"));
        assert_eq!(u.department(), Some("R&D"));
        assert_eq!(u.manager_id(), None);
        assert_eq!(u.user_type, None);
        assert_eq!(u.extra.get("somethingNew"), Some(&Value::from(5)));
        assert_eq!(u.roles.as_ref().unwrap().len(), 2);
        // written back as v2 with v2 URNs
        let out = u.to_value(ApiVersion::V2);
        assert!(out.get(urn::V2_ENTERPRISE).is_some());
        assert!(out.get(urn::V1_ENTERPRISE).is_none());
        assert_eq!(out["schemas"][0], urn::V2_USER);
    }

    #[test]
    fn debug_never_shows_password() {
        let u = User { password: Some("hunter2".into()), ..Default::default() };
        assert!(!format!("{u:?}").contains("hunter2"));
    }

    #[test]
    fn primary_email_rules() {
        let mut u = User {
            emails: Some(vec![MultiValue { value: Some("a@x".into()), ..Default::default() }, MultiValue::email("b@x", false)]),
            ..Default::default()
        };
        assert_eq!(u.primary_email(), Some("b@x"), "type work wins over order");
        u.emails.as_mut().unwrap()[0].primary = Some(true);
        assert_eq!(u.primary_email(), Some("a@x"));
    }

    #[test]
    fn ids_are_opaque_but_encoded() {
        for id in ["W0ABCDEF1", "c7ec60ba55c14bf48907375f81728be3", "2819c223-7f76-453a-919d-413861904646", "a b/c?d#e%f\"or 1"] {
            assert!(check_id(id).is_ok(), "{id}");
        }
        for bad in ["", ".", "..", "a\nb", "a\u{202e}b"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(encode_segment("a b/c?d#e%f\"x"), "a%20b%2Fc%3Fd%23e%25f%22x");
        assert_eq!(encode_segment("../x"), "..%2Fx");
        assert_eq!(encode_segment("Zoë"), "Zo%C3%AB");
        assert!(looks_like_slack_id("W0ABCDEF1") && looks_like_slack_id("S0GROUP01"));
        assert!(!looks_like_slack_id("ann") && !looks_like_slack_id("c7ec60ba55c14bf48907375f81728be3"));
        assert!(looks_like_id("c7ec60ba55c14bf48907375f81728be3") && looks_like_id("2819c223-7f76-453a-919d-413861904646"));
        assert!(!looks_like_id("jane.doe") && !looks_like_id("eng-oncall"));
    }

    #[test]
    fn meta_and_manager_keep_what_the_server_sent() {
        let v = serde_json::json!({
            "schemas": [urn::V2_USER, urn::V2_ENTERPRISE], "id": "c7ec", "userName": "ann",
            "meta": {"resourceType": "User", "created": "2026-12-01T11:16:09Z", "lastModified": "2026-12-01T11:16:18Z",
                     "location": "http://127.0.0.1/v2/Users/c7ec", "version": "W/\"7\"", "x-vendor": 1},
            urn::V2_ENTERPRISE: {"manager": {"value": "78d2", "$ref": "../Users/78d2", "displayName": "Bob"}}
        });
        let u = User::from_value(v).unwrap();
        let m = u.meta.clone().unwrap();
        assert_eq!(
            (m.last_modified.as_deref(), m.version.as_deref(), m.resource_type.as_deref()),
            (Some("2026-12-01T11:16:18Z"), Some("W/\"7\""), Some("User"))
        );
        assert_eq!(u.manager_id(), Some("78d2"));
        let out = u.to_value(ApiVersion::V2);
        assert_eq!(out["meta"]["lastModified"], "2026-12-01T11:16:18Z");
        assert_eq!(out["meta"]["x-vendor"], 1);
        assert_eq!(out[urn::V2_ENTERPRISE]["manager"]["$ref"], "../Users/78d2");
    }
}
