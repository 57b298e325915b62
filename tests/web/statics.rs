//! Static files served as a CDN would: the precompressed copy the browser accepts, addresses
//! carrying the content hash cached as immutable, revalidation by Last-Modified, and
//! precompressed copies that match their source.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use crate::helpers::TestApp;

async fn fetch(
    app: &TestApp,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> axum::response::Response {
    let mut req = Request::builder().uri(path);
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            9,
        ))));
    app.router.clone().oneshot(req).await.unwrap()
}

#[tokio::test]
async fn static_files_are_precompressed_versioned_and_revalidated() {
    let app = TestApp::new().await;
    let mut c = app.client();
    let page = c.get("/sign-in").await;
    let css = page.attr("link[rel=stylesheet]", "href")[0].clone();
    let js = page.attr("script[type=module]", "src")[0].clone();
    // The address carries the file's content hash.
    let source = std::fs::read("static/haven.css").unwrap();
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(&source)[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(css, format!("/static/haven.css?v={hash}"));
    assert!(js.starts_with("/static/haven.js?v="), "{js}");

    let br = fetch(
        &app,
        &css,
        &[(header::ACCEPT_ENCODING, "gzip, deflate, br")],
    )
    .await;
    assert_eq!(br.status(), StatusCode::OK);
    assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(
        br.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let last_modified = br.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(br.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(
        body.len() < source.len() / 5,
        "brotli copy is {} bytes",
        body.len()
    );

    let gz = fetch(&app, &css, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    let plain = fetch(&app, &css, &[]).await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    // An old or missing hash is not promised forever.
    let stale = fetch(&app, "/static/haven.css?v=000000000000", &[]).await;
    assert_eq!(
        stale.headers()[header::CACHE_CONTROL],
        "public, max-age=3600"
    );
    let favicon = fetch(&app, "/static/favicon.svg", &[]).await;
    assert_eq!(
        favicon.headers()[header::CACHE_CONTROL],
        "public, max-age=3600"
    );
    // Revalidation.
    let again = fetch(
        &app,
        &css,
        &[(header::IF_MODIFIED_SINCE, last_modified.as_str())],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

/// The compressed copies are of the files as they are now (scripts/compress-static.mjs).
#[test]
fn precompressed_copies_match_their_sources() {
    use std::io::Read;
    for file in [
        "static/haven.css",
        "static/haven.js",
        "static/govuk/govuk-frontend.min.js",
    ] {
        let source = std::fs::read(file).unwrap();
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(format!("{file}.gz")).unwrap())
            .read_to_end(&mut unzipped)
            .unwrap();
        assert!(
            unzipped == source,
            "{file}.gz is out of date: run node scripts/compress-static.mjs"
        );
        // Brotli: checked with Node (which the browser tests need anyway).
        let out = std::process::Command::new("node")
            .args([
                "-e",
                "const z=require('zlib'),f=require('fs');process.stdout.write(z.brotliDecompressSync(f.readFileSync(process.argv[1])))",
                &format!("{file}.br"),
            ])
            .output()
            .expect("node runs");
        assert!(
            out.stdout == source,
            "{file}.br is out of date: run node scripts/compress-static.mjs"
        );
    }
}
