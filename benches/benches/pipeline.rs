//! In-process cost of one request through Bao (middleware, routing, handler
//! glue) against the same handler in a bare actix-web app, without sockets:
//! the framework's own overhead, free of kernel and load-generator noise.
//!
//! `cargo bench -p benches --bench pipeline`

use actix_web::{test, web, App};
use criterion::{criterion_group, criterion_main, Criterion};

async fn plaintext() -> &'static str {
    "Hello, World!"
}

fn pipeline(c: &mut Criterion) {
    let rt = actix_rt::Runtime::new().expect("a runtime");
    let bao = rt.block_on(bao::__private::service(example::app()));
    let raw = rt.block_on(test::init_service(
        App::new().route("/plaintext", web::get().to(plaintext)),
    ));

    let mut group = c.benchmark_group("plaintext request");
    group.bench_function("bare actix-web", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get().uri("/plaintext").to_request();
                let res = test::call_service(&raw, req).await;
                assert!(res.status().is_success());
            })
        })
    });
    group.bench_function("bao", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get().uri("/plaintext").to_request();
                let res = test::call_service(&bao, req).await;
                assert!(res.status().is_success());
            })
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
