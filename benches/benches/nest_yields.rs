//! fax-sim yields: NEST v2 mean yields and one quanta draw per deposit (the 10^6 deposits per
//! second per core target), for a beta and a nuclear recoil at energies cycling over 1-100 keV,
//! 120 V/cm, 2.862 g/cm^3, on one thread.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fax_sim::yields::{Interaction, NestModel};

const N: u64 = 10_000;

fn bench(c: &mut Criterion) {
    let nest = NestModel::default();
    let mut g = c.benchmark_group("nest_yields");
    g.throughput(Throughput::Elements(N));
    for interaction in [Interaction::Beta, Interaction::Nr] {
        g.bench_function(format!("mean_yields_{interaction}"), |b| {
            b.iter(|| {
                let mut s = 0.0;
                for k in 0..N {
                    let e = 1.0 + (k % 100) as f64;
                    s += nest
                        .mean_yields(interaction, e, 120.0, 2.862)
                        .unwrap()
                        .photon_yield;
                }
                black_box(s)
            })
        });
        g.bench_function(format!("yields_and_draw_{interaction}"), |b| {
            let mut rng = hep_core::rng::stream(1, 0);
            b.iter(|| {
                let mut s = 0u64;
                for k in 0..N {
                    let e = 1.0 + (k % 100) as f64;
                    let (_, q) = nest.quanta(interaction, e, 120.0, 2.862, &mut rng).unwrap();
                    s += q.photons + q.electrons;
                }
                black_box(s)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
