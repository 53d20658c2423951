//! Image datasets on disk: class folders (`<root>/<Label>/[images/]*.png|jpg|jpeg|bmp`, the
//! COVID-19 Radiography and Kermany chest X-ray layouts) and ImageNet-style list files
//! (`path, label` per line). Files are decoded only when a batch asks for them, by a small pool
//! of threads, so memory stays bounded by the batch size, not the dataset size.

use super::{Dataset, Provenance, Storage};
use crate::error::{Error, Result};
use crate::tensor::resize::bilinear_plane;
use candle_core::Tensor;
use serde::Serialize;
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// How grey images are made from colour ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gray {
    /// The mean of R, G, B (what the paper's COVID loader does with `np.mean`).
    Mean,
    /// ITU-R 601 luma (PIL's `convert("L")`).
    Luma,
}

impl Gray {
    pub fn parse(s: &str) -> Result<Gray> {
        match s {
            "mean" => Ok(Gray::Mean),
            "luma" => Ok(Gray::Luma),
            other => Err(Error::unknown("gray mode", other, &["mean", "luma"])),
        }
    }
}

crate::options! {
    /// The options of the image loaders (`image_folder`, `image_list`, `load_image`); each
    /// takes those that concern it.
    pub struct ImageOptions {
        "size" => size: Option<(usize, usize)> = None; Ints, "the file's", "resize to size × size, or [height, width] (PyTorch's bilinear)", |v| Some(side_pair(&v)?);
        "channels" => channels: Option<usize> = None; Int, "1 for image_folder (X-rays), 3 otherwise", "1 (grey) or 3 (RGB)", |v| Some(v.usize()?);
        "gray" => gray: Gray = Gray::Mean; Text, "\"mean\"", "how colour becomes grey: mean of R, G, B (the paper's loader) or luma (PIL's)", |v| Gray::parse(&v.text()?)?;
        "classes" => classes: Option<Vec<String>> = None; Texts, "every sub-folder, sorted", "image_folder: the class folders in index order", |v| Some(v.texts()?);
        "synsets" => synsets: Option<std::path::PathBuf> = None; Text, "none", "image_list: synset_words.txt, naming the classes", |v| Some(v.text()?.into());
        "workers" => workers: usize = 2; Int, "2", "decoding threads", |v| v.usize()?;
    }
}

fn side_pair(v: &crate::options::Given) -> Result<(usize, usize)> {
    let sides = match v.value {
        crate::options::Value::List(_) => v.usizes()?,
        _ => vec![v.usize()?],
    };
    match sides[..] {
        [n] => Ok((n, n)),
        [h, w] => Ok((h, w)),
        _ => Err(Error::invalid("size: give one number or [height, width]")),
    }
}

impl ImageOptions {
    /// The decoding spec, `channels` defaulting to the loader's.
    pub fn spec(&self, default_channels: usize) -> ImageSpec {
        ImageSpec {
            channels: self.channels.unwrap_or(default_channels),
            size: self.size,
            gray: self.gray,
        }
    }

    /// A folder's or list's options, `channels` defaulting to the loader's.
    pub fn folder(&self, default_channels: usize) -> FolderOptions {
        FolderOptions {
            classes: self.classes.clone(),
            spec: self.spec(default_channels),
            workers: self.workers,
        }
    }
}

/// How each file becomes a (C, H, W) float tensor in [0, 1].
#[derive(Clone, Debug, Serialize)]
pub struct ImageSpec {
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Resize to (H, W) with PyTorch's bilinear (half-pixel, no antialias); `None` keeps the size
    /// (then every image must have the same size).
    pub size: Option<(usize, usize)>,
    pub gray: Gray,
}

impl ImageSpec {
    pub fn sample_shape(&self) -> Vec<usize> {
        match self.size {
            Some((h, w)) => vec![self.channels, h, w],
            None => vec![self.channels, 0, 0],
        }
    }
}

/// One image file as a (1, channels, H, W) f32 tensor in [0, 1] on the current device.
pub fn load_image(path: &Path, spec: &ImageSpec) -> Result<Tensor> {
    let (v, h, w) = decode(path, spec)?;
    let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
    Ok(Tensor::from_vec(
        v,
        (1, spec.channels, h, w),
        &crate::device::current(),
    )?)
}

/// A list of image files and how to decode them.
#[derive(Clone, Debug)]
pub struct ImageFiles {
    pub paths: Vec<PathBuf>,
    pub spec: ImageSpec,
    /// Decoding threads per batch.
    pub workers: usize,
}

/// Decoded pixels (channel planes, row-major) with their height and width.
pub type Decoded = (Vec<f64>, usize, usize);

/// Decode one file into `channels` planes of f64 in [0, 1], resized if asked.
pub fn decode(path: &Path, spec: &ImageSpec) -> Result<Decoded> {
    spec.check()?;
    let bytes = crate::limits::read_file(path)?;
    let bad = |e: image::ImageError| {
        Error::bad_file(
            path,
            format!("cannot decode image (corrupt, truncated or too large?): {e}"),
        )
    };
    // A small file may declare an enormous image (a decompression bomb): the decoder is told the
    // largest size and allocation it may make, and the decoded planes are checked too.
    let mut reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE as u32);
    limits.max_image_height = Some(MAX_SIDE as u32);
    limits.max_alloc = Some(crate::limits::budget());
    reader.limits(limits.clone());
    let (w0, h0) = reader.into_dimensions().map_err(bad)?;
    crate::limits::shape(
        &path.display().to_string(),
        &[spec.channels.max(3), h0 as usize, w0 as usize],
        8,
    )?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    reader.limits(limits);
    let img = reader.decode().map_err(bad)?;
    let rgb = img.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let px = rgb.as_raw();
    let mut planes: Vec<Vec<f64>> = match spec.channels {
        3 => (0..3)
            .map(|c| (0..h * w).map(|i| px[3 * i + c] as f64 / 255.0).collect())
            .collect(),
        1 => {
            let g: Vec<f64> = (0..h * w)
                .map(|i| {
                    let (r, g, b) = (px[3 * i] as f64, px[3 * i + 1] as f64, px[3 * i + 2] as f64);
                    match spec.gray {
                        Gray::Mean => (r + g + b) / 3.0 / 255.0,
                        Gray::Luma => (0.299 * r + 0.587 * g + 0.114 * b) / 255.0,
                    }
                })
                .collect();
            vec![g]
        }
        n => {
            return Err(Error::invalid(format!(
                "images have 1 or 3 channels, not {n}"
            )));
        }
    };
    let (oh, ow) = spec.size.unwrap_or((h, w));
    if (oh, ow) != (h, w) {
        planes = planes
            .iter()
            .map(|p| bilinear_plane(p, h, w, oh, ow))
            .collect();
    }
    Ok((planes.concat(), oh, ow))
}

impl ImageFiles {
    /// Decode `len` files from `start` into an (len, C, H, W) f32 tensor.
    pub fn load(&self, start: usize, len: usize) -> Result<Tensor> {
        let mut dims = self.spec.sample_shape();
        dims.insert(0, len);
        crate::limits::shape("decoding images", &dims, 4)?;
        let paths = &self.paths[start..start + len];
        let workers = self.workers.clamp(1, 8).min(len.max(1));
        let chunk = len.div_ceil(workers).max(1);
        let results: Vec<Result<Vec<Decoded>>> = std::thread::scope(|s| {
            let handles: Vec<_> = paths
                .chunks(chunk)
                .map(|ps| {
                    s.spawn(move || {
                        ps.iter()
                            .map(|p| {
                                crate::interrupt::check()?;
                                decode(p, &self.spec)
                            })
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::invalid("image decoder thread panicked")))
                })
                .collect()
        });
        let mut data: Vec<f32> = Vec::new();
        let mut hw: Option<(usize, usize)> = None;
        let mut i = start;
        for r in results {
            for (v, h, w) in r? {
                match hw {
                    None => hw = Some((h, w)),
                    Some(s) if s != (h, w) => {
                        return Err(Error::bad_file(
                            &self.paths[i],
                            format!(
                                "image is {h}×{w} but earlier ones are {}×{}; give a size to resize to",
                                s.0, s.1
                            ),
                        ));
                    }
                    _ => {}
                }
                data.extend(v.into_iter().map(|x| x as f32));
                i += 1;
            }
        }
        let (h, w) = hw.unwrap_or((0, 0));
        Ok(Tensor::from_vec(
            data,
            (len, self.spec.channels, h, w),
            &crate::device::current(),
        )?)
    }

    pub fn subset(&self, idx: &[usize]) -> ImageFiles {
        ImageFiles {
            paths: idx.iter().map(|&i| self.paths[i].clone()).collect(),
            spec: self.spec.clone(),
            workers: self.workers,
        }
    }
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    // Bytewise order: the same on every filesystem (os.listdir order is not).
    v.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    Ok(v)
}

/// The largest image side read or resized to, in pixels.
pub const MAX_SIDE: usize = 32_768;

impl ImageSpec {
    /// Check a requested size before any image is read.
    pub fn check(&self) -> Result<()> {
        if self.channels != 1 && self.channels != 3 {
            return Err(Error::invalid(format!(
                "images have 1 or 3 channels, not {}",
                self.channels
            )));
        }
        if let Some((h, w)) = self.size {
            if h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE {
                return Err(Error::invalid(format!(
                    "image size {h}×{w}: each side must be 1 to {MAX_SIDE} pixels"
                )));
            }
            crate::limits::shape("image size", &[self.channels, h, w], 8)?;
        }
        Ok(())
    }
}

/// Options of [`image_folder`].
#[derive(Clone, Debug)]
pub struct FolderOptions {
    /// Class folders in index order; `None` = every sub-folder, sorted.
    pub classes: Option<Vec<String>>,
    pub spec: ImageSpec,
    pub workers: usize,
}

/// `<root>/<Label>/[images/]*.{png,jpg,jpeg,bmp}`, files sorted bytewise within each class.
pub fn image_folder(root: &Path, opts: &FolderOptions) -> Result<Dataset> {
    crate::io::noted(root, read_folder(root, opts))
}

fn read_folder(root: &Path, opts: &FolderOptions) -> Result<Dataset> {
    if !root.is_dir() {
        return Err(Error::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        ));
    }
    opts.spec.check()?;
    let mut found: Vec<String> = Vec::new();
    for p in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
        let Some(name) = p.file_name() else { continue };
        match name.to_str() {
            Some(n) => found.push(n.to_string()),
            None => {
                return Err(Error::bad_file(
                    &p,
                    format!(
                        "the label folder name '{}' is not valid UTF-8; rename it (class names are text)",
                        name.to_string_lossy()
                    ),
                ));
            }
        }
    }
    let classes = match &opts.classes {
        Some(c) => {
            for name in c {
                if !found.contains(name) {
                    return Err(Error::bad_file(
                        root,
                        format!(
                            "no label folder '{name}'; folders found: {}",
                            found.join(", ")
                        ),
                    ));
                }
            }
            c.clone()
        }
        None => found,
    };
    if classes.is_empty() {
        return Err(Error::bad_file(
            root,
            "no label folders (expected <root>/<Label>/*.png …)",
        ));
    }
    let mut paths = Vec::new();
    let mut y = Vec::new();
    for (k, c) in classes.iter().enumerate() {
        crate::interrupt::check()?;
        let dir = root.join(c);
        let dir = if dir.join("images").is_dir() {
            dir.join("images")
        } else {
            dir
        };
        let files: Vec<PathBuf> = sorted_entries(&dir)?
            .into_iter()
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        if files.is_empty() {
            return Err(Error::bad_file(
                &dir,
                "no images (.png, .jpg, .jpeg, .bmp) in this label folder",
            ));
        }
        y.extend(std::iter::repeat_n(k, files.len()));
        paths.extend(files);
    }
    Ok(files_dataset(root, paths, y, classes, opts, "image folder"))
}

/// An ImageNet-style list file: `relative/path.JPEG, label` per line (labels are class indices).
pub fn image_list(
    list: &Path,
    class_names: Option<Vec<String>>,
    opts: &FolderOptions,
) -> Result<Dataset> {
    opts.spec.check()?;
    let text = String::from_utf8(crate::limits::read_file(list)?)
        .map_err(|_| Error::bad_file(list, "not a text file (invalid UTF-8)"))?;
    let base = list.parent().unwrap_or(Path::new("."));
    let mut paths = Vec::new();
    let mut y = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if i % 4096 == 0 {
            crate::interrupt::check()?;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (p, l) = line
            .rsplit_once([',', ' ', '\t'])
            .ok_or_else(|| Error::Parse {
                path: list.into(),
                line: i + 1,
                column: None,
                msg: format!("expected 'path, label', got '{line}'"),
            })?;
        let label: usize = l.trim().parse().map_err(|_| Error::Parse {
            path: list.into(),
            line: i + 1,
            column: None,
            msg: format!("label '{}' is not a class index", l.trim()),
        })?;
        paths.push(base.join(p.trim().trim_end_matches(',')));
        y.push(label);
    }
    if paths.is_empty() {
        return Err(Error::bad_file(list, "the list names no images"));
    }
    let n_classes = y.iter().max().map(|m| m + 1).unwrap_or(0);
    let classes = match class_names {
        Some(c) if c.len() >= n_classes => c,
        Some(c) => {
            return Err(Error::bad_file(
                list,
                format!(
                    "labels go up to {} but only {} class names were given",
                    n_classes - 1,
                    c.len()
                ),
            ));
        }
        None => (0..n_classes).map(|i| i.to_string()).collect(),
    };
    // Inputs of the run (`run.yaml`), now that the list has loaded.
    crate::io::note_input(list);
    paths.iter().for_each(|p| crate::io::note_input(p));
    Ok(files_dataset(list, paths, y, classes, opts, "image list"))
}

fn files_dataset(
    source: &Path,
    paths: Vec<PathBuf>,
    y: Vec<usize>,
    classes: Vec<String>,
    opts: &FolderOptions,
    kind: &str,
) -> Dataset {
    let n = paths.len();
    Dataset {
        ids: paths.iter().map(|p| p.display().to_string()).collect(),
        storage: Storage::Files(ImageFiles {
            paths,
            spec: opts.spec.clone(),
            workers: opts.workers,
        }),
        y,
        feature_names: vec![],
        transform: None,
        provenance: Provenance {
            source: source.display().to_string(),
            steps: vec![format!(
                "{kind}: {n} images, {} classes ({}), {} channel(s){}",
                classes.len(),
                classes.join(", "),
                opts.spec.channels,
                opts.spec
                    .size
                    .map(|(h, w)| format!(", resized to {h}×{w} (bilinear, no antialias)"))
                    .unwrap_or_default()
            )],
            notes: vec![],
        },
        class_names: classes,
    }
}

/// ImageNet class names from `synset_words.txt` (`n01440764 tench, Tinca tinca` per line).
pub fn synset_names(path: &Path) -> Result<Vec<String>> {
    let text = crate::limits::read_text(path)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_once(' ')
                .map(|(_, n)| n.split(',').next().unwrap_or(n).trim().to_string())
                .unwrap_or_else(|| l.to_string())
        })
        .collect())
}
