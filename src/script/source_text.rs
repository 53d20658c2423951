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
