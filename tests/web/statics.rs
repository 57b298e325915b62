//! Static files served as a CDN would: the precompressed copy the browser accepts, addresses
//! carrying the content hash cached as immutable, revalidation by entity tag and Last-Modified, and
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

#[tokio::test]
async fn every_static_file_has_an_entity_tag_for_each_representation() {
    let app = TestApp::new().await;
    let tag_of = |r: &axum::response::Response| -> String {
        r.headers()
            .get(header::ETAG)
            .expect("an entity tag")
            .to_str()
            .unwrap()
            .to_owned()
    };
    // Each encoding is its own representation with its own tag.
    let js = "/static/govuk/govuk-frontend.min.js";
    let plain = fetch(&app, js, &[]).await;
    let br = fetch(&app, js, &[(header::ACCEPT_ENCODING, "br")]).await;
    let gz = fetch(&app, js, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    let (tag, br_tag, gz_tag) = (tag_of(&plain), tag_of(&br), tag_of(&gz));
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    assert!(
        tag != br_tag && tag != gz_tag && br_tag != gz_tag,
        "{tag} {br_tag} {gz_tag}"
    );
    let favicon = fetch(&app, "/static/favicon.svg", &[]).await;
    let favicon_tag = tag_of(&favicon);

    // A matching tag (strong or weak, alone or in a list, or any) is answered with 304, no body.
    for asked in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".into(),
    ] {
        let again = fetch(&app, js, &[(header::IF_NONE_MATCH, asked.as_str())]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{asked}");
        assert_eq!(tag_of(&again), tag);
        let body = axum::body::to_bytes(again.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.is_empty());
    }
    // Another representation's tag or another file's does not stand for this one, even when
    // the date alone would say "not modified": If-None-Match decides where both are sent.
    let last_modified = plain.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    for stale in [br_tag, favicon_tag] {
        let full = fetch(
            &app,
            js,
            &[
                (header::IF_NONE_MATCH, stale.as_str()),
                (header::IF_MODIFIED_SINCE, last_modified.as_str()),
            ],
        )
        .await;
        assert_eq!(full.status(), StatusCode::OK, "{stale}");
        let body = axum::body::to_bytes(full.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            body.len(),
            std::fs::read("static/govuk/govuk-frontend.min.js")
                .unwrap()
                .len()
        );
    }
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
