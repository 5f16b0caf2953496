//! Restoring ARCHIVE and DEEP_ARCHIVE objects: `POST /key?restore` and the `x-cos-restore` header.
//!
//! The gateway keeps archived bodies on the same disk as every other (see
//! [`crate::storage_class`]), so a restore copies nothing: it records when the "temporary copy"
//! becomes readable and until when, and GET of an archived object reads only inside that window.
//! Everything here is a function of the time it is given, so the whole life of a restore is tested
//! without waiting.
//!
//! Choices (COS documents the request document, the 202/200 answers and the header; the rest is
//! S3's behaviour, marked as a guess):
//! * A restore becomes readable after the gateway's `--restore-delay` (default
//!   [`DEFAULT_DELAY`]), whatever the tier: the cloud takes minutes to hours, which no test or
//!   developer wants to wait for. The tier is checked (Expedited, Standard, Bulk) but changes
//!   nothing else.
//! * The copy expires `Days` × 24 h after it became readable; restoring a readable copy again
//!   answers 200 and moves its expiry to `Days` × 24 h from now (S3's rule).
//! * A restore of an object that is not ARCHIVE or DEEP_ARCHIVE is `403 InvalidObjectState`, and
//!   a second restore while one runs is `409 RestoreAlreadyInProgress` (S3's codes; a guess).
//! * `Days` must be 1 to [`MAX_DAYS`] (a guess: COS's console offers up to a year).

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::storage_class::StorageClass;

/// The response header of HEAD and GET on a restored or restoring object.
pub const HEADER: &str = "x-cos-restore";
/// How long a restore takes by default (every tier).
pub const DEFAULT_DELAY: Duration = Duration::from_secs(1);
/// The longest `Days` a restore may ask for.
pub const MAX_DAYS: u32 = 365;
/// Largest RestoreRequest document read.
pub const MAX_REQUEST_XML: usize = 4 << 10;
const SECS_PER_DAY: i64 = 24 * 60 * 60;

/// An object's restore: when its temporary copy is readable and until when (unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restore {
    /// From this time the copy is readable.
    pub ready_at: i64,
    /// From this time the copy is gone again.
    pub expires_at: i64,
}

/// How fast the cloud would restore (`CASJobParameters.Tier`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Tier {
    /// Minutes in the cloud.
    Expedited,
    /// Hours in the cloud (the default).
    #[default]
    Standard,
    /// Many hours in the cloud.
    Bulk,
}

/// A parsed `RestoreRequest` document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreRequest {
    /// How many days the temporary copy lasts.
    pub days: u32,
    /// The tier asked for.
    pub tier: Tier,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RestoreRequestXml {
    days: Option<String>,
    #[serde(rename = "CASJobParameters")]
    job: Option<JobXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JobXml {
    tier: Option<String>,
}

impl RestoreRequest {
    /// Reads a `RestoreRequest` document: `MalformedXML` unless it is one with a `Days` of 1 to
    /// [`MAX_DAYS`] and, if given, a known `Tier`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let doc: RestoreRequestXml = crate::documents::from_xml(bytes, "RestoreRequest")?;
        let days = doc
            .days
            .ok_or_else(|| Error::MalformedXml("RestoreRequest needs Days".into()))?;
        let days = match days.trim().parse::<u32>() {
            Ok(d) if (1..=MAX_DAYS).contains(&d) => d,
            _ => {
                return Err(Error::MalformedXml(format!(
                    "Days must be a whole number from 1 to {MAX_DAYS}, got {days:?}"
                )));
            }
        };
        let tier = match doc.job.and_then(|j| j.tier).as_deref().map(str::trim) {
            None => Tier::default(),
            Some("Expedited") => Tier::Expedited,
            Some("Standard") => Tier::Standard,
            Some("Bulk") => Tier::Bulk,
            Some(other) => {
                return Err(Error::MalformedXml(format!(
                    "Tier must be Expedited, Standard or Bulk, got {other:?}"
                )));
            }
        };
        Ok(Self { days, tier })
    }
}

/// Where an object's restore stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No copy: never restored, or the copy expired.
    Absent,
    /// A restore is running.
    Ongoing,
    /// The copy is readable until `expires_at`.
    Ready {
        /// When the copy expires (unix seconds).
        expires_at: i64,
    },
}

impl State {
    /// The state of `restore` at `now`.
    pub fn at(restore: Option<Restore>, now: i64) -> Self {
        match restore {
            Some(r) if now < r.ready_at => Self::Ongoing,
            Some(r) if now < r.expires_at => Self::Ready {
                expires_at: r.expires_at,
            },
            _ => Self::Absent,
        }
    }

    /// The `x-cos-restore` header value, if any.
    pub fn header(self) -> Option<String> {
        match self {
            Self::Absent => None,
            Self::Ongoing => Some("ongoing-request=\"true\"".to_owned()),
            Self::Ready { expires_at } => Some(format!(
                "ongoing-request=\"false\", expiry-date=\"{}\"",
                crate::wire::http_date(expires_at)
            )),
        }
    }
}

/// What a POST restore does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A restore starts (202 Accepted).
    Started(Restore),
    /// The readable copy lasts longer (200 OK).
    Extended(Restore),
}

impl Outcome {
    /// The restore to store.
    pub fn restore(self) -> Restore {
        match self {
            Self::Started(r) | Self::Extended(r) => r,
        }
    }
}

/// The restore that `request` makes of an object of `class` whose restore is `current`, at `now`,
/// when a restore takes `delay`.
pub fn request(
    class: StorageClass,
    current: Option<Restore>,
    request: RestoreRequest,
    now: i64,
    delay: Duration,
) -> Result<Outcome> {
    if !class.needs_restore() {
        return Err(Error::InvalidObjectState(format!(
            "Restore is not allowed for the object's current storage class {}",
            class.as_str()
        )));
    }
    let lasts = i64::from(request.days) * SECS_PER_DAY;
    match (State::at(current, now), current) {
        (State::Ongoing, _) => Err(Error::RestoreAlreadyInProgress),
        (State::Ready { .. }, Some(r)) => Ok(Outcome::Extended(Restore {
            ready_at: r.ready_at,
            expires_at: now.saturating_add(lasts),
        })),
        _ => {
            let ready_at = now.saturating_add(i64::try_from(delay.as_secs()).unwrap_or(i64::MAX));
            Ok(Outcome::Started(Restore {
                ready_at,
                expires_at: ready_at.saturating_add(lasts),
            }))
        }
    }
}

/// Whether GET may read an object of `class` whose restore is `restore`, at `now`:
/// `403 InvalidObjectState` for an archived object without a readable copy.
pub fn check_readable(class: StorageClass, restore: Option<Restore>, now: i64) -> Result<()> {
    match State::at(restore, now) {
        State::Ready { .. } => Ok(()),
        _ if !class.needs_restore() => Ok(()),
        _ => Err(Error::InvalidObjectState(format!(
            "The operation is not valid for the object's storage class {}: restore it first",
            class.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_765_000_000;

    fn req(days: u32) -> RestoreRequest {
        RestoreRequest {
            days,
            tier: Tier::Expedited,
        }
    }

    #[test]
    fn the_seed_document_parses_and_bad_ones_are_malformed() {
        let seed = b"<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Expedited</Tier>\
                     </CASJobParameters></RestoreRequest>";
        assert_eq!(RestoreRequest::parse(seed).unwrap(), req(1));
        let no_tier = b"<RestoreRequest><Days>7</Days></RestoreRequest>";
        assert_eq!(
            RestoreRequest::parse(no_tier).unwrap(),
            RestoreRequest {
                days: 7,
                tier: Tier::Standard
            }
        );
        for (doc, says) in [
            (&b"<Restore><Days>1</Days></Restore>"[..], "root element"),
            (b"<RestoreRequest></RestoreRequest>", "needs Days"),
            (
                b"<RestoreRequest><Days>0</Days></RestoreRequest>",
                "1 to 365",
            ),
            (
                b"<RestoreRequest><Days>366</Days></RestoreRequest>",
                "1 to 365",
            ),
            (
                b"<RestoreRequest><Days>-1</Days></RestoreRequest>",
                "1 to 365",
            ),
            (
                b"<RestoreRequest><Days>x</Days></RestoreRequest>",
                "1 to 365",
            ),
            (
                b"<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Fast</Tier>\
                  </CASJobParameters></RestoreRequest>",
                "Tier must be",
            ),
            (b"<RestoreRequest><Days>1</Days>", "MalformedXML"),
            (b"\xff", "UTF-8"),
        ] {
            let err = RestoreRequest::parse(doc).unwrap_err();
            assert_eq!(err.code(), "MalformedXML");
            let text = format!("{err} {}", err.code());
            assert!(text.contains(says), "{text}");
        }
    }

    #[test]
    fn a_restore_runs_then_is_readable_then_expires() {
        let delay = Duration::from_secs(5);
        let started = request(StorageClass::Archive, None, req(2), NOW, delay).unwrap();
        let r = match started {
            Outcome::Started(r) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(r.ready_at, NOW + 5);
        assert_eq!(r.expires_at, NOW + 5 + 2 * SECS_PER_DAY);
        let restore = Some(r);
        assert_eq!(State::at(restore, NOW), State::Ongoing);
        assert_eq!(
            State::at(restore, NOW).header().unwrap(),
            "ongoing-request=\"true\""
        );
        assert_eq!(
            request(StorageClass::Archive, restore, req(1), NOW + 1, delay)
                .unwrap_err()
                .code(),
            "RestoreAlreadyInProgress"
        );
        let err = check_readable(StorageClass::Archive, restore, NOW + 4).unwrap_err();
        assert_eq!(err.code(), "InvalidObjectState");
        assert_eq!(err.status().as_u16(), 403);

        check_readable(StorageClass::Archive, restore, NOW + 5).unwrap();
        let ready = State::at(restore, NOW + 5);
        assert_eq!(
            ready,
            State::Ready {
                expires_at: r.expires_at
            }
        );
        let header = ready.header().unwrap();
        assert!(
            header.starts_with("ongoing-request=\"false\", expiry-date=\""),
            "{header}"
        );
        assert!(header.ends_with(" GMT\""), "{header}");

        // Asked again while readable: 200, the expiry moves, the copy stays readable.
        let later = NOW + SECS_PER_DAY;
        let extended = request(StorageClass::Archive, restore, req(3), later, delay).unwrap();
        assert_eq!(
            extended,
            Outcome::Extended(Restore {
                ready_at: r.ready_at,
                expires_at: later + 3 * SECS_PER_DAY
            })
        );

        // Expired: unreadable again, no header, and a new restore starts over.
        assert_eq!(State::at(restore, r.expires_at), State::Absent);
        assert!(State::at(restore, r.expires_at).header().is_none());
        assert!(check_readable(StorageClass::DeepArchive, restore, r.expires_at).is_err());
        assert!(matches!(
            request(StorageClass::Archive, restore, req(1), r.expires_at, delay),
            Ok(Outcome::Started(_))
        ));
    }

    #[test]
    fn only_archived_objects_are_restored_and_others_always_read() {
        for class in [StorageClass::Standard, StorageClass::StandardIa] {
            let err = request(class, None, req(1), NOW, DEFAULT_DELAY).unwrap_err();
            assert_eq!(err.code(), "InvalidObjectState");
            check_readable(class, None, NOW).unwrap();
        }
        assert!(check_readable(StorageClass::DeepArchive, None, NOW).is_err());
    }
}
