//! Slack's rules for users and groups, in one place: the plan checks a source against them before
//! any write (`provision::policy::plan`), and the emulator enforces them (`emulator::store`), so
//! the two cannot drift apart. Each rule names the reference section it rests on
//! (`/work/shared/slack-scim-reference.md`).

/// The longest userName Slack takes (reference §3 `userName`: "Max 21 chars"; errors
/// `username_too_long` / `long_username`, §7 and OKTA-KB).
pub const USER_NAME_MAX: usize = 21;

/// The most members one group may have (reference §7 `group_member_max_exceeded`: "IdP group
/// ~15k, user group 5k", and §8.11: up to 15,000 members per call). Enterprise Grid's IdP groups
/// are the larger case and the one this tool targets; a Business+ user group may refuse more
/// than 5,000 (UNCERTAIN which applies to an org, so the plan checks the documented maximum).
pub const GROUP_MEMBER_CAP: usize = 15_000;

/// Why Slack would refuse a userName.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserNameProblem {
    /// Nothing is left (reference §3: "Cannot be empty"; `username_empty`).
    Empty,
    /// Emoji or control/invisible characters (reference §3: "Emoji in values →
    /// `invalid_emoji_not_allowed`"). Other specials are not refused: Slack turns them into `_`.
    Characters(char),
    /// Longer than [`USER_NAME_MAX`] once Slack has normalised it (its length in characters).
    TooLong(usize),
}

impl UserNameProblem {
    /// Slack's error code for it (reference §7).
    pub fn code(&self) -> &'static str {
        match self {
            UserNameProblem::Empty => "username_empty",
            UserNameProblem::Characters(_) => "invalid_emoji_not_allowed",
            UserNameProblem::TooLong(_) => "username_too_long",
        }
    }
}

impl std::fmt::Display for UserNameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserNameProblem::Empty => f.write_str("it is empty once Slack has normalised it"),
            UserNameProblem::Characters(c) => {
                write!(f, "it contains U+{:04X}, which Slack refuses (emoji or a control character)", *c as u32)
            }
            UserNameProblem::TooLong(n) => write!(f, "it is {n} characters long, over Slack's {USER_NAME_MAX}"),
        }
    }
}

/// Is this an emoji (or a part of one: variation selectors, skin tones, regional indicators,
/// the zero-width joiner)?
pub fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF   // mahjong .. symbols and pictographs extended-A (incl. regional indicators, skin tones)
        | 0x2600..=0x27BF   // miscellaneous symbols, dingbats
        | 0x2B00..=0x2BFF   // arrows and stars used as emoji (⭐ ⬛)
        | 0x2300..=0x23FF   // technical symbols used as emoji (⌚ ⏰)
        | 0xFE0E..=0xFE0F   // variation selectors
        | 0x200D            // zero-width joiner
        | 0xE0020..=0xE007F // tag characters (flag sequences)
    )
}

/// Slack's userName mapping (reference §3): an email becomes its local part; lowercased; `.`,
/// `_` and `-` are kept and every other special becomes `_`. Not cut: see [`slack_user_name`].
pub fn normalize_user_name(raw: &str) -> String {
    let s = raw.trim();
    let s = match s.split_once('@') {
        Some((local, _)) if !local.is_empty() => local,
        _ => s,
    };
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect()
}

/// The userName Slack would store for `raw`, or why it refuses it.
pub fn slack_user_name(raw: &str) -> Result<String, UserNameProblem> {
    if let Some(c) =
        raw.chars().find(|&c| is_emoji(c) || c.is_control() || crate::sanitize::is_invisible(c) || crate::sanitize::is_bidi_control(c))
    {
        return Err(UserNameProblem::Characters(c));
    }
    let name = normalize_user_name(raw);
    let n = name.chars().count();
    if n == 0 {
        Err(UserNameProblem::Empty)
    } else if n > USER_NAME_MAX {
        Err(UserNameProblem::TooLong(n))
    } else {
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_as_slack_takes_them() {
        assert_eq!(slack_user_name("Jane.Doe@Example.com").unwrap(), "jane.doe");
        assert_eq!(slack_user_name("Ann Marie+x!").unwrap(), "ann_marie_x_");
        assert_eq!(slack_user_name("a".repeat(21).as_str()).unwrap().len(), 21);
        assert_eq!(slack_user_name(&"a".repeat(22)), Err(UserNameProblem::TooLong(22)));
        assert_eq!(slack_user_name("  "), Err(UserNameProblem::Empty));
        assert_eq!(slack_user_name("ann🎉"), Err(UserNameProblem::Characters('🎉')));
        assert_eq!(slack_user_name("ann\u{200b}x").unwrap_err().code(), "invalid_emoji_not_allowed");
        assert_eq!(UserNameProblem::TooLong(30).code(), "username_too_long");
    }
}
