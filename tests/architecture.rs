//! The dependency arrows of docs/architecture.md, checked: `scim` depends on no crate of ours,
//! `provision` on no UI crate, the console on neither clap nor the root package, no two
//! top-level modules of `provision` import each other (directly or round a longer loop), and no
//! module of any crate (the root package, the console, `provision`, `scim`, the emulator) is in an
//! import circle: each file (and inline module) is a module, `use crate::`/`super::`/`self::` paths
//! (in `use` lines and in code) are its imports, and a strongly connected component of more than
//! one module fails the test, naming its modules and the imports that close it.

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

/// A crate's modules, one per file: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `lib.rs`,
/// `main.rs` are the root (`""`).
fn file_modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect();
        if parts.last().is_some_and(|l| l == "mod") {
            parts.pop();
        }
        if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
            parts.clear();
        }
        out.insert(parts.join("::"), f);
    }
    out
}

/// The paths a file names through `crate::`, `super::` or `self::` (in `use` lines and in code),
/// each with the module it is named in (the file's, or an inline `mod x { .. }` in it, such as
/// its tests: a module of its own, `file::x`) and the absolute path it names. Comments are skipped.
fn named_paths(module: &str, text: &str) -> Vec<(String, Vec<String>)> {
    let file: Vec<String> = if module.is_empty() { Vec::new() } else { module.split("::").map(String::from).collect() };
    let mut out = Vec::new();
    // Inline modules: their names and the brace depths they open at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let t = code.trim_start();
        let decl = ["mod ", "pub mod ", "pub(crate) mod ", "pub(super) mod "].into_iter().find_map(|p| t.strip_prefix(p));
        if let Some(name) = decl.filter(|_| t.trim_end().ends_with('{')) {
            let name: String = name.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            inline.push((name, depth));
        }
        let mut here = file.clone();
        here.extend(inline.iter().map(|(n, _)| n.clone()));
        let from = here.join("::");
        // The paths on this line: each `crate::`/`super::`/`self::` start, then its names
        // (brace groups expanded one level: `use crate::{a::X, b}`).
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < code.len() {
            let rest = &code[i..];
            let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
            let start = ["crate::", "super::", "self::"].into_iter().find(|p| rest.starts_with(p));
            let Some(start) = start.filter(|_| boundary) else {
                i += rest.chars().next().map_or(1, char::len_utf8);
                continue;
            };
            let mut base: Vec<String> = match start {
                "crate::" => Vec::new(),
                _ => here.clone(),
            };
            let mut j = i;
            // `super::super::...`: one module up each.
            loop {
                let r = &code[j..];
                if r.starts_with("super::") {
                    base.pop();
                    j += 7;
                } else if r.starts_with("self::") {
                    j += 6;
                } else if r.starts_with("crate::") {
                    j += 7;
                } else {
                    break;
                }
            }
            let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
            // Names joined by `::`, and one brace group.
            let mut names = Vec::new();
            loop {
                let r = &code[j..];
                if r.starts_with('{') {
                    let end = r.find('}').unwrap_or(r.len());
                    for item in r[1..end].split(',') {
                        let item = item.trim();
                        let mut p = names.clone();
                        p.extend(item.split("::").map(ident).filter(|s| !s.is_empty()));
                        let mut full = base.clone();
                        full.extend(p);
                        out.push((from.clone(), full));
                    }
                    names.clear();
                    names.push(String::from("\u{0}"));
                    j += end;
                    break;
                }
                let n = ident(r);
                if n.is_empty() {
                    break;
                }
                j += n.len();
                names.push(n);
                if code[j..].starts_with("::") {
                    j += 2;
                } else {
                    break;
                }
            }
            if names.first().is_none_or(|n| n != "\u{0}") {
                let mut full = base.clone();
                full.extend(names);
                out.push((from.clone(), full));
            }
            i = j.max(i + 1);
        }
        for c in code.chars() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if inline.last().is_some_and(|(_, d)| *d == depth) {
                        inline.pop();
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Module-to-module imports of the crate under `src` (a module per file, and per inline module
/// such as `tests`): from the module a path is named in to the longest module prefixing it.
/// Declaring a module (`mod x;`) is not importing it.
fn module_edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = file_modules(src);
    let mut named = Vec::new();
    for (m, f) in &files {
        named.extend(named_paths(m, &std::fs::read_to_string(f).unwrap()));
    }
    let mut modules: BTreeSet<String> = files.keys().cloned().collect();
    modules.extend(named.iter().map(|(from, _)| from.clone()));
    let mut edges: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for (from, path) in named {
        let target = (0..=path.len()).rev().map(|n| path[..n].join("::")).find(|p| modules.contains(p));
        if let Some(t) = target.filter(|t| *t != from) {
            edges.get_mut(&from).unwrap().insert(t);
        }
    }
    edges
}

/// The import circles: strongly connected components of more than one module (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn connect<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        let edges = t.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                connect(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), out: Vec::new() };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            connect(&mut t, v);
        }
    }
    t.out
}

fn no_circle_in(src: &Path, name: &str) {
    let edges = module_edges(src);
    let found = circles(&edges);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let inner: Vec<String> = c
                .iter()
                .flat_map(|m| edges[m].iter().filter(|n| c.contains(n)).map(move |n| format!("  {} -> {}", or_root(m), or_root(n))))
                .collect();
            format!("{} modules: {}\n{}", c.len(), c.iter().map(|m| or_root(m)).collect::<Vec<_>>().join(", "), inner.join("\n"))
        })
        .collect();
    assert!(found.is_empty(), "{} import circle(s) in {name}:\n{}", found.len(), shown.join("\n\n"));
}

fn or_root(m: &str) -> &str {
    if m.is_empty() { "(crate root)" } else { m }
}

#[test]
fn the_root_package_has_no_import_circle() {
    no_circle_in(&root().join("src"), "the root package (src/)");
}

#[test]
fn the_console_has_no_import_circle() {
    no_circle_in(&root().join("crates/console/src"), "the console (crates/console/src/)");
}

#[test]
fn no_crate_of_ours_has_an_import_circle_between_files() {
    for c in ["provision", "scim", "emulator"] {
        no_circle_in(&root().join("crates").join(c).join("src"), c);
    }
}

/// The checker itself: it sees `use crate::`, `super::`, brace groups and inline test modules,
/// and finds a circle of three.
#[test]
fn the_circle_check_sees_imports_and_circles() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path();
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "pub mod x;\nuse crate::{b::B, c};\n").unwrap();
    std::fs::write(src.join("a/x.rs"), "pub fn f() { super::super::c::g() }\n#[cfg(test)]\nmod tests {\n    use super::f;\n}\n").unwrap();
    std::fs::write(src.join("b.rs"), "// use crate::c; (a comment)\npub struct B;\n").unwrap();
    std::fs::write(src.join("c.rs"), "pub fn g() { let _ = crate::a::x::f; }\n").unwrap();
    let edges = module_edges(src);
    assert_eq!(edges["a"], BTreeSet::from(["b".to_string(), "c".to_string()]));
    assert_eq!(edges["a::x"], BTreeSet::from(["c".to_string()]), "super::super from a/x.rs is the root");
    assert_eq!(edges["a::x::tests"], BTreeSet::from(["a::x".to_string()]), "an inline test module is a module of its own");
    assert!(edges["b"].is_empty(), "comments are not imports");
    assert_eq!(edges["c"], BTreeSet::from(["a::x".to_string()]));
    assert_eq!(circles(&edges), vec![vec!["a::x".to_string(), "c".to_string()]]);
    std::fs::write(src.join("c.rs"), "pub fn g() {}\n").unwrap();
    assert!(circles(&module_edges(src)).is_empty());
}
