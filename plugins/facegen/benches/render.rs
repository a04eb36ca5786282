//! Faces rendered per second for each domain preset (criterion reports the throughput
//! in elements per second, one element per face).
//!
//! Run: `cargo bench -p assay-facegen --bench render`

use assay_facegen::{render, Domain};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn render_per_domain(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    for domain in Domain::ALL {
        let config = domain.config();
        let mut index = 0u64;
        group.bench_function(domain.name(), |b| {
            b.iter(|| {
                index += 1;
                render(&config, 1, index).expect("preset config is valid")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render_per_domain);
criterion_main!(benches);
