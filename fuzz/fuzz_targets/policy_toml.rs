//! Policy files (`Policy::parse`) and attribute templates (`Template::parse`) from arbitrary
//! text. Invariants: no panic; an error names a line of the text; a template that parses,
//! written back in template syntax (braces doubled in literal text, `{column|filter}`, a lone
//! column as its bare name), parses
//! to the same template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provision::policy::config::{Filter, Part, Policy, Template};
use std::path::Path;

fn filter_name(f: &Filter) -> &'static str {
    match f {
        Filter::Lower => "lower",
        Filter::Upper => "upper",
        Filter::Trim => "trim",
        Filter::Local => "local",
        Filter::Domain => "domain",
        Filter::Initial => "initial",
    }
}

fn render(t: &Template) -> String {
    // A template of one bare column is written as the column's name (the form without braces,
    // where `|` is part of the name).
    if let [Part::Col { name, filters }] = t.parts.as_slice()
        && filters.is_empty()
    {
        return name.clone();
    }
    let mut out = String::new();
    for p in &t.parts {
        match p {
            Part::Lit(s) => out.push_str(&s.replace('{', "{{").replace('}', "}}")),
            Part::Col { name, filters } => {
                out.push('{');
                out.push_str(name);
                for f in filters {
                    out.push('|');
                    out.push_str(filter_name(f));
                }
                out.push('}');
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Policy::parse(text, Path::new("/nonexistent/fuzz/policy.toml")) {
        Ok(p) => {
            let _ = (p.deactivation_limit(1000), p.scope_set());
        }
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(e.line <= lines + 1, "error at line {} of a {lines}-line text: {e}", e.line);
            let _ = e.to_string();
        }
    }
    if let Ok(t) = Template::parse(text) {
        let written = render(&t);
        let back = Template::parse(&written).unwrap_or_else(|e| panic!("{text:?} parsed; written as {written:?} it does not: {e}"));
        assert_eq!(back, t, "template round trip through {written:?}");
    }
});
