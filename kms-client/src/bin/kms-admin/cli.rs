//! The command line of `kms-admin` (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use kms_client::{
    DEFAULT_ENDPOINT, DecryptAlgorithm, EncryptionAlgorithm, KeySpec, KeyState, SignAlgorithm,
    TagFilter,
};

const TOP_HELP: &str = "\
Examples:
  kms-admin create-key --alias photos --description 'photo bucket'
  kms-admin --json describe-key alias/photos
  kms-admin generate-data-key photos --context-json '{\"bucket\":\"photos\"}'
  echo -n hello | kms-admin encrypt photos
  kms-admin --endpoint https://kms.internal:50051 --ca-cert ca.pem list-keys --all
  kms-admin --endpoint https://kms.internal:50051 --ca-cert ca.pem \
            --client-cert admin.pem --client-key admin.key --token-file admin.token list-keys
  kms-admin identity --cert storage.pem      # the policy line naming a client certificate
  kms-admin create-key --alias inbox --key-usage ASYMMETRIC_DECRYPT_RSA_2048
  kms-admin public-key inbox > inbox.pem     # encrypt under it elsewhere, then:
  kms-admin asymmetric-decrypt inbox --algorithm RSAES_OAEP_SHA_256 --in ct.bin

Credentials (for a KMS that runs with an access policy):
  --client-cert/--client-key  a client certificate for mutual TLS (https:// only)
  --token-file FILE           a bearer token (mode 0600, one trailing newline ignored); without it
                              the KMS_TOKEN environment variable is used. A token is never sent
                              over plain http:// except to a loopback address.

Exit status:
  0  success
  1  the KMS refused the request (not found, key state, invalid argument or ciphertext, ...)
  2  bad command line or unusable input (flags, files, base64, context JSON, CA file)
  3  the KMS could not be reached or did not answer in time";

/// Administer keys of the local KMS emulator over its gRPC API.
///
/// KEY is the key's UUID, `alias/<name>` or the bare alias `<name>`. An encryption context is given
/// as the base64 of a JSON object of strings (`--context`), or as the JSON itself (`--context-json`).
/// `--json` prints Tencent KMS field names (KeyId, KeyState, CiphertextBlob, ...).
#[derive(Debug, Parser)]
#[command(name = "kms-admin", version, after_help = TOP_HELP, propagate_version = true)]
pub struct Cli {
    /// The KMS gRPC endpoint (http:// or https://).
    #[arg(long, env = "KMS_ENDPOINT", default_value = DEFAULT_ENDPOINT, global = true, value_name = "URL")]
    pub endpoint: String,

    /// Print machine-readable JSON (Tencent KMS field names) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Time allowed for the connection and for each request: `30`, `30s`, `500ms`, `2m`.
    #[arg(long, env = "KMS_TIMEOUT", default_value = "30s", value_parser = parse_duration, global = true,
          value_name = "DURATION")]
    pub timeout: Duration,

    /// PEM file of CA certificates to trust for an https:// endpoint (`--ca-file` is the old name).
    #[arg(
        long = "ca-cert",
        alias = "ca-file",
        env = "KMS_CA_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub ca_cert: Option<PathBuf>,

    /// Client certificate (PEM) for mutual TLS with an https:// endpoint (with --client-key).
    #[arg(
        long,
        env = "KMS_CLIENT_CERT",
        global = true,
        value_name = "FILE",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,

    /// Private key (PEM) of --client-cert.
    #[arg(
        long,
        env = "KMS_CLIENT_KEY",
        global = true,
        value_name = "FILE",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,

    /// File holding the bearer token (mode 0600); takes precedence over KMS_TOKEN.
    #[arg(long, env = "KMS_TOKEN_FILE", global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// One subcommand per RPC.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a CMK (Enabled): symmetric (key version 1), or a key pair with --key-usage.
    #[command(
        after_help = "Example:\n  kms-admin create-key --alias photos --description 'photo bucket'\n  \
                            kms-admin create-key --alias signer --key-usage ASYMMETRIC_SIGN_VERIFY_ECC"
    )]
    CreateKey {
        /// 1-60 characters of [A-Za-z0-9_-], starting with a letter or digit; unique.
        #[arg(long)]
        alias: String,
        /// Free text, at most 1024 bytes.
        #[arg(long, default_value = "")]
        description: String,
        /// ENCRYPT_DECRYPT (the default), ASYMMETRIC_DECRYPT_RSA_2048, ASYMMETRIC_DECRYPT_SM2,
        /// ASYMMETRIC_SIGN_VERIFY_SM2, ASYMMETRIC_SIGN_VERIFY_ECC, ASYMMETRIC_SIGN_VERIFY_ECDSA384
        /// or ASYMMETRIC_SIGN_VERIFY_RSA_2048 (checked by the server).
        #[arg(long, default_value = "", value_name = "USAGE")]
        key_usage: String,
        /// Bring your own key: the key starts in PendingImport without material (origin
        /// EXTERNAL) until import-key-material.
        #[arg(long)]
        external: bool,
        /// A tag, KEY=VALUE (VALUE may be empty); repeat for more. Tags are fixed at creation.
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },

    /// Show a key's metadata.
    #[command(after_help = "Example:\n  kms-admin describe-key alias/photos")]
    DescribeKey {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// List keys (every page). User keys only unless --all.
    #[command(
        after_help = "Example:\n  kms-admin list-keys --state Disabled\n  kms-admin --json list-keys --all\n  \
                      kms-admin list-keys --newest-first --search photos --tag env=prod,staging"
    )]
    ListKeys {
        /// Only keys in this state: Enabled, Disabled, PendingDelete, PendingImport, Archived.
        #[arg(long, value_parser = parse_state, value_name = "STATE")]
        state: Option<KeyState>,
        /// Also list service-owned keys (the COS default CMK and the SSE-COS key).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        filter: ListFilterArgs,
    },

    /// Show the metadata of several keys (1 to 100, none twice), in the order given.
    #[command(after_help = "Example:\n  kms-admin describe-keys photos alias/videos")]
    DescribeKeys {
        /// Key ids, alias/<name> or <name>.
        #[arg(required = true)]
        keys: Vec<String>,
    },

    /// Enable several keys (1 to 100, none twice): all are checked first, then all are enabled,
    /// or none if any is refused.
    #[command(after_help = "Example:\n  kms-admin enable-keys photos videos")]
    EnableKeys {
        /// Key ids, alias/<name> or <name>.
        #[arg(required = true)]
        keys: Vec<String>,
    },

    /// Disable several keys (1 to 100, none twice), as enable-keys does.
    #[command(after_help = "Example:\n  kms-admin disable-keys photos videos")]
    DisableKeys {
        /// Key ids, alias/<name> or <name>.
        #[arg(required = true)]
        keys: Vec<String>,
    },

    /// Enable a Disabled key.
    #[command(after_help = "Example:\n  kms-admin enable-key alias/photos")]
    EnableKey {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Disable an Enabled key (it can no longer encrypt or decrypt).
    #[command(after_help = "Example:\n  kms-admin disable-key alias/photos")]
    DisableKey {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Schedule a Disabled key for deletion after a waiting period.
    #[command(
        after_help = "Example:\n  kms-admin schedule-key-deletion alias/old --pending-days 7"
    )]
    ScheduleKeyDeletion {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// Days before the key is deleted: 7..30.
        #[arg(long, value_name = "N")]
        pending_days: u32,
    },

    /// Cancel a scheduled deletion (the key becomes Disabled).
    #[command(after_help = "Example:\n  kms-admin cancel-key-deletion alias/old")]
    CancelKeyDeletion {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Archive an Enabled key (it still decrypts, no longer encrypts).
    #[command(after_help = "Example:\n  kms-admin archive-key alias/photos-2023")]
    ArchiveKey {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Bring an Archived key back to Enabled.
    #[command(after_help = "Example:\n  kms-admin cancel-key-archive alias/photos-2023")]
    CancelKeyArchive {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Give a key a new alias.
    #[command(after_help = "Example:\n  kms-admin update-alias alias/photos pictures")]
    UpdateAlias {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// The new alias.
        alias: String,
    },

    /// Change a key's description.
    #[command(
        after_help = "Example:\n  kms-admin update-description alias/photos 'photos, 2024 onwards'"
    )]
    UpdateDescription {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// The new description (at most 1024 bytes).
        text: String,
    },

    /// Turn on automatic rotation.
    #[command(
        after_help = "Example:\n  kms-admin enable-key-rotation alias/photos --rotate-days 90"
    )]
    EnableKeyRotation {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// Rotation period in days, 7..365 (default 365).
        #[arg(long, value_name = "N")]
        rotate_days: Option<u32>,
    },

    /// Turn off automatic rotation.
    #[command(after_help = "Example:\n  kms-admin disable-key-rotation alias/photos")]
    DisableKeyRotation {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Show whether a key rotates, and when.
    #[command(after_help = "Example:\n  kms-admin get-key-rotation-status alias/photos")]
    GetKeyRotationStatus {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Add a key version now; new ciphertexts use it, older ones keep decrypting.
    #[command(after_help = "Example:\n  kms-admin rotate-key alias/photos")]
    RotateKey {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Show the default CMK that COS uses for SSE-KMS when a request names no key.
    #[command(after_help = "Example:\n  kms-admin --json default-key")]
    DefaultKey,

    /// Generate a data key: its plaintext (base64) and its copy sealed under KEY.
    #[command(
        after_help = "Example:\n  kms-admin generate-data-key alias/photos --key-spec AES_128 \
                            --context-json '{\"bucket\":\"photos\"}'\n  \
                            kms-admin generate-data-key photos --number-of-bytes 64 --without-plaintext"
    )]
    GenerateDataKey {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// AES_256 (32 bytes, the default) or AES_128 (16 bytes).
        #[arg(long, value_parser = parse_key_spec, value_name = "SPEC", conflicts_with = "number_of_bytes")]
        key_spec: Option<KeySpec>,
        /// Data key length in bytes, 1..1024.
        #[arg(long, value_name = "N")]
        number_of_bytes: Option<u32>,
        #[command(flatten)]
        context: ContextArgs,
        /// Return only the sealed copy (GenerateDataKeyWithoutPlaintext).
        #[arg(long)]
        without_plaintext: bool,
        #[command(flatten)]
        seal: SealArgs,
    },

    /// Encrypt up to 4096 bytes under KEY (from --plaintext, --in FILE, or stdin).
    #[command(
        after_help = "Example:\n  kms-admin encrypt alias/photos --plaintext 'hello' --context-json '{\"a\":\"b\"}'\n  \
                            kms-admin encrypt photos --in secret.bin"
    )]
    Encrypt {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// The plaintext, as text.
        #[arg(long, value_name = "TEXT", conflicts_with = "input")]
        plaintext: Option<String>,
        /// Read the plaintext (raw bytes) from this file.
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        #[command(flatten)]
        context: ContextArgs,
    },

    /// Decrypt a ciphertext blob (from --ciphertext, --in FILE, or stdin; base64 or raw bytes).
    ///
    /// Without --json the plaintext is written as raw bytes to stdout, or to --out FILE.
    #[command(
        after_help = "Example:\n  kms-admin decrypt --ciphertext \"$BLOB\" --context-json '{\"a\":\"b\"}'\n  \
                            kms-admin decrypt --in blob.b64 --out secret.bin"
    )]
    Decrypt {
        /// The ciphertext blob, base64.
        #[arg(long, value_name = "B64", conflicts_with = "input")]
        ciphertext: Option<String>,
        /// Read the blob (base64 text or raw bytes) from this file.
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        /// Write the plaintext (raw bytes) to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        context: ContextArgs,
        #[command(flatten)]
        seal: SealArgs,
    },

    /// Open a blob and seal it again (newest key version, or another key) without showing the plaintext.
    #[command(
        after_help = "Example:\n  kms-admin re-encrypt --ciphertext \"$BLOB\" --to alias/archive \
                            --source-context-json '{\"a\":\"b\"}'"
    )]
    ReEncrypt {
        /// The ciphertext blob, base64.
        #[arg(long, value_name = "B64")]
        ciphertext: String,
        /// Seal under this key instead of the blob's own key.
        #[arg(long, value_name = "KEY")]
        to: Option<String>,
        /// The blob's encryption context, base64 JSON.
        #[arg(long, value_name = "B64", conflicts_with = "source_context_json")]
        source_context: Option<String>,
        /// The blob's encryption context, as JSON (base64-encoded for you).
        #[arg(long, value_name = "JSON")]
        source_context_json: Option<String>,
        /// The new blob's encryption context, base64 JSON.
        #[arg(long, value_name = "B64", conflicts_with = "destination_context_json")]
        destination_context: Option<String>,
        /// The new blob's encryption context, as JSON (base64-encoded for you).
        #[arg(long, value_name = "JSON")]
        destination_context_json: Option<String>,
    },

    /// Generate N random bytes (1..1024), printed as base64 or written raw to --out FILE.
    #[command(
        after_help = "Example:\n  kms-admin generate-random 32\n  kms-admin generate-random 64 --out nonce.bin"
    )]
    GenerateRandom {
        /// Number of bytes, 1..1024.
        n: u32,
        /// Write the raw bytes to this file instead of printing base64.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },

    /// Print the policy line that names a credential (no server needed), or make a new token.
    ///
    /// `--cert FILE` prints `cert_sha256: "<hex>"` (SHA-256 of the certificate's public key);
    /// `--token-file FILE` or `--token-stdin` prints `token_sha256: "<hex>"`. With neither, the
    /// credentials kms-admin would use (`--client-cert`, `--token-file`, KMS_TOKEN) are named.
    /// `identity new-token` prints a fresh random token on stdout and its policy line on stderr.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Example:\n  kms-admin identity --cert storage.pem\n  \
                            kms-admin identity --token-file admin.token\n  \
                            kms-admin identity new-token > admin.token"
    )]
    Identity {
        /// A client certificate (PEM).
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
        /// Read the token from stdin (one trailing newline ignored).
        #[arg(long, conflicts_with = "token_file")]
        token_stdin: bool,
        #[command(subcommand)]
        action: Option<IdentityAction>,
    },

    /// Print an asymmetric key's public key (PEM; --json adds its base64 DER and key usage).
    #[command(
        after_help = "Example:\n  kms-admin public-key alias/signer > signer.pem\n  \
                            kms-admin public-key alias/signer --out signer.pem"
    )]
    PublicKey {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// Write the PEM to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },

    /// Get a fresh RSA-2048 wrapping key and import token for an EXTERNAL key (valid 24 h).
    ///
    /// Prints the import token and its expiry; the wrapping public key (PEM) goes to --out.
    #[command(
        after_help = "Example:\n  kms-admin import-parameters alias/byok --out wrap.pem\n  \
                            openssl pkeyutl -encrypt -pubin -inkey wrap.pem -in material.bin \\\n    \
                            -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \\\n    \
                            -pkeyopt rsa_mgf1_md:sha256 -out wrapped.bin"
    )]
    ImportParameters {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.
        #[arg(long, default_value = "RSAES_OAEP_SHA_256", value_name = "ALGORITHM")]
        algorithm: kms_client::WrappingAlgorithm,
        /// Write the wrapping public key (PEM) to this file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },

    /// Import 32 bytes of key material, wrapped under the key of import-parameters.
    #[command(
        after_help = "Example:\n  kms-admin import-key-material alias/byok --token TOKEN --in wrapped.bin \\\n    \
                            --valid-to 1798761600"
    )]
    ImportKeyMaterial {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// The import token import-parameters printed.
        #[arg(long)]
        token: String,
        /// The wrapped material (binary RSAES-OAEP ciphertext).
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// When the material expires, unix seconds (0: never).
        #[arg(long, default_value_t = 0, value_name = "UNIX_SECONDS")]
        valid_to: i64,
    },

    /// Delete an EXTERNAL key's imported material: it goes back to PendingImport.
    #[command(after_help = "Example:\n  kms-admin delete-key-material alias/byok")]
    DeleteKeyMaterial {
        /// Key id, alias/<name> or <name>.
        key: String,
    },

    /// Sign a message (--message, --in FILE, or stdin) with an ASYMMETRIC_SIGN_VERIFY_* key.
    ///
    /// Prints the signature, base64 (DER for SM2DSA and ECDSA).
    #[command(
        after_help = "Example:\n  kms-admin sign alias/signer --algorithm ECC_P256_R1 --message 'pay 100'\n  \
                            kms-admin sign alias/signer --algorithm ECC_P256_R1 --digest --in doc.sha256"
    )]
    Sign {
        /// Key id, alias/<name> or <name>.
        key: String,
        #[command(flatten)]
        message: MessageArgs,
    },

    /// Check a signature with an ASYMMETRIC_SIGN_VERIFY_* key: exit status 0 if it is valid, 1 if
    /// it is not (with `error: the signature is not valid`).
    #[command(
        after_help = "Example:\n  kms-admin verify alias/signer --algorithm ECC_P256_R1 --message 'pay 100' \
                            --signature \"$SIG\""
    )]
    Verify {
        /// Key id, alias/<name> or <name>.
        key: String,
        #[command(flatten)]
        message: MessageArgs,
        /// The signature, base64.
        #[arg(long, value_name = "B64")]
        signature: String,
    },

    /// Decrypt with an ASYMMETRIC_DECRYPT_* key what was encrypted under its public key
    /// (from --ciphertext, --in FILE, or stdin; base64 or raw bytes).
    ///
    /// Without --json the plaintext is written as raw bytes to stdout, or to --out FILE.
    #[command(
        after_help = "Example:\n  kms-admin asymmetric-decrypt alias/inbox --algorithm RSAES_OAEP_SHA_256 \
                            --ciphertext \"$CT\"\n  \
                            kms-admin asymmetric-decrypt alias/sm2-inbox --algorithm SM2 --in ct.bin --out secret.bin"
    )]
    AsymmetricDecrypt {
        /// Key id, alias/<name> or <name>.
        key: String,
        /// RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 (RSA keys); SM2 (SM2 keys).
        #[arg(long, value_parser = parse_decrypt_algorithm, value_name = "ALG")]
        algorithm: DecryptAlgorithm,
        /// The ciphertext, base64.
        #[arg(long, value_name = "B64", conflicts_with = "input")]
        ciphertext: Option<String>,
        /// Read the ciphertext (base64 text or raw bytes) from this file.
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        /// Write the plaintext (raw bytes) to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },

    /// Load a YAML or JSON file of keys (fixed ids, aliases, states, material) into the server.
    ///
    /// All or nothing: a bad file is refused as a whole with the line and the rule that failed.
    /// Loading the same file again changes nothing.
    #[command(
        after_help = "Example:\n  kms-admin seed keys.yaml\n  cat keys.json | kms-admin seed -"
    )]
    Seed {
        /// The seed file (`-` for stdin).
        file: PathBuf,
    },
}

/// `kms-admin identity <action>`.
#[derive(Debug, Subcommand)]
pub enum IdentityAction {
    /// Print a new random token (32 bytes, base64url) on stdout and its policy line on stderr.
    #[command(after_help = "Example:\n  kms-admin identity new-token > admin.token")]
    NewToken,
}

/// The message of `sign` and `verify`, and its algorithm.
#[derive(Debug, Args)]
pub struct MessageArgs {
    /// SM2DSA, ECC_P256_R1, ECDSA384, RSA_PSS_SHA_256 or RSA_PKCS1_SHA_256.
    #[arg(long, value_parser = parse_sign_algorithm, value_name = "ALG")]
    pub algorithm: SignAlgorithm,
    /// The message, as text.
    #[arg(long, value_name = "TEXT", conflicts_with = "input")]
    pub message: Option<String>,
    /// Read the message (raw bytes) from this file.
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The message is its digest (MessageType DIGEST): 32 bytes, 48 for ECDSA384.
    #[arg(long)]
    pub digest: bool,
}

/// `--context` / `--context-json`.
/// The filters and order of `list-keys` (Tencent's ListKeyDetail).
#[derive(Debug, Args, Default)]
pub struct ListFilterArgs {
    /// Newest keys first (by creation time); oldest first otherwise.
    #[arg(long)]
    pub newest_first: bool,
    /// Only keys whose id or alias contains TEXT.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub search: String,
    /// Only keys of this origin: TENCENT_KMS or EXTERNAL.
    #[arg(long, value_name = "ORIGIN", default_value = "")]
    pub origin: String,
    /// Only keys of this usage (ENCRYPT_DECRYPT, ASYMMETRIC_...).
    #[arg(long, value_name = "USAGE", default_value = "")]
    pub key_usage: String,
    /// Only keys with the tag KEY set to one of the comma-separated values (`KEY` alone: any
    /// value); repeat for more filters, which must all match.
    #[arg(long = "tag", value_name = "KEY[=V1,V2]", value_parser = parse_tag_filter)]
    pub tags: Vec<TagFilter>,
}

/// `--seal-for`: the plaintext comes back sealed under the caller's public key, never in clear
/// (Tencent's `EncryptionPublicKey` and `EncryptionAlgorithm`).
#[derive(Debug, Args)]
pub struct SealArgs {
    /// Return the plaintext sealed under this public key (a PEM file: RSA or SM2
    /// SubjectPublicKeyInfo) instead of in clear.
    #[arg(long, value_name = "PEM_FILE")]
    pub seal_for: Option<PathBuf>,
    /// How to seal it: SM2 (the default), SM2_C1C3C2_ASN1, RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1 or
    /// RSAES_OAEP_SHA_256.
    #[arg(long, value_name = "ALG", value_parser = parse_encryption_algorithm, requires = "seal_for")]
    pub seal_algorithm: Option<EncryptionAlgorithm>,
}

#[derive(Debug, Args)]
pub struct ContextArgs {
    /// Encryption context: base64 of a JSON object of strings.
    #[arg(long, value_name = "B64", conflicts_with = "context_json")]
    pub context: Option<String>,
    /// Encryption context as JSON, e.g. '{"bucket":"photos"}' (base64-encoded for you).
    #[arg(long, value_name = "JSON")]
    pub context_json: Option<String>,
}

/// `30` (seconds), `30s`, `500ms`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 30s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("invalid duration unit in {s:?} (use ms, s or m)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!(
            "duration {s:?} out of range (more than 0, at most 24h)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `KEY=VALUE` (the first `=` splits; VALUE may be empty).
fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("a tag is KEY=VALUE, got {s:?}")),
    }
}

/// `KEY` (any value) or `KEY=V1,V2`.
fn parse_tag_filter(s: &str) -> Result<TagFilter, String> {
    let (key, values) = match s.split_once('=') {
        Some((k, v)) => (k, v.split(',').collect::<Vec<_>>()),
        None => (s, Vec::new()),
    };
    if key.is_empty() {
        return Err(format!("a tag filter is KEY or KEY=V1,V2, got {s:?}"));
    }
    Ok(TagFilter::new(key, values))
}

fn parse_state(s: &str) -> Result<KeyState, String> {
    s.parse().map_err(|e: kms_client::Error| e.to_string())
}

fn parse_key_spec(s: &str) -> Result<KeySpec, String> {
    s.parse().map_err(|e: kms_client::Error| e.to_string())
}

fn parse_sign_algorithm(s: &str) -> Result<SignAlgorithm, String> {
    s.parse().map_err(|e: kms_client::Error| e.to_string())
}

fn parse_decrypt_algorithm(s: &str) -> Result<DecryptAlgorithm, String> {
    s.parse().map_err(|e: kms_client::Error| e.to_string())
}

fn parse_encryption_algorithm(s: &str) -> Result<EncryptionAlgorithm, String> {
    s.parse().map_err(|e: kms_client::Error| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn parses_subcommands_and_globals_anywhere() {
        let cli = Cli::try_parse_from([
            "kms-admin",
            "describe-key",
            "k",
            "--json",
            "--timeout",
            "2s",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.timeout, Duration::from_secs(2));
        assert!(matches!(cli.command, Command::DescribeKey { ref key } if key == "k"));

        let cli = Cli::try_parse_from([
            "kms-admin",
            "list-keys",
            "--state",
            "pending-delete",
            "--all",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::ListKeys {
                state: Some(KeyState::PendingDelete),
                all: true,
                ..
            }
        ));

        let cli = Cli::try_parse_from([
            "kms-admin",
            "list-keys",
            "--newest-first",
            "--tag",
            "env=prod,dev",
            "--tag",
            "team",
            "--search",
            "ph",
        ])
        .unwrap();
        let Command::ListKeys { filter, .. } = cli.command else {
            panic!("list-keys");
        };
        assert!(filter.newest_first);
        assert_eq!(filter.search, "ph");
        assert_eq!(
            filter.tags,
            [
                TagFilter::new("env", ["prod", "dev"]),
                TagFilter::new("team", Vec::<String>::new())
            ]
        );
        let cli = Cli::try_parse_from([
            "kms-admin",
            "create-key",
            "--alias",
            "a",
            "--tag",
            "k=v=w",
            "--tag",
            "e=",
        ])
        .unwrap();
        let Command::CreateKey { tags, .. } = cli.command else {
            panic!("create-key");
        };
        assert_eq!(
            tags,
            [
                ("k".to_owned(), "v=w".to_owned()),
                ("e".to_owned(), String::new())
            ]
        );
        for bad in [["--tag", "novalue"], ["--tag", "=v"]] {
            let mut args = vec!["kms-admin", "create-key", "--alias", "a"];
            args.extend(bad);
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
        }
        assert!(Cli::try_parse_from(["kms-admin", "list-keys", "--tag", "=x"]).is_err());
        assert!(Cli::try_parse_from(["kms-admin", "enable-keys"]).is_err());

        assert!(
            Cli::try_parse_from([
                "kms-admin",
                "generate-data-key",
                "k",
                "--key-spec",
                "AES_128",
                "--number-of-bytes",
                "3"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "kms-admin",
                "encrypt",
                "k",
                "--context",
                "e30=",
                "--context-json",
                "{}"
            ])
            .is_err()
        );
        assert!(Cli::try_parse_from(["kms-admin", "schedule-key-deletion", "k"]).is_err());
    }
}
