//! `cargo bench -p kms-server --bench asymmetric`: sign, verify and decrypt per second for each
//! asymmetric algorithm, through the KMS core in-process (`Kms::sign`, `verify`,
//! `asymmetric_decrypt`: name lookup, usage and state checks, the cached key pair) next to the bare
//! library (aws-lc-rs or RustCrypto `sm2`) doing the same operation with the same key, in the same
//! run. Figures are recorded in `bench/BENCHMARKS.md` (section "Asymmetric keys").
//!
//! The key pairs are made here by the libraries and loaded into the KMS through a seed document
//! (`private_key_pem`), so both sides hold one key. Messages are 256 bytes, RAW (hashed by the
//! callee); the bare side builds its key objects once, as a long-lived user of the library would.
//!
//! After criterion's groups (2 s, 20 samples each), an interleaved cross-check that holds up on a
//! shared machine: KMS and bare alternate in short rounds and the median round of each is printed
//! with the ratio and the spread (min-max over rounds), as Markdown table rows.
//! `INTERLEAVED_ROUNDS=0` skips it.

mod interleave;

use std::{hint::black_box, sync::Arc};

use aws_lc_rs::{
    encoding::{AsDer as _, Pkcs8V1Der},
    rand::SystemRandom,
    rsa::{
        self, KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
        PrivateDecryptingKey,
    },
    signature::{
        self as sig, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
        EcdsaSigningAlgorithm, KeyPair as _, UnparsedPublicKey,
    },
};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use kms_server::{
    Config, Kms, RootKey, SystemClock,
    asymmetric::{DecryptAlgorithm, MessageType, SM2_DEFAULT_USER_ID, SignAlgorithm},
};
use sm2::{
    dsa::signature::{Signer as _, Verifier as _},
    elliptic_curve::Generate as _,
    pkcs8::EncodePrivateKey as _,
};

const MSG: [u8; 256] = [0x42; 256];
/// A data key's size: what is usually encrypted under a CMK's public key.
const PLAINTEXT: [u8; 32] = [0x17; 32];

/// One measured operation, through the KMS and through the bare library.
struct Case {
    name: String,
    kms: Box<dyn Fn()>,
    bare: Box<dyn Fn()>,
}

fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(tag, der.to_vec()))
}

fn seed_entry(n: usize, alias: &str, usage: &str, pem: &str) -> String {
    let indented = pem.trim_end().replace('\n', "\n      ");
    format!(
        "  - key_id: 0b5e0000-0000-4000-8000-0000000000{n:02}\n    alias: {alias}\n    \
         key_usage: {usage}\n    private_key_pem: |\n      {indented}\n"
    )
}

fn rsa_pkcs8() -> Vec<u8> {
    let pair = rsa::KeyPair::generate(KeySize::Rsa2048).expect("RSA key");
    let der: Pkcs8V1Der<'static> = pair.as_der().expect("PKCS#8");
    der.as_ref().to_vec()
}

fn ecdsa_pkcs8(alg: &'static EcdsaSigningAlgorithm) -> Vec<u8> {
    let pair = EcdsaKeyPair::generate(alg).expect("ECDSA key");
    pair.to_pkcs8v1().expect("PKCS#8").as_ref().to_vec()
}

/// Sign and verify cases of one algorithm on the KMS key `alias`, with the bare library's
/// `sign` and `verify` of the same key.
fn signing(
    kms: &Arc<Kms>,
    alias: &'static str,
    alg: SignAlgorithm,
    sign: impl Fn() -> Vec<u8> + 'static,
    verify: impl Fn(&[u8]) -> bool + 'static,
) -> [Case; 2] {
    let (_, kms_sig) = kms
        .sign(alias, alg, MessageType::Raw, &MSG)
        .expect("KMS sign");
    assert!(
        verify(&kms_sig),
        "{alg:?}: the bare library rejects the KMS signature"
    );
    let bare_sig = sign();
    let (_, ok) = kms
        .verify(alias, alg, MessageType::Raw, &MSG, &bare_sig)
        .expect("KMS verify");
    assert!(ok, "{alg:?}: the KMS rejects the bare library's signature");
    let k1 = Arc::clone(kms);
    let k2 = Arc::clone(kms);
    let sig2 = kms_sig.clone();
    [
        Case {
            name: format!("sign_{}", alg.as_str()),
            kms: Box::new(move || {
                black_box(
                    k1.sign(alias, alg, MessageType::Raw, black_box(&MSG))
                        .expect("sign"),
                );
            }),
            bare: Box::new(move || {
                black_box(sign());
            }),
        },
        Case {
            name: format!("verify_{}", alg.as_str()),
            kms: Box::new(move || {
                let (_, ok) = k2
                    .verify(alias, alg, MessageType::Raw, black_box(&MSG), &sig2)
                    .expect("verify");
                assert!(ok);
            }),
            bare: Box::new(move || assert!(verify(black_box(&kms_sig)))),
        },
    ]
}

fn cases() -> Vec<Case> {
    let sm2_sign = sm2::SecretKey::generate();
    let sm2_dec = sm2::SecretKey::generate();
    let p256 = ecdsa_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING);
    let p384 = ecdsa_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING);
    let rsa_sign = rsa_pkcs8();
    let rsa_dec = rsa_pkcs8();
    let sm2_pkcs8 = |k: &sm2::SecretKey| k.to_pkcs8_der().expect("PKCS#8").as_bytes().to_vec();
    let doc = [
        (
            "sm2sign",
            "ASYMMETRIC_SIGN_VERIFY_SM2",
            sm2_pkcs8(&sm2_sign),
        ),
        ("p256", "ASYMMETRIC_SIGN_VERIFY_ECC", p256.clone()),
        ("p384", "ASYMMETRIC_SIGN_VERIFY_ECDSA384", p384.clone()),
        (
            "rsasign",
            "ASYMMETRIC_SIGN_VERIFY_RSA_2048",
            rsa_sign.clone(),
        ),
        ("rsadec", "ASYMMETRIC_DECRYPT_RSA_2048", rsa_dec.clone()),
        ("sm2dec", "ASYMMETRIC_DECRYPT_SM2", sm2_pkcs8(&sm2_dec)),
    ]
    .iter()
    .enumerate()
    .fold("keys:\n".to_owned(), |d, (i, (alias, usage, der))| {
        d + &seed_entry(i, alias, usage, &pem("PRIVATE KEY", der))
    });

    // The directory must outlive the KMS: leaked, removed by the OS's tmp cleaning.
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let root = RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
        .expect("root key");
    let kms = Arc::new(
        Kms::open(Config {
            data_dir: dir,
            root_key: root,
            clock: Arc::new(SystemClock),
        })
        .expect("KMS"),
    );
    kms.seed(&doc).expect("seed");

    let mut out = Vec::new();
    // SM2DSA: a signing key built once (it holds Z's inputs); the KMS builds one per call.
    let signer = sm2::dsa::SigningKey::new(SM2_DEFAULT_USER_ID, &sm2_sign).expect("SM2 signer");
    let verifier = signer.verifying_key().clone();
    out.extend(signing(
        &kms,
        "sm2sign",
        SignAlgorithm::Sm2Dsa,
        move || {
            let s: sm2::dsa::Signature = signer.sign(&MSG);
            s.to_der().as_bytes().to_vec()
        },
        move |s| sm2::dsa::Signature::from_der(s).is_ok_and(|s| verifier.verify(&MSG, &s).is_ok()),
    ));
    for (alias, alg, signing_alg, verify_alg, pkcs8) in [
        (
            "p256",
            SignAlgorithm::EccP256R1,
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &sig::ECDSA_P256_SHA256_ASN1,
            p256,
        ),
        (
            "p384",
            SignAlgorithm::Ecdsa384,
            &ECDSA_P384_SHA384_ASN1_SIGNING,
            &sig::ECDSA_P384_SHA384_ASN1,
            p384,
        ),
    ] {
        let pair = Arc::new(EcdsaKeyPair::from_pkcs8(signing_alg, &pkcs8).expect("ECDSA key"));
        let public = pair.public_key().as_ref().to_vec();
        let rng = SystemRandom::new();
        out.extend(signing(
            &kms,
            alias,
            alg,
            move || pair.sign(&rng, &MSG).expect("sign").as_ref().to_vec(),
            move |s| {
                UnparsedPublicKey::new(verify_alg, &public)
                    .verify(&MSG, s)
                    .is_ok()
            },
        ));
    }
    let rsa_pair = Arc::new(rsa::KeyPair::from_pkcs8(&rsa_sign).expect("RSA key"));
    for (alg, padding, verify_alg) in [
        (
            SignAlgorithm::RsaPssSha256,
            &sig::RSA_PSS_SHA256 as &'static dyn sig::RsaEncoding,
            &sig::RSA_PSS_2048_8192_SHA256,
        ),
        (
            SignAlgorithm::RsaPkcs1Sha256,
            &sig::RSA_PKCS1_SHA256,
            &sig::RSA_PKCS1_2048_8192_SHA256,
        ),
    ] {
        let pair = Arc::clone(&rsa_pair);
        let public = rsa_pair.public_key().as_ref().to_vec();
        let rng = SystemRandom::new();
        out.extend(signing(
            &kms,
            "rsasign",
            alg,
            move || {
                let mut s = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, &MSG, &mut s).expect("sign");
                s
            },
            move |s| {
                UnparsedPublicKey::new(verify_alg, &public)
                    .verify(&MSG, s)
                    .is_ok()
            },
        ));
    }

    // RSAES-OAEP-SHA-256: the KMS key and the bare key from one PKCS#8.
    let private = PrivateDecryptingKey::from_pkcs8(&rsa_dec).expect("RSA key");
    let public = OaepPublicEncryptingKey::new(private.public_key()).expect("OAEP public key");
    let mut ct = vec![0; public.ciphertext_size()];
    public
        .encrypt(&OAEP_SHA256_MGF1SHA256, &PLAINTEXT, &mut ct, None)
        .expect("encrypt");
    let oaep = OaepPrivateDecryptingKey::new(private).expect("OAEP key");
    let k = Arc::clone(&kms);
    let ct2 = ct.clone();
    out.push(Case {
        name: "decrypt_RSAES_OAEP_SHA_256".into(),
        kms: Box::new(move || {
            let (_, p) = k
                .asymmetric_decrypt("rsadec", DecryptAlgorithm::RsaesOaepSha256, black_box(&ct2))
                .expect("decrypt");
            assert_eq!(p.expose().len(), PLAINTEXT.len());
        }),
        bare: Box::new(move || {
            let mut out = [0u8; 256];
            let p = oaep
                .decrypt(&OAEP_SHA256_MGF1SHA256, black_box(&ct), &mut out, None)
                .expect("decrypt");
            assert_eq!(p.len(), PLAINTEXT.len());
        }),
    });

    // SM2 encryption (SM3, C1C3C2), the ASN.1 form Tencent documents.
    let enc = sm2::pke::EncryptingKey::new_with_mode(sm2_dec.public_key(), sm2::pke::Mode::C1C3C2);
    let ct = enc
        .encrypt_der(
            &mut sm2::elliptic_curve::common::getrandom::SysRng,
            &PLAINTEXT,
        )
        .expect("SM2 encrypt");
    let dec =
        sm2::pke::DecryptingKey::new_with_mode(sm2_dec.to_nonzero_scalar(), sm2::pke::Mode::C1C3C2);
    assert_eq!(dec.decrypt_der(&ct).expect("bare SM2 decrypt"), PLAINTEXT);
    let k = Arc::clone(&kms);
    let ct2 = ct.clone();
    out.push(Case {
        name: "decrypt_SM2".into(),
        kms: Box::new(move || {
            let (_, p) = k
                .asymmetric_decrypt("sm2dec", DecryptAlgorithm::Sm2, black_box(&ct2))
                .expect("decrypt");
            assert_eq!(p.expose().len(), PLAINTEXT.len());
        }),
        bare: Box::new(move || {
            let p = dec.decrypt_der(black_box(&ct)).expect("decrypt");
            assert_eq!(p.len(), PLAINTEXT.len());
        }),
    });
    out
}

fn criterion_groups(c: &mut Criterion) {
    for case in cases() {
        let mut g = interleave::group(c, &case.name);
        g.bench_function("kms", |b| b.iter(&case.kms));
        g.bench_function("bare", |b| b.iter(&case.bare));
        g.finish();
    }
}

fn interleaved(_c: &mut Criterion) {
    let rounds = interleave::rounds(7);
    if rounds == 0 {
        return;
    }
    interleave::announce(rounds, "median ops/s");
    eprintln!("| operation | KMS ops/s | bare ops/s | KMS / bare | KMS spread | bare spread |");
    eprintln!("|---|---:|---:|---:|---:|---:|");
    for case in cases() {
        let (mut kms, mut bare) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            kms.push(interleave::rate(&case.kms, 8));
            bare.push(interleave::rate(&case.bare, 8));
        }
        let (km, bm) = (interleave::median(&mut kms), interleave::median(&mut bare));
        eprintln!(
            "| {} | {km:.0} | {bm:.0} | {:.2} | {:.0}-{:.0} | {:.0}-{:.0} |",
            case.name,
            km / bm,
            kms[0],
            kms[kms.len() - 1],
            bare[0],
            bare[bare.len() - 1]
        );
    }
}

criterion_group!(benches, criterion_groups, interleaved);
criterion_main!(benches);
