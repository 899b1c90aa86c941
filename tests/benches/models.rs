//! Decoding and encoding a large order (100 order lines, every property
//! filled) with the generated `MerchantOrderDto`, against the same JSON
//! through `serde_json::Value`: what the generated types cost, or save,
//! over handling the JSON untyped.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use klarna_models::ordermanagement::MerchantOrderDto;
use serde_json::Value;
use std::hint::black_box;

mod support;

const LINES: usize = 100;

fn decode_and_encode(c: &mut Criterion) {
    let bytes = serde_json::to_vec(&support::order(LINES)).expect("encodes");
    let typed: MerchantOrderDto = serde_json::from_slice(&bytes).expect("decodes");
    let value: Value = serde_json::from_slice(&bytes).expect("decodes");
    let size = u64::try_from(bytes.len()).expect("small");

    let mut decode = c.benchmark_group("decode_order");
    decode.throughput(Throughput::Bytes(size));
    decode.bench_function(BenchmarkId::new("typed", LINES), |b| {
        b.iter(|| serde_json::from_slice::<MerchantOrderDto>(black_box(&bytes)).unwrap())
    });
    decode.bench_function(BenchmarkId::new("value", LINES), |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).unwrap())
    });
    decode.finish();

    let mut encode = c.benchmark_group("encode_order");
    encode.throughput(Throughput::Bytes(size));
    encode.bench_function(BenchmarkId::new("typed", LINES), |b| {
        b.iter(|| serde_json::to_vec(black_box(&typed)).unwrap())
    });
    encode.bench_function(BenchmarkId::new("value", LINES), |b| {
        b.iter(|| serde_json::to_vec(black_box(&value)).unwrap())
    });
    encode.finish();
}

criterion_group!(benches, decode_and_encode);
criterion_main!(benches);
