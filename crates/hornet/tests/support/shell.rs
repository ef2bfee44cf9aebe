//! Command lines as documentation shows them (README steps, `--help`
//! examples), split into arguments the way a shell would for them: single
//! quotes group, spaces separate, and a redirection (`<`, `>`, `>>`) ends
//! the command. Enough for the commands Hornet's docs show, not a shell.

#![allow(dead_code, unreachable_pub)]

/// The arguments of `line`, up to its first redirection.
pub fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    let end = words
        .iter()
        .position(|w| w.starts_with('<') || w.starts_with('>'))
        .unwrap_or(words.len());
    words.truncate(end);
    words
}

#[test]
fn words_follow_quotes_and_stop_at_redirections() {
    assert_eq!(
        words("hornet sub -t 'demo/#' -v"),
        ["hornet", "sub", "-t", "demo/#", "-v"]
    );
    assert_eq!(
        words("hornet pub -t a -l < app.log"),
        ["hornet", "pub", "-t", "a", "-l"]
    );
    assert_eq!(words("hornet  -F '%t %p'"), ["hornet", "-F", "%t %p"]);
}
