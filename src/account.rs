//! Accounts: `--user USER[:GROUP]` and `--group GROUP` resolved to the numeric credentials the
//! daemon switches to. This runs before the first fork: the grandchild only calls `setgroups`,
//! `setgid` and `setuid` on the numbers prepared here, never the user database (NSS may
//! allocate, lock or open sockets, none of which is allowed between fork and exec).
//!
//! Names are looked up as given; an all-digit value is a numeric id (as systemd reads them), and
//! a numeric uid with no entry in the user database needs an explicit group.

use std::ffi::CString;
use std::path::PathBuf;

use anyhow::{bail, Result};
use nix::unistd::{getgrouplist, Gid, Group, Uid, User};

use crate::daemonize::Credentials;

/// What the daemon runs as, with the user's entry when it has one.
#[derive(Debug, Clone)]
pub struct Account {
    /// The ids to switch to.
    pub creds: Credentials,
    /// The user's login name and home directory (for `USER`, `LOGNAME` and `HOME`), when a user
    /// was given and the user database knows it.
    pub login: Option<(String, PathBuf)>,
    /// The user's login shell (for `SHELL`, as systemd sets it for `User=`), with `login`.
    pub shell: Option<PathBuf>,
}

/// Resolves `user` (name or uid) and `group` (name or gid). With only a group, the uid stays
/// `current_uid` (root) and the group becomes the only one. With a user, the supplementary
/// groups are the user's (`getgrouplist`, as `initgroups` would set them), and the primary group
/// is `group` or else the user's.
pub fn resolve(user: Option<&str>, group: Option<&str>, current_uid: u32) -> Result<Account> {
    let gid = group.map(lookup_group).transpose()?;
    let Some(user) = user else {
        let gid = gid.expect("resolve needs a user or a group");
        return Ok(Account {
            creds: Credentials {
                uid: current_uid,
                gid,
                groups: vec![gid],
            },
            login: None,
            shell: None,
        });
    };
    let (uid, entry) = lookup_user(user)?;
    let Some(entry) = entry else {
        let Some(gid) = gid else {
            bail!(
                "user {user} has no entry in the user database, so it has no primary group: give one with --user {user}:GROUP or --group GROUP"
            );
        };
        return Ok(Account {
            creds: Credentials {
                uid,
                gid,
                groups: vec![gid],
            },
            login: None,
            shell: None,
        });
    };
    let gid = gid.unwrap_or(entry.gid.as_raw());
    let name = CString::new(entry.name.as_bytes())
        .map_err(|_| anyhow::anyhow!("invalid user '{user}': its name holds a NUL byte"))?;
    let groups = getgrouplist(&name, Gid::from_raw(gid))
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read the supplementary groups of user '{}': {}",
                entry.name,
                e.desc()
            )
        })?
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    Ok(Account {
        creds: Credentials { uid, gid, groups },
        login: Some((entry.name, entry.dir)),
        shell: Some(entry.shell),
    })
}

/// A uid and the user's entry (none for a numeric uid the database does not know).
fn lookup_user(user: &str) -> Result<(u32, Option<User>)> {
    if let Some(uid) = numeric_id(user, "user")? {
        let entry = User::from_uid(Uid::from_raw(uid))
            .map_err(|e| anyhow::anyhow!("cannot look up user {uid}: {}", e.desc()))?;
        return Ok((uid, entry));
    }
    match User::from_name(user) {
        Ok(Some(entry)) => Ok((entry.uid.as_raw(), Some(entry))),
        Ok(None) => bail!("unknown user '{user}': not in the user database"),
        Err(e) => bail!("cannot look up user '{user}': {}", e.desc()),
    }
}

/// A gid for a group name or number.
fn lookup_group(group: &str) -> Result<u32> {
    if let Some(gid) = numeric_id(group, "group")? {
        return Ok(gid);
    }
    match Group::from_name(group) {
        Ok(Some(entry)) => Ok(entry.gid.as_raw()),
        Ok(None) => bail!("unknown group '{group}': not in the group database"),
        Err(e) => bail!("cannot look up group '{group}': {}", e.desc()),
    }
}

/// An all-digit id, refusing `(uid_t)-1`, which the set*id calls read as "leave unchanged".
fn numeric_id(text: &str, what: &str) -> Result<Option<u32>> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(id) if id != u32::MAX => Ok(Some(id)),
        _ => bail!("invalid {what} id {text}: ids go from 0 to 4294967294"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_resolves_by_name_and_number() {
        let by_name = resolve(Some("root"), None, 0).unwrap();
        assert_eq!((by_name.creds.uid, by_name.creds.gid), (0, 0));
        assert!(by_name.creds.groups.contains(&0));
        assert_eq!(by_name.login.as_ref().unwrap().0, "root");
        let by_number = resolve(Some("0"), Some("0"), 0).unwrap();
        assert_eq!((by_number.creds.uid, by_number.creds.gid), (0, 0));
    }

    #[test]
    fn group_alone_keeps_the_uid_and_is_the_only_group() {
        let acc = resolve(None, Some("4321"), 0).unwrap();
        assert_eq!(acc.creds.uid, 0);
        assert_eq!(acc.creds.gid, 4321);
        assert_eq!(acc.creds.groups, vec![4321]);
        assert!(acc.login.is_none());
    }

    #[test]
    fn unknown_names_and_bad_ids_are_errors_naming_them() {
        let err = resolve(Some("no-such-user-rdaemon"), None, 0).unwrap_err();
        assert!(err
            .to_string()
            .contains("unknown user 'no-such-user-rdaemon'"));
        let err = resolve(Some("root"), Some("no-such-group-rdaemon"), 0).unwrap_err();
        assert!(err
            .to_string()
            .contains("unknown group 'no-such-group-rdaemon'"));
        assert!(resolve(Some("4294967295"), Some("1"), 0).is_err());
        assert!(resolve(Some("99999999999"), Some("1"), 0).is_err());
    }

    #[test]
    fn numeric_uid_without_an_entry_needs_a_group() {
        // 4294967000 is far above any real account.
        let err = resolve(Some("4294967000"), None, 0).unwrap_err();
        assert!(err.to_string().contains("--user 4294967000:GROUP"), "{err}");
        let acc = resolve(Some("4294967000"), Some("4294967000"), 0).unwrap();
        assert_eq!(acc.creds.groups, vec![4294967000]);
    }
}
