//! The rule on lists of key ids (DescribeKeys, EnableKeys, DisableKeys): 1 to [`MAX_KEY_IDS`]
//! ids, none twice. Checked here, once, for the gRPC API and for the Tencent actions that go
//! through it, so both front ends refuse the same lists with the same codes.

use std::collections::HashSet;

use crate::error::{Error, Result};

/// Most key ids one DescribeKeys, EnableKeys or DisableKeys names (the cloud's limit).
pub const MAX_KEY_IDS: usize = 100;

/// Refuses an empty or oversize list (`InvalidParameterValue`) and a list naming an id twice
/// (`InvalidParameterValue.DuplicatedKeyId`). Ids are compared as given: a key named once by id
/// and once by alias is two names, and is changed (or described) twice.
pub fn check_key_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() || ids.len() > MAX_KEY_IDS {
        return Err(Error::invalid(format!(
            "key_ids must name 1..={MAX_KEY_IDS} keys, got {}",
            ids.len()
        )));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    match ids.iter().find(|id| !seen.insert(id.as_str())) {
        Some(dup) => Err(Error::DuplicatedKeyId(dup.clone())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_checked() {
        let ids = |n: usize| (0..n).map(|i| format!("k{i}")).collect::<Vec<_>>();
        assert!(check_key_ids(&ids(1)).is_ok());
        assert!(check_key_ids(&ids(MAX_KEY_IDS)).is_ok());
        for (list, message, code) in [
            (
                ids(0),
                "key_ids must name 1..=100 keys, got 0",
                "InvalidParameterValue",
            ),
            (
                ids(101),
                "key_ids must name 1..=100 keys, got 101",
                "InvalidParameterValue",
            ),
            (
                vec!["a".into(), "b".into(), "a".into()],
                "key_ids names \"a\" twice",
                "InvalidParameterValue.DuplicatedKeyId",
            ),
        ] {
            let e = check_key_ids(&list).unwrap_err();
            assert_eq!((e.to_string().as_str(), e.tencent_code()), (message, code));
        }
    }
}
