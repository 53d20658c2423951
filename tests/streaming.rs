//! Image folders stream: peak memory does not grow with the number of images.

use std::process::Command;

fn peak_mb_for(n: usize) -> f64 {
    let root = std::env::temp_dir().join(format!("gaxsh-stream-{}-{n}", std::process::id()));
    let class = root.join("A");
    std::fs::create_dir_all(&class).unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/chest_xray/test/NORMAL/IM-0001-0001.jpeg");
    for i in 0..n {
        std::fs::copy(&src, class.join(format!("{i:05}.jpeg"))).unwrap();
    }
    let script = format!(
        "let d = image_folder(\"{}\", #{{size: 256, channels: 1}}); \
         let s = 0.0; for i in 0..(d.len() / 16) {{ s += d.batch(i * 16, 16).mean().item(); }} \
         print(s / (d.len() / 16)); peak_memory_mb()",
        root.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .args(["-e", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let mean: f64 = lines.next().unwrap().parse().unwrap();
    assert!(mean > 0.1 && mean < 0.9, "mean pixel {mean}");
    let _ = std::fs::remove_dir_all(&root);
    lines.next().unwrap().parse().unwrap()
}

#[test]
fn peak_memory_is_independent_of_the_number_of_images() {
    let small = peak_mb_for(64);
    let large = peak_mb_for(640);
    eprintln!("peak RSS: 64 images {small:.1} MiB, 640 images {large:.1} MiB");
    // Loading all 640 decoded images at 256×256 f32 would add about 160 MiB.
    assert!(
        large - small < 20.0,
        "peak grew from {small:.1} to {large:.1} MiB"
    );
}
