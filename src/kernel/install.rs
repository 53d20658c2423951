//! `gaxsh kernel install`: the kernelspec that lets Jupyter start gaxsh.

use super::KernelError;
use std::path::{Path, PathBuf};

/// Where the kernelspec goes.
pub enum InstallTarget {
    /// The user's Jupyter data folder (`~/.local/share/jupyter` on Linux).
    User,
    /// `PREFIX/share/jupyter` (a virtual environment's `sys.prefix`, a conda env…).
    Prefix(PathBuf),
}

/// Write `kernels/<name>/{kernel.json, logo-32x32.png, logo-64x64.png}` and return the folder.
pub fn install(target: &InstallTarget, name: &str) -> Result<PathBuf, KernelError> {
    let data = match target {
        InstallTarget::User => {
            jupyter_zmq_client::user_data_dir().map_err(|e| KernelError::Install {
                path: "the Jupyter data folder".into(),
                source: std::io::Error::other(e.to_string()),
            })?
        }
        InstallTarget::Prefix(p) => p.join("share").join("jupyter"),
    };
    let dir = data.join("kernels").join(name);
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(KernelError::Executable)?;
    let spec = serde_json::json!({
        "argv": [exe.display().to_string(), "kernel", "-f", "{connection_file}"],
        "display_name": "gaxsh (rhai)",
        "language": "rhai",
        // SIGINT reaches the same flag as Ctrl-C; interrupt_request works too.
        "interrupt_mode": "signal",
        "metadata": { "debugger": false },
    });
    let text = serde_json::to_string_pretty(&spec).expect("a JSON literal serialises");
    let fail = |path: &Path, e: crate::Error| KernelError::Install {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    };
    std::fs::create_dir_all(&dir).map_err(|source| KernelError::Install {
        path: dir.display().to_string(),
        source,
    })?;
    let json = dir.join("kernel.json");
    crate::io::write_atomic(&json, text.as_bytes()).map_err(|e| fail(&json, e))?;
    for size in [32u32, 64] {
        let logo = dir.join(format!("logo-{size}x{size}.png"));
        crate::plot::write_png(&logo, size, size, logo_pixels(size)).map_err(|e| fail(&logo, e))?;
    }
    Ok(dir)
}

/// The logo: a small saliency map, one positive and one negative blob in the paper's
/// blue-white-red colours.
fn logo_pixels(size: u32) -> Vec<u8> {
    let blob = |x: f64, y: f64, cx: f64, cy: f64, w: f64| {
        (-((x - cx).powi(2) + (y - cy).powi(2)) / w).exp()
    };
    let mut rgb = Vec::with_capacity((size * size * 3) as usize);
    for j in 0..size {
        for i in 0..size {
            let (x, y) = (
                (i as f64 + 0.5) / size as f64,
                (j as f64 + 0.5) / size as f64,
            );
            let h = blob(x, y, 0.62, 0.38, 0.05) - 0.8 * blob(x, y, 0.3, 0.7, 0.03);
            rgb.extend(crate::plot::colormap::bwr((h + 1.0) / 2.0));
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernelspec_names_this_executable_and_the_language() {
        let prefix = std::env::temp_dir().join(format!("gaxsh-kspec-{}", std::process::id()));
        let dir = install(&InstallTarget::Prefix(prefix.clone()), "gaxsh-test").unwrap();
        assert_eq!(dir, prefix.join("share/jupyter/kernels/gaxsh-test"));
        let spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("kernel.json")).unwrap())
                .unwrap();
        assert_eq!(spec["display_name"], "gaxsh (rhai)");
        assert_eq!(spec["language"], "rhai");
        let argv: Vec<&str> = spec["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(&argv[1..], ["kernel", "-f", "{connection_file}"]);
        assert!(Path::new(argv[0]).is_absolute());
        let logo = image::open(dir.join("logo-64x64.png")).unwrap();
        assert_eq!((logo.width(), logo.height()), (64, 64));
        std::fs::remove_dir_all(&prefix).ok();
    }
}
