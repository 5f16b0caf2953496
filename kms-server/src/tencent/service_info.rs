//! The actions that describe the service rather than a key: GetServiceStatus, GetRegions and
//! ListAlgorithms. They read no key and change nothing, so any caller whose signature verified
//! may make them (with a policy too: like the health check, they need no allowed action) and they
//! write no audit line. Their answers are fixed facts of this emulator, not the cloud's account
//! data: the service is on, the basic edition, no hosted data keys, no HSM, no sync.

use serde::Serialize;

use super::{actions::to_json, wire::ApiError};
use crate::{asymmetric::SignAlgorithm, keys::KeyUsage};

/// The region GetRegions names when the request did not say one in `X-TC-Region`.
pub const DEFAULT_REGION: &str = "ap-guangzhou";
/// GetServiceStatus `InvalidType` of a service in good standing ("1: normal").
const SERVICE_NORMAL: u32 = 1;
/// GetServiceStatus `UserLevel` of the basic edition.
const USER_LEVEL_BASIC: u32 = 0;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceStatusOut {
    service_enabled: bool,
    invalid_type: u32,
    user_level: u32,
    #[serde(rename = "ExclusiveVSMEnabled")]
    exclusive_vsm_enabled: bool,
    #[serde(rename = "ExclusiveHSMEnabled")]
    exclusive_hsm_enabled: bool,
    is_allowed_data_key_hosted: bool,
    is_allowed_sync: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RegionsOut<'a> {
    regions: [&'a str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Algorithm {
    key_usage: &'static str,
    algorithm: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AlgorithmsOut {
    symmetric_algorithms: [Algorithm; 1],
    asymmetric_algorithms: [Algorithm; 2],
    asymmetric_sign_verify_algorithms: Vec<Algorithm>,
}

/// GetServiceStatus: on, basic edition, no optional features.
pub(super) fn status() -> Result<serde_json::Value, ApiError> {
    to_json(ServiceStatusOut {
        service_enabled: true,
        invalid_type: SERVICE_NORMAL,
        user_level: USER_LEVEL_BASIC,
        exclusive_vsm_enabled: false,
        exclusive_hsm_enabled: false,
        is_allowed_data_key_hosted: false,
        is_allowed_sync: false,
    })
}

/// GetRegions: the region the caller addressed (this emulator serves whichever it is asked for).
pub(super) fn regions(region: Option<&str>) -> Result<serde_json::Value, ApiError> {
    to_json(RegionsOut {
        regions: [region.filter(|r| !r.is_empty()).unwrap_or(DEFAULT_REGION)],
    })
}

/// ListAlgorithms: AES-256-GCM for ENCRYPT_DECRYPT, the two decryption key kinds (Tencent lists
/// them by key, `RSA_2048` and `SM2`, not by padding) and every signature algorithm, with the usage
/// of the keys it runs on.
pub(super) fn algorithms() -> Result<serde_json::Value, ApiError> {
    to_json(AlgorithmsOut {
        symmetric_algorithms: [Algorithm {
            key_usage: KeyUsage::EncryptDecrypt.as_str(),
            algorithm: "AES_256",
        }],
        asymmetric_algorithms: [
            Algorithm {
                key_usage: KeyUsage::AsymmetricDecryptRsa2048.as_str(),
                algorithm: "RSA_2048",
            },
            Algorithm {
                key_usage: KeyUsage::AsymmetricDecryptSm2.as_str(),
                algorithm: "SM2",
            },
        ],
        asymmetric_sign_verify_algorithms: SignAlgorithm::ALL
            .into_iter()
            .flat_map(|a| {
                KeyUsage::ALL
                    .into_iter()
                    .filter(move |u| u.signs() && u.key_spec() == Some(a.key_spec()))
                    .map(move |u| Algorithm {
                        key_usage: u.as_str(),
                        algorithm: a.as_str(),
                    })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_carry_the_sdk_field_names() {
        let s = status().unwrap();
        assert_eq!(s["ServiceEnabled"], true);
        assert_eq!(s["InvalidType"], 1);
        assert_eq!(s["ExclusiveHSMEnabled"], false);
        assert_eq!(regions(None).unwrap()["Regions"][0], DEFAULT_REGION);
        assert_eq!(
            regions(Some("ap-beijing")).unwrap()["Regions"][0],
            "ap-beijing"
        );
        let a = algorithms().unwrap();
        assert_eq!(a["SymmetricAlgorithms"][0]["Algorithm"], "AES_256");
        assert_eq!(a["SymmetricAlgorithms"][0]["KeyUsage"], "ENCRYPT_DECRYPT");
        assert_eq!(
            a["AsymmetricAlgorithms"],
            serde_json::json!([
                {"KeyUsage": "ASYMMETRIC_DECRYPT_RSA_2048", "Algorithm": "RSA_2048"},
                {"KeyUsage": "ASYMMETRIC_DECRYPT_SM2", "Algorithm": "SM2"},
            ])
        );
        let signing: Vec<(&str, &str)> = a["AsymmetricSignVerifyAlgorithms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["KeyUsage"].as_str().unwrap(),
                    x["Algorithm"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            signing,
            [
                ("ASYMMETRIC_SIGN_VERIFY_SM2", "SM2DSA"),
                ("ASYMMETRIC_SIGN_VERIFY_ECC", "ECC_P256_R1"),
                ("ASYMMETRIC_SIGN_VERIFY_ECDSA384", "ECDSA384"),
                ("ASYMMETRIC_SIGN_VERIFY_RSA_2048", "RSA_PSS_SHA_256"),
                ("ASYMMETRIC_SIGN_VERIFY_RSA_2048", "RSA_PKCS1_SHA_256"),
            ]
        );
    }
}
