//! Prints the oracle's calibration table: for every edit type, the mean (and worst) scores of
//! the clean target, the source, and each applicable flaw at severities 0.25 / 0.5 / 1.
//! `cargo run --release -p rewardedit-world --example calibrate -- [size] [cases per type]`

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rewardedit_core::EditType;
use rewardedit_world::{pixels, sample_case, Flaw, FlawKind, Oracle, WorldConfig};

/// A calibration row: case name, mean and lowest score per axis, mean badness per quality measure.
type Row = (String, [f32; 3], [f32; 3], [f32; 5]);

fn main() -> Result<(), rewardedit_world::Error> {
    let args: Vec<String> = std::env::args().collect();
    let size: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let per_type: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
    let cfg = WorldConfig { size, ..WorldConfig::default() };
    let oracle = Oracle::new(size);
    for t in EditType::ALL {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let cases: Vec<_> = (0..per_type).map(|_| sample_case(&cfg, t, &mut rng)).collect::<Result<_, _>>()?;
        let mut rows: Vec<Row> = Vec::new();
        let mut add = |name: String, scores: Vec<([f32; 3], [f32; 5])>| {
            if scores.is_empty() {
                return;
            }
            let k = scores.len() as f32;
            let mean = [0, 1, 2].map(|a| scores.iter().map(|s| s.0[a]).sum::<f32>() / k);
            let min = [0, 1, 2].map(|a| scores.iter().map(|s| s.0[a]).fold(5.0, f32::min));
            let bad = [0, 1, 2, 3, 4].map(|a| scores.iter().map(|s| s.1[a]).sum::<f32>() / k);
            rows.push((name, mean, min, bad));
        };
        let score = |c: &rewardedit_world::EditCase, img: &image::RgbImage| -> Result<([f32; 3], [f32; 5]), rewardedit_world::Error> {
            let r = oracle.score_case(c, img)?;
            Ok((r.scores(), oracle.measure(c, &pixels::to_px(img)).quality_badness))
        };
        add("target".into(), cases.iter().map(|c| score(c, &c.target)).collect::<Result<_, _>>()?);
        add("source".into(), cases.iter().map(|c| score(c, &c.source)).collect::<Result<_, _>>()?);
        for kind in FlawKind::ALL {
            for sev in [0.25, 0.5, 1.0] {
                let mut scores = Vec::new();
                for c in cases.iter().filter(|c| kind.applies(c)) {
                    let img = Flaw::new(kind, sev)?.apply(c, &pixels::to_px(&c.target), &mut ChaCha8Rng::seed_from_u64(1))?;
                    scores.push(score(c, &pixels::to_image(&img, size))?);
                }
                add(format!("{kind:?} {sev}"), scores);
            }
        }
        println!("== {t} ({per_type} cases, {size}px)   mean F P Q  |  min F P Q  |  quality badness: blur noise block ghost band");
        for (name, mean, min, bad) in rows {
            println!(
                "{name:<20} {:5.2} {:5.2} {:5.2} | {:5.2} {:5.2} {:5.2} | {:4.2} {:4.2} {:4.2} {:4.2} {:4.2}",
                mean[0], mean[1], mean[2], min[0], min[1], min[2], bad[0], bad[1], bad[2], bad[3], bad[4]
            );
        }
    }
    Ok(())
}
