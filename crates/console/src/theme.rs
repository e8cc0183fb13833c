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
    ("default", include_str!("../../../themes/default.toml")),
    ("dark", include_str!("../../../themes/dark.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    ("high-contrast", include_str!("../../../themes/high-contrast.toml")),
    ("ansi16", include_str!("../../../themes/ansi16.toml")),
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
    /// Monochrome (NO_COLOR, or a terminal without colours): the selection is also marked by a
    /// `>` in the first column.
    pub mono: bool,
    /// The terminal's locale is not UTF-8: every frame is drawn in ASCII (`render::asciify`).
    pub ascii: bool,
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
            ascii: false,
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

    /// This theme as the terminal can show it: colours brought down to its depth (a 24-bit
    /// colour becomes the nearest of the 256 or of the 16 named ANSI colours), the monochrome
    /// theme when it has none, and ASCII drawing when its locale is not UTF-8.
    pub fn fit(self, caps: Caps) -> Theme {
        let mut t = if caps.depth == ColorDepth::Mono && !self.mono { Theme::monochrome() } else { self };
        t.ascii = caps.ascii;
        if matches!(caps.depth, ColorDepth::Ansi16 | ColorDepth::Indexed256) {
            for name in STYLE_NAMES {
                if let Some(st) = t.slot(name) {
                    st.fg = st.fg.map(|c| caps.depth.fit(c));
                    st.bg = st.bg.map(|c| caps.depth.fit(c));
                    st.underline_color = st.underline_color.map(|c| caps.depth.fit(c));
                }
            }
        }
        t
    }

    /// Every colour the theme's styles use (tests: what reaches the terminal).
    pub fn colors(&mut self) -> Vec<Color> {
        let mut out = Vec::new();
        for name in STYLE_NAMES {
            if let Some(st) = self.slot(name) {
                out.extend([st.fg, st.bg, st.underline_color].into_iter().flatten());
            }
        }
        out
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

/// How many colours the terminal shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorDepth {
    /// None (NO_COLOR, `TERM=dumb`, a VT100): bold, underline and reverse only.
    Mono,
    /// The 16 named ANSI colours (`xterm`, `linux`, `screen`, …).
    Ansi16,
    /// The xterm 256-colour palette (`TERM=*-256color`).
    Indexed256,
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`, `TERM=*-direct`).
    #[default]
    TrueColor,
}

/// What the terminal can show, read once from the environment at the edge (`cli.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub depth: ColorDepth,
    /// The locale is not UTF-8: draw ASCII only.
    pub ascii: bool,
}

impl Default for Caps {
    /// A UTF-8 terminal with 24-bit colour (what the tests draw with).
    fn default() -> Caps {
        Caps { depth: ColorDepth::TrueColor, ascii: false }
    }
}

impl Caps {
    /// From the process environment as `var` reads it: the locale (`LC_ALL`, else `LC_CTYPE`,
    /// else `LANG`, the first one set: POSIX's order; none set is the "C" locale) says whether
    /// the terminal takes UTF-8; `NO_COLOR`, `TERM` and `COLORTERM` say how many colours.
    pub fn detect(var: &dyn Fn(&str) -> Option<String>) -> Caps {
        let set = |k: &str| var(k).filter(|v| !v.is_empty());
        let locale = set("LC_ALL").or_else(|| set("LC_CTYPE")).or_else(|| set("LANG")).unwrap_or_default();
        let utf8 = {
            let l = locale.to_ascii_lowercase();
            l.contains("utf-8") || l.contains("utf8")
        };
        Caps { depth: ColorDepth::detect(set("NO_COLOR").is_some(), set("TERM").as_deref(), set("COLORTERM").as_deref()), ascii: !utf8 }
    }
}

impl ColorDepth {
    /// `NO_COLOR` (set and non-empty) wins; then the terminal's name and `COLORTERM`.
    pub fn detect(no_color: bool, term: Option<&str>, colorterm: Option<&str>) -> ColorDepth {
        let term = term.unwrap_or("").to_ascii_lowercase();
        let colorterm = colorterm.unwrap_or("").to_ascii_lowercase();
        // The DEC terminals (vt52, vt100, vt220, …) and `dumb` have no colours (terminfo gives
        // them none).
        let vt = term.strip_prefix("vt").is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
        if no_color || term.is_empty() || term == "dumb" || vt {
            ColorDepth::Mono
        } else if colorterm == "truecolor" || colorterm == "24bit" || term.ends_with("-direct") {
            ColorDepth::TrueColor
        } else if term.contains("256col") {
            ColorDepth::Indexed256
        } else {
            ColorDepth::Ansi16
        }
    }

    /// `c` as this depth shows it.
    pub fn fit(self, c: Color) -> Color {
        match (self, c) {
            (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => nearest_named((r, g, b)),
            (ColorDepth::Ansi16, Color::Indexed(i)) if i < 16 => NAMED[i as usize].0,
            (ColorDepth::Ansi16, Color::Indexed(i)) => nearest_named(indexed_rgb(i)),
            (ColorDepth::Indexed256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_indexed((r, g, b))),
            _ => c,
        }
    }
}

/// The 16 named colours with xterm's default values.
const NAMED: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).pow(2) as u32;
    d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2)
}

fn nearest_named(c: (u8, u8, u8)) -> Color {
    NAMED.iter().min_by_key(|(_, rgb)| distance(c, *rgb)).map(|(n, _)| *n).unwrap_or(Color::Reset)
}

/// The RGB value of xterm's palette entry `i` (16-231: the 6x6x6 cube, 232-255: greys).
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    const STEPS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match i {
        0..=15 => NAMED[i as usize].1,
        16..=231 => {
            let n = i - 16;
            (STEPS[(n / 36) as usize], STEPS[((n / 6) % 6) as usize], STEPS[(n % 6) as usize])
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

/// The nearest entry of xterm's 256 colours past the 16 named ones (their values vary by terminal).
fn nearest_indexed(c: (u8, u8, u8)) -> u8 {
    (16..=255u8).min_by_key(|&i| distance(c, indexed_rgb(i))).unwrap_or(16)
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

    #[test]
    fn the_terminal_says_how_many_colours_and_whether_utf8() {
        let caps = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            Caps::detect(&move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        };
        assert_eq!(caps(&[("LANG", "C.UTF-8"), ("TERM", "xterm-256color")]), Caps { depth: ColorDepth::Indexed256, ascii: false });
        assert_eq!(caps(&[("LANG", "en_US.UTF-8"), ("LC_ALL", "C"), ("TERM", "vt100")]), Caps { depth: ColorDepth::Mono, ascii: true });
        assert_eq!(caps(&[("TERM", "xterm")]).depth, ColorDepth::Ansi16);
        assert!(caps(&[("TERM", "xterm")]).ascii, "no locale at all is the C locale");
        assert_eq!(caps(&[("LC_CTYPE", "de_DE.utf8"), ("TERM", "linux")]), Caps { depth: ColorDepth::Ansi16, ascii: false });
        assert_eq!(caps(&[("TERM", "xterm-256color"), ("COLORTERM", "truecolor")]).depth, ColorDepth::TrueColor);
        assert_eq!(caps(&[("TERM", "xterm-direct")]).depth, ColorDepth::TrueColor);
        assert_eq!(caps(&[("TERM", "xterm-256color"), ("NO_COLOR", "1")]).depth, ColorDepth::Mono);
        assert_eq!(caps(&[("TERM", "dumb")]).depth, ColorDepth::Mono);
        assert_eq!(caps(&[]).depth, ColorDepth::Mono);
        assert_eq!(caps(&[("TERM", "vt220")]).depth, ColorDepth::Mono);
    }

    #[test]
    fn a_theme_fitted_to_16_colours_sends_none_of_the_256_or_24_bit_ones() {
        for name in ["dark", "light", "high-contrast", "default", "ansi16"] {
            let t = ThemeSet::builtin().get(name).unwrap();
            let mut t16 = t.clone().fit(Caps { depth: ColorDepth::Ansi16, ascii: false });
            for c in t16.colors() {
                assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{name}: {c:?}");
            }
            let mut t256 = t.clone().fit(Caps { depth: ColorDepth::Indexed256, ascii: false });
            for c in t256.colors() {
                assert!(!matches!(c, Color::Rgb(..)), "{name}: {c:?}");
            }
            let mut mono = t.fit(Caps { depth: ColorDepth::Mono, ascii: true });
            assert!(mono.mono && mono.ascii && mono.colors().is_empty(), "{name}");
        }
        // The nearest colours: the dark theme's text on its background stays light on dark.
        let dark = ThemeSet::builtin().get("dark").unwrap().fit(Caps { depth: ColorDepth::Ansi16, ascii: false });
        assert_eq!((dark.text.fg, dark.text.bg), (Some(Color::Gray), Some(Color::Black)));
        assert_eq!(ColorDepth::Indexed256.fit(Color::Rgb(0x5f, 0xaf, 0xd7)), Color::Indexed(74));
        assert_eq!(ColorDepth::Ansi16.fit(Color::Indexed(9)), Color::LightRed);
        assert_eq!(ColorDepth::TrueColor.fit(Color::Rgb(1, 2, 3)), Color::Rgb(1, 2, 3));
    }
}
