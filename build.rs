//! Records the git commit gaxsh is built from (for run records), read from `.git` directly so
//! that no `git` binary is needed; nothing when not built from a checkout.

use std::path::Path;

fn main() {
    let git = Path::new(".git");
    let head = git.join("HEAD");
    println!("cargo:rerun-if-changed={}", head.display());
    let Ok(text) = std::fs::read_to_string(&head) else {
        return;
    };
    let text = text.trim();
    let commit = match text.strip_prefix("ref: ") {
        Some(r) => {
            let file = git.join(r);
            println!("cargo:rerun-if-changed={}", file.display());
            println!(
                "cargo:rerun-if-changed={}",
                git.join("packed-refs").display()
            );
            std::fs::read_to_string(&file)
                .ok()
                .map(|c| c.trim().to_string())
                .or_else(|| {
                    std::fs::read_to_string(git.join("packed-refs"))
                        .ok()?
                        .lines()
                        .find(|l| l.ends_with(r))
                        .and_then(|l| l.split_whitespace().next())
                        .map(str::to_string)
                })
        }
        None => Some(text.to_string()),
    };
    if let Some(c) = commit.filter(|c| c.len() >= 7 && c.chars().all(|ch| ch.is_ascii_hexdigit())) {
        println!("cargo:rustc-env=GAXSH_COMMIT={c}");
    }
}
