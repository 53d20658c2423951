//! The REPL through a pseudo-terminal: evaluation, multi-line fns, completion, help, Ctrl-C.

use rexpect::session::spawn_command;
use std::process::Command;

const PROMPT: &str = "gaxsh> ";

/// Type a line and press Enter (a raw-mode terminal sends `\r`).
fn line(p: &mut rexpect::session::PtySession, text: &str) {
    settle();
    p.send(text).unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
}

/// Let the line editor finish redrawing its prompt before typing, as a person would.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(150));
}

/// Press Ctrl and a key.
fn ctrl(p: &mut rexpect::session::PtySession, key: char) {
    settle();
    p.send_control(key).unwrap();
    p.flush().unwrap();
}

fn start() -> rexpect::session::PtySession {
    let hist = std::env::temp_dir().join(format!("gaxsh-hist-{}", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gaxsh"));
    cmd.env("GAXSH_HISTORY", hist).env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(20_000)).expect("spawn gaxsh");
    p.exp_string(PROMPT).unwrap();
    p
}

#[test]
fn evaluates_keeps_state_and_functions() {
    let mut p = start();
    line(&mut p, "let x = tensor([1, 2, 3]);");
    p.exp_string(PROMPT).unwrap();
    line(&mut p, "fn twice(t) {");
    line(&mut p, "  t * 2");
    line(&mut p, "}");
    p.exp_string(PROMPT).unwrap();
    line(&mut p, "twice(x).sum().item()");
    p.exp_string("12.0").unwrap();
    line(&mut p, ":vars");
    p.exp_string("x: Tensor [3] f32").unwrap();
    line(&mut p, "?softmax");
    p.exp_string("Softmax along a dimension").unwrap();
    line(&mut p, ":quit");
    p.exp_eof().unwrap();
}

#[test]
fn a_trailing_semicolon_hides_the_value_and_help_finds_the_function() {
    let mut p = start();
    line(&mut p, "7 * 6;");
    let shown = p.exp_string(PROMPT).unwrap();
    assert!(
        !shown.contains("42"),
        "a trailing ; shows nothing: {shown:?}"
    );
    line(&mut p, "7 * 6");
    p.exp_string("42").unwrap();
    // `_` is the last value (IPython's); a switch default keeps its meaning; an error after a
    // `_` points at the typed column.
    line(&mut p, "_ + 1");
    p.exp_string("43").unwrap();
    line(&mut p, "switch _ { 1 => 0, _ => _ * 2 }");
    p.exp_string("86").unwrap();
    line(&mut p, "_ + nope");
    p.exp_string("_ + nope").unwrap();
    p.exp_string("    ^").unwrap();
    // `gax` is a function and a category: the function wins, the category follows.
    line(&mut p, "?gax");
    p.exp_string("Optimise h = tanh").unwrap();
    p.exp_string("also in [gax]").unwrap();
    // IPython's other spellings: `name?`, and help of the name without quotes.
    line(&mut p, "attribute?");
    p.exp_string("Heatmaps, one per sample").unwrap();
    line(&mut p, "help(co_score)");
    p.exp_string("Per-sample CO").unwrap();
    line(&mut p, ":quit");
    p.exp_eof().unwrap();
}

#[test]
fn tab_completes_functions_and_variables() {
    let mut p = start();
    line(&mut p, "let my_beans = 5;");
    p.exp_string(PROMPT).unwrap();
    settle();
    p.send("linsp\t").unwrap();
    p.flush().unwrap();
    p.exp_string("linspace").unwrap();
    line(&mut p, "(0, 1, 3)");
    p.exp_string("tensor([0.0000, 0.5000, 1.0000])").unwrap();
    settle();
    p.send("my_b\t").unwrap();
    p.flush().unwrap();
    p.exp_string("my_beans").unwrap();
    line(&mut p, "");
    p.exp_string("5").unwrap();
    // After `value.`, what that value offers: a Dataset's `head` (not `heatmap` nor a GAX
    // result's `heatmaps`), a map's keys.
    line(
        &mut p,
        "let beans = load_drybean(); let cfg = #{alpha: 1, beta: 2};",
    );
    p.exp_string(PROMPT).unwrap();
    settle();
    p.send("beans.he\t").unwrap();
    p.flush().unwrap();
    p.exp_string("beans.head").unwrap();
    line(&mut p, "(3).len()");
    p.exp_string("3").unwrap();
    settle();
    p.send("cfg.alp\t").unwrap();
    p.flush().unwrap();
    p.exp_string("cfg.alpha").unwrap();
    line(&mut p, " + 40");
    p.exp_string("41").unwrap();
    ctrl(&mut p, 'd');
    p.exp_eof().unwrap();
}

#[test]
fn ctrl_c_stops_a_running_loop_and_keeps_variables() {
    let mut p = start();
    line(&mut p, "let kept = 41;");
    p.exp_string(PROMPT).unwrap();
    line(&mut p, "loop { kept += 0; }");
    std::thread::sleep(std::time::Duration::from_millis(800));
    ctrl(&mut p, 'c');
    p.exp_string("interrupted (variables are kept)").unwrap();
    p.exp_string(PROMPT).unwrap();
    line(&mut p, "kept + 1");
    p.exp_string("42").unwrap();
    // Ctrl-C at the prompt clears the line instead of leaving.
    settle();
    p.send("garbage").unwrap();
    p.flush().unwrap();
    ctrl(&mut p, 'c');
    p.exp_string(PROMPT).unwrap();
    line(&mut p, "kept");
    p.exp_string("41").unwrap();
    ctrl(&mut p, 'd');
    p.exp_eof().unwrap();
}
