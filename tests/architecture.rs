//! The dependency arrows of docs/architecture.md, checked: `scim` depends on no crate of ours,
//! `provision` on no UI crate, and no two top-level modules of `provision` import each other
//! (directly or round a longer loop).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `[dependencies]` table's names of a crate's Cargo.toml.
fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v.get("dependencies").and_then(|d| d.as_table()).map(|t| t.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn the_crates_depend_only_downwards() {
    let ours = ["scim", "emulator", "provision", "scimitar"];
    let scim = dependencies(&root().join("crates/scim/Cargo.toml"));
    assert!(scim.iter().all(|d| !ours.contains(&d.as_str())), "scim depends on a crate of ours: {scim:?}");
    let emulator = dependencies(&root().join("crates/emulator/Cargo.toml"));
    assert!(emulator.iter().all(|d| !["provision", "scimitar"].contains(&d.as_str())), "{emulator:?}");
    let provision = dependencies(&root().join("crates/provision/Cargo.toml"));
    for ui in ["clap", "ratatui", "crossterm", "tui-input", "emulator", "scimitar", "scimitar-console"] {
        assert!(!provision.iter().any(|d| d == ui), "provision depends on {ui}");
    }
    // The console is a front end of its own: no clap (the root package reads the flags and
    // hands it plain options) and never the root package.
    let console = dependencies(&root().join("crates/console/Cargo.toml"));
    for not in ["clap", "clap_complete", "clap_mangen", "scimitar"] {
        assert!(!console.iter().any(|d| d == not), "the console depends on {not}");
    }
    let root_deps = dependencies(&root().join("Cargo.toml"));
    assert!(root_deps.iter().any(|d| d == "scimitar-console"), "the root package starts the console: {root_deps:?}");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn provision_has_no_module_cycle() {
    let src = root().join("crates/provision/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // top-level module -> the top-level modules it names as `crate::m`
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        // Code only: a doc comment may name a module it does not import.
        let text: String =
            std::fs::read_to_string(f).unwrap().lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name != module && name != "scim" && name != "sanitize" {
                edges.entry(module.clone()).or_default().insert(name);
            }
        }
    }
    // Depth-first search for a cycle.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for n in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(n, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        if let Some(c) = visit(m, &edges, &mut Vec::new(), &mut done) {
            panic!("module cycle in provision: {}\n(edges: {edges:?})", c.join(" -> "));
        }
    }
    assert!(edges.get("queue").is_some_and(|e| e.contains("db")), "the check sees the imports: {edges:?}");
}
