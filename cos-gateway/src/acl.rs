//! Access control lists: the canned ACLs (`x-cos-acl`), the `x-cos-grant-*` headers, the
//! `AccessControlPolicy` document of PUT/GET `?acl`, and the one rule that lets a request in
//! without a signature ([`check_anonymous_read`]).
//!
//! The gateway has one account (every valid signature is the owner's,
//! [`OWNER_ID`]), so an ACL decides only what anonymous callers may do. What is stored is the
//! list of grants, as given (a canned ACL is stored as the grants it stands for); an object whose
//! ACL is `default` (or was never set) stores none and follows its bucket, a bucket that has none is
//! `private`.
//!
//! COS's rules, and the gateway's choices where COS documents none (marked as guesses):
//! * Canned ACLs: `private`, `public-read`, `public-read-write` on a bucket; `default`,
//!   `private`, `public-read` on an object. Anything else is `400 InvalidArgument` (a guess: COS
//!   names no code). A canned ACL and grant headers may be given together (the Python SDK's own
//!   example does): the grants add to the canned ones.
//! * Grant headers: a comma-separated list of `id="<uin>"`, `id="<uin>/<sub-uin>"`,
//!   `id="qcs::cam::uin/<uin>:uin/<uin>"` or `uri="http://cam.qcloud.com/groups/global/AllUsers"`
//!   (or `.../AuthenticatedUsers`). `x-cos-grant-write` and the `WRITE` permission are a bucket's
//!   only (COS documents no object `WRITE`). A malformed list is `400 InvalidArgument` (a guess).
//!   Grant headers without a canned ACL (or with an object's `default`) keep the owner's
//!   `FULL_CONTROL`, first, as COS lists it (once: the headers may name the owner too); with a
//!   canned ACL they add to its grants, which have it already.
//! * At most [`MAX_GRANTS`] grants ("a resource can have up to 100 ACL policies"); more is COS's
//!   `400 AttachmentFull`.
//! * A document that does not parse, has another root, a grantee that is neither a user (`ID`) nor
//!   a group (`URI`), or an unknown `Permission`, is `400 MalformedXML`. Its `Owner` is not
//!   checked (there is one owner).
//! * Anonymous access: an unsigned GET or HEAD of an object is allowed when the object's ACL (or,
//!   for `default`, its bucket's) grants `READ` or `FULL_CONTROL` to everyone, and the object is not
//!   encrypted (seed 001: "objects protected by the server-side encryption must be accessed with a
//!   valid signature and cannot be accessed by anonymous users"). Every other anonymous request is
//!   refused as before, writes to a `public-read-write` bucket included (see the README).

use http::HeaderMap;

use crate::documents::{AccessControlList, AccessControlPolicy, AclOwner, GrantXml, GranteeXml};
use crate::error::{Error, Result};

/// The one account's full id (the owner of every bucket and object).
pub const OWNER_ID: &str = crate::documents::OWNER_ID;
/// The group of every caller, signed or not.
pub const ALL_USERS: &str = "http://cam.qcloud.com/groups/global/AllUsers";
/// The group of every signed caller.
pub const AUTHENTICATED_USERS: &str = "http://cam.qcloud.com/groups/global/AuthenticatedUsers";
/// The id COS (and the Node SDK) also use for "anyone".
pub const ANYONE_ID: &str = "qcs::cam::anyone:anyone";
/// The canned ACL header.
pub const HEADER: &str = "x-cos-acl";
/// The most grants one ACL may have.
pub const MAX_GRANTS: usize = 100;
/// The largest `AccessControlPolicy` document read (100 grants fit many times over).
pub const MAX_ACL_XML: usize = 64 << 10;
/// The XML Schema instance namespace the `xsi:type` of a grantee is in.
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// What an ACL is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// A bucket.
    Bucket,
    /// An object.
    Object,
}

/// Who a grant is to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Grantee {
    /// An account, by its full id (`qcs::cam::uin/<uin>:uin/<uin>`, or [`ANYONE_ID`]).
    #[serde(rename = "id")]
    User(String),
    /// A group, by its URI ([`ALL_USERS`] or [`AUTHENTICATED_USERS`]).
    #[serde(rename = "uri")]
    Group(String),
}

/// What a grant allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    /// Read the object (list the bucket).
    Read,
    /// Write objects into the bucket.
    Write,
    /// Everything.
    FullControl,
    /// Read the ACL.
    ReadAcp,
    /// Write the ACL.
    WriteAcp,
}

impl Permission {
    /// Its COS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::FullControl => "FULL_CONTROL",
            Self::ReadAcp => "READ_ACP",
            Self::WriteAcp => "WRITE_ACP",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "READ" => Self::Read,
            "WRITE" => Self::Write,
            "FULL_CONTROL" => Self::FullControl,
            "READ_ACP" => Self::ReadAcp,
            "WRITE_ACP" => Self::WriteAcp,
            _ => return None,
        })
    }
}

/// One grant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    /// To whom.
    pub grantee: Grantee,
    /// What.
    pub permission: Permission,
}

/// An explicit ACL: its grants, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Acl {
    /// The grants.
    pub grants: Vec<Grant>,
}

impl Acl {
    /// Whether everyone (signed or not) may read.
    pub fn public_read(&self) -> bool {
        self.grants.iter().any(|g| {
            is_everyone(&g.grantee)
                && matches!(g.permission, Permission::Read | Permission::FullControl)
        })
    }

    /// The document of this ACL (`None`: no explicit ACL, the owner's `FULL_CONTROL` only).
    pub fn document(acl: Option<&Self>) -> AccessControlPolicy {
        let owner_only = [Grant {
            grantee: Grantee::User(OWNER_ID.to_owned()),
            permission: Permission::FullControl,
        }];
        let grants = acl.map_or(&owner_only[..], |a| &a.grants[..]);
        AccessControlPolicy {
            owner: Some(AclOwner {
                id: OWNER_ID.to_owned(),
                display_name: OWNER_ID.to_owned(),
            }),
            access_control_list: AccessControlList {
                grants: grants.iter().map(grant_xml).collect(),
            },
        }
    }
}

fn is_everyone(g: &Grantee) -> bool {
    matches!(g, Grantee::Group(u) if u == ALL_USERS)
        || matches!(g, Grantee::User(id) if id == ANYONE_ID)
}

fn grant_xml(g: &Grant) -> GrantXml {
    let (kind, uri, id) = match &g.grantee {
        Grantee::User(id) => ("CanonicalUser", None, Some(id.clone())),
        Grantee::Group(uri) => ("Group", Some(uri.clone()), None),
    };
    GrantXml {
        grantee: GranteeXml {
            xmlns_xsi: Some(XSI.to_owned()),
            xsi_type: Some(kind.to_owned()),
            type_element: None,
            uri,
            display_name: id.clone(),
            id,
        },
        permission: g.permission.as_str().to_owned(),
    }
}

/// The grant headers and the permission each gives.
const GRANT_HEADERS: &[(&str, Permission)] = &[
    ("x-cos-grant-read", Permission::Read),
    ("x-cos-grant-write", Permission::Write),
    ("x-cos-grant-read-acp", Permission::ReadAcp),
    ("x-cos-grant-write-acp", Permission::WriteAcp),
    ("x-cos-grant-full-control", Permission::FullControl),
];

/// Whether any ACL header (`x-cos-acl`, `x-cos-grant-*`) is present.
pub fn has_headers(headers: &HeaderMap) -> bool {
    headers.contains_key(HEADER) || GRANT_HEADERS.iter().any(|(h, _)| headers.contains_key(*h))
}

/// The ACL the request headers set: `None` when they set none (no header, or an object's
/// `default`). Errors as in the module docs.
pub fn from_headers(headers: &HeaderMap, level: Level) -> Result<Option<Acl>> {
    let mut bad = None;
    let acl = from_fields(
        |name| match headers.get(name).map(|v| v.to_str()) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => {
                bad = Some(name.to_owned());
                None
            }
        },
        level,
    )?;
    match bad {
        Some(name) => Err(Error::InvalidArgument(format!("{name} is not ASCII"))),
        None => Ok(acl),
    }
}

/// [`from_headers`] over any lookup (POST Object's form fields: `acl` or `x-cos-acl`, and the
/// `x-cos-grant-*` fields).
pub fn from_fields<'a>(
    mut get: impl FnMut(&str) -> Option<&'a str>,
    level: Level,
) -> Result<Option<Acl>> {
    let mut grants = match get(HEADER).map(str::trim) {
        None => None,
        Some(canned) => canned_grants(canned, level)?,
    };
    // Without a canned ACL (none, or an object's `default`), grants start from the owner's
    // `FULL_CONTROL`, as COS lists it.
    let from_owner = grants.is_none();
    for (header, permission) in GRANT_HEADERS {
        let Some(value) = get(header) else { continue };
        if *permission == Permission::Write && level == Level::Object {
            return Err(Error::InvalidArgument(format!(
                "{header} is not allowed on an object"
            )));
        }
        let list = grants.get_or_insert_with(|| {
            if from_owner {
                vec![owner_full_control()]
            } else {
                Vec::new()
            }
        });
        for grantee in parse_grantees(header, value)? {
            list.push(Grant {
                grantee,
                permission: *permission,
            });
        }
    }
    if let Some(list) = grants.as_mut() {
        // Once only: the owner may also be named in `x-cos-grant-full-control`.
        let owner = owner_full_control();
        if from_owner && list.iter().skip(1).any(|g| *g == owner) {
            list.remove(0);
        }
    }
    grants.map(checked).transpose()
}

/// The owner's `FULL_CONTROL`.
fn owner_full_control() -> Grant {
    Grant {
        grantee: Grantee::User(OWNER_ID.to_owned()),
        permission: Permission::FullControl,
    }
}

/// The grants a canned ACL stands for (`None` for an object's `default`).
fn canned_grants(canned: &str, level: Level) -> Result<Option<Vec<Grant>>> {
    let everyone = |permission| Grant {
        grantee: Grantee::Group(ALL_USERS.to_owned()),
        permission,
    };
    let owner = owner_full_control();
    Ok(Some(match (canned, level) {
        ("default", Level::Object) => return Ok(None),
        ("private", _) => vec![owner],
        ("public-read", _) => vec![everyone(Permission::Read), owner],
        ("public-read-write", Level::Bucket) => vec![
            everyone(Permission::Read),
            everyone(Permission::Write),
            owner,
        ],
        _ => {
            let allowed = match level {
                Level::Bucket => "private, public-read or public-read-write",
                Level::Object => "default, private or public-read",
            };
            return Err(Error::InvalidArgument(format!(
                "x-cos-acl must be {allowed}, got {canned:?}"
            )));
        }
    }))
}

/// A grant header's list: `id="..."` and `uri="..."` items, comma-separated.
fn parse_grantees(header: &str, value: &str) -> Result<Vec<Grantee>> {
    let bad = |why: &str| Error::InvalidArgument(format!("{header}: {why}"));
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim) {
        let (kind, v) = item
            .split_once('=')
            .ok_or_else(|| bad("each grantee is id=\"...\" or uri=\"...\""))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.push(match kind.trim().to_ascii_lowercase().as_str() {
            "id" => Grantee::User(account_id(v).ok_or_else(|| bad("not an account id"))?),
            "uri" => Grantee::Group(group_uri(v).ok_or_else(|| bad("not a known group"))?),
            _ => return Err(bad("each grantee is id=\"...\" or uri=\"...\"")),
        });
    }
    Ok(out)
}

/// An account id in one of its accepted forms, as its full id.
fn account_id(v: &str) -> Option<String> {
    let uin = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if v == ANYONE_ID {
        return Some(v.to_owned());
    }
    if let Some(rest) = v.strip_prefix("qcs::cam::uin/") {
        let (a, b) = rest.split_once(":uin/")?;
        return (uin(a) && uin(b)).then(|| v.to_owned());
    }
    let (a, b) = v.split_once('/').unwrap_or((v, v));
    (uin(a) && uin(b)).then(|| format!("qcs::cam::uin/{a}:uin/{b}"))
}

fn group_uri(v: &str) -> Option<String> {
    [ALL_USERS, AUTHENTICATED_USERS]
        .contains(&v)
        .then(|| v.to_owned())
}

/// `AttachmentFull` past [`MAX_GRANTS`].
fn checked(grants: Vec<Grant>) -> Result<Acl> {
    if grants.len() > MAX_GRANTS {
        return Err(Error::AttachmentFull);
    }
    Ok(Acl { grants })
}

/// Reads a PUT `?acl` body. Errors as in the module docs.
pub fn parse_document(bytes: &[u8], level: Level) -> Result<Acl> {
    let malformed = |m: &str| Error::MalformedXml(m.to_owned());
    let doc: AccessControlPolicy = crate::documents::from_xml(bytes, "AccessControlPolicy")?;
    let mut grants = Vec::with_capacity(doc.access_control_list.grants.len());
    for g in doc.access_control_list.grants {
        let permission = Permission::parse(g.permission.trim()).ok_or_else(|| {
            malformed("Permission must be READ, WRITE, FULL_CONTROL, READ_ACP or WRITE_ACP")
        })?;
        if permission == Permission::Write && level == Level::Object {
            return Err(Error::InvalidArgument(
                "WRITE is not a permission of an object".into(),
            ));
        }
        let e = g.grantee;
        let kind = e.xsi_type.or(e.type_element);
        let grantee = match (kind.as_deref().map(str::trim), e.id, e.uri) {
            (Some("CanonicalUser") | None, Some(id), None) => {
                Grantee::User(account_id(id.trim()).ok_or_else(|| {
                    Error::InvalidArgument(format!("{id:?} is not an account id"))
                })?)
            }
            (Some("Group") | None, None, Some(uri)) => {
                Grantee::Group(group_uri(uri.trim()).ok_or_else(|| {
                    Error::InvalidArgument(format!("{uri:?} is not a known group"))
                })?)
            }
            _ => {
                return Err(malformed(
                    "a Grantee is a CanonicalUser with an ID or a Group with a URI",
                ));
            }
        };
        grants.push(Grant {
            grantee,
            permission,
        });
    }
    checked(grants)
}

/// The one rule that lets an unsigned request in: an anonymous GET or HEAD of an object whose
/// explicit ACL (`object`), or for an object without one its bucket's (`bucket`), lets everyone
/// read, and whose body is stored unencrypted (`encrypted` is false). Anything else is
/// `403 AccessDenied`; an encrypted object says why (seed 001).
pub fn check_anonymous_read(
    object: Option<&Acl>,
    bucket: Option<&Acl>,
    encrypted: bool,
) -> Result<()> {
    let public = match object {
        Some(acl) => acl.public_read(),
        None => bucket.is_some_and(Acl::public_read),
    };
    if !public {
        return Err(anonymous_denied());
    }
    if encrypted {
        return Err(Error::AccessDenied(
            "Access Denied: objects protected by server-side encryption must be accessed with a \
             valid signature and cannot be accessed by anonymous users"
                .into(),
        ));
    }
    Ok(())
}

/// The refusal of every anonymous request the ACLs do not allow.
pub fn anonymous_denied() -> Error {
    Error::AccessDenied(
        "Access Denied: the request is not signed (anonymous access is not allowed)".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            crate::wire::set(&mut h, k, v);
        }
        h
    }

    fn code<T: std::fmt::Debug>(r: Result<T>) -> (&'static str, u16) {
        let e = r.unwrap_err();
        (e.code(), e.status().as_u16())
    }

    fn user(id: &str, permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::User(id.into()),
            permission,
        }
    }

    fn all_users(permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::Group(ALL_USERS.into()),
            permission,
        }
    }

    #[test]
    fn canned_acls_per_level() {
        let get = |v: &str, level| from_headers(&headers(&[("x-cos-acl", v)]), level);
        let owner = user(OWNER_ID, Permission::FullControl);
        assert_eq!(get("default", Level::Object).unwrap(), None);
        assert_eq!(
            get("private", Level::Object).unwrap().unwrap().grants,
            vec![owner.clone()]
        );
        let pr = get("public-read", Level::Bucket).unwrap().unwrap();
        assert_eq!(pr.grants, vec![all_users(Permission::Read), owner.clone()]);
        assert!(pr.public_read());
        let prw = get("public-read-write", Level::Bucket).unwrap().unwrap();
        assert_eq!(prw.grants.len(), 3);
        assert!(prw.public_read());
        for (v, level) in [
            ("default", Level::Bucket),
            ("public-read-write", Level::Object),
            ("authenticated-read", Level::Bucket),
            ("Private", Level::Object),
            ("", Level::Object),
        ] {
            assert_eq!(code(get(v, level)), ("InvalidArgument", 400), "{v}");
        }
        assert_eq!(
            from_headers(&HeaderMap::new(), Level::Bucket).unwrap(),
            None
        );
        assert!(!has_headers(&HeaderMap::new()));
        assert!(has_headers(&headers(&[("x-cos-grant-read", "id=\"1\"")])));
    }

    #[test]
    fn grant_headers_in_every_form() {
        let h = headers(&[
            ("x-cos-acl", "private"),
            (
                "x-cos-grant-read",
                "id=\"100000000002\", id=\"100000000001/100000000011\",uri=\"http://cam.qcloud.com/groups/global/AllUsers\"",
            ),
            (
                "x-cos-grant-full-control",
                "id=\"qcs::cam::uin/100000000003:uin/100000000003\"",
            ),
        ]);
        let acl = from_headers(&h, Level::Object).unwrap().unwrap();
        assert_eq!(
            acl.grants,
            vec![
                user(OWNER_ID, Permission::FullControl),
                user(
                    "qcs::cam::uin/100000000002:uin/100000000002",
                    Permission::Read
                ),
                user(
                    "qcs::cam::uin/100000000001:uin/100000000011",
                    Permission::Read
                ),
                all_users(Permission::Read),
                user(
                    "qcs::cam::uin/100000000003:uin/100000000003",
                    Permission::FullControl
                ),
            ]
        );
        assert!(acl.public_read());
        for (name, value) in [
            ("x-cos-grant-read", ""),
            ("x-cos-grant-read", "id=\"abc\""),
            ("x-cos-grant-read", "name=\"1\""),
            ("x-cos-grant-read", "id=\"1\",,id=\"2\""),
            ("x-cos-grant-read", "uri=\"http://example.com/group\""),
            ("x-cos-grant-read-acp", "id=\"qcs::cam::uin/1:uin/x\""),
            ("x-cos-grant-write", "id=\"1\""),
        ] {
            let r = from_headers(&headers(&[(name, value)]), Level::Object);
            assert_eq!(code(r), ("InvalidArgument", 400), "{name}: {value}");
        }
        let write = headers(&[("x-cos-grant-write", "id=\"1\"")]);
        let acl = from_headers(&write, Level::Bucket).unwrap().unwrap();
        assert_eq!(
            acl.grants,
            vec![
                user(OWNER_ID, Permission::FullControl),
                user("qcs::cam::uin/1:uin/1", Permission::Write)
            ]
        );
        // An object's `default` and grants: the owner's FULL_CONTROL too. The owner named in the
        // headers: once, where the headers put it.
        let h = headers(&[("x-cos-acl", "default"), ("x-cos-grant-read", "id=\"2\"")]);
        assert_eq!(
            from_headers(&h, Level::Object).unwrap().unwrap().grants,
            vec![
                user(OWNER_ID, Permission::FullControl),
                user("qcs::cam::uin/2:uin/2", Permission::Read)
            ]
        );
        let h = headers(&[
            ("x-cos-grant-read", "id=\"2\""),
            ("x-cos-grant-full-control", "id=\"100000000001\""),
        ]);
        assert_eq!(
            from_headers(&h, Level::Object).unwrap().unwrap().grants,
            vec![
                user("qcs::cam::uin/2:uin/2", Permission::Read),
                user(OWNER_ID, Permission::FullControl)
            ]
        );
        // The owner's grant counts: MAX_GRANTS - 1 more fit.
        let many = |n| vec!["id=\"1\""; n].join(",");
        let r = from_headers(
            &headers(&[("x-cos-grant-read", &many(MAX_GRANTS - 1))]),
            Level::Bucket,
        );
        assert_eq!(r.unwrap().unwrap().grants.len(), MAX_GRANTS);
        let r = from_headers(
            &headers(&[("x-cos-grant-read", &many(MAX_GRANTS))]),
            Level::Bucket,
        );
        assert_eq!(code(r), ("AttachmentFull", 400));
    }

    #[test]
    fn document_bytes_and_round_trip() {
        let acl = from_headers(&headers(&[("x-cos-acl", "public-read")]), Level::Object)
            .unwrap()
            .unwrap();
        let xml =
            crate::documents::to_xml("AccessControlPolicy", &Acl::document(Some(&acl))).unwrap();
        let want = format!(
            "{}<AccessControlPolicy><Owner><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Owner>\
             <AccessControlList>\
             <Grant><Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"Group\"><URI>{ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant>\
             <Grant><Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"CanonicalUser\"><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>\
             </AccessControlList></AccessControlPolicy>",
            crate::documents::XML_DECLARATION
        );
        assert_eq!(xml, want);
        assert_eq!(parse_document(xml.as_bytes(), Level::Object).unwrap(), acl);
        let default =
            crate::documents::to_xml("AccessControlPolicy", &Acl::document(None)).unwrap();
        let parsed = parse_document(default.as_bytes(), Level::Bucket).unwrap();
        assert_eq!(parsed.grants, vec![user(OWNER_ID, Permission::FullControl)]);
    }

    #[test]
    fn documents_the_sdks_send() {
        // What the Python SDK's xmltodict writes for {'Grantee': {'Type': 'Group', 'URI': ...}},
        // and the Node SDK's json2xml without any type.
        let py = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<AccessControlPolicy><Owner><ID>{OWNER_ID}</ID></Owner>\
             <AccessControlList><Grant><Grantee><Type>Group</Type><URI>{ALL_USERS}</URI></Grantee>\
             <Permission>READ</Permission></Grant><Grant><Grantee><Type>CanonicalUser</Type><ID>100000000002</ID></Grantee>\
             <Permission>READ_ACP</Permission></Grant></AccessControlList></AccessControlPolicy>"
        );
        let acl = parse_document(py.as_bytes(), Level::Object).unwrap();
        assert_eq!(
            acl.grants,
            vec![
                all_users(Permission::Read),
                user(
                    "qcs::cam::uin/100000000002:uin/100000000002",
                    Permission::ReadAcp
                )
            ]
        );
        let node = "<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList><Grant>\
                    <Grantee><ID>qcs::cam::anyone:anyone</ID></Grantee><Permission>READ</Permission>\
                    </Grant></AccessControlList></AccessControlPolicy>";
        assert!(
            parse_document(node.as_bytes(), Level::Bucket)
                .unwrap()
                .public_read()
        );
        let empty = "<AccessControlPolicy><AccessControlList/></AccessControlPolicy>";
        assert_eq!(
            parse_document(empty.as_bytes(), Level::Bucket).unwrap(),
            Acl::default()
        );
    }

    #[test]
    fn bad_documents() {
        let grant = |grantee: &str, permission: &str| {
            format!(
                "<AccessControlPolicy><AccessControlList><Grant><Grantee{grantee}</Grantee>\
                 <Permission>{permission}</Permission></Grant></AccessControlList></AccessControlPolicy>"
            )
        };
        let typed = |t: &str, inner: &str| format!(" xmlns:xsi=\"{XSI}\" xsi:type=\"{t}\">{inner}");
        for (doc, want) in [
            (String::new(), "MalformedXML"),
            ("<AccessControlPolicy>".into(), "MalformedXML"),
            ("<Tagging/>".into(), "MalformedXML"),
            (grant(&typed("Group", "<ID>1</ID>"), "READ"), "MalformedXML"),
            (
                grant(&typed("CanonicalUser", "<URI>u</URI>"), "READ"),
                "MalformedXML",
            ),
            (
                grant(&typed("Nobody", "<ID>1</ID>"), "READ"),
                "MalformedXML",
            ),
            (grant(">", "READ"), "MalformedXML"),
            (grant("><ID>1</ID>", "READ_ALL"), "MalformedXML"),
            (grant("><ID>1</ID>", "WRITE"), "InvalidArgument"),
            (grant("><ID>someone</ID>", "READ"), "InvalidArgument"),
            (
                grant("><URI>http://example.com/</URI>", "READ"),
                "InvalidArgument",
            ),
        ] {
            let r = parse_document(doc.as_bytes(), Level::Object);
            assert_eq!(r.unwrap_err().code(), want, "{doc}");
        }
        let many = format!(
            "<AccessControlPolicy><AccessControlList>{}</AccessControlList></AccessControlPolicy>",
            "<Grant><Grantee><ID>1</ID></Grantee><Permission>READ</Permission></Grant>"
                .repeat(MAX_GRANTS + 1)
        );
        assert_eq!(
            code(parse_document(many.as_bytes(), Level::Bucket)),
            ("AttachmentFull", 400)
        );
    }

    #[test]
    fn anonymous_reads() {
        let acl = |canned: &str, level| {
            from_headers(&headers(&[("x-cos-acl", canned)]), level)
                .unwrap()
                .unwrap()
        };
        let public = acl("public-read", Level::Bucket);
        let public_rw = acl("public-read-write", Level::Bucket);
        let private = acl("private", Level::Bucket);
        let reader = from_headers(
            &headers(&[("x-cos-grant-read", "id=\"100000000002\"")]),
            Level::Object,
        )
        .unwrap()
        .unwrap();
        let group_full = Acl {
            grants: vec![all_users(Permission::FullControl)],
        };
        let group_write = Acl {
            grants: vec![all_users(Permission::Write)],
        };
        let allowed: &[(Option<&Acl>, Option<&Acl>)] = &[
            (Some(&public), None),
            (Some(&public), Some(&private)),
            (None, Some(&public)),
            (None, Some(&public_rw)),
            (Some(&group_full), None),
        ];
        for (object, bucket) in allowed {
            check_anonymous_read(*object, *bucket, false).unwrap();
            // The same object encrypted: never.
            let e = check_anonymous_read(*object, *bucket, true).unwrap_err();
            assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
            assert!(e.to_string().contains("server-side encryption"), "{e}");
        }
        let refused: &[(Option<&Acl>, Option<&Acl>)] = &[
            (None, None),
            (None, Some(&private)),
            (Some(&private), Some(&public)),
            (Some(&reader), Some(&public)),
            (Some(&group_write), None),
            (Some(&Acl::default()), Some(&public_rw)),
        ];
        for (object, bucket) in refused {
            for encrypted in [false, true] {
                let e = check_anonymous_read(*object, *bucket, encrypted).unwrap_err();
                assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
                assert!(e.to_string().contains("not signed"), "{e}");
            }
        }
    }
}
