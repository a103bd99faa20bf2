//! Every data-set format round-trips, the real Real-Edit folder checks out as 80 images and
//! 560 instructions, and bad items fail the check or are listed, never dropped silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use rewardedit_core::formats::{
    CheckOptions, EditRequest, Format, FormatSpec, ImageFolderReader, check, read_examples,
    read_real_edit, read_rewardedit20k, write_imagefolder, write_rewardedit20k,
};
use rewardedit_core::image_io::save_png;
use rewardedit_core::manifest::{MANIFEST_FILE, ManifestWriter};
use rewardedit_core::{AxisScore, EditExample, EditType, Error, Reward, classify_instruction};
use serde_json::json;

/// `$REWARDEDIT_REAL_EDIT`, else `shared/real-edit` in the nearest folder above the crate that has
/// one (`../shared` from the main checkout, further up from a worktree), as the eval crate finds it.
fn real_edit_dir() -> PathBuf {
    std::env::var_os("REWARDEDIT_REAL_EDIT").map(PathBuf::from).unwrap_or_else(|| {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let found = crate_dir.ancestors().map(|a| a.join("shared/real-edit")).find(|d| d.is_dir());
        found.expect("Real-Edit not found: set REWARDEDIT_REAL_EDIT to its folder")
    })
}

fn spec(s: &str) -> FormatSpec {
    s.parse().unwrap()
}

fn skip_bad() -> CheckOptions {
    CheckOptions { skip_bad: true, ..CheckOptions::default() }
}

/// Busy enough that a JPEG's scan data outweighs its headers, so cutting its tail keeps them.
fn image(seed: u8) -> RgbImage {
    RgbImage::from_fn(64, 48, |x, y| Rgb([seed, (x * 4) as u8, ((x ^ y) * 8) as u8]))
}

fn jpeg(path: &Path, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image(seed).save_with_format(path, image::ImageFormat::Jpeg).unwrap();
}

fn truncate(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() * 2 / 3]).unwrap();
}

// ---------------------------------------------------------------- Real-Edit

#[test]
fn real_edit_has_80_images_and_560_instructions_80_per_type() {
    let dir = real_edit_dir();
    let requests: Vec<EditRequest> =
        read_real_edit(&dir).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(requests.len(), 560);
    let first = &requests[0];
    assert_eq!(first.id, "10.jpeg#1");
    assert_eq!(first.image, dir.join("imgs/10.jpeg"));
    assert_eq!(first.edit_type, EditType::Local);
    assert_eq!(first.instruction, "Change the clothes of the person on the right to red.");
    let ids: std::collections::BTreeSet<_> = requests.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 560, "ids are unique");

    let report =
        check(&spec(&format!("real-edit:{}", dir.display())), &CheckOptions::default()).unwrap();
    assert_eq!((report.format, report.images, report.items), (Format::RealEdit, 80, 560));
    assert!(report.per_type.values().all(|&n| n == 80), "{:?}", report.per_type);
    assert!(report.bad.is_empty());
    let printed = report.to_string();
    assert!(printed.starts_with("real-edit: 80 images, 560 instructions\n"), "{printed}");
    assert!(printed.contains("Background"), "{printed}");
}

#[test]
fn the_keyword_classifier_mostly_agrees_with_real_edit_labels() {
    let requests: Vec<EditRequest> =
        read_real_edit(&real_edit_dir()).unwrap().map(Result::unwrap).collect();
    let mut per_type: BTreeMap<EditType, (usize, usize)> = BTreeMap::new();
    for r in &requests {
        let e = per_type.entry(r.edit_type).or_default();
        e.1 += 1;
        e.0 += usize::from(classify_instruction(&r.instruction) == r.edit_type);
    }
    let right: usize = per_type.values().map(|v| v.0).sum();
    let accuracy = right as f64 / requests.len() as f64;
    // Chance is 1/7; the test guards against a regression that makes it useless.
    assert!(accuracy > 0.85, "accuracy {accuracy:.2}, per type (right, total) {per_type:?}");
}

/// A two-image Real-Edit folder written by hand, as the benchmark's authors lay it out.
fn tiny_real_edit(dir: &Path, instructions_json: &str) {
    jpeg(&dir.join("imgs/a.jpeg"), 1);
    jpeg(&dir.join("imgs/b.jpeg"), 2);
    std::fs::write(dir.join("instructions.json"), instructions_json).unwrap();
}

#[test]
fn real_edit_round_trip_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    // Written as text: json! would sort the keys, and file order is what is tested.
    tiny_real_edit(
        dir.path(),
        r#"{
            "b.jpeg": ["1. Local: Make the cup blue.", "2. Remove Edit: Remove the spoon."],
            "a.jpeg": ["7. Style: Make it a pencil sketch."]
        }"#,
    );
    let got: Vec<EditRequest> = read_real_edit(dir.path()).unwrap().map(Result::unwrap).collect();
    let req = |id: &str, img: &str, instruction: &str, edit_type| EditRequest {
        id: id.into(),
        image: dir.path().join("imgs").join(img),
        instruction: instruction.into(),
        edit_type,
    };
    assert_eq!(
        got,
        [
            req("b.jpeg#1", "b.jpeg", "Make the cup blue.", EditType::Local),
            req("b.jpeg#2", "b.jpeg", "Remove the spoon.", EditType::Remove),
            req("a.jpeg#7", "a.jpeg", "Make it a pencil sketch.", EditType::Style),
        ]
    );
    let report = check(
        &spec(&format!("real-edit:{}/instructions.json", dir.path().display())),
        &CheckOptions::default(),
    )
    .unwrap();
    assert_eq!((report.images, report.items), (2, 3));
    assert_eq!(report.per_type[&EditType::Remove], 1);
    assert_eq!(report.per_type[&EditType::Add], 0);
}

#[test]
fn malformed_real_edit_entries_are_errors_or_listed() {
    let dir = tempfile::tempdir().unwrap();
    tiny_real_edit(
        dir.path(),
        &json!({
            "a.jpeg": ["1. Local: Make the cup blue.", "Remove the spoon.", "3. Recolor: Make it red."],
            "b.jpeg": "1. Add: Add a cat.",
            "c.jpeg": ["1. Add: Add a dog."]
        })
        .to_string(),
    );
    let s = spec(&format!("real-edit:{}", dir.path().display()));
    let err = check(&s, &CheckOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::BadItem { .. }));
    assert!(
        message.contains("\"a.jpeg#2\"") && message.contains("N. Type: instruction"),
        "{message}"
    );
    assert!(message.contains("--skip-bad"), "{message}");

    let report = check(&s, &skip_bad()).unwrap();
    assert_eq!((report.items, report.images), (1, 1));
    let reasons: Vec<String> = report.bad.iter().map(ToString::to_string).collect();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert!(reasons[0].contains("a.jpeg#2"), "{reasons:#?}");
    assert!(
        reasons[1].contains("Recolor") && reasons[1].contains("unknown edit type"),
        "{reasons:#?}"
    );
    assert!(
        reasons[2].contains("\"b.jpeg\"") && reasons[2].contains("expected a list"),
        "{reasons:#?}"
    );
    // c.jpeg's entry is well formed but its image is missing: the item names the file.
    assert!(reasons[3].contains("c.jpeg#1") && reasons[3].contains("imgs/c.jpeg"), "{reasons:#?}");
}

// ---------------------------------------------------------------- manifest

fn example(
    id: &str,
    source: &str,
    edited: &str,
    instruction: &str,
    edit_type: EditType,
) -> EditExample {
    EditExample {
        id: id.into(),
        source: source.into(),
        edited: edited.into(),
        instruction: instruction.into(),
        edit_type,
        rewards: None,
        target: None,
        mask: None,
        provenance: json!({}),
    }
}

#[test]
fn manifest_round_trip_and_check_with_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in ["s0.png", "e0.png", "s1.png", "e1.png", "m1.png"].iter().enumerate() {
        save_png(dir.path().join(name), &image(i as u8)).unwrap();
    }
    let mut with_mask = example("1", "s1.png", "e1.png", "remove the cup", EditType::Remove);
    with_mask.mask = Some("m1.png".into());
    with_mask.rewards = Some(Reward::perfect());
    let good = [example("0", "s0.png", "e0.png", "make it blue", EditType::Local), with_mask];
    let path = dir.path().join(MANIFEST_FILE);
    let mut writer = ManifestWriter::create(&path).unwrap();
    good.iter().for_each(|e| writer.write(e).unwrap());

    let s = spec(&format!("manifest:{}", dir.path().display()));
    let read: Vec<EditExample> = read_examples(&s).unwrap().map(Result::unwrap).collect();
    let mut want = good.to_vec();
    for e in &mut want {
        e.source = dir.path().join(&e.source);
        e.edited = dir.path().join(&e.edited);
        e.mask = e.mask.as_ref().map(|m| dir.path().join(m));
    }
    assert_eq!(read, want, "paths come back joined to the manifest's folder");
    let report = check(&s, &CheckOptions::default()).unwrap();
    assert_eq!((report.items, report.images), (2, 5));

    // A missing edited image and a text file posing as a PNG.
    std::fs::write(dir.path().join("fake.png"), "not an image").unwrap();
    writer.write(&example("2", "s0.png", "gone.png", "add a hat", EditType::Add)).unwrap();
    writer.write(&example("3", "fake.png", "e0.png", "add a dog", EditType::Add)).unwrap();
    let err = check(&s, &CheckOptions::default()).unwrap_err().to_string();
    assert!(err.contains("example \"2\"") && err.contains("gone.png"), "{err}");
    let report = check(&s, &skip_bad()).unwrap();
    assert_eq!((report.items, report.images), (2, 5));
    assert_eq!(report.per_type[&EditType::Add], 0);
    assert_eq!(report.bad.len(), 2);
    assert!(
        report.bad[1].reason.contains("fake.png")
            && report.bad[1].reason.contains("not really a PNG"),
        "{:?}",
        report.bad
    );
}

// ---------------------------------------------------------------- image folder

#[test]
fn imagefolder_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    save_png(dir.path().join("in.png"), &image(1)).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    save_png(dir.path().join("out/ed.png"), &image(2)).unwrap();
    let mut e = example("first", "", "", "turn it into a watercolor", EditType::Style);
    e.source = dir.path().join("in.png");
    e.edited = dir.path().join("out/ed.png");
    e.provenance = json!({"format": "imagefolder"});
    assert_eq!(write_imagefolder(dir.path(), [&e]).unwrap(), 1);

    let text = std::fs::read_to_string(dir.path().join("metadata.jsonl")).unwrap();
    let row: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(row["input_image"], "in.png");
    assert_eq!(row["edited_image"], "out/ed.png");
    assert_eq!(row["edit_prompt"], "turn it into a watercolor");

    let read: Vec<EditExample> =
        ImageFolderReader::open(dir.path()).unwrap().map(Result::unwrap).collect();
    assert_eq!(read, [e.clone()]);
    let report =
        check(&spec(&format!("imagefolder:{}", dir.path().display())), &CheckOptions::default())
            .unwrap();
    assert_eq!((report.items, report.images, report.per_type[&EditType::Style]), (1, 2, 1));

    // Images outside the folder cannot be written as relative names.
    let mut outside = e.clone();
    outside.source = "/elsewhere/in.png".into();
    assert!(
        write_imagefolder(dir.path(), [&outside]).unwrap_err().to_string().contains("not inside")
    );
}

#[test]
fn imagefolder_as_diffusers_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    save_png(dir.path().join("a.png"), &image(1)).unwrap();
    save_png(dir.path().join("b.png"), &image(2)).unwrap();
    let rows = [
        json!({"input_image": "a.png", "edit_prompt": "remove the tree", "edited_image": "b.png", "extra": 1}),
        json!({"input_image": "a.png", "edit_prompt": "add a boat"}),
    ];
    let text: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    std::fs::write(dir.path().join("metadata.jsonl"), text.join("\n")).unwrap();
    let items: Vec<_> = ImageFolderReader::open(dir.path()).unwrap().collect();
    let first = items[0].as_ref().unwrap();
    assert_eq!((first.id.as_str(), first.edit_type), ("metadata.jsonl:1", EditType::Remove));
    assert_eq!(first.provenance["edit_type_source"], "classified");
    let err = items[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("metadata.jsonl:2") && err.contains("edited_image"), "{err}");

    let report =
        check(&spec(&format!("imagefolder:{}", dir.path().display())), &skip_bad()).unwrap();
    assert_eq!((report.items, report.bad.len()), (1, 1));
    assert!(report.bad[0].location.ends_with("metadata.jsonl:2"), "{:?}", report.bad);
}

// ---------------------------------------------------------------- RewardEdit-20K

/// An InstructPix2Pix root with two sample folders (one holding two seeds) and the authors'
/// reward JSON text over them, integer and float scores mixed, keys not in sorted order.
fn tiny_rewardedit(root: &Path) -> String {
    for (folder, seeds, edit) in [
        ("shard-00/0001", &[42u64][..], "make the car red"),
        ("shard-00/0002", &[7, 3], "add fireworks in the sky"),
    ] {
        let dir = root.join(folder);
        for &seed in seeds {
            jpeg(&dir.join(format!("{seed}_0.jpg")), seed as u8);
            jpeg(&dir.join(format!("{seed}_1.jpg")), seed as u8 + 1);
        }
        let prompt =
            json!({"input": "a car on a road", "edit": edit, "output": "a red car on a road"});
        std::fs::write(dir.join("prompt.json"), prompt.to_string()).unwrap();
    }
    r#"{
        "shard-00/0002": [
            {"Score": 4.5, "Negative Prompt": "the fireworks are faint"},
            {"Score": 2, "Negative Prompt": "the trees changed colour"},
            {"Score": 5, "Negative Prompt": "No noticeable issues"}
        ],
        "shard-00/0001": [
            {"Score": 5, "Negative Prompt": "No negative aspects"},
            {"Score": 5, "Negative Prompt": "No unintended changes"},
            {"Score": 3, "Negative Prompt": "slightly blurry"}
        ]
    }"#
    .into()
}

#[test]
fn rewardedit20k_reads_the_authors_json_and_round_trips() {
    let root = tempfile::tempdir().unwrap();
    let text = tiny_rewardedit(root.path());
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    let json_path = root.path().join("rewardedit20k.json");
    std::fs::write(&json_path, text).unwrap();

    let read: Vec<EditExample> =
        read_rewardedit20k(&json_path, root.path()).unwrap().map(Result::unwrap).collect();
    assert_eq!(read.len(), 2);
    let e = &read[0];
    assert_eq!(e.id, "shard-00/0002", "file order is kept");
    assert_eq!(e.source, root.path().join("shard-00/0002/3_0.jpg"), "lowest seed");
    assert_eq!(e.edited, root.path().join("shard-00/0002/3_1.jpg"));
    assert_eq!(e.instruction, "add fireworks in the sky");
    assert_eq!(e.edit_type, EditType::Add);
    let r = e.rewards.as_ref().unwrap();
    assert_eq!(r.scores(), [4.5, 2.0, 5.0]);
    assert_eq!(r.verdicts(), [true, false, true]);
    assert_eq!(
        r.joined_text(),
        "the fireworks are faint; the trees changed colour; No noticeable issues"
    );
    assert_eq!(e.provenance["pairs_in_folder"], 2);
    assert_eq!(e.provenance["output"], "a red car on a road");

    let written = root.path().join("written.json");
    assert_eq!(write_rewardedit20k(&written, root.path(), &read).unwrap(), 2);
    let back: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    assert_eq!(back, original, "same keys, scores (ints stay ints) and texts");
    let reread: Vec<EditExample> =
        read_rewardedit20k(&written, root.path()).unwrap().map(Result::unwrap).collect();
    assert_eq!(reread, read);

    let s = spec(&format!("rewardedit20k:{}", json_path.display()));
    assert_eq!(
        s,
        FormatSpec::RewardEdit20k { json: json_path.clone(), ip2p_root: root.path().into() }
    );
    let report = check(&s, &CheckOptions::default()).unwrap();
    assert_eq!((report.items, report.images), (2, 4));
}

#[test]
fn rewardedit20k_writer_needs_rewards_and_one_example_per_folder() {
    let root = tempfile::tempdir().unwrap();
    let mut e = example("x", "", "", "make it red", EditType::Local);
    e.source = root.path().join("f/1_0.jpg");
    let out = root.path().join("out.json");
    assert!(
        write_rewardedit20k(&out, root.path(), [&e])
            .unwrap_err()
            .to_string()
            .contains("no rewards")
    );
    let low = AxisScore::new(1.0, false, "the car is still blue").unwrap();
    e.rewards = Some(Reward::new(low, Reward::perfect().preservation, Reward::perfect().quality));
    let err = write_rewardedit20k(&out, root.path(), [&e, &e]).unwrap_err().to_string();
    assert!(err.contains("second example"), "{err}");
    let mut elsewhere = e.clone();
    elsewhere.source = "/other/f/1_0.jpg".into();
    assert!(write_rewardedit20k(&out, root.path(), [&elsewhere]).is_err());
}

#[test]
fn rewardedit20k_bad_entries_and_images() {
    let dir = tempfile::tempdir().unwrap();
    let ip2p = dir.path().join("ip2p");
    let mut json: serde_json::Value = serde_json::from_str(&tiny_rewardedit(&ip2p)).unwrap();
    json["shard-00/0001"][2]["Score"] = json!(7);
    json["shard-00/missing"] = json["shard-00/0002"].clone();
    let json_path = dir.path().join("r.json");
    std::fs::write(&json_path, json.to_string()).unwrap(); // keys now sorted: 0001, 0002, missing
    truncate(&ip2p.join("shard-00/0002/3_1.jpg"));
    let s = spec(&format!("rewardedit20k:{},{}", json_path.display(), ip2p.display()));

    let err = check(&s, &CheckOptions::default()).unwrap_err().to_string();
    assert!(
        err.contains("\"shard-00/0001\"") && err.contains("quality") && err.contains("outside"),
        "{err}"
    );
    let report = check(&s, &skip_bad()).unwrap();
    assert_eq!(report.items, 0);
    let bad: Vec<String> = report.bad.iter().map(ToString::to_string).collect();
    assert_eq!(bad.len(), 3, "{bad:#?}");
    assert!(bad[1].contains("3_1.jpg") && bad[1].contains("truncated"), "{bad:#?}");
    assert!(bad[2].contains("missing/prompt.json"), "{bad:#?}");

    // Headers only: the truncated JPEG passes, the rest are still bad.
    let quick = CheckOptions { verify_images: false, ..skip_bad() };
    assert_eq!(check(&s, &quick).unwrap().items, 1);
}

// ---------------------------------------------------------------- specs

#[test]
fn specs_parse_and_explain_mistakes() {
    assert_eq!(
        spec("manifest:/no/such/m.jsonl"),
        FormatSpec::Manifest { path: "/no/such/m.jsonl".into() }
    );
    assert_eq!(
        spec("rewardedit20k:/d/r.json,/ip2p"),
        FormatSpec::RewardEdit20k { json: "/d/r.json".into(), ip2p_root: "/ip2p".into() }
    );
    assert_eq!(
        spec("rewardedit20k:r.json"),
        FormatSpec::RewardEdit20k { json: "r.json".into(), ip2p_root: ".".into() }
    );
    assert_eq!(spec("Real-Edit:x"), FormatSpec::RealEdit { dir: "x".into() });
    assert_eq!(spec("imagefolder:x").to_string(), "imagefolder:x");
    for (bad, needle) in [
        ("real-edit", "one of manifest, rewardedit20k, imagefolder, real-edit"),
        ("coco:x", "unknown format"),
        ("manifest:", "empty"),
    ] {
        let err = bad.parse::<FormatSpec>().unwrap_err().to_string();
        assert!(err.contains(needle), "{bad}: {err}");
    }
    let err =
        check(&spec("real-edit:/no/such/dir"), &CheckOptions::default()).unwrap_err().to_string();
    assert!(err.contains("/no/such/dir/instructions.json"), "{err}");
}
