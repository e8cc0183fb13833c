//! A fuzzy picker: a search line over a list (loaded users, groups), `↑`/`↓` to move, `Enter` to
//! pick, `Esc` to go back; with marks (`Tab`), several at once. It is not a component of its own:
//! the component that opens it (the user form's manager field, the user detail's `+`, the
//! members list's `+`) keeps it, hands it its keys while it is open, lists its keys in its own
//! (`Picker::offers`) and draws it over itself.
//!
//! Matching (any case): labels where every word of the query is a plain substring, those where
//! each word starts a word of the label first; only when there are none, labels where each query
//! word is made of beginnings of the label's words in order (`mlee` finds "Maria Lee", `mhar`
//! "Maria Harris"). Letters scattered anywhere no longer match (issue 25: `maria` listed 500+
//! labels for 51 Marias). Within each rank, items that cannot be picked or are deactivated
//! come last. At most [`LIMIT`] matches are listed.

use super::component::{NAV, Offer, View, hint_list, lookup, moved};
use super::draw::{MARK, block, hint_line, overlay_area, visible_offset};
use crossterm::event::{Event, KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use scim::sanitize::clean;
use std::collections::BTreeSet;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// Where a picker (or the user form) is drawn: the overlay's place, at most `w` x `h`, centred;
/// on a screen under 100 columns nearly its whole width (issue 25: at 80 columns four fifths
/// cut the picker's reasons and the form's messages).
pub fn compact_area(screen: Rect, w: u16, h: u16) -> Rect {
    let o = overlay_area(screen);
    let wide = if screen.width < 100 { screen.width.saturating_sub(4).max(o.width) } else { o.width };
    let (w, h) = (wide.min(w), o.height.min(h));
    Rect::new(screen.x + (screen.width - w) / 2, screen.y + (screen.height - h) / 2, w, h)
}

/// The most matches listed (a query narrows the rest).
pub const LIMIT: usize = 500;

/// One choice.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What is shown and searched (cleaned for the screen).
    pub label: String,
    /// What the picker returns (an id).
    pub key: String,
    /// Why it cannot be picked (e.g. "deactivated: Slack refuses it in a group"), if so: shown
    /// beside it, and picking it is refused with that reason.
    pub refused: Option<String>,
    /// Listed after the others that match as well (a refused or deactivated user).
    pub last: bool,
    lower: String,
}

impl Item {
    pub fn new(label: &str, key: impl Into<String>, refused: Option<String>) -> Item {
        let label = clean(label);
        let last = refused.is_some();
        Item { lower: label.to_lowercase(), label, key: key.into(), refused, last }
    }

    /// Listed after the others (a deactivated user that can still be picked).
    pub fn ranked_last(mut self) -> Item {
        self.last = true;
        self
    }
}

/// What a key did.
#[derive(Debug, PartialEq)]
pub enum Picked {
    /// Still picking.
    Open,
    /// Esc: nothing picked.
    Cancel,
    /// Enter: these keys (the marked items, else the selected one).
    Chosen(Vec<String>),
}

pub struct Picker {
    pub title: String,
    pub items: Vec<Item>,
    pub input: Input,
    /// Indices into `items` that match the query, best first.
    pub shown: Vec<usize>,
    pub selected: usize,
    offset: usize,
    /// Several may be marked (`Tab`).
    pub multi: bool,
    pub marked: BTreeSet<usize>,
    /// The last refusal (a refused item picked), shown under the list.
    pub note: Option<String>,
    /// Every item matching `last_query` (uncapped, in item order), for narrowing.
    matches: Vec<usize>,
    last_query: String,
}

/// The words of a (lowercased) label: runs of letters and digits.
fn label_words(hay: &str) -> Vec<&str> {
    hay.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect()
}

/// Is `word` made of beginnings of `words`, in order (`mlee`: "m" of maria, "lee" of lee)?
fn initials(words: &[&str], word: &str) -> bool {
    if word.is_empty() {
        return true;
    }
    words.iter().enumerate().any(|(j, w)| {
        let common = w.chars().zip(word.chars()).take_while(|(a, b)| a == b).count();
        (1..=common).rev().any(|k| {
            let rest: String = word.chars().skip(k).collect();
            initials(&words[j + 1..], &rest)
        })
    })
}

/// Does `w` start one of the label's words?
fn starts_a_word(words: &[&str], w: &str) -> bool {
    words.iter().any(|x| x.starts_with(w))
}

impl Picker {
    pub fn new(title: impl Into<String>, items: Vec<Item>, multi: bool) -> Picker {
        let mut p = Picker {
            title: title.into(),
            items,
            input: Input::default(),
            shown: Vec::new(),
            selected: 0,
            offset: 0,
            multi,
            marked: BTreeSet::new(),
            note: None,
            matches: Vec::new(),
            last_query: String::new(),
        };
        p.refilter();
        p
    }

    /// Start with a query already typed.
    pub fn with_query(mut self, q: &str) -> Picker {
        self.input = Input::new(q.to_string());
        self.refilter();
        self
    }

    fn refilter(&mut self) {
        let q = self.input.value().to_lowercase();
        let words: Vec<&str> = q.split_whitespace().collect();
        // Typing on narrows: only what matched the shorter query can match this one (every
        // word of it is the old one's, or longer, or new).
        let narrowing = !self.last_query.is_empty() && q.starts_with(self.last_query.as_str());
        let pool: Vec<usize> = if narrowing { std::mem::take(&mut self.matches) } else { (0..self.items.len()).collect() };
        // (rank, index): 0 each word starts a word, 1 each word is in the label, 2 each word is
        // made of word beginnings; refused and deactivated items after the others of their rank.
        let mut hits: Vec<(u8, bool, usize)> = Vec::new();
        for i in pool {
            let it = &self.items[i];
            let lw = label_words(&it.lower);
            let rank = if words.iter().all(|w| it.lower.contains(w)) {
                if words.iter().all(|w| starts_a_word(&lw, w) || w.contains(|c: char| !c.is_alphanumeric())) { 0 } else { 1 }
            } else if words.iter().all(|w| {
                let letters: String = w.chars().filter(|c| c.is_alphanumeric()).collect();
                !letters.is_empty() && initials(&lw, &letters)
            }) {
                2
            } else {
                continue;
            };
            hits.push((rank, it.last, i));
        }
        self.matches = hits.iter().map(|h| h.2).collect();
        self.matches.sort_unstable();
        // Word beginnings only when nothing holds the words whole (`maria` would find
        // mari(o) a(cme-corp) too).
        if hits.iter().any(|h| h.0 < 2) {
            hits.retain(|h| h.0 < 2);
        }
        hits.sort();
        self.shown = hits.into_iter().take(LIMIT).map(|h| h.2).collect();
        self.last_query = q;
        self.selected = 0;
        self.offset = 0;
    }

    /// The keys, for the owner's hint bar and `?`.
    pub fn offers(&self) -> Vec<Offer> {
        let mut o = vec![
            Offer::new("Enter", "pick", "pick the selected item (or the marked ones)", !self.shown.is_empty()),
            Offer::new("Esc", "back", "close the picker: nothing is picked", true),
            Offer::new("↑ ↓", "move", "move in the list (PgUp/PgDn a page)", true),
        ];
        if self.multi {
            o.insert(1, Offer::new("Tab", "mark", "mark / unmark the selected item", !self.shown.is_empty()));
        }
        o.push(Offer::new("text", "", "type to search (any part of the name or email, letters in order)", true));
        o
    }

    /// Rows of the list on a screen of this size.
    fn list_rows(screen: Rect) -> usize {
        compact_area(screen, 96, u16::MAX).height.saturating_sub(5) as usize
    }

    pub fn handle_key(&mut self, k: &KeyEvent, screen: Rect) -> Picked {
        let n = self.shown.len();
        let h = Self::list_rows(screen);
        let nav = match k.code {
            // Letters are text here: only the arrows and the page keys move.
            KeyCode::Char(_) if k.modifiers.is_empty() || k.modifiers == crossterm::event::KeyModifiers::SHIFT => None,
            _ => lookup(NAV, k),
        };
        if let Some(nav) = nav {
            self.selected = moved(self.selected, nav.delta(h), n);
            self.offset = visible_offset(self.selected, self.offset, h, n);
            return Picked::Open;
        }
        match k.code {
            KeyCode::Esc => return Picked::Cancel,
            KeyCode::Tab if self.multi => {
                if let Some(&i) = self.shown.get(self.selected) {
                    if !self.marked.remove(&i) {
                        match &self.items[i].refused {
                            Some(why) => self.note = Some(format!("{}: {why}", self.items[i].label)),
                            None => {
                                self.marked.insert(i);
                            }
                        }
                    }
                    self.selected = moved(self.selected, 1, n);
                    self.offset = visible_offset(self.selected, self.offset, h, n);
                }
            }
            KeyCode::Enter => {
                let picked: Vec<usize> = if self.marked.is_empty() {
                    self.shown.get(self.selected).copied().into_iter().collect()
                } else {
                    self.marked.iter().copied().collect()
                };
                if let Some(&i) = picked.iter().find(|&&i| self.items[i].refused.is_some()) {
                    self.note = Some(format!("{}: {}", self.items[i].label, self.items[i].refused.as_deref().unwrap_or("")));
                    return Picked::Open;
                }
                if picked.is_empty() {
                    return Picked::Open;
                }
                return Picked::Chosen(picked.into_iter().map(|i| self.items[i].key.clone()).collect());
            }
            _ => {
                let before = self.input.value().to_string();
                self.input.handle_event(&Event::Key(*k));
                if self.input.value() != before {
                    self.note = None;
                    self.refilter();
                }
            }
        }
        Picked::Open
    }

    /// Draw over `area` (the whole screen), in the overlay's place.
    pub fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let r = compact_area(area, 96, u16::MAX);
        let count = if self.shown.len() >= LIMIT { format!("{LIMIT}+") } else { self.shown.len().to_string() };
        let mut title = vec![Span::styled(format!(" {} ", clean(&self.title)), t.title), Span::styled(format!("{count} "), t.muted)];
        if !self.marked.is_empty() {
            title.push(Span::styled(format!("{} marked ", self.marked.len()), t.accent));
        }
        let hint = hint_list(&self.offers(), r.width.saturating_sub(4) as usize);
        let b = block(t, Line::from(title), true).title_bottom(hint_line(t, hint));
        let inner = b.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(b, r);
        if inner.height < 3 || inner.width < 8 {
            return;
        }
        super::draw::labelled_input(f, t, inner, "search: ", &self.input);
        let list = Rect { y: inner.y + 1, height: inner.height - 2, ..inner };
        let h = list.height as usize;
        let off = visible_offset(self.selected, self.offset, h, self.shown.len());
        let w = list.width as usize;
        let mut lines = Vec::new();
        if self.shown.is_empty() {
            lines.push(Line::styled("  nothing matches", t.muted));
        }
        for (pos, &i) in self.shown.iter().enumerate().skip(off).take(h) {
            let it = &self.items[i];
            let sel = pos == self.selected;
            let mark = if self.marked.contains(&i) { "+ " } else { "  " };
            let lead = if sel { MARK } else { "  " };
            // The reason stays whole: the label gives way (issue 25: reasons ended at `(deactivate`).
            let why = it.refused.as_ref().map(|why| format!("  ({why})")).unwrap_or_default();
            let room = w.saturating_sub(4 + why.chars().count());
            let text = if why.is_empty() || room < 12 {
                format!("{lead}{mark}{}{why}", it.label).chars().take(w).collect()
            } else {
                format!("{lead}{mark}{}{why}", super::draw::truncate(&it.label, room))
            };
            let st = if sel {
                t.selected
            } else if it.refused.is_some() {
                t.inactive
            } else if self.marked.contains(&i) {
                t.accent
            } else {
                t.text
            };
            lines.push(Line::styled(text, st));
        }
        f.render_widget(Paragraph::new(lines), list);
        let foot = Rect { y: inner.bottom() - 1, height: 1, ..inner };
        if let Some(n) = &self.note {
            f.render_widget(Paragraph::new(Line::styled(clean(n), t.warning)), foot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(p: &mut Picker, code: KeyCode) -> Picked {
        p.handle_key(&KeyEvent::new(code, KeyModifiers::NONE), Rect::new(0, 0, 80, 24))
    }

    fn items() -> Vec<Item> {
        vec![
            Item::new("Maria Lee", "W1", None),
            Item::new("Mark Olsen", "W2", Some("deactivated".into())),
            Item::new("Ann Lee", "W3", None),
        ]
    }

    #[test]
    fn typing_narrows_substrings_first_then_letters_in_order() {
        let mut p = Picker::new("Pick", items(), false);
        assert_eq!(p.shown, [0, 2, 1], "the refused one last");
        for c in "lee".chars() {
            key(&mut p, KeyCode::Char(c));
        }
        assert_eq!(p.shown, [0, 2]);
        // Beginnings of words: m(aria) le(e); Mark Olsen has no word starting with l.
        assert_eq!(Picker::new("Pick", items(), false).with_query("mle").shown, [0]);
        assert_eq!(Picker::new("Pick", items(), false).with_query("mlee").shown, [0]);
        assert_eq!(Picker::new("Pick", items(), false).with_query("olsen m").shown, [1], "every word, in any order");
        assert_eq!(Picker::new("Pick", items(), false).with_query("ee").shown, [0, 2], "a substring before letters in order");
        // Narrowing, then widening again (Backspace) finds what the narrow query had dropped.
        let mut p = Picker::new("Pick", items(), false).with_query("m");
        assert_eq!(p.shown, [0, 1]);
        key(&mut p, KeyCode::Char('a'));
        key(&mut p, KeyCode::Char('r'));
        key(&mut p, KeyCode::Char('i'));
        assert_eq!(p.shown, [0]);
        for _ in 0..4 {
            key(&mut p, KeyCode::Backspace);
        }
        assert_eq!(p.shown, [0, 2, 1]);
    }

    /// Issue 25, defect 28: `maria` among many names lists the Marias only, the deactivated
    /// one after the others; a word start ranks before a match inside a word.
    #[test]
    fn weak_matches_are_left_out_and_the_deactivated_come_last() {
        let first = ["Maria", "Mark", "Marcia", "Ria", "Amara", "Jim", "Tamar", "Mario"];
        let last = ["Harris", "Riley", "Adams", "Iacocca", "Young", "Ramirez"];
        let mut items = Vec::new();
        for (i, f) in first.iter().enumerate() {
            for (j, l) in last.iter().enumerate() {
                let email = format!("{}.{}@acme-corp.example", f.to_lowercase(), l.to_lowercase());
                let item = Item::new(&format!("{f} {l} <{email}>"), format!("W{i}{j}"), None);
                // Maria Harris is deactivated (the first Maria in item order).
                items.push(if (i, j) == (0, 0) { item.ranked_last() } else { item });
            }
        }
        let p = Picker::new("Manager", items.clone(), false).with_query("maria");
        let labels: Vec<&str> = p.shown.iter().map(|&i| items[i].label.as_str()).collect();
        assert_eq!(labels.len(), 6, "the six Marias, not m…a…r…i…a scattered anywhere: {labels:?}");
        assert!(labels.iter().all(|l| l.starts_with("Maria ")), "{labels:?}");
        assert_eq!(labels[5], "Maria Harris <maria.harris@acme-corp.example>", "the deactivated one last");
        // `mhar`: m(aria|ark|arcia|ario) har(ris); `ria`: Ria first (a word start), then inside words.
        let p = Picker::new("Manager", items.clone(), false).with_query("mhar");
        assert_eq!(p.shown.len(), 4, "{:?}", p.shown.iter().map(|&i| &items[i].label).collect::<Vec<_>>());
        let p = Picker::new("Manager", items.clone(), false).with_query("ria");
        assert!(items[p.shown[0]].label.starts_with("Ria "), "{}", items[p.shown[0]].label);
        assert!(p.shown.iter().any(|&i| items[i].label.starts_with("Maria Young")), "a substring still matches");
    }

    #[test]
    fn enter_picks_the_selected_one_and_a_refused_one_is_named_not_picked() {
        let mut p = Picker::new("Pick", items(), false);
        key(&mut p, KeyCode::Down);
        key(&mut p, KeyCode::Down);
        assert_eq!(key(&mut p, KeyCode::Enter), Picked::Open);
        assert!(p.note.as_deref().unwrap().contains("Mark Olsen") && p.note.as_deref().unwrap().contains("deactivated"));
        key(&mut p, KeyCode::Up);
        assert_eq!(key(&mut p, KeyCode::Enter), Picked::Chosen(vec!["W3".into()]));
        assert_eq!(key(&mut p, KeyCode::Esc), Picked::Cancel);
    }

    #[test]
    fn tab_marks_several_but_never_a_refused_one() {
        let mut p = Picker::new("Pick", items(), true);
        key(&mut p, KeyCode::Tab);
        key(&mut p, KeyCode::Tab);
        key(&mut p, KeyCode::Tab); // Mark Olsen (listed last): refused
        assert_eq!(p.marked.iter().copied().collect::<Vec<_>>(), [0, 2]);
        assert!(p.note.is_some());
        assert_eq!(key(&mut p, KeyCode::Enter), Picked::Chosen(vec!["W1".into(), "W3".into()]));
    }
}
