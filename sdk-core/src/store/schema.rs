//! Schema versions and migrations. `PRAGMA user_version` holds the version;
//! each step upgrades from the version before it inside one transaction, so
//! a migration interrupted by a killed app leaves the old version intact.

use rusqlite::{Connection, Transaction};

use crate::StoreError;

/// The version this SDK writes.
pub(crate) const SCHEMA_VERSION: u32 = 10;

pub(super) fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let found: u32 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for from in found..SCHEMA_VERSION {
        let tx = connection.transaction()?;
        upgrade_from(&tx, from)?;
        tx.pragma_update(None, "user_version", from + 1)?;
        tx.commit()?;
        tracing::info!(from, to = from + 1, "store schema upgraded");
    }
    Ok(())
}

fn upgrade_from(tx: &Transaction<'_>, version: u32) -> Result<(), StoreError> {
    match version {
        0 => tx.execute_batch(
            "
            -- The device's Ed25519 key; made once, never replaced.
            CREATE TABLE device_key (
                singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
                device_id       TEXT NOT NULL,
                secret_key      BLOB NOT NULL CHECK (length(secret_key) = 32),
                created_at_ms   INTEGER NOT NULL
            );
            -- Registration with the control plane. The idempotency key is
            -- written before the first send, so a retry after a crash is
            -- the same request.
            CREATE TABLE registration (
                singleton                INTEGER PRIMARY KEY CHECK (singleton = 1),
                idempotency_key          TEXT NOT NULL,
                registered_at_ms         INTEGER,
                control_plane_key_id     TEXT,
                control_plane_public_key TEXT
            );
            -- The latest consent decision and how far it was reported.
            CREATE TABLE consent (
                singleton          INTEGER PRIMARY KEY CHECK (singleton = 1),
                revision           INTEGER NOT NULL CHECK (revision > 0),
                decision_json      TEXT NOT NULL,
                decided_at_ms      INTEGER NOT NULL,
                report_key         TEXT NOT NULL,
                reported_revision  INTEGER NOT NULL DEFAULT 0
            );
            -- What the host last told the SDK about the phone.
            CREATE TABLE host_state (
                singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
                network          TEXT NOT NULL,
                battery_percent  INTEGER NOT NULL CHECK (battery_percent BETWEEN 0 AND 100),
                charging         INTEGER NOT NULL,
                foreground       INTEGER NOT NULL,
                updated_at_ms    INTEGER NOT NULL
            );
            ",
        )?,
        1 => tx.execute_batch(
            "
            -- Every mutating call, written before its first send. Entries of
            -- one stream are sent in order; streams do not wait for each other.
            CREATE TABLE outbox (
                id                  INTEGER PRIMARY KEY AUTOINCREMENT,
                stream              TEXT NOT NULL,
                kind                TEXT NOT NULL,
                method              TEXT NOT NULL,
                path                TEXT NOT NULL,
                body                BLOB NOT NULL,
                context             TEXT NOT NULL DEFAULT '{}',
                idempotency_key     TEXT NOT NULL UNIQUE,
                state               TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
                attempts            INTEGER NOT NULL DEFAULT 0,
                next_attempt_at_ms  INTEGER NOT NULL,
                last_error          TEXT,
                response_status     INTEGER,
                response_body       BLOB,
                problem_json        TEXT,
                created_at_ms       INTEGER NOT NULL,
                finished_at_ms      INTEGER
            );
            CREATE INDEX outbox_pending ON outbox (state, stream, id);
            ",
        )?,
        2 => tx.execute_batch(
            "
            -- Cached content, verified on the way in; files are named by hash.
            CREATE TABLE content_items (
                hash            TEXT PRIMARY KEY,
                size            INTEGER NOT NULL CHECK (size >= 0),
                stored_at_ms    INTEGER NOT NULL,
                last_access_ms  INTEGER NOT NULL
            );
            CREATE INDEX content_items_by_access ON content_items (last_access_ms);
            ",
        )?,
        3 => tx.execute_batch(
            "
            -- The edge node: the revision of its last announcement, so the
            -- control plane can tell a newer one from a late retry.
            CREATE TABLE node_state (
                singleton          INTEGER PRIMARY KEY CHECK (singleton = 1),
                announce_revision  INTEGER NOT NULL DEFAULT 0
            );
            -- Bytes served per calendar month (UTC, `YYYY-MM`), against the
            -- monthly cap of the consent policy.
            CREATE TABLE upload_usage (
                month  TEXT PRIMARY KEY,
                bytes  INTEGER NOT NULL CHECK (bytes >= 0)
            );
            ",
        )?,
        4 => tx.execute_batch(
            "
            -- The last heartbeat sequence number used: heartbeats go on
            -- from it after a restart, strictly increasing.
            ALTER TABLE node_state ADD COLUMN heartbeat_seq INTEGER NOT NULL DEFAULT 0;
            ",
        )?,
        5 => tx.execute_batch(
            "
            -- The member logged in on this device: the session the control
            -- plane opened, kept so the app resumes it after a restart. An
            -- expired session stays (state 'expired') so member calls say
            -- so until the next login.
            CREATE TABLE member_session (
                singleton               INTEGER PRIMARY KEY CHECK (singleton = 1),
                member_id               TEXT NOT NULL,
                member                  TEXT NOT NULL,
                session_key             TEXT NOT NULL,
                created_at_ms           INTEGER NOT NULL,
                idle_expires_at_ms      INTEGER NOT NULL,
                absolute_expires_at_ms  INTEGER NOT NULL,
                state                   TEXT NOT NULL CHECK (state IN ('live', 'expired'))
            );
            -- Notices pushed to members, by id: a notice that comes again
            -- (its answer was lost) is known and not delivered twice.
            -- `delivered`: the app's listener got it; `acked`: the control
            -- plane confirmed it dropped it.
            CREATE TABLE member_notices (
                notice_id       TEXT PRIMARY KEY,
                member_id       TEXT NOT NULL,
                kind            TEXT NOT NULL,
                text            TEXT NOT NULL,
                posted_at_ms    INTEGER NOT NULL,
                received_at_ms  INTEGER NOT NULL,
                delivered       INTEGER NOT NULL DEFAULT 0,
                acked           INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX member_notices_unacked ON member_notices (member_id, acked);
            ",
        )?,
        6 => tx.execute_batch(
            "
            -- Coupons this device holds: the signed token as issued, usable
            -- offline.
            CREATE TABLE coupons (
                serial          TEXT PRIMARY KEY,
                activity_id     TEXT NOT NULL,
                merchant_id     TEXT NOT NULL,
                title           TEXT NOT NULL,
                token           TEXT NOT NULL,
                not_before_s    INTEGER NOT NULL,
                expires_s       INTEGER NOT NULL,
                claimed_at_ms   INTEGER NOT NULL
            );
            -- The merchant this device acts for, once enrolled.
            CREATE TABLE merchant_identity (
                singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
                merchant_id  TEXT NOT NULL,
                name         TEXT NOT NULL,
                shops_json   TEXT NOT NULL
            );
            -- The last trust list of coupon issuing keys, as signed by the
            -- control plane (checked again when read).
            CREATE TABLE trust_list (
                singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
                version        INTEGER NOT NULL,
                envelope_json  TEXT NOT NULL,
                synced_at_ms   INTEGER NOT NULL
            );
            -- Serials this till knows are redeemed, and revocation tags
            -- (truncated hashes of serials) synced from the control plane.
            CREATE TABLE redeemed_serials (
                serial          TEXT PRIMARY KEY,
                redeemed_at_ms  INTEGER NOT NULL
            );
            CREATE TABLE revoked_tags (
                tag  BLOB PRIMARY KEY CHECK (length(tag) = 8)
            );
            -- The till's offline redemptions: the last counter used (strictly
            -- increasing), and the budget as last synced.
            CREATE TABLE offline_state (
                singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
                counter      INTEGER NOT NULL DEFAULT 0,
                budget_max         INTEGER,
                budget_used        INTEGER NOT NULL DEFAULT 0,
                budget_max_value   INTEGER,
                budget_used_value  INTEGER NOT NULL DEFAULT 0
            );
            -- Redemption conflicts already given to the app.
            CREATE TABLE seen_conflicts (
                conflict_id  TEXT PRIMARY KEY
            );
            -- How far the revocation log was synced.
            CREATE TABLE revocation_cursor (
                singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
                after      INTEGER NOT NULL
            );
            ",
        )?,
        7 => tx.execute_batch(
            "
            -- The member's rental on this device: its phase in the SDK's
            -- state machine, the control plane's last word on it, the
            -- credential and the vehicle it is for, the next command
            -- counter (strictly increasing per credential, written before a
            -- command is sent), the command whose answer is awaited, and the
            -- step sent to the control plane through the outbox.
            CREATE TABLE rental (
                singleton         INTEGER PRIMARY KEY CHECK (singleton = 1),
                phase             TEXT NOT NULL,
                member_id         TEXT NOT NULL,
                vehicle_id        TEXT NOT NULL,
                vehicle_json      TEXT NOT NULL,
                rental_id         TEXT,
                rental_json       TEXT,
                credential_json   TEXT,
                next_counter      INTEGER NOT NULL DEFAULT 1,
                command_kind      TEXT,
                command_counter   INTEGER,
                pending_step      TEXT,
                pending_entry     INTEGER,
                last_refusal      TEXT,
                updated_at_ms     INTEGER NOT NULL
            );
            ",
        )?,
        8 => tx.execute_batch(
            "
            -- Points paid for a coupon of a priced activity, and when its
            -- holder gave it back (a coupon given back is not presented).
            ALTER TABLE coupons ADD COLUMN points_paid INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE coupons ADD COLUMN given_back_at_ms INTEGER;
            ",
        )?,
        9 => {
            tx.execute_batch(
                "
                -- Secrets, by name, when the host keeps none in the
                -- platform's keystore (see `secrets.rs`): the device key and
                -- the member session key move here from their tables.
                CREATE TABLE secrets (
                    name    TEXT PRIMARY KEY,
                    secret  BLOB NOT NULL
                );
                INSERT INTO secrets (name, secret) SELECT 'device-key', secret_key FROM device_key;
                INSERT INTO secrets (name, secret)
                    SELECT 'member-session', CAST(session_key AS BLOB) FROM member_session;
                -- The device key's record: whose key it is and since when.
                CREATE TABLE device_identity (
                    singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
                    device_id       TEXT NOT NULL,
                    created_at_ms   INTEGER NOT NULL
                );
                INSERT INTO device_identity SELECT singleton, device_id, created_at_ms FROM device_key;
                DROP TABLE device_key;
                -- The session is named by a hash of its key (`session_tag`),
                -- so the key itself need not be here.
                CREATE TABLE member_session_v10 (
                    singleton               INTEGER PRIMARY KEY CHECK (singleton = 1),
                    member_id               TEXT NOT NULL,
                    member                  TEXT NOT NULL,
                    session_tag             TEXT NOT NULL,
                    created_at_ms           INTEGER NOT NULL,
                    idle_expires_at_ms      INTEGER NOT NULL,
                    absolute_expires_at_ms  INTEGER NOT NULL,
                    state                   TEXT NOT NULL CHECK (state IN ('live', 'expired'))
                );
                ",
            )?;
            let sessions: Vec<(i64, String)> = {
                let mut statement = tx.prepare("SELECT singleton, session_key FROM member_session")?;
                let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (singleton, key) in sessions {
                tx.execute(
                    "INSERT INTO member_session_v10
                     SELECT singleton, member_id, member, ?2, created_at_ms, idle_expires_at_ms,
                            absolute_expires_at_ms, state
                     FROM member_session WHERE singleton = ?1",
                    rusqlite::params![singleton, crate::members::session::tag(&key)],
                )?;
            }
            tx.execute_batch(
                "
                DROP TABLE member_session;
                ALTER TABLE member_session_v10 RENAME TO member_session;
                ",
            )?;
        }
        other => {
            return Err(StoreError::Corrupt(format!("no migration from schema version {other}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database as schema 9 left it: the device key and the session key
    /// in their tables.
    fn schema_9_database(path: &std::path::Path) {
        let mut connection = Connection::open(path).unwrap();
        for from in 0..9 {
            let tx = connection.transaction().unwrap();
            upgrade_from(&tx, from).unwrap();
            tx.pragma_update(None, "user_version", from + 1).unwrap();
            tx.commit().unwrap();
        }
        connection
            .execute_batch(
                "INSERT INTO device_key VALUES (1, 'dev-1', zeroblob(32), 5);
                 INSERT INTO member_session VALUES (1, 'm-1', 'pia', 'the-session-key', 1, 2, 3, 'live');",
            )
            .unwrap();
    }

    #[test]
    fn schema_10_moves_the_secrets_out_of_their_tables_and_keeps_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        schema_9_database(&path);
        let mut connection = Connection::open(&path).unwrap();
        migrate(&mut connection).unwrap();
        let secrets: Vec<(String, Vec<u8>)> = connection
            .prepare("SELECT name, secret FROM secrets ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            secrets,
            vec![
                ("device-key".to_owned(), vec![0; 32]),
                ("member-session".to_owned(), b"the-session-key".to_vec())
            ]
        );
        let identity: (String, i64) = connection
            .query_row("SELECT device_id, created_at_ms FROM device_identity", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(identity, ("dev-1".to_owned(), 5));
        let session: (String, String, String) = connection
            .query_row("SELECT member_id, session_tag, state FROM member_session", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(
            session,
            (
                "m-1".to_owned(),
                crate::members::session::tag("the-session-key"),
                "live".to_owned()
            )
        );
        // No column holds a secret any more.
        let columns: String = connection
            .query_row(
                "SELECT group_concat(sql) FROM sqlite_master WHERE name IN ('device_identity', 'member_session')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            !columns.contains("secret_key") && !columns.contains("session_key"),
            "{columns}"
        );
    }
}
