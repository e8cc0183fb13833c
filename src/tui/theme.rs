//! Themes: TOML files mapping semantic names (`selected`, `inactive`, `error`, `border`, ...) to
//! styles. The repository's `themes/*.toml` are embedded in the binary; user themes in
//! `<config dir>/themes/*.toml` extend the set (a user file with a built-in name replaces it).
//! `NO_COLOR` (set and non-empty) selects a monochrome theme built from modifiers only.
//!
//! A theme file:
//! ```toml
//! name = "mine"          # optional, defaults to the file stem
//! extends = "default"    # optional: styles not given are taken from this theme
//! [styles]
//! selected = { fg = "black", bg = "#5fafd7", modifiers = ["bold"] }
//! ```
//! Colours are ANSI names (`red`, `light-red`, `dark-gray`, `reset`), `#rrggbb` or a 0-255 index.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// The built-in themes, embedded so the binary works anywhere.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("ansi16", include_str!("../../themes/ansi16.toml")),
];

/// Every semantic style a theme can set.
pub const STYLE_NAMES: &[&str] = &[
    "text",
    "border",
    "border_focus",
    "title",
    "header",
    "selected",
    "inactive",
    "error",
    "warning",
    "ok",
    "muted",
    "accent",
    "status_bar",
    "tab_active",
    "tab_inactive",
    "input",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub border: Style,
    pub border_focus: Style,
    pub title: Style,
    pub header: Style,
    pub selected: Style,
    pub inactive: Style,
    pub error: Style,
    pub warning: Style,
    pub ok: Style,
    pub muted: Style,
    pub accent: Style,
    pub status_bar: Style,
    pub tab_active: Style,
    pub tab_inactive: Style,
    pub input: Style,
    /// Monochrome (NO_COLOR): the selection is also marked by a `>` in the first column.
    pub mono: bool,
}

impl Default for Theme {
    fn default() -> Self {
        let mut t = Theme::blank("default");
        apply_file(&mut t, BUILTIN[0].1).expect("built-in default theme parses");
        t
    }
}

impl Theme {
    fn blank(name: &str) -> Theme {
        let s = Style::default();
        Theme {
            name: name.into(),
            text: s,
            border: s,
            border_focus: s,
            title: s,
            header: s,
            selected: s,
            inactive: s,
            error: s,
            warning: s,
            ok: s,
            muted: s,
            accent: s,
            status_bar: s,
            tab_active: s,
            tab_inactive: s,
            input: s,
            mono: false,
        }
    }

    /// Monochrome theme for `NO_COLOR`: no colours at all, only bold/reverse/dim/underline.
    pub fn monochrome() -> Theme {
        let mut t = Theme::blank("no-color");
        t.mono = true;
        t.title = Style::new().add_modifier(Modifier::BOLD);
        t.border_focus = Style::new().add_modifier(Modifier::BOLD);
        t.header = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        t.selected = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        t.error = Style::new().add_modifier(Modifier::BOLD);
        t.warning = Style::new().add_modifier(Modifier::BOLD);
        t.status_bar = Style::new().add_modifier(Modifier::REVERSED);
        t.tab_active = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        t.input = Style::new().add_modifier(Modifier::BOLD);
        t.accent = Style::new().add_modifier(Modifier::UNDERLINED);
        t
    }

    fn slot(&mut self, name: &str) -> Option<&mut Style> {
        Some(match name {
            "text" => &mut self.text,
            "border" => &mut self.border,
            "border_focus" => &mut self.border_focus,
            "title" => &mut self.title,
            "header" => &mut self.header,
            "selected" => &mut self.selected,
            "inactive" => &mut self.inactive,
            "error" => &mut self.error,
            "warning" => &mut self.warning,
            "ok" => &mut self.ok,
            "muted" => &mut self.muted,
            "accent" => &mut self.accent,
            "status_bar" => &mut self.status_bar,
            "tab_active" => &mut self.tab_active,
            "tab_inactive" => &mut self.tab_inactive,
            "input" => &mut self.input,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    extends: Option<String>,
    #[serde(default)]
    styles: BTreeMap<String, StyleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    #[serde(default)]
    fg: Option<String>,
    #[serde(default)]
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

fn parse_modifier(s: &str) -> Result<Modifier, String> {
    Ok(match s.to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" | "underline" => Modifier::UNDERLINED,
        "reversed" | "reverse" => Modifier::REVERSED,
        "crossed_out" | "strikethrough" => Modifier::CROSSED_OUT,
        "slow_blink" | "blink" => Modifier::SLOW_BLINK,
        "hidden" => Modifier::HIDDEN,
        other => return Err(format!("unknown modifier {other:?}")),
    })
}

fn spec_to_style(key: &str, spec: &StyleSpec) -> Result<Style, String> {
    let mut st = Style::new();
    if let Some(fg) = &spec.fg {
        st = st.fg(Color::from_str(fg).map_err(|_| format!("styles.{key}.fg: unknown colour {fg:?}"))?);
    }
    if let Some(bg) = &spec.bg {
        st = st.bg(Color::from_str(bg).map_err(|_| format!("styles.{key}.bg: unknown colour {bg:?}"))?);
    }
    for m in &spec.modifiers {
        st = st.add_modifier(parse_modifier(m).map_err(|e| format!("styles.{key}.modifiers: {e}"))?);
    }
    Ok(st)
}

/// Apply a theme file's styles on top of `t`. Returns the file's `extends`, if any.
fn apply_file(t: &mut Theme, text: &str) -> Result<Option<String>, String> {
    let f: ThemeFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
    if let Some(n) = f.name {
        t.name = n;
    }
    for (k, spec) in &f.styles {
        let st = spec_to_style(k, spec)?;
        *t.slot(k).ok_or_else(|| format!("unknown style {k:?}; known: {}", STYLE_NAMES.join(", ")))? = st;
    }
    Ok(f.extends)
}

/// All themes available to this session, by name (built-ins plus user files).
#[derive(Clone, Debug)]
pub struct ThemeSet {
    sources: BTreeMap<String, String>,
    /// Problems found while loading user themes (shown in the Log pane).
    pub warnings: Vec<String>,
}

impl ThemeSet {
    pub fn builtin() -> ThemeSet {
        ThemeSet { sources: BUILTIN.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect(), warnings: Vec::new() }
    }

    /// Built-ins plus `dir/*.toml` (a user theme named like a built-in replaces it).
    pub fn load(dir: &Path) -> ThemeSet {
        let mut set = ThemeSet::builtin();
        let Ok(entries) = std::fs::read_dir(dir) else { return set };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
        paths.sort();
        for p in paths {
            let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else { continue };
            match std::fs::read_to_string(&p) {
                Ok(text) => {
                    // Validate now so that a broken file is reported once, at start.
                    let mut probe = Theme::default();
                    match apply_file(&mut probe, &text) {
                        Ok(_) => {
                            set.sources.insert(stem.to_string(), text);
                        }
                        Err(e) => set.warnings.push(format!("theme {}: {e}", p.display())),
                    }
                }
                Err(e) => set.warnings.push(format!("theme {}: {e}", p.display())),
            }
        }
        set
    }

    pub fn names(&self) -> Vec<&str> {
        self.sources.keys().map(String::as_str).collect()
    }

    /// Resolve a theme by name, following `extends` (unspecified styles come from `default`).
    pub fn get(&self, name: &str) -> Result<Theme, String> {
        let mut chain = Vec::new();
        let mut cur = name.to_string();
        loop {
            if chain.contains(&cur) || chain.len() > 8 {
                return Err(format!("theme {name:?}: `extends` loops"));
            }
            let src = self.sources.get(&cur).ok_or_else(|| format!("no theme named {cur:?}; available: {}", self.names().join(", ")))?;
            chain.push(cur.clone());
            let f: ThemeFile = toml::from_str(src).map_err(|e| format!("theme {cur:?}: {}", e.message()))?;
            match f.extends {
                Some(parent) => cur = parent,
                None => break,
            }
        }
        // Styles a theme leaves out fall back to the default theme.
        let mut t = Theme::default();
        for n in chain.iter().rev() {
            apply_file(&mut t, &self.sources[n]).map_err(|e| format!("theme {n:?}: {e}"))?;
        }
        t.name = name.to_string();
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_cover_every_style() {
        let set = ThemeSet::builtin();
        for (name, src) in BUILTIN {
            let t = set.get(name).unwrap();
            assert_eq!(t.name, *name);
            let f: ThemeFile = toml::from_str(src).unwrap();
            for s in STYLE_NAMES {
                assert!(f.styles.contains_key(*s), "{name} misses {s}");
            }
        }
    }

    #[test]
    fn default_uses_only_ansi_named_colours() {
        let t = ThemeSet::builtin().get("default").unwrap();
        for st in [t.text, t.border, t.selected, t.header, t.status_bar, t.tab_active, t.error] {
            for c in [st.fg, st.bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{c:?}");
            }
        }
        let a = ThemeSet::builtin().get("ansi16").unwrap();
        assert!(!matches!(a.selected.bg, Some(Color::Rgb(..) | Color::Indexed(_))));
    }

    #[test]
    fn user_themes_extend_and_report_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.toml"), "extends = \"light\"\n[styles]\nerror = { fg = \"#010203\" }\n").unwrap();
        std::fs::write(dir.path().join("bad.toml"), "[styles]\nselected = { fg = \"nope\" }\n").unwrap();
        let set = ThemeSet::load(dir.path());
        let t = set.get("mine").unwrap();
        assert_eq!(t.error.fg, Some(Color::Rgb(1, 2, 3)));
        assert_eq!(t.selected, set.get("light").unwrap().selected);
        assert!(set.get("bad").is_err());
        assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
        assert!(set.warnings[0].contains("nope"));
        assert!(set.get("missing").unwrap_err().contains("available"));
    }

    #[test]
    fn monochrome_has_no_colours() {
        let t = Theme::monochrome();
        assert!(t.mono);
        assert!(t.selected.add_modifier.contains(Modifier::REVERSED));
        assert_eq!(t.selected.fg, None);
        assert_eq!(t.selected.bg, None);
    }
}
