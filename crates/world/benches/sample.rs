//! Sampling + oracle scoring throughput at 64 px (issue 2: >= 300 triplets/s on one core).
//! `cargo bench -p rewardedit-world --bench sample`; it first prints a plain-loop figure.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rewardedit_world::{sample_triplet, WorldConfig};

fn bench(c: &mut Criterion) {
    let cfg = WorldConfig { size: 64, ..WorldConfig::default() };

    // Plain loop: one pass over 700 indices (every edit type 100 times), single thread.
    let n = 700u64;
    let start = Instant::now();
    for i in 0..n {
        black_box(sample_triplet(&cfg, 1, i).expect("sampling failed"));
    }
    let secs = start.elapsed().as_secs_f64();
    println!("plain loop: {n} triplets (sample + oracle) at 64 px in {secs:.2} s = {:.0} triplets/s", n as f64 / secs);

    let mut group = c.benchmark_group("world");
    group.throughput(Throughput::Elements(7));
    group.bench_function("sample_triplet+oracle 64px, 7 types", |b| {
        let mut seed = 0u64;
        b.iter(|| {
            seed += 1;
            for i in 0..7 {
                black_box(sample_triplet(&cfg, seed, i).expect("sampling failed"));
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
