//! A real OpenLDAP server (Debian's `slapd`) for tests and benchmarks, on a loopback port, from a
//! throwaway config directory: `slapd.conf` with the mdb backend, the core, cosine, inetorgperson
//! and nis schemas, a small schema for Active Directory's `userAccountControl`, `sAMAccountName`
//! and `department`, and the memberof overlay (so `memberOf` follows online changes to groups).
//!
//! The directory is seeded offline with `slapadd -q` before slapd starts (10,000 entries take well
//! under a second); `memberOf` values for the seed are computed here, as the overlay would.
//! The server answers searches of at most 1,000 entries without paging (so reading more proves
//! the client pages) and has a second service account limited to 100 entries in total.
//! Missing `slapd` or `ldap-utils` fails loudly: run `./scripts/test`, which installs them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=example,dc=com";
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const GROUPS: &str = "ou=groups,dc=example,dc=com";
pub const BIND_DN: &str = "cn=scimitar,ou=service,dc=example,dc=com";
/// A service account the server stops after 100 entries (`size.prtotal=100`).
pub const LIMITED_DN: &str = "cn=limited,ou=service,dc=example,dc=com";
const ADMIN_DN: &str = "cn=admin,dc=example,dc=com";
const ADMIN_PW: &str = "fixture-admin-pw";

const AD_SCHEMA: &str = "\
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.141 NAME 'department' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'scimitarTestUser' SUP top AUXILIARY MAY ( userAccountControl $ sAMAccountName $ department ) )
";

/// A user entry under `ou=people`.
#[derive(Clone, Debug, Default)]
pub struct Person {
    /// The RDN value (`uid=...`).
    pub uid: String,
    pub given_name: String,
    pub sn: String,
    pub mail: String,
    pub title: Option<String>,
    pub department: Option<String>,
    pub employee_number: Option<String>,
    pub sam: Option<String>,
    /// The manager's `uid` (written as a DN).
    pub manager: Option<String>,
    pub user_account_control: Option<u32>,
    pub employee_type: Option<String>,
}

impl Person {
    pub fn dn(&self) -> String {
        person_dn(&self.uid)
    }
}

pub fn person_dn(uid: &str) -> String {
    format!("uid={uid},{PEOPLE}")
}

pub fn group_dn(cn: &str) -> String {
    format!("cn={cn},{GROUPS}")
}

/// The seed: people and `groupOfNames` groups (members are DNs of people or groups).
#[derive(Default)]
pub struct Directory {
    pub people: Vec<Person>,
    pub groups: BTreeMap<String, Vec<String>>,
}

impl Directory {
    pub fn group(&mut self, cn: &str, members: impl IntoIterator<Item = String>) {
        self.groups.entry(cn.to_string()).or_default().extend(members);
    }

    /// The LDIF for `slapadd`, with `memberOf` on every direct member (people and groups).
    pub fn ldif(&self, service_pw: &str) -> String {
        let mut member_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (cn, members) in &self.groups {
            for m in members {
                member_of.entry(m.to_lowercase()).or_default().push(group_dn(cn));
            }
        }
        let mut out = String::with_capacity(self.people.len() * 420);
        let _ = write!(out, "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n");
        for ou in ["people", "groups", "service"] {
            let _ = write!(out, "dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n\n");
        }
        for dn in [BIND_DN, LIMITED_DN] {
            let cn = dn.split(',').next().unwrap().trim_start_matches("cn=");
            let _ = write!(
                out,
                "dn: {dn}\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: {cn}\nsn: service\nuserPassword: {service_pw}\n\n"
            );
        }
        for p in &self.people {
            let dn = p.dn();
            attr(&mut out, "dn", &dn);
            out.push_str("objectClass: inetOrgPerson\nobjectClass: scimitarTestUser\n");
            attr(&mut out, "uid", &p.uid);
            attr(&mut out, "cn", &format!("{} {}", p.given_name, p.sn));
            attr(&mut out, "sn", &p.sn);
            attr(&mut out, "givenName", &p.given_name);
            attr(&mut out, "mail", &p.mail);
            let opt = |out: &mut String, k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    attr(out, k, v);
                }
            };
            opt(&mut out, "title", &p.title);
            opt(&mut out, "department", &p.department);
            opt(&mut out, "employeeNumber", &p.employee_number);
            opt(&mut out, "sAMAccountName", &p.sam);
            opt(&mut out, "employeeType", &p.employee_type);
            opt(&mut out, "manager", &p.manager.as_deref().map(person_dn));
            if let Some(u) = p.user_account_control {
                let _ = writeln!(out, "userAccountControl: {u}");
            }
            for g in member_of.get(&dn.to_lowercase()).into_iter().flatten() {
                let _ = writeln!(out, "memberOf: {g}");
            }
            out.push('\n');
        }
        for (cn, members) in &self.groups {
            let dn = group_dn(cn);
            let _ = write!(out, "dn: {dn}\nobjectClass: groupOfNames\ncn: {cn}\n");
            if members.is_empty() {
                let _ = writeln!(out, "member: {SUFFIX}"); // groupOfNames needs one
            }
            for m in members {
                let _ = writeln!(out, "member: {m}");
            }
            for g in member_of.get(&dn.to_lowercase()).into_iter().flatten() {
                let _ = writeln!(out, "memberOf: {g}");
            }
            out.push('\n');
        }
        out
    }
}

/// One LDIF line; values that are not plain ASCII (or start with a space, `:` or `<`) in base64.
fn attr(out: &mut String, k: &str, v: &str) {
    let safe = v.bytes().all(|b| (0x20..0x7f).contains(&b)) && !v.starts_with([' ', ':', '<']) && !v.ends_with(' ');
    if safe {
        let _ = writeln!(out, "{k}: {v}");
    } else {
        use base64::Engine as _;
        let _ = writeln!(out, "{k}:: {}", base64::engine::general_purpose::STANDARD.encode(v));
    }
}

/// A running slapd; stopped (and its files removed) on drop.
pub struct Slapd {
    pub port: u16,
    /// The `ldaps://` port when started with TLS.
    pub tls_port: Option<u16>,
    /// The service accounts' password (random per server).
    pub password: String,
    /// The CA certificate (PEM) that signed the server's, when started with TLS.
    pub ca_file: Option<PathBuf>,
    /// How long `slapadd` took to load the seed.
    pub seed_time: Duration,
    pub entries: usize,
    dir: tempfile::TempDir,
    child: Child,
}

fn tool(name: &str) -> PathBuf {
    for d in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(d).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` is not installed: the LDAP tests need Debian's slapd and ldap-utils; run ./scripts/test (it installs them) or apt-get install slapd ldap-utils"
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn make_certs(dir: &Path) {
    let openssl = tool("openssl");
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    run(
        Command::new(&openssl).args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]).args([
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=scimitar test CA",
        ]),
        "openssl (CA)",
    );
    run(
        Command::new(&openssl).args(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]).args([
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
            "-subj",
            "/CN=localhost",
        ]),
        "openssl (server key)",
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(
        Command::new(&openssl).args(["x509", "-req", "-in", &p("server.csr"), "-CA", &p("ca.pem"), "-CAkey", &p("ca.key")]).args([
            "-CAcreateserial",
            "-out",
            &p("server.pem"),
            "-days",
            "2",
            "-extfile",
            &p("ext.cnf"),
        ]),
        "openssl (server certificate)",
    );
}

impl Slapd {
    /// Seed `dir` and start slapd on loopback.
    pub fn start(directory: &Directory) -> Slapd {
        Slapd::start_with(directory, false)
    }

    /// Also listen on `ldaps://` and offer StartTLS, with a certificate from a throwaway CA.
    pub fn start_tls(directory: &Directory) -> Slapd {
        Slapd::start_with(directory, true)
    }

    fn start_with(directory: &Directory, tls: bool) -> Slapd {
        let (slapd, slapadd) = (tool("slapd"), tool("slapadd"));
        tool("ldapmodify");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        std::fs::write(d.join("ad.schema"), AD_SCHEMA).unwrap();
        let password = format!("ldap-pw-{:016x}", rand::random::<u64>());
        let mut conf = String::new();
        for s in ["core", "cosine", "inetorgperson", "nis"] {
            let _ = writeln!(conf, "include /etc/ldap/schema/{s}.schema");
        }
        let _ = writeln!(conf, "include {}", d.join("ad.schema").display());
        let modules = ["/usr/lib/ldap", "/usr/lib/x86_64-linux-gnu/ldap", "/usr/lib/aarch64-linux-gnu/ldap"]
            .into_iter()
            .find(|m| Path::new(m).join("back_mdb.la").exists() || Path::new(m).join("back_mdb.so").exists())
            .expect("slapd's modules (back_mdb) not found under /usr/lib/ldap");
        let _ = writeln!(conf, "modulepath {modules}\nmoduleload back_mdb\nmoduleload memberof");
        let _ = writeln!(conf, "pidfile {}\nargsfile {}", d.join("slapd.pid").display(), d.join("slapd.args").display());
        if tls {
            make_certs(d);
            let _ = writeln!(
                conf,
                "TLSCACertificateFile {}\nTLSCertificateFile {}\nTLSCertificateKeyFile {}",
                d.join("ca.pem").display(),
                d.join("server.pem").display(),
                d.join("server.key").display()
            );
        }
        let _ = writeln!(conf, "sizelimit size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited");
        let _ = writeln!(conf, "database mdb\nsuffix \"{SUFFIX}\"\nrootdn \"{ADMIN_DN}\"\nrootpw {ADMIN_PW}");
        let _ = writeln!(conf, "directory {}\nmaxsize 4294967296\ndbnosync", d.join("db").display());
        let _ = writeln!(conf, "limits dn.exact=\"{LIMITED_DN}\" size.soft=100 size.hard=100 size.pr=100 size.prtotal=100");
        let _ = writeln!(conf, "access to attrs=userPassword by anonymous auth by * none\naccess to * by users read by * none");
        let _ = writeln!(
            conf,
            "overlay memberof\nmemberof-group-oc groupOfNames\nmemberof-member-ad member\nmemberof-memberof-ad memberOf\nmemberof-refint TRUE"
        );
        std::fs::write(d.join("slapd.conf"), conf).unwrap();

        let ldif = directory.ldif(&password);
        let entries = ldif.matches("\ndn: ").count() + 1;
        std::fs::write(d.join("seed.ldif"), ldif).unwrap();
        let t = Instant::now();
        run(Command::new(&slapadd).arg("-q").arg("-f").arg(d.join("slapd.conf")).arg("-l").arg(d.join("seed.ldif")), "slapadd");
        let seed_time = t.elapsed();
        let _ = std::fs::remove_file(d.join("seed.ldif"));

        for _attempt in 0..5 {
            let port = free_port();
            let tls_port = tls.then(free_port);
            let mut urls = format!("ldap://127.0.0.1:{port}/");
            if let Some(tp) = tls_port {
                urls.push_str(&format!(" ldaps://127.0.0.1:{tp}/"));
            }
            let log = std::fs::File::create(d.join("slapd.log")).unwrap();
            let mut child = Command::new(&slapd)
                .args(["-h", &urls, "-f"])
                .arg(d.join("slapd.conf"))
                .args(["-d", "0"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start slapd: {e}"));
            if wait_ready(&mut child, &format!("ldap://127.0.0.1:{port}")) {
                let ca_file = tls.then(|| d.join("ca.pem"));
                return Slapd { port, tls_port, password, ca_file, seed_time, entries, dir, child };
            }
            // The port was taken between choosing and binding it: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("slapd did not start: {}", std::fs::read_to_string(d.join("slapd.log")).unwrap_or_default());
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port.expect("started with TLS"))
    }

    /// Apply an LDIF change (`changetype: modify` ...) as the directory's administrator.
    pub fn modify(&self, ldif: &str) {
        let mut child = Command::new(tool("ldapmodify"))
            .args(["-x", "-H", &self.url(), "-D", ADMIN_DN, "-w", ADMIN_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "ldapmodify failed: {}\n{ldif}", String::from_utf8_lossy(&out.stderr));
    }

    /// `ldapsearch` as the service account, without paging; returns (exit code, stdout + stderr).
    pub fn ldapsearch_unpaged(&self, base: &str, filter: &str) -> (i32, String) {
        let out = Command::new(tool("ldapsearch"))
            .args(["-x", "-LLL", "-H", &self.url(), "-D", BIND_DN, "-w", &self.password, "-b", base, filter, "1.1"])
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }

    /// Write the service password to a 0600 file and return its path.
    pub fn password_file(&self, dir: &Path) -> PathBuf {
        let p = dir.join("ldap.pw");
        std::fs::write(&p, format!("{}\n", self.password)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        p
    }
}

fn wait_ready(child: &mut Child, url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let ok = Command::new(tool("ldapwhoami"))
            .args(["-x", "-H", url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
