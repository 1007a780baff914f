//! Criterion: one question through the whole pipeline (normalise, segment,
//! score, decide, render), single thread. `cargo bench --bench matcher`.

use criterion::{Criterion, criterion_group, criterion_main};
use jxjy_bot::dialogue::Responder;
use jxjy_bot::knowledge::Kb;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

fn questions() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    ["dev.jsonl", "heldout.jsonl"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(dir.join(f))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .filter_map(|v| v["q"].as_str().map(str::to_string))
        .collect()
}

fn bench(c: &mut Criterion) {
    let kb =
        Kb::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge")).expect("knowledge base");
    let r = Responder::new(Arc::new(kb));
    let qs = questions();
    c.bench_function("ask: in-scope question", |b| {
        b.iter(|| r.ask(black_box("继续教育每年要修多少学时")))
    });
    c.bench_function("ask: out-of-scope question", |b| {
        b.iter(|| r.ask(black_box("食堂几点开饭")))
    });
    c.bench_function("ask: 500-character question", |b| {
        let long = "继续教育学时".repeat(84);
        b.iter(|| r.ask(black_box(&long)))
    });
    c.bench_function("ask: every dev and held-out question (per set)", |b| {
        b.iter(|| {
            for q in &qs {
                black_box(r.ask(q));
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
