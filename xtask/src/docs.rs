//! Doc comments from spec prose.
//!
//! Descriptions are Markdown written for a web page; rustdoc reads them as
//! Markdown too, but compiles indented and fenced blocks as doctests and
//! warns on bare URLs, unknown HTML tags and `[brackets]` that look like
//! intra-doc links. Each is neutralised here so that any spec gives docs
//! that build with `-D warnings`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Doc;

/// `#[doc]` attributes (outer, `///`) for a doc.
pub fn outer(doc: &Doc) -> TokenStream {
    let lines = lines(doc);
    quote! { #(#[doc = #lines])* }
}

/// `#![doc]` attributes (inner, `//!`) for free text.
pub fn inner(text: &str) -> TokenStream {
    let lines = prose_lines(text);
    quote! { #(#![doc = #lines])* }
}

fn lines(doc: &Doc) -> Vec<String> {
    let mut lines = doc.text.as_deref().map(prose_lines).unwrap_or_default();
    let mut facts = Vec::new();
    if let Some(format) = &doc.format {
        facts.push(format!("Format: {}.", code(format)));
    }
    if let Some(example) = &doc.example {
        facts.push(format!("Example: {}.", code(&truncate(example, 120))));
    }
    if !facts.is_empty() {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(format!(" {}", facts.join(" ")));
    }
    lines
}

/// Lines ready for `#[doc = ...]`: each starts with the space `///` leaves.
fn prose_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    // The width of the list marker of the item being read (`- `: 2,
    // `10. `: 4): a line that goes on with it is indented by as much, as
    // Markdown reads it anyway and clippy's `doc_lazy_continuation` asks.
    let mut list_item: Option<usize> = None;
    for raw in text.trim().lines() {
        let line = raw.trim();
        if line.starts_with("```") || line.starts_with("~~~") {
            // A fence opening becomes `text`, so rustdoc never runs it.
            out.push(if in_fence {
                " ```".to_owned()
            } else {
                " ```text".to_owned()
            });
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.push(format!(" {line}"));
        } else if line.is_empty() {
            list_item = None;
            out.push(String::new());
        } else if let Some(width) = list_marker(line) {
            list_item = Some(width);
            out.push(format!(" {}", escape_markdown(line)));
        } else {
            let indent = " ".repeat(list_item.unwrap_or(0));
            out.push(format!(" {indent}{}", escape_markdown(line)));
        }
    }
    if in_fence {
        out.push(" ```".to_owned());
    }
    out
}

/// The width of the Markdown list marker `line` starts with (`- `, `* `,
/// `+ `, `1. `, `1) `), if it starts with one.
fn list_marker(line: &str) -> Option<usize> {
    if ["- ", "* ", "+ "].iter().any(|m| line.starts_with(m)) {
        return Some(2);
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &line[digits..];
    (digits > 0 && digits < 10 && (rest.starts_with(". ") || rest.starts_with(") ")))
        .then_some(digits + 2)
}

/// Inline code, or escaped prose where backticks would break it.
pub fn code(text: &str) -> String {
    if text.contains('`') || text.contains('\n') {
        escape_markdown(&text.replace('\n', " "))
    } else {
        format!("`{text}`")
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Escapes what rustdoc would misread in one line of prose.
fn escape_markdown(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..].iter().take(8).collect();
        let prev = i.checked_sub(1).map(|p| chars[p]);
        if (rest.starts_with("https://") || rest.starts_with("http://")) && prev != Some('(') {
            // A bare URL becomes an autolink.
            let end = (i..chars.len())
                .find(|&j| chars[j].is_whitespace())
                .unwrap_or(chars.len());
            let mut url_end = end;
            while url_end > i && matches!(chars[url_end - 1], '.' | ',' | ';' | ':' | ')' | '>') {
                url_end -= 1;
            }
            let url: String = chars[i..url_end].iter().collect();
            out.push('<');
            out.push_str(&url);
            out.push('>');
            i = url_end;
            continue;
        }
        match chars[i] {
            '[' if !is_link(&chars, i) => out.push_str("\\["),
            ']' if !closes_link(&chars, i) => out.push_str("\\]"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// `[text](url)`: the bracket at `open` starts a Markdown link.
fn is_link(chars: &[char], open: usize) -> bool {
    chars[open + 1..]
        .iter()
        .position(|&c| c == ']')
        .is_some_and(|close| chars.get(open + 1 + close + 1) == Some(&'('))
}

fn closes_link(chars: &[char], close: usize) -> bool {
    chars.get(close + 1) == Some(&'(') && chars[..close].contains(&'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_goes_on_with_a_list_item_is_indented_under_it() {
        let lines = prose_lines("It can:\n* send\nover the network\n10. wait\nlong\n\nThen more.");
        assert_eq!(
            lines,
            vec![
                " It can:",
                " * send",
                "   over the network",
                " 10. wait",
                "     long",
                "",
                " Then more.",
            ]
        );
    }

    #[test]
    fn prose_is_made_safe_for_rustdoc() {
        let lines = prose_lines("See https://example.com/a.\n    indented\n[link](https://x.y) and [not a link] <b>\n```json\n{}\n```");
        assert_eq!(
            lines,
            vec![
                " See <https://example.com/a>.",
                " indented",
                " [link](https://x.y) and \\[not a link\\] &lt;b&gt;",
                " ```text",
                " {}",
                " ```",
            ]
        );
    }
}
