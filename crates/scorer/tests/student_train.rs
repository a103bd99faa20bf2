//! The student's training loop: it learns, and a resumed run continues the same loss curve.

mod student_support;

use burn::tensor::Device;
use rewardedit_scorer::student::batch::{mask_targets, WordDropout};
use rewardedit_scorer::student::distill::{batch_tensors, optimizer, train_step, METRICS_FILE};
use rewardedit_scorer::student::{distill, DataSource, DistillEvent, DistillOptions, NetworkShape, StepMetrics, StudentNet, Vocab};
use safetensors::SafeTensors;
use student_support::{serial, tiny_config, tiny_recipe, tiny_shape, world_examples};

#[test]
fn a_micro_run_lowers_the_loss_on_a_fixed_batch() {
    let _serial = serial();
    let examples = world_examples(5, 16);
    let config = tiny_config(&examples);
    let device = Device::flex().autodiff();
    device.seed(1);
    let mut model = StudentNet::new(&config, &device);
    let mut optim = optimizer(&Default::default());
    let batch: Vec<_> = examples.iter().collect();
    let mut losses = Vec::new();
    for _ in 0..40 {
        let (next, parts) = train_step(model, &mut optim, &config, &batch, 3e-3, &Default::default(), &WordDropout::default(), &device);
        model = next;
        losses.push(parts[0]);
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last.is_finite() && last < 0.5 * first, "loss {first} -> {last}: {losses:?}");
}

#[test]
fn the_mask_head_learns_where_the_instruction_allows_change() {
    let _serial = serial();
    let examples = world_examples(5, 16);
    let shape = NetworkShape { mask_head: true, ..tiny_shape() };
    let config = shape.with_vocab(Vocab::build(examples.iter().map(|e| e.instruction.as_str()))).unwrap();
    let device = Device::flex().autodiff();
    device.seed(1);
    let mut model = StudentNet::new(&config, &device);
    let mut optim = optimizer(&Default::default());
    let batch: Vec<_> = examples.iter().collect();
    let mut mask_losses = Vec::new();
    for _ in 0..80 {
        let (next, parts) = train_step(model, &mut optim, &config, &batch, 3e-3, &Default::default(), &WordDropout::default(), &device);
        model = next;
        mask_losses.push(parts[5]);
    }
    let (first, last) = (mask_losses[0], *mask_losses.last().unwrap());
    // Soft targets: the cross-entropy's floor is their entropy, well above 0.
    assert!(first > 0.0 && last < first - 0.2, "mask loss {first} -> {last}: {mask_losses:?}");

    // The head's 8 x 8 prediction is the world's mask averaged per cell: high where the edit is.
    let side = 8;
    let masks: Vec<_> = examples.iter().map(|e| e.mask.as_ref()).collect();
    let (target, weight) = mask_targets(&masks, side, &Device::flex()).unwrap();
    assert_eq!(weight.into_data().try_to_vec::<f32>().unwrap(), vec![1.0; 16]);
    let (images, tokens, _, _) = batch_tensors(&config, &batch, &WordDropout::default(), &device);
    let z = model.forward(images, tokens).mask_logits.unwrap().without_autodiff();
    let inside = target.clone().greater_elem(0.5).float();
    let mean_in = (z.clone() * inside.clone()).sum().into_scalar::<f32>() / inside.clone().sum().into_scalar::<f32>();
    let outside = inside.neg() + 1.0;
    let mean_out = (z * outside.clone()).sum().into_scalar::<f32>() / outside.sum().into_scalar::<f32>();
    assert!(mean_in > mean_out + 1.0, "logits inside the edit region {mean_in}, outside {mean_out}");
}

#[test]
fn without_pooling_the_mask_head_is_only_an_auxiliary_task() {
    let _serial = serial();
    let examples = world_examples(5, 8);
    let pooled = NetworkShape { mask_head: true, ..tiny_shape() };
    let aux = NetworkShape { mask_pool: false, ..pooled.clone() };
    let device = Device::flex().autodiff();
    let vocab = || Vocab::build(examples.iter().map(|e| e.instruction.as_str()));
    let head_inputs = |shape: &NetworkShape| StudentNet::new(&shape.with_vocab(vocab()).unwrap(), &device).head_hidden.weight.dims()[0];
    // The head reads mean + max (2 x 16) + attended + instruction (2 x 16), plus inside + outside
    // (2 x 16) when pooling.
    assert_eq!((head_inputs(&pooled), head_inputs(&aux)), (96, 64));
    let config = aux.with_vocab(vocab()).unwrap();
    device.seed(2);
    let model = StudentNet::new(&config, &device);
    let batch: Vec<_> = examples.iter().collect();
    let (_, parts) = train_step(model, &mut optimizer(&Default::default()), &config, &batch, 3e-3, &Default::default(), &WordDropout::default(), &device);
    assert!(parts[5] > 0.0, "the region is still trained: mask loss {}", parts[5]);
}

#[test]
fn mask_targets_average_the_region_per_cell_and_skip_examples_without_one() {
    let mut mask = image::GrayImage::new(4, 4);
    for (x, y) in [(0, 0), (1, 0), (0, 1), (3, 3)] {
        mask.put_pixel(x, y, image::Luma([255]));
    }
    let (t, w) = mask_targets(&[Some(&mask), None], 2, &Device::flex()).unwrap();
    assert_eq!(t.into_data().try_to_vec::<f32>().unwrap(), vec![0.75, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(w.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0]);
    assert!(mask_targets(&[None, None], 2, &Device::flex()).is_none());
}

fn metrics(dir: &std::path::Path) -> Vec<StepMetrics> {
    std::fs::read_to_string(dir.join(METRICS_FILE))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn resuming_continues_the_same_loss_curve() {
    let _serial = serial();
    let mut recipe = tiny_recipe(8);
    // Word dropout too: a resumed run must drop the same words.
    recipe.train.word_dropout = 0.2;
    let device = Device::flex().autodiff();
    let once = tempfile::tempdir().unwrap();
    let quiet = DistillOptions { skip_eval: true, ..Default::default() };
    let full = distill(&recipe, once.path(), &quiet, &device, &mut |_| {}).unwrap();

    let twice = tempfile::tempdir().unwrap();
    let first = DistillOptions { stop_after: Some(4), skip_eval: true, ..Default::default() };
    let half = distill(&recipe, twice.path(), &first, &device, &mut |_| {}).unwrap();
    assert_eq!(half.step, 4);
    let resume = DistillOptions { resume: true, skip_eval: true, ..Default::default() };
    let rest = distill(&recipe, twice.path(), &resume, &device, &mut |_| {}).unwrap();
    assert_eq!(rest.step, 8);

    let (a, b) = (metrics(once.path()), metrics(twice.path()));
    assert_eq!(a.len(), 8);
    assert_eq!(a.iter().map(|m| m.step).collect::<Vec<_>>(), b.iter().map(|m| m.step).collect::<Vec<_>>());
    for (x, y) in a.iter().zip(&b) {
        assert!((x.loss - y.loss).abs() <= 1e-6, "step {}: {} vs {}", x.step, x.loss, y.loss);
    }
    let (fa, fb) = (full.last_loss.unwrap(), rest.last_loss.unwrap());
    assert!((fa - fb).abs() <= 1e-6, "final loss {fa} vs {fb}");
    // The exported students are the same network.
    let wa = std::fs::read(full.student_dir.join("model.safetensors")).unwrap();
    let wb = std::fs::read(rest.student_dir.join("model.safetensors")).unwrap();
    let (ta, tb) = (SafeTensors::deserialize(&wa).unwrap(), SafeTensors::deserialize(&wb).unwrap());
    let mut names = ta.names();
    names.sort();
    let mut names_b = tb.names();
    names_b.sort();
    assert_eq!(names, names_b);
    let f32s = |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
    for name in names {
        let (x, y) = (f32s(ta.tensor(name).unwrap().data()), f32s(tb.tensor(name).unwrap().data()));
        let worst = x.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "{name}: the resumed run's weights differ by {worst}");
    }
}

#[test]
fn resume_refuses_a_different_recipe() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    let opts = DistillOptions { stop_after: Some(2), skip_eval: true, ..Default::default() };
    distill(&tiny_recipe(4), dir.path(), &opts, &device, &mut |_| {}).unwrap();
    let mut other = tiny_recipe(4);
    other.train.lr *= 2.0;
    let resume = DistillOptions { resume: true, skip_eval: true, ..Default::default() };
    let err = distill(&other, dir.path(), &resume, &device, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("same recipe"), "{err}");
}

#[test]
fn a_full_tiny_run_reports_agreement_for_both_precisions() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    let out = distill(&tiny_recipe(4), dir.path(), &DistillOptions::default(), &device, &mut |_| {}).unwrap();
    let report = out.report.expect("a finished run evaluates");
    assert_eq!(report.n, 21);
    assert!(report.int8_bytes > 0 && report.int8_bytes * 2 < report.fp32_bytes, "{} vs {}", report.int8_bytes, report.fp32_bytes);
    assert!(report.teacher_vs_exact.is_some(), "world data carries the exact oracle");
    assert!(dir.path().join("agreement.json").exists() && dir.path().join("recipe.toml").exists());
}

#[test]
fn extra_data_is_trained_on_after_data() {
    let _serial = serial();
    // A manifest of teacher-labelled edits (as `rewardedit world sample` or an eval run writes).
    let manifest = tempfile::tempdir().unwrap();
    rewardedit_world::write_dataset(manifest.path(), &student_support::tiny_world(), 10, 77, |_, _| {}).unwrap();
    let mut recipe = tiny_recipe(2);
    recipe.extra_data = vec![DataSource::Manifest { path: manifest.path().to_path_buf(), repeat: 1 }];
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Vec::new();
    let events = &mut |e: DistillEvent| {
        if let DistillEvent::Data("train", done, _) = e {
            loaded.push(done)
        }
    };
    distill(&recipe, dir.path(), &DistillOptions::default(), &Device::flex().autodiff(), events).unwrap();
    // 48 world edits, then the manifest's 10 counted from 1 again: both sources were read whole.
    assert_eq!((loaded.iter().filter(|&&d| d == 48).count(), loaded.last().copied()), (1, Some(10)), "{loaded:?}");
    let resolved = std::fs::read_to_string(dir.path().join("recipe.toml")).unwrap();
    assert!(resolved.contains("[[extra_data]]") && resolved.contains("kind = \"manifest\""), "{resolved}");
}

#[test]
fn a_run_can_start_from_a_trained_student_and_refuses_another_network() {
    let _serial = serial();
    let device = Device::flex().autodiff();
    let quiet = DistillOptions { skip_eval: true, ..Default::default() };
    let trained = tempfile::tempdir().unwrap();
    let first = distill(&tiny_recipe(30), trained.path(), &quiet, &device, &mut |_| {}).unwrap();

    // The same short recipe (same batches) from random weights and from the trained student:
    // the trained one starts where it ended, far below a fresh network's first loss.
    let mut again = tiny_recipe(2);
    let fresh = tempfile::tempdir().unwrap();
    distill(&again, fresh.path(), &quiet, &device, &mut |_| {}).unwrap();
    again.train.init = Some(first.student_dir.clone());
    let tuned = tempfile::tempdir().unwrap();
    distill(&again, tuned.path(), &quiet, &device, &mut |_| {}).unwrap();
    let (f, t) = (metrics(fresh.path())[0].loss, metrics(tuned.path())[0].loss);
    assert!(t < 0.6 * f, "first loss from the trained student {t}, from random weights {f}");
    let resolved = std::fs::read_to_string(tuned.path().join("recipe.toml")).unwrap();
    assert!(resolved.contains("init = "), "the run folder records where it started: {resolved}");

    again.model.hidden *= 2;
    let err = distill(&again, tempfile::tempdir().unwrap().path(), &quiet, &device, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("[model]"), "{err}");
}

#[test]
fn word_dropout_reads_about_p_of_the_words_as_unknown_and_the_same_ones_on_a_resume() {
    let ids: Vec<i64> = (0..64).flat_map(|_| [5, 6, 7, 8, 9, 10, 0, 0]).collect();
    let apply = |drop: WordDropout| {
        let mut dropped = ids.clone();
        drop.apply(&mut dropped);
        dropped
    };
    let drop = WordDropout { p: 0.3, seed: 4, step: 9 };
    let a = apply(drop);
    assert_eq!(a, apply(drop), "the same (seed, step) drops the same words");
    assert_ne!(a, apply(WordDropout { step: 10, ..drop }), "another step drops other words");
    assert_eq!(apply(WordDropout { p: 0.0, ..drop }), ids);
    for (x, y) in ids.iter().zip(&a) {
        // A word stays or becomes the unknown token (id 1); padding stays padding.
        assert!(y == x || (*y == 1 && *x != 0), "{x} -> {y}");
    }
    let dropped = a.iter().filter(|&&y| y == 1).count() as f64 / (64.0 * 6.0);
    assert!((0.22..0.38).contains(&dropped), "{dropped} of the words dropped at p = 0.3");
}
