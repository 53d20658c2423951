//! The HTML of the report: plain tables, figures, and the GAX viewer (a slider through the
//! heatmap frames with the CO score at each step). No external assets or network.
//!
//! Opening the page as `index.html#selftest` moves every viewer slider once and writes what
//! changed (and any script error) into `#selftest-result`; the headless-browser test reads it.

use super::record::RunRecord;
use crate::ax::AxTable;
use crate::evaluate::number;
use crate::gap::{Gap, Verdict};

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn heading(t: &str) -> String {
    format!("<h2>{}</h2>\n", esc(t))
}

pub fn text(title: &str, body: &str) -> String {
    let h = if title.is_empty() {
        String::new()
    } else {
        format!("<h3>{}</h3>\n", esc(title))
    };
    format!("{h}<pre>{}</pre>\n", esc(body))
}

/// A figure linking to its file; the image itself is an [`EMBED`] reference.
pub fn figure(file: &str, caption: &str) -> String {
    format!(
        "<figure><a href=\"{0}\"><img src=\"{EMBED}{0}\" alt=\"{1}\"></a><figcaption>{1}</figcaption></figure>\n",
        esc(file),
        esc(caption),
    )
}

/// Marks an image source (a path relative to the report) to be resolved once the page is
/// assembled: embedded as a data URI, or left as the relative path.
pub const EMBED: &str = "embed:";

/// The page with every [`EMBED`] reference resolved: each image read from `dir` and embedded
/// (`embed`), or its relative path kept.
pub fn resolve_images(page: &str, dir: &std::path::Path, embed: bool) -> crate::Result<String> {
    use base64::Engine as _;
    let mut out = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(at) = rest.find(EMBED) {
        out.push_str(&rest[..at]);
        let after = &rest[at + EMBED.len()..];
        let end = after.find('"').unwrap_or(after.len());
        let rel = &after[..end];
        if embed {
            let path = dir.join(rel);
            let bytes = std::fs::read(&path).map_err(|e| crate::Error::io(&path, e))?;
            let mime = if rel.ends_with(".svg") {
                "image/svg+xml"
            } else {
                "image/png"
            };
            out.push_str(&format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ));
        } else {
            out.push_str(rel);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    Ok(out)
}

pub fn comparison(title: &str, rows: &[(String, String, String)]) -> String {
    let mut s = format!(
        "<h3>{}</h3>\n<table><tr><th></th><th>gaxsh</th><th>paper</th></tr>\n",
        esc(title)
    );
    for (a, b, c) in rows {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(a),
            esc(b),
            esc(c)
        ));
    }
    s.push_str("</table>\n");
    s
}

/// The heatmap gallery of a sweep: per sample (correct ones first, then wrong ones) its input and
/// every method's normalised heatmap: images as files (`images[k]`: input, then one per method),
/// tabular samples as a strip of coloured cells per method, one column per feature.
pub fn gallery(
    examples: &[crate::ax::Example],
    classes: &[String],
    features: &[String],
    images: &[Vec<String>],
) -> String {
    let Some(first) = examples.first() else {
        return String::new();
    };
    let methods: Vec<&str> = first.heatmaps.iter().map(|(m, _)| m.as_str()).collect();
    let class = |c: usize| classes.get(c).cloned().unwrap_or_else(|| c.to_string());
    let mut s = String::from(
        "<h3>Heatmap gallery</h3>\n<p>The first correctly and wrongly predicted samples, every method's h = A / max|A| (red positive, blue negative; images: channels summed, over the input).</p>\n",
    );
    let caption = |e: &crate::ax::Example| {
        let verdict = if e.pred_before == e.label {
            "correct"
        } else {
            "wrong"
        };
        format!(
            "{} · label {} · predicted {} ({verdict})",
            esc(&e.id),
            esc(&class(e.label)),
            esc(&class(e.pred_before))
        )
    };
    if images.iter().any(|v| !v.is_empty()) {
        s.push_str("<table class=\"gallery\"><tr><th>sample</th><th>input</th>");
        for m in &methods {
            s.push_str(&format!("<th>{}</th>", esc(m)));
        }
        s.push_str("</tr>\n");
        for (e, files) in examples.iter().zip(images) {
            s.push_str(&format!("<tr><td>{}</td>", caption(e)));
            for f in files {
                s.push_str(&format!(
                    "<td><img src=\"{EMBED}{0}\" alt=\"{0}\"></td>",
                    esc(f)
                ));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
        return s;
    }
    for e in examples {
        let n = e.x.len();
        s.push_str(&format!(
            "<p>{}</p>\n<table class=\"strip\"><tr><th></th>",
            caption(e)
        ));
        for j in 0..n {
            let name = features.get(j).cloned().unwrap_or_else(|| j.to_string());
            s.push_str(&format!("<th>{}</th>", esc(&name)));
        }
        s.push_str("</tr>\n");
        for (m, h) in &e.heatmaps {
            s.push_str(&format!("<tr><th>{}</th>", esc(m)));
            for &v in h {
                let [r, g, b] = crate::plot::colormap::ColorMap::Bwr.color(v, 1.0);
                // Rounded to zero reads 0.00, not −0.00.
                let shown = format!("{:.2}", if v.abs() < 0.005 { 0.0 } else { v });
                s.push_str(&format!(
                    "<td style=\"background:rgb({r},{g},{b})\" title=\"{v:.3}\">{shown}</td>"
                ));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
    s
}

/// Time per stage of the session: seconds and share of the logged total (nothing when none).
pub fn stages(stages: &[(String, f64)]) -> String {
    let total: f64 = stages.iter().map(|(_, s)| s).sum();
    if stages.is_empty() || total <= 0.0 {
        return String::new();
    }
    let mut s = String::from(
        "<h2>Time per stage</h2>\n<p>Wall time from the previous stage to each logged result (loading and preparing count with the step they served).</p>\n<table><tr><th>stage</th><th>seconds</th><th>share</th></tr>\n",
    );
    for (name, secs) in stages {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{secs:.2}</td><td>{:.0} %</td></tr>\n",
            esc(name),
            100.0 * secs / total
        ));
    }
    s.push_str(&format!(
        "<tr><td><b>total</b></td><td><b>{total:.2}</b></td><td></td></tr>\n</table>\n"
    ));
    s
}

pub fn accuracy(t: &AxTable) -> String {
    let mut s = format!(
        "<h3>Accuracy before and after AX (N = {})</h3>\n<table><tr><th>mode</th><th>Baseline</th>",
        t.n_samples
    );
    for m in &t.methods {
        s.push_str(&format!("<th>{}</th>", esc(m.name())));
    }
    s.push_str("</tr>\n");
    for a in t.accuracy() {
        s.push_str(&format!(
            "<tr><td>x{}h</td><td>{:.4}</td>",
            if a.mode.name() == "sum" { "+" } else { "*" },
            a.baseline.fraction
        ));
        for m in &a.methods {
            let (acc, c, z) = (m.after.fraction, m.after.correct, &m.zero_maps);
            let zero = if *z > 0 {
                format!(" <span class=note>({z} all-zero heatmaps)</span>")
            } else {
                String::new()
            };
            s.push_str(&format!(
                "<td>{acc:.4} <span class=n>({c})</span>{zero}</td>"
            ));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    for n in &t.notes {
        s.push_str(&format!("<p class=note>Note: {}</p>\n", esc(n)));
    }
    s
}

/// The metric panel: each method's mean per metric (arrows say which way is better), how alike
/// the metrics rank the methods, and the per-sample agreement of CO with deletion and insertion.
pub fn metric_table(t: &crate::evaluate::MetricTable) -> String {
    let mut s = format!(
        "<h3>CO beside the standard explanation metrics ({} samples × {} methods, {:.1} s)</h3>\n<table><tr><th>method</th>",
        t.len(),
        t.methods.len(),
        t.seconds
    );
    for m in &t.metrics {
        s.push_str(&format!(
            "<th title=\"{}\">{} {}</th>",
            esc(m.meaning()),
            m.name(),
            if m.higher_is_better() { "↑" } else { "↓" }
        ));
    }
    s.push_str("</tr>\n");
    for (method, row) in t.methods.iter().zip(t.means()) {
        s.push_str(&format!("<tr><td>{}</td>", esc(method)));
        for v in row {
            s.push_str(&format!("<td>{}</td>", number(v)));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    if t.methods.len() >= 3 && t.metrics.len() >= 2 {
        s.push_str("<p>Do the metrics rank the methods alike? Spearman's correlation over the methods of their means, each metric read so that higher is better (+1: the same ranking).</p>\n<table><tr><th></th>");
        for m in &t.metrics {
            s.push_str(&format!("<th>{}</th>", m.name()));
        }
        s.push_str("</tr>\n");
        for (m, row) in t.metrics.iter().zip(t.method_agreement()) {
            s.push_str(&format!("<tr><td>{}</td>", m.name()));
            for v in row {
                s.push_str(&format!("<td>{}</td>", number(v)));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
    for n in &t.notes {
        s.push_str(&format!("<p class=note>Note: {}</p>\n", esc(n)));
    }
    s.push_str("<p class=note>");
    for m in &t.metrics {
        s.push_str(&format!("<b>{}</b>: {}. ", m.name(), esc(m.meaning())));
    }
    s.push_str("</p>\n");
    s
}

pub fn gaps(gaps: &[Gap]) -> String {
    let mut s = String::from(
        "<h3>Gap statistics: does CO tell correct from wrong predictions?</h3>\n\
         <p>AUROC of the CO score as a correctness indicator (0.5 = no information) with its 95 % stratified-bootstrap \
         interval, the widest gap between the two CO distributions (Kolmogorov–Smirnov), and the baselines read from \
         the same logits as “correct” (before AX for the original prediction, after AX for the appendix meaning): the \
         maximum softmax probability and the top-2 logit margin, which do not see the label, and the label's logit \
         margin, which does, as CO does, and tells correct from wrong perfectly by construction. The verdict compares \
         CO with the stronger label-free baseline: the paired bootstrap interval of the difference must exclude 0, with \
         at least 10 samples on each side and more than one predicted class.</p>\n\
         <table><tr><th>correct</th><th>mode</th><th>method</th><th>n correct</th><th>n wrong</th><th>median CO correct</th>\
         <th>median CO wrong</th><th>AUROC (CO) [95 % CI]</th><th>KS gap</th><th>threshold</th><th>max softmax</th>\
         <th>top-2 margin</th><th>label margin</th><th>verdict</th></tr>\n",
    );
    for g in gaps {
        let verdict = match g.verdict() {
            Verdict::CoBetter(_) => format!("<b>{}</b>", esc(&crate::gap::verdict_text(g))),
            _ => esc(&crate::gap::verdict_text(g)),
        };
        let baseline = |i: usize| {
            g.baselines.get(i).map_or("–".to_string(), |b| {
                format!(
                    "{:.4} <span class=n>[{:.3}–{:.3}]</span>",
                    b.auroc, b.ci.0, b.ci.1
                )
            })
        };
        s.push_str(&format!(
            "<tr><td>{} AX</td><td>x{}h</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4} [{:.3}–{:.3}]</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{verdict}</td></tr>\n",
            g.meaning.name(),
            if g.mode.name() == "sum" { "+" } else { "*" },
            esc(g.method.name()),
            g.correct.n,
            g.wrong.n,
            g.correct.median,
            g.wrong.median,
            g.auroc,
            g.auroc_ci.0,
            g.auroc_ci.1,
            g.ks,
            g.threshold,
            baseline(0),
            baseline(1),
            baseline(2),
        ));
    }
    s.push_str("</table>\n");
    s
}

/// One sample of the GAX viewer: (step, CO, frame image, change image) per frame, or, for
/// tabular heatmaps, the frame values themselves (drawn as coloured cells by the page).
pub struct ViewerSample {
    pub id: String,
    pub label: usize,
    pub target: usize,
    pub frames: Vec<(usize, f64, String, String)>,
    pub values: Vec<Vec<f64>>,
    /// The input x: an image's file, or a tabular sample's values (shown beside h).
    pub input_image: String,
    pub input_values: Vec<f64>,
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

pub fn viewer(id: usize, samples: &[ViewerSample], names: &[String]) -> String {
    if samples.is_empty() {
        return String::new();
    }
    let data: Vec<String> = samples
        .iter()
        .map(|s| {
            let steps: Vec<String> = s.frames.iter().map(|f| f.0.to_string()).collect();
            let scores: Vec<String> = s.frames.iter().map(|f| json_num(f.1)).collect();
            // Tabular frames have no image (the page draws their numbers).
            let image = |path: &str| json_str(&if path.is_empty() { String::new() } else { format!("{EMBED}{path}") });
            let imgs: Vec<String> = s.frames.iter().map(|f| image(&f.2)).collect();
            let diffs: Vec<String> = s.frames.iter().map(|f| image(&f.3)).collect();
            let numbers = |v: &[f64]| format!("[{}]", v.iter().map(|x| json_num(*x)).collect::<Vec<_>>().join(","));
            let values: Vec<String> = s.values.iter().map(|v| numbers(v)).collect();
            format!(
                "{{\"id\":{},\"label\":{},\"target\":{},\"steps\":[{}],\"scores\":[{}],\"frames\":[{}],\"changes\":[{}],\"values\":[{}],\"input\":{},\"x\":{}}}",
                json_str(&s.id),
                s.label,
                s.target,
                steps.join(","),
                scores.join(","),
                imgs.join(","),
                diffs.join(","),
                values.join(","),
                image(&s.input_image),
                numbers(&s.input_values),
            )
        })
        .collect();
    format!(
        r#"<h3>GAX viewer</h3>
<div class="viewer" id="viewer{id}">
  <label>sample <select class="sample"></select></label>
  <label>time step <input class="slider" type="range" min="0" max="0" step="1" value="0"></label>
  <span class="status"></span>
  <div><figure class="input"><img alt="the input x"><figcaption>x</figcaption></figure><img class="frame" alt="heatmap channels at this step"><img class="change" alt="change to the next step"><table class="cells"></table></div>
</div>
<script>
gaxViewer(document.getElementById("viewer{id}"), [{}], [{}]);
</script>
"#,
        data.join(",\n"),
        names
            .iter()
            .map(|n| json_str(n))
            .collect::<Vec<_>>()
            .join(",")
    )
}

const STYLE: &str = r#"
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
.note { color: #a33; }
.n { color: #777; font-size: 0.85em; }
.viewer { border: 1px solid #ccc; padding: 0.6em; }
.viewer img { max-width: 49%; vertical-align: top; }
.viewer figure.input { display: inline-block; margin: 0 0.5em 0 0; vertical-align: top; text-align: center; }
.viewer figure.input img { max-width: 160px; width: 128px; image-rendering: pixelated; }
.viewer .status { font-family: monospace; margin-left: 1em; }
"#;

const SCRIPT: &str = r##"
var gaxErrors = [];
window.addEventListener("error", function (e) { gaxErrors.push(String(e.message)); });
(function () { var orig = console.error; console.error = function () { gaxErrors.push(Array.prototype.join.call(arguments, " ")); orig.apply(console, arguments); }; })();
var gaxViewers = [];
function bwr(v) {
  var u = Math.max(-1, Math.min(1, v));
  var r = u < 0 ? 1 + u : 1, g = 1 - Math.abs(u), b = u > 0 ? 1 - u : 1;
  return "rgb(" + Math.round(255 * r) + "," + Math.round(255 * g) + "," + Math.round(255 * b) + ")";
}
function gaxViewer(root, samples, names) {
  var sel = root.querySelector(".sample"), slider = root.querySelector(".slider");
  var status = root.querySelector(".status"), frame = root.querySelector(".frame"), change = root.querySelector(".change");
  var cells = root.querySelector(".cells"), input = root.querySelector(".input"), inputImg = input.querySelector("img");
  samples.forEach(function (s, i) {
    var o = document.createElement("option"); o.value = i;
    o.textContent = s.id + " (label " + s.label + ", target " + s.target + ")"; sel.appendChild(o);
  });
  function show() {
    var s = samples[+sel.value], k = +slider.value;
    var score = s.scores[k] === null ? "nan" : s.scores[k].toFixed(3);
    status.textContent = "step: " + s.steps[k] + " CO: " + score;
    if (s.values.length) {
      frame.style.display = change.style.display = input.style.display = "none";
      var v = s.values[k], next = s.values[Math.min(k + 1, s.values.length - 1)], rows = "<tr><th>feature</th><th>x</th><th>h</th><th>change</th></tr>";
      for (var i = 0; i < v.length; i++) {
        var d = next[i] - v[i], x = s.x[i] === undefined || s.x[i] === null ? "" : s.x[i].toFixed(3);
        // Dark cells (|h| near 1) get white text, so every value stays readable.
        var ink = Math.abs(v[i]) > 0.6 ? "#fff" : "#222";
        rows += "<tr><td>" + (names[i] || i) + "</td><td>" + x + "</td><td style='background:" + bwr(v[i]) + ";color:" + ink + "'>" + v[i].toFixed(3) + "</td><td>" + d.toFixed(3) + "</td></tr>";
      }
      cells.innerHTML = rows;
    } else {
      frame.src = s.frames[k]; change.src = s.changes[k];
      input.style.display = s.input ? "" : "none"; if (s.input) inputImg.src = s.input;
    }
  }
  function pick() { slider.max = samples[+sel.value].frames.length - 1; slider.value = 0; show(); }
  sel.addEventListener("change", pick);
  slider.addEventListener("input", show);
  pick();
  // Whether x is shown beside h: the input image loaded, or the table's x column filled.
  function showsX() {
    var s = samples[+sel.value];
    if (s.values.length) return cells.rows.length > 1 && cells.rows[1].cells[1].textContent !== "";
    return inputImg.complete && inputImg.naturalWidth > 0;
  }
  gaxViewers.push({ slider: slider, status: status, samples: samples.length, showsX: showsX });
}
window.addEventListener("load", function () {
  if (location.hash !== "#selftest") return;
  var out = { errors: gaxErrors, viewers: [] };
  gaxViewers.forEach(function (v) {
    var before = v.status.textContent;
    v.slider.value = v.slider.max; v.slider.dispatchEvent(new Event("input"));
    out.viewers.push({ before: before, after: v.status.textContent, max: +v.slider.max, samples: v.samples, x: v.showsX() });
  });
  var images = Array.prototype.slice.call(document.images);
  out.images = images.length;
  out.broken_images = images.filter(function (i) { return i.complete && i.naturalWidth === 0 && i.getAttribute("src"); }).map(function (i) { return i.getAttribute("src"); });
  var pre = document.createElement("pre"); pre.id = "selftest-result"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
"##;

/// Links to the files of the run (see `report::artefacts`), the first `MAX_ARTEFACTS` of them;
/// `complete` is false when the folder was too big to look through whole.
pub fn artefacts(files: &[(String, u64)], complete: bool) -> String {
    const MAX_ARTEFACTS: usize = 200;
    let size = |bytes: u64| match bytes {
        0 => String::new(),
        b if b < 1 << 10 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    };
    let mut s =
        String::from("<h2>Files of this run</h2>\n<table><tr><th>file</th><th>size</th></tr>\n");
    for (name, bytes) in files.iter().take(MAX_ARTEFACTS) {
        s.push_str(&format!(
            "<tr><td><a href=\"{0}\">{0}</a></td><td>{1}</td></tr>\n",
            esc(name),
            size(*bytes)
        ));
    }
    s.push_str("</table>\n");
    if files.len() > MAX_ARTEFACTS {
        s.push_str(&format!(
            "<p class=n>and {} more files in this folder.</p>\n",
            files.len() - MAX_ARTEFACTS
        ));
    }
    if !complete {
        s.push_str("<p class=n>The folder holds more files than a report looks through.</p>\n");
    }
    s
}

pub fn page(title: &str, r: &RunRecord, body: &str) -> String {
    let mut rec = String::new();
    rec.push_str(&format!(
        "<table><tr><td>script</td><td>{}</td></tr><tr><td>started</td><td>{}</td></tr><tr><td>seed</td><td>{}</td></tr>\
         <tr><td>gaxsh</td><td>{}</td></tr><tr><td>threads</td><td>{}</td></tr>",
        esc(&r.script),
        esc(&r.started),
        r.seed,
        esc(&r.gaxsh_version),
        r.threads
    ));
    for (k, v) in &r.options {
        let v = serde_yaml::to_string(v).unwrap_or_default();
        rec.push_str(&format!(
            "<tr><td>--{}</td><td>{}</td></tr>",
            esc(k),
            esc(v.trim())
        ));
    }
    for (k, v) in &r.settings {
        rec.push_str(&format!("<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v)));
    }
    if let Some(commit) = &r.commit {
        rec.push_str(&format!(
            "<tr><td>gaxsh commit</td><td>{}</td></tr>",
            esc(commit)
        ));
    }
    // Checksums of everything read, so a reader can tell whether their data is the same.
    for (path, sum) in &r.inputs {
        rec.push_str(&format!(
            "<tr><td>input</td><td>{}<br><span class=n>{}</span></td></tr>",
            esc(path),
            esc(sum)
        ));
    }
    rec.push_str("</table>\n");
    for d in &r.data {
        rec.push_str(&format!(
            "<p><b>data</b> {}<br>{}</p>\n",
            esc(&d.source),
            d.steps
                .iter()
                .map(|s| esc(s))
                .collect::<Vec<_>>()
                .join("<br>")
        ));
    }
    for n in r
        .notes
        .iter()
        .chain(r.data.iter().flat_map(|d| d.notes.iter()))
    {
        rec.push_str(&format!("<p class=note>Note: {}</p>\n", esc(n)));
    }
    let paper = format!(
        "The AX process, CO and GAX are from {} (<a href=\"{link}\">{link}</a>; the authors' code: <a href=\"{code}\">{code}</a>).",
        esc(super::PAPER.citation),
        link = super::PAPER.link,
        code = super::PAPER.code,
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>{STYLE}</style>\n<script>{SCRIPT}</script></head>\n<body>\n<h1>{t}</h1>\n<h2>Run record</h2>\n{rec}{body}\n<p class=n>Made by gaxsh {v}. The run record is also in run.yaml; <code>gaxsh rerun run.yaml</code> repeats the run. {paper}</p>\n</body></html>\n",
        t = esc(title),
        v = esc(&r.gaxsh_version),
        paper = paper,
    )
}
