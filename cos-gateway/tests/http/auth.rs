//! Signatures (header and presigned) and the SSE-C transport rule.

use super::*;

#[test]
fn signatures_and_anonymous_requests() {
    let gw = start_with_bucket();
    Req::new("PUT", "/o")
        .header("x-cos-server-side-encryption", "AES256")
        .body("x")
        .send(gw.addr);
    Req::new("GET", "/o")
        .unsigned()
        .send(gw.addr)
        .assert_error(403, "AccessDenied");
    // Signed for another path.
    Req::new("GET", "/o")
        .path("/other")
        .send(gw.addr)
        .assert_error(403, "SignatureDoesNotMatch");
    // An expired signature.
    let auth = cos_gateway::auth::sign(
        common::SECRET_ID,
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        "GET",
        "/o",
        &[],
        &[],
        (1000, 2000),
    );
    Req::new("GET", "/o")
        .unsigned()
        .header("Authorization", &auth)
        .send(gw.addr)
        .assert_error(403, "AccessDenied");
}

#[test]
fn presigned_urls_are_verified() {
    let gw = start_with_bucket();
    Req::new("PUT", "/p").body("presigned").send(gw.addr);
    let now = cos_gateway::wire::now_secs();
    let auth = cos_gateway::auth::sign(
        common::SECRET_ID,
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        "GET",
        "/p",
        &[],
        &[("host".into(), common::HOST.into())],
        (now - 10, now + 100),
    );
    let query = auth
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            format!("{k}={}", cos_gateway::wire::cos_encode(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    let target = format!("/p?{query}");
    let r = Req::new("GET", &target).path("/p").unsigned().send(gw.addr);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"presigned"[..]));
    let bad = target.replace("q-signature=", "q-signature=0");
    Req::new("GET", &bad)
        .path("/p")
        .unsigned()
        .send(gw.addr)
        .assert_error(403, "SignatureDoesNotMatch");
}

#[test]
fn presigned_put_and_delete_bucket() {
    let gw = start_http();
    let a = gw.addr;
    for extra in [&[][..], &[("x-cos-security-token", "token")][..]] {
        let put = common::presign("PUT", "/", extra);
        let r = Req::new("PUT", &put).path("/").unsigned().send(a);
        assert_eq!(r.status, 200, "{put}: {}", r.text());
        assert_eq!(Req::new("HEAD", "/").send(a).status, 200);
        let del = common::presign("DELETE", "/", extra);
        let r = Req::new("DELETE", &del).path("/").unsigned().send(a);
        assert_eq!(r.status, 204, "{del}: {}", r.text());
        assert_eq!(Req::new("HEAD", "/").send(a).status, 404);
    }
    // A sub-resource is still a sub-resource when presigned.
    create_bucket(a);
    let cors = common::presign("PUT", "/", &[("cors", "")]);
    Req::new("PUT", &cors)
        .path("/")
        .unsigned()
        .send(a)
        .assert_error(501, "NotImplemented");
}

#[test]
fn ssec_over_plain_http_is_refused_unless_allowed() {
    let gw = start(Options {
        tls: false,
        allow_ssec_over_http: false,
        bucket_keys: Default::default(),
    });
    create_bucket(gw.addr);
    Req::new("PUT", "/c")
        .headers(&ssec(&K1))
        .body("x")
        .send(gw.addr)
        .assert_error(400, "InvalidRequest");
    Req::new("GET", "/c")
        .headers(&ssec(&K1))
        .send(gw.addr)
        .assert_error(400, "InvalidRequest");
}

#[test]
fn signatures_have_a_maximum_lifetime() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/t")
        .body("timed")
        .send(a)
        .assert_status(200);
    let now = cos_gateway::wire::now_secs();
    let max = cos_gateway::auth::DEFAULT_MAX_SIGNATURE_AGE.as_secs() as i64;
    let skew = cos_gateway::auth::CLOCK_SKEW.as_secs() as i64;
    let signed = |window: (i64, i64)| {
        cos_gateway::auth::sign(
            common::SECRET_ID,
            &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
            "GET",
            "/t",
            &[],
            &[("host".into(), common::HOST.into())],
            window,
        )
    };
    let presigned = |auth: &str| {
        let query = auth
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                format!("{k}={}", cos_gateway::wire::cos_encode(v))
            })
            .collect::<Vec<_>>()
            .join("&");
        format!("/t?{query}")
    };
    // A window up to the maximum, or starting within the clock skew: accepted.
    for window in [(now - 10, now - 10 + max), (now + skew / 2, now + 600)] {
        let auth = signed(window);
        let r = Req::new("GET", "/t")
            .unsigned()
            .header("Authorization", &auth)
            .send(a);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"timed"[..]),
            "{window:?}"
        );
        let target = presigned(&auth);
        let r = Req::new("GET", &target).path("/t").unsigned().send(a);
        assert_eq!(r.status, 200, "{window:?}: {}", r.text());
    }
    // "Forever", one second too long, or starting in the future: refused, header or presigned.
    for (window, says) in [
        ((0, 9_999_999_999), "max-signature-age"),
        ((now - 10, now - 9 + max), "max-signature-age"),
        ((now + skew + 60, now + skew + 600), "Request has expired"),
    ] {
        let auth = signed(window);
        let r = Req::new("GET", "/t")
            .unsigned()
            .header("Authorization", &auth)
            .send(a);
        r.assert_error(403, "AccessDenied");
        assert!(r.text().contains(says), "{window:?}: {}", r.text());
        let target = presigned(&auth);
        let r = Req::new("GET", &target).path("/t").unsigned().send(a);
        r.assert_error(403, "AccessDenied");
        assert!(r.text().contains(says), "{window:?}: {}", r.text());
    }
}
