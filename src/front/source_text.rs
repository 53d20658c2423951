//! Reading rhai source as it is typed, shared by the front ends (the REPL and the Jupyter
//! kernel): where the word under the cursor starts, and whether an input is still open.

/// The variable before the `.` that ends at `dot_end` (`beans.` → `beans`), if the receiver
/// is a plain name.
pub fn receiver_before(line: &str, dot_end: usize) -> Option<&str> {
    let head = line.get(..dot_end)?.strip_suffix('.')?;
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i)?;
    let name = &head[start..];
    (!name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
}

/// The identifier ending at `pos`, where it starts, and whether a `.` precedes it.
pub fn word_before(line: &str, pos: usize) -> (usize, &str, bool) {
    let head = &line[..pos];
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i)
        .unwrap_or(pos);
    let after_dot = head[..start].ends_with('.');
    (start, &head[start..], after_dot)
}

/// True while `(`, `[` or `{` are open, ignoring strings, backtick strings and `//` comments.
pub fn is_incomplete(src: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = src.chars().peekable();
    let mut in_str: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = in_str {
            if c == '\\' {
                chars.next();
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '`' => in_str = Some(c),
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0 || in_str == Some('`')
}

/// True when the input's last statement ends with `;` (comments and whitespace after it
/// ignored): as in IPython, the prompt then shows no value (`net.fit(…);` prints nothing).
pub fn ends_with_semicolon(src: &str) -> bool {
    // The code with strings kept whole and `//` comments dropped, line by line.
    let mut code = String::new();
    let mut in_str: Option<char> = None;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = in_str {
            code.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    code.push(n);
                }
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '`' => {
                in_str = Some(c);
                code.push(c);
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            _ => code.push(c),
        }
    }
    in_str.is_none() && code.trim_end().ends_with(';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_semicolon_is_seen_past_comments_not_in_strings() {
        assert!(ends_with_semicolon("net.fit(a, b);"));
        assert!(ends_with_semicolon("let x = 1;  // the count\n"));
        assert!(!ends_with_semicolon("x"));
        assert!(!ends_with_semicolon("let s = \"a;\""));
        assert!(!ends_with_semicolon("x // y;"));
        assert!(ends_with_semicolon("let s = \"http://a\";"));
    }

    #[test]
    fn brackets_open_across_lines() {
        assert!(is_incomplete("fn f(x) {"));
        assert!(is_incomplete("let a = [1,\n 2"));
        assert!(!is_incomplete("fn f(x) {\n x * 2\n}"));
        assert!(!is_incomplete("let s = \"{ not a brace\";"));
        assert!(!is_incomplete("let a = 1; // {"));
    }

    #[test]
    fn receiver_is_the_name_before_the_dot() {
        assert_eq!(receiver_before("let n = beans.", 14), Some("beans"));
        assert_eq!(receiver_before("f(x).", 5), None);
        assert_eq!(receiver_before("x", 1), None);
        assert_eq!(receiver_before("3.", 2), None);
    }

    #[test]
    fn word_before_cursor() {
        assert_eq!(word_before("x.su", 4), (2, "su", true));
        assert_eq!(word_before("let y = ran", 11), (8, "ran", false));
    }
}

pub use crate::report::log::LAST_RESULT;

/// Prompt input with every standalone `_` outside strings and comments replaced by
/// [`LAST_RESULT`] (a `switch` default, `_ =>`, stays), and where each replaced `_` stood
/// (line, column, both from 1). `None` when there is none.
pub fn rewrite_last_result(src: &str) -> Option<(String, Vec<(usize, usize)>)> {
    let chars: Vec<char> = src.chars().collect();
    let ident = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    let (mut out, mut at) = (String::with_capacity(src.len()), Vec::new());
    let (mut line, mut col) = (1, 1);
    let mut in_str: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut width = 1;
        if let Some(q) = in_str {
            if c == '\\' && i + 1 < chars.len() {
                out.push(c);
                out.push(chars[i + 1]);
                (i, col) = (i + 2, col + 2);
                continue;
            }
            if c == q {
                in_str = None;
            }
            out.push(c);
        } else if c == '"' || c == '`' {
            in_str = Some(c);
            out.push(c);
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            // A line comment: copied up to the newline.
            while i < chars.len() && chars[i] != '\n' {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        } else if c == '_'
            && !ident(i.checked_sub(1).and_then(|p| chars.get(p)))
            && !ident(chars.get(i + 1))
            && !chars[i + 1..]
                .iter()
                .collect::<String>()
                .trim_start()
                .starts_with("=>")
        {
            out.push_str(LAST_RESULT);
            at.push((line, col));
            width = 1;
        } else {
            out.push(c);
        }
        if c == '\n' {
            (line, col) = (line + 1, 1);
        } else {
            col += width;
        }
        i += 1;
    }
    (!at.is_empty()).then_some((out, at))
}

/// A column of the rewritten input brought back to the typed input's column on that line.
pub fn typed_column(rewrites: &[(usize, usize)], line: usize, column: usize) -> usize {
    let extra = LAST_RESULT.len() - 1;
    let mut col = column;
    // Each `_` before the position (in rewritten columns) made the line `extra` longer.
    for (k, &(_, c)) in rewrites.iter().filter(|(l, _)| *l == line).enumerate() {
        if column > c + k * extra {
            col = col.saturating_sub(extra).max(c);
        }
    }
    col
}

#[cfg(test)]
mod last_result_tests {
    use super::*;

    #[test]
    fn underscore_becomes_the_last_result_outside_strings_comments_and_switch_defaults() {
        let (out, at) =
            rewrite_last_result("_ + 1; \"_\"; x_1; switch v { _ => 2 } // _\n_").unwrap();
        assert_eq!(
            out,
            "_last_ + 1; \"_\"; x_1; switch v { _ => 2 } // _\n_last_"
        );
        assert_eq!(at, vec![(1, 1), (2, 1)]);
        assert!(rewrite_last_result("let a_b = `_`;").is_none());
        // A position after a rewritten `_` maps back to the typed column.
        let (_, at) = rewrite_last_result("f(_, y)").unwrap();
        assert_eq!(typed_column(&at, 1, 3), 3);
        assert_eq!(typed_column(&at, 1, 4 + LAST_RESULT.len() - 1), 4);
        assert_eq!(typed_column(&at, 1, 1), 1);
    }
}
