//! The data-set formats and one entry point over them.
//!
//! A data set is named `FORMAT:PATH` ([`FormatSpec`]):
//!
//! | spec | reads |
//! |---|---|
//! | `manifest:DIR` or `manifest:FILE` | our JSONL manifest (`DIR/manifest.jsonl`) |
//! | `rewardedit20k:JSON` or `rewardedit20k:JSON,IP2P_ROOT` | the authors' reward JSON; sample folders under `IP2P_ROOT` (default: the JSON's folder) |
//! | `imagefolder:DIR` | diffusers' `DIR/metadata.jsonl` image folder |
//! | `real-edit:DIR` | the Real-Edit benchmark (`DIR/instructions.json`, `DIR/imgs/`) |
//!
//! [`check`] reads a whole data set, opens every image it references, and reports counts per
//! edit type and every bad item.

pub mod imagefolder;
pub mod real_edit;
pub mod rewardedit20k;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::image_io::{ImageLimits, load_image, probe};
use crate::manifest::{MANIFEST_FILE, ManifestReader};
use crate::{EditExample, EditType, Error, Result};

pub use imagefolder::{ImageFolderReader, METADATA_FILE, write_imagefolder};
pub use real_edit::{EditRequest, read_real_edit};
pub use rewardedit20k::{read_rewardedit20k, write_rewardedit20k};

/// The four data-set formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Manifest,
    RewardEdit20k,
    ImageFolder,
    RealEdit,
}

impl Format {
    pub const ALL: [Format; 4] =
        [Format::Manifest, Format::RewardEdit20k, Format::ImageFolder, Format::RealEdit];

    /// The name used in `FORMAT:PATH`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Manifest => "manifest",
            Format::RewardEdit20k => "rewardedit20k",
            Format::ImageFolder => "imagefolder",
            Format::RealEdit => "real-edit",
        }
    }

    /// What one item of this format is called in reports.
    pub fn item_noun(self) -> &'static str {
        match self {
            Format::RealEdit => "instructions",
            _ => "examples",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A data set on disk, parsed from `FORMAT:PATH` (see the module docs). Folders are resolved
/// to the files inside them when parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatSpec {
    /// The manifest file.
    Manifest { path: PathBuf },
    /// The reward JSON and the InstructPix2Pix root its keys are relative to.
    RewardEdit20k { json: PathBuf, ip2p_root: PathBuf },
    /// The folder holding `metadata.jsonl`.
    ImageFolder { dir: PathBuf },
    /// The folder holding `instructions.json` and `imgs/`.
    RealEdit { dir: PathBuf },
}

impl FormatSpec {
    pub fn format(&self) -> Format {
        match self {
            FormatSpec::Manifest { .. } => Format::Manifest,
            FormatSpec::RewardEdit20k { .. } => Format::RewardEdit20k,
            FormatSpec::ImageFolder { .. } => Format::ImageFolder,
            FormatSpec::RealEdit { .. } => Format::RealEdit,
        }
    }
}

impl FromStr for FormatSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        let names = Format::ALL.map(Format::name).join(", ");
        let fail = |reason: String| Error::Spec { spec: spec.into(), reason };
        let (format, path) = spec
            .split_once(':')
            .ok_or_else(|| fail(format!("expected FORMAT:PATH with FORMAT one of {names}")))?;
        if path.trim().is_empty() {
            return Err(fail("the path after ':' is empty".into()));
        }
        let format = Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(format.trim()))
            .ok_or_else(|| fail(format!("unknown format {format:?}; expected one of {names}")))?;
        let p = PathBuf::from(path);
        Ok(match format {
            Format::Manifest => {
                FormatSpec::Manifest { path: if p.is_dir() { p.join(MANIFEST_FILE) } else { p } }
            }
            Format::RewardEdit20k => {
                // A comma separates the InstructPix2Pix root, unless the whole text names a file.
                let (json, root) = match path.split_once(',') {
                    Some((json, root)) if !p.is_file() => {
                        (PathBuf::from(json), PathBuf::from(root))
                    }
                    _ => {
                        let root = p.parent().map(Path::to_path_buf).unwrap_or_default();
                        (p, root)
                    }
                };
                FormatSpec::RewardEdit20k {
                    json,
                    ip2p_root: if root.as_os_str().is_empty() { ".".into() } else { root },
                }
            }
            Format::ImageFolder => FormatSpec::ImageFolder { dir: folder_of(p, METADATA_FILE) },
            Format::RealEdit => {
                FormatSpec::RealEdit { dir: folder_of(p, real_edit::INSTRUCTIONS_FILE) }
            }
        })
    }
}

impl fmt::Display for FormatSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatSpec::Manifest { path } => write!(f, "manifest:{}", path.display()),
            FormatSpec::RewardEdit20k { json, ip2p_root } => {
                write!(f, "rewardedit20k:{},{}", json.display(), ip2p_root.display())
            }
            FormatSpec::ImageFolder { dir } => write!(f, "imagefolder:{}", dir.display()),
            FormatSpec::RealEdit { dir } => write!(f, "real-edit:{}", dir.display()),
        }
    }
}

/// The folder of a layout given either as the folder or as its index file.
fn folder_of(p: PathBuf, index_file: &str) -> PathBuf {
    match p.parent() {
        Some(parent) if p.file_name().is_some_and(|n| n == index_file) && p.is_file() => {
            parent.to_path_buf()
        }
        _ => p,
    }
}

/// Streams the examples of any format but Real-Edit (which has requests, not triplets: use
/// [`read_real_edit`]). Image paths are usable as they are: manifest paths are joined to the
/// manifest's folder. Each bad item is an `Err` naming its file and line or entry.
pub fn read_examples(spec: &FormatSpec) -> Result<Box<dyn Iterator<Item = Result<EditExample>>>> {
    Ok(match spec {
        FormatSpec::Manifest { path } => {
            let reader = ManifestReader::open(path)?;
            let base = reader.base_dir().to_path_buf();
            Box::new(reader.map(move |r| r.map(|e| resolve(e, &base))))
        }
        FormatSpec::RewardEdit20k { json, ip2p_root } => {
            Box::new(read_rewardedit20k(json, ip2p_root)?)
        }
        FormatSpec::ImageFolder { dir } => Box::new(ImageFolderReader::open(dir)?),
        FormatSpec::RealEdit { .. } => {
            return Err(Error::Spec {
                spec: spec.to_string(),
                reason: "Real-Edit holds edit requests without edited images; read it with \
                         read_real_edit"
                    .into(),
            });
        }
    })
}

fn resolve(mut e: EditExample, base: &Path) -> EditExample {
    e.source = base.join(&e.source);
    e.edited = base.join(&e.edited);
    e.target = e.target.map(|t| base.join(t));
    e.mask = e.mask.map(|m| base.join(m));
    e
}

/// How [`check`] treats problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// List bad items in the report and go on, instead of failing on the first.
    pub skip_bad: bool,
    /// Decode every image fully (catches truncated and corrupt files). Off: read headers only
    /// (catches missing, non-image and oversized files; much faster on large sets).
    pub verify_images: bool,
    /// Size limits applied to every image.
    pub limits: ImageLimits,
}

impl Default for CheckOptions {
    /// Fail on the first bad item; fully decode images, since a check is run to find bad files.
    fn default() -> Self {
        CheckOptions { skip_bad: false, verify_images: true, limits: ImageLimits::default() }
    }
}

/// An item that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadItem {
    /// The file and line or entry of the item.
    pub location: String,
    /// What is wrong, naming the faulty file where it is an image.
    pub reason: String,
}

impl fmt::Display for BadItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

impl From<Error> for BadItem {
    fn from(e: Error) -> Self {
        let (location, reason) = match e {
            Error::Io { path, source } => (path.display().to_string(), source.to_string()),
            Error::Image { path, reason } => (path.display().to_string(), reason),
            Error::Record { path, line, reason } => (format!("{}:{line}", path.display()), reason),
            Error::Entry { path, key, reason } => {
                (format!("{} entry {key:?}", path.display()), reason)
            }
            Error::BadItem { location, reason } => (location, reason),
            other => (String::new(), other.to_string()),
        };
        BadItem { location, reason }
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub format: Format,
    /// Usable items (examples, or Real-Edit instructions) whose images all passed.
    pub items: usize,
    /// Distinct image files that passed.
    pub images: usize,
    /// Usable items per edit type; all seven types are present, possibly with 0.
    pub per_type: BTreeMap<EditType, usize>,
    /// Items left out, each with its reason (only with `skip_bad`; otherwise the first is an
    /// error).
    pub bad: Vec<BadItem>,
}

impl fmt::Display for CheckReport {
    /// The summary `rewardedit data check` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} images, {} {}",
            self.format,
            self.images,
            self.items,
            self.format.item_noun()
        )?;
        for (t, n) in &self.per_type {
            writeln!(f, "  {:<11}{n:>7}", t.name())?;
        }
        writeln!(f, "{} bad items", self.bad.len())?;
        for b in &self.bad {
            writeln!(f, "  {b}")?;
        }
        Ok(())
    }
}

/// An item of any format, as `check` sees it.
struct Entry {
    location: String,
    edit_type: EditType,
    images: Vec<PathBuf>,
}

fn entries(spec: &FormatSpec) -> Result<Box<dyn Iterator<Item = Result<Entry>>>> {
    if let FormatSpec::RealEdit { dir } = spec {
        let file = dir.join(real_edit::INSTRUCTIONS_FILE);
        return Ok(Box::new(read_real_edit(dir)?.map(move |r| {
            r.map(|q| Entry {
                location: format!("{} entry {:?}", file.display(), q.id),
                edit_type: q.edit_type,
                images: vec![q.image],
            })
        })));
    }
    let origin = spec.to_string();
    Ok(Box::new(read_examples(spec)?.map(move |r| {
        r.map(|e| Entry {
            location: format!("{origin} example {:?}", e.id),
            edit_type: e.edit_type,
            images: [Some(e.source), Some(e.edited), e.target, e.mask]
                .into_iter()
                .flatten()
                .collect(),
        })
    })))
}

/// Reads a whole data set and opens every image it references (each once). Bad items (a
/// malformed line or entry; a missing, truncated, non-image or oversized image) fail the check
/// with [`Error::BadItem`] naming the item and the file, or with `skip_bad` are left out and
/// listed in the report. A data set that cannot be opened at all is always an error.
pub fn check(spec: &FormatSpec, options: &CheckOptions) -> Result<CheckReport> {
    let mut report = CheckReport {
        format: spec.format(),
        items: 0,
        images: 0,
        per_type: EditType::ALL.into_iter().map(|t| (t, 0)).collect(),
        bad: Vec::new(),
    };
    // Per image: None when it passed, else the reason (an image shared by items is opened once).
    let mut seen: HashMap<PathBuf, Option<String>> = HashMap::new();
    for entry in entries(spec)? {
        let bad = match entry {
            Err(e) => BadItem::from(e),
            Ok(entry) => {
                let problems: Vec<String> = entry
                    .images
                    .iter()
                    .filter_map(|p| {
                        seen.entry(p.clone()).or_insert_with(|| verify(p, options)).clone()
                    })
                    .collect();
                if problems.is_empty() {
                    report.items += 1;
                    *report.per_type.entry(entry.edit_type).or_default() += 1;
                    continue;
                }
                BadItem { location: entry.location, reason: problems.join("; ") }
            }
        };
        if !options.skip_bad {
            return Err(Error::BadItem { location: bad.location, reason: bad.reason });
        }
        report.bad.push(bad);
    }
    report.images = seen.values().filter(|v| v.is_none()).count();
    Ok(report)
}

fn verify(path: &Path, options: &CheckOptions) -> Option<String> {
    let result = if options.verify_images {
        load_image(path, &options.limits).map(drop)
    } else {
        probe(path, &options.limits).map(drop)
    };
    result.err().map(|e| e.to_string())
}

/// Reads a JSON object file as its `(key, value)` entries in file order (serde_json's own map
/// would sort them). Fails if the file is unreadable or not one JSON object.
pub(crate) fn read_json_entries(path: &Path) -> Result<Vec<(String, serde_json::Value)>> {
    struct Entries(Vec<(String, serde_json::Value)>);
    impl<'de> Deserialize<'de> for Entries {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Entries;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<Entries, A::Error> {
                    let mut entries = Vec::new();
                    while let Some(entry) = map.next_entry()? {
                        entries.push(entry);
                    }
                    Ok(Entries(entries))
                }
            }
            d.deserialize_map(V)
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str::<Entries>(&text).map(|e| e.0).map_err(|e| Error::Record {
        path: path.into(),
        line: e.line(),
        reason: e.to_string(),
    })
}

/// `path` relative to `base` with `/` separators (as data files store paths); `None` when
/// it is not strictly inside `base` or not UTF-8.
pub(crate) fn slash_relative(base: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(base).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    parts.filter(|p| !p.is_empty()).map(|p| p.join("/"))
}
