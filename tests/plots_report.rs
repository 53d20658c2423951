//! Plots (what can be checked in pixels) and the HTML report in a real headless Chromium.

mod common;
use common::{session, skip};
use std::path::{Path, PathBuf};
use std::process::Command;

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gaxsh-plots-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rgb(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

fn run(src: &str) {
    let (mut s, _) = session();
    if let Err(e) = s.eval(src, "<test>") {
        panic!("{e}");
    }
}

#[test]
fn heatmap_colours_follow_the_colour_map() {
    let d = out_dir("hm");
    let p = d.join("h.png");
    // One channel: left half −1, right half +1, a white (0) stripe in the middle row.
    run(&format!(
        "let h = cat([full([1, 8, 4], -1.0), full([1, 8, 4], 1.0)], 2); heatmap(h, \"{}\", #{{title: \"test\"}});",
        p.display()
    ));
    let img = rgb(&p);
    assert!(
        img.width() > 224 && img.height() > 224,
        "{}x{}",
        img.width(),
        img.height()
    );
    // Panel starts at (16, 56), 8×8 cells scaled to 224 px (28 px per cell).
    assert_eq!(
        img.get_pixel(16 + 28, 56 + 100).0,
        [0, 0, 255],
        "−limit is pure blue"
    );
    assert_eq!(
        img.get_pixel(16 + 7 * 28, 56 + 100).0,
        [255, 0, 0],
        "+limit is pure red"
    );
    // Title text was drawn (dark pixels in the header).
    let dark = (0..img.width())
        .flat_map(|x| (0..30).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
        .count();
    assert!(dark > 50, "no title text");
}

#[test]
fn tabular_heatmap_and_charts_render_in_png_and_svg() {
    let d = out_dir("charts");
    let f = |n: &str| d.join(n).display().to_string();
    run(&format!(
        "seed(1); heatmap(tensor([1.0, -0.5, 0.0]), \"{}\", #{{names: [\"a\", \"b\", \"c\"]}}); \
         line(arange(20), #{{up: arange(20), down: -arange(20)}}, \"{}\", #{{title: \"lines\"}}); \
         scatter(randn([30]), randn([30]), \"{}\"); bar([\"x\", \"y\"], [1, 2], \"{}\"); \
         histogram(#{{a: randn([100]), b: randn([100]) + 2}}, 15, \"{}\"); \
         boxplot(#{{g1: randn([40]), g2: randn([40]) + 1}}, [], \"{}\");",
        f("strip.png"),
        f("lines.svg"),
        f("scatter.png"),
        f("bar.png"),
        f("hist.png"),
        f("box.png")
    ));
    let strip = rgb(&d.join("strip.png"));
    // Row cells at x = 150..270, rows of 22 px from y = 40: +1 red, −0.5 light blue, 0 white.
    assert_eq!(strip.get_pixel(200, 50).0, [255, 0, 0]);
    assert_eq!(strip.get_pixel(200, 72).0, [128, 128, 255]);
    assert_eq!(strip.get_pixel(200, 94).0, [255, 255, 255]);
    let svg = std::fs::read_to_string(d.join("lines.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("lines") && svg.contains("<polyline"),
        "{}",
        &svg[..200.min(svg.len())]
    );
    for n in ["scatter.png", "bar.png", "hist.png", "box.png"] {
        let img = rgb(&d.join(n));
        let coloured = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(
            coloured > 2000,
            "{n} is nearly blank ({coloured} coloured pixels)"
        );
    }
    // A wrong extension is an error naming the valid ones, and writes nothing.
    let (mut s, _) = session();
    let e = s
        .eval(&format!("bar([\"x\"], [1], \"{}\")", f("bad.jpg")), "<t>")
        .unwrap_err()
        .to_string();
    assert!(e.contains(".png, .svg"), "{e}");
    assert!(!d.join("bad.jpg").exists());
}

fn chromium() -> Option<String> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            return Some(c.to_string());
        }
    }
    skip(
        "GAXSH_REQUIRE_CHROMIUM",
        "no Chromium on this machine (CI installs Debian's chromium package)",
    );
    None
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn report_opens_in_chromium_and_the_gax_viewer_moves() {
    let d = out_dir("report");
    // A tabular sweep + GAX, and an image GAX run so the viewer shows PNG frames too.
    run(&format!(
        "seed(0); let b = load_drybean(); let n = b.standardize(); let t = b.split_mod3().test.map(n).shuffle().head(60); \
         let net = drybean_fpa(); net.fit(b.split_mod3().train.map(n).shuffle().head(400), #{{epochs: 1}}); \
         let tab = ax_sweep(net, t, #{{modes: [\"sum\", \"mult\"]}}); \
         gax(net, t.head(3), #{{max_steps: 12, similarity: 1.0, target_co: 1e9}}); \
         let cnn = model_from_yaml(\"name: tiny\\ninput: [3, 12, 12]\\nlayers:\\n  - conv2d: {{out: 4, kernel: 3}}\\n  - relu\\n  - avgpool\\n  - flatten\\n  - linear: {{out: 3}}\"); \
         gax(cnn, rand([2, 3, 12, 12]), #{{max_steps: 6, target_co: 1e9}}); \
         ax_sweep(cnn, dataset(rand([4, 3, 12, 12]), [0, 1, 2, 0], 3), #{{modes: [\"sum\"]}}); \
         boxplot_co(tab, \"{}\"); \
         report(\"{}\", #{{title: \"report test\", features: b.features}});",
        d.join("extra_box.png").display(),
        d.display()
    ));
    let index = d.join("index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(
        html.contains("Run record")
            && html.contains("Accuracy before and after AX")
            && html.contains("max softmax</th>")
            && html.contains("label margin</th>")
            && html.contains("ROC curves of CO"),
        "sections missing"
    );
    // The heatmap gallery: a strip per method for the tabular sweep (named features), overlays
    // for the image sweep; and the time of each stage.
    assert!(
        html.contains("Heatmap gallery")
            && html.contains("<table class=\"strip\">")
            && html.contains("<th>Area</th>")
            && html.contains("_gallery0_input.png")
            && html.contains("_gallery0_DeepLift.png"),
        "gallery missing"
    );
    assert!(
        html.contains("Time per stage")
            && html.contains("<td>GAX on 3 samples</td>")
            && html.contains("<td>AX sweep"),
        "time per stage missing"
    );
    // Nothing is fetched: no remote image, script, style or font (the paper's citation is a
    // plain link, followed only when clicked).
    assert!(
        !html.contains("src=\"http")
            && !html.contains("url(http")
            && !html.contains("<link")
            && !html.contains("@import"),
        "the report must not reach the network"
    );
    assert!(
        html.contains("href=\"https://arxiv.org/abs/2201.00009\""),
        "the paper is cited"
    );
    assert!(d.join("run.yaml").exists());
    let Some(browser) = chromium() else { return };
    // The page is one file: alone in an empty folder it still shows every figure.
    let alone = d.join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::copy(&index, alone.join("index.html")).unwrap();
    let index = alone.join("index.html");
    let out = headless(&browser, &d.join("profile"))
        .arg("--dump-dom")
        .arg(format!("file://{}#selftest", index.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"selftest-result\">").unwrap_or_else(|| {
        panic!(
            "no self-test result; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let json = &dom[start + 26..];
    let json = &json[..json.find("</pre>").unwrap()];
    let v: serde_json::Value =
        serde_json::from_str(&json.replace("&quot;", "\"").replace("&amp;", "&")).unwrap();
    assert_eq!(
        v["errors"].as_array().unwrap().len(),
        0,
        "console errors: {v}"
    );
    assert_eq!(
        v["broken_images"].as_array().unwrap().len(),
        0,
        "broken images: {v}"
    );
    assert!(v["images"].as_u64().unwrap() >= 10, "figures missing: {v}");
    let viewers = v["viewers"].as_array().unwrap();
    assert_eq!(viewers.len(), 2, "{v}");
    // Every GAX sample can be picked: the tabular run had 3, the image run 2.
    let samples: Vec<u64> = viewers
        .iter()
        .map(|w| w["samples"].as_u64().unwrap())
        .collect();
    assert_eq!(samples, [3, 2], "{v}");
    for w in viewers {
        let (before, after) = (w["before"].as_str().unwrap(), w["after"].as_str().unwrap());
        assert!(before.starts_with("step: 0 CO: "), "{before}");
        assert!(
            after.starts_with("step: ") && !after.starts_with("step: 0 "),
            "the slider did not move: {after}"
        );
        assert_ne!(
            before.split("CO: ").nth(1),
            after.split("CO: ").nth(1),
            "the CO score did not change"
        );
        // x beside h: the tabular table's x column, the image run's input picture.
        assert_eq!(w["x"], true, "the viewer does not show x: {w}");
    }
    // A screenshot renders (non-blank).
    let shot = d.join("shot.png");
    let status = headless(&browser, &d.join("profile2"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,1600")
        .arg(format!("file://{}", index.display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "{}", String::from_utf8_lossy(&status.stderr));
    let img = rgb(&shot);
    assert!(img.pixels().filter(|p| p.0 != [255, 255, 255]).count() > 10_000);
}
